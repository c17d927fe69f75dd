"""Errors the engine raises on bad input, all subclasses of ``ValueError``.

Callers (the CLI, the web app) catch ``EngineInputError`` and show its message: every message says
what was wrong and what to do instead, so no caller ever needs to show a stack trace.
"""

from __future__ import annotations


class EngineInputError(ValueError):
    """Input the engine cannot work with (bad masks, NaN utilities, wrong sizes, ...)."""


class BudgetTooSmallError(EngineInputError):
    """The evaluation budget is below the minimum the method needs."""


class TooManyPlayersError(EngineInputError):
    """The method would need more memory or time than its configured limit allows."""
