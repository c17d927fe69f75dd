"""The attribution engine: coalition games, Shapley estimators and (later) the diffusion proxy game.

A pure library: it never imports Django, and importing it loads neither torch nor the tree libraries
(those load inside the functions that need them).

    >>> from attribution.engine import ExactShapley, SurrogateShapley, UnanimityGame
    >>> game = UnanimityGame(4, coalitions=[(0, 1)], weights=[1.0])
    >>> ExactShapley().fit(game).values_.round(3).tolist()
    [0.5, 0.5, 0.0, 0.0]
"""

from attribution.engine.coalitions import STRATEGIES, sample_coalitions
from attribution.engine.errors import BudgetTooSmallError, EngineInputError, TooManyPlayersError
from attribution.engine.estimators import (
    ExactShapley,
    KernelShapley,
    LeaveOneOut,
    PermutationShapley,
    ShapleyEstimator,
    SurrogateShapley,
    shapley_from_table,
)
from attribution.engine.games.base import (
    EvaluationCounter,
    FunctionGame,
    Game,
    TableGame,
    check_masks,
    check_utilities,
)
from attribution.engine.games.known import (
    AdditiveGame,
    AirportGame,
    GloveGame,
    UnanimityGame,
    WeightedMajorityGame,
)
from attribution.engine.games.synthetic import (
    InteractionGame,
    LinearGame,
    NonlinearGame,
    make_paper_games,
)

__all__ = [
    "STRATEGIES",
    "AdditiveGame",
    "AirportGame",
    "BudgetTooSmallError",
    "EngineInputError",
    "EvaluationCounter",
    "ExactShapley",
    "FunctionGame",
    "Game",
    "GloveGame",
    "InteractionGame",
    "KernelShapley",
    "LeaveOneOut",
    "LinearGame",
    "NonlinearGame",
    "PermutationShapley",
    "ShapleyEstimator",
    "SurrogateShapley",
    "TableGame",
    "TooManyPlayersError",
    "UnanimityGame",
    "WeightedMajorityGame",
    "check_masks",
    "check_utilities",
    "make_paper_games",
    "sample_coalitions",
    "shapley_from_table",
]
