"""Plotly figures to the JSON a page embeds with ``json_script`` (portal and dashboard alike)."""

from __future__ import annotations

import json
from typing import Any

import plotly.graph_objects as go


def figure_json(figure: go.Figure) -> Any:
    """The figure as plain JSON data (plotly's encoder handles numpy arrays and NaN)."""
    return json.loads(figure.to_json())
