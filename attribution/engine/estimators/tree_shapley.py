"""Exact Shapley values of a fitted tree ensemble viewed as a coalition game.

For a regressor f on 0/1 coalition indicators, the *tree game* is g(S) = f(1_S). Its Shapley values
are interventional TreeSHAP of f explained at the all-ones point against a single all-zeros
background row: replacing a feature by the background value 0 is exactly removing the player. (The
default path-dependent TreeSHAP instead averages over the training data's cover and is *not* the
Shapley value of g.) shap's ``expected_value`` omits CatBoost's bias, so the baseline f(∅) comes
from ``predict``, never from the explainer.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray


def tree_game_shapley(model: Any, n_players: int) -> NDArray[np.float64]:
    """Shapley values of g(S) = model.predict(1_S), shape (n_players,).

    Args:
        model: A fitted tree model shap's TreeExplainer accepts (CatBoost, XGBoost, LightGBM,
            scikit-learn trees).
        n_players: Number of input columns.
    """
    background = np.zeros((1, n_players))
    with warnings.catch_warnings():
        # shap warns about its plotting colour maps on import and about CatBoost's model format.
        warnings.simplefilter("ignore")
        import shap  # heavy (numba); imported only when a surrogate is explained

        explainer = shap.TreeExplainer(
            model, data=background, feature_perturbation="interventional", model_output="raw"
        )
        values = explainer.shap_values(np.ones((1, n_players)), check_additivity=False)
    return np.asarray(values, dtype=np.float64).reshape(n_players)
