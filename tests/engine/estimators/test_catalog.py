"""The estimator catalog: every entry builds a fresh estimator with the round's parameters."""

import numpy as np
import pytest

from attribution.engine.__main__ import METHODS, build_estimator
from attribution.engine.errors import BudgetTooSmallError, EngineInputError
from attribution.engine.estimators import (
    ExactShapley,
    KernelShapley,
    LeaveOneOut,
    PermutationShapley,
    SurrogateShapley,
)
from attribution.engine.estimators.catalog import ESTIMATORS, get_estimator
from attribution.engine.estimators.crossfit import CrossFitSurrogateShapley
from attribution.engine.games.known import AdditiveGame
from attribution.engine.valuation import ToleranceShapley

EXPECTED = {
    "surrogate": SurrogateShapley,
    "crossfit": CrossFitSurrogateShapley,
    "tolerance": ToleranceShapley,
    "kernel": KernelShapley,
    "permutation": PermutationShapley,
    "exact": ExactShapley,
    "loo": LeaveOneOut,
}


def test_the_catalog_names_every_estimator_the_cli_offers() -> None:
    assert set(ESTIMATORS) == set(EXPECTED)
    assert set(METHODS) == set(ESTIMATORS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_entry_builds_a_fresh_estimator_of_its_kind(name: str) -> None:
    spec = get_estimator(name)

    first, second = spec.build(64, 3, 4), spec.build(64, 3, 4)

    assert isinstance(first, EXPECTED[name])
    assert first is not second
    assert isinstance(build_estimator(name, 64, 3, 4), EXPECTED[name])
    if spec.uses_budget:
        assert (first.budget, first.seed) == (64, 3)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_entry_values_an_additive_game(name: str) -> None:
    weights = np.array([3.0, 1.0, 0.5, 0.0])
    game = AdditiveGame(weights)

    values = get_estimator(name).build(64, 0, 2).fit(game).values_

    np.testing.assert_allclose(values, weights, atol=1e-6)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_entry_explains_itself_with_the_round_numbers(name: str) -> None:
    sentences = get_estimator(name).explain(n_evaluations=1234, n_players=3)

    text = " ".join(sentences)
    assert sentences
    assert all(s.endswith(".") for s in sentences)
    assert "{" not in text
    if get_estimator(name).uses_budget:
        assert "1,234 coalitions" in text
    if name == "exact":
        assert "2^3 = 8 coalitions" in text


def test_an_unknown_estimator_is_refused_with_the_known_names() -> None:
    with pytest.raises(EngineInputError, match=r"unknown estimator 'magic'.*surrogate"):
        get_estimator("magic")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_entry_states_the_smallest_budget_its_estimator_accepts(name: str) -> None:
    spec = get_estimator(name)
    game = AdditiveGame(np.array([3.0, 1.0, 0.5, 0.25, 0.0, 2.0]))
    minimum = spec.minimum_budget(game.n_players)

    spec.build(max(minimum, 1), 0, 2).fit(game)  # the minimum is accepted
    if minimum > 1:
        with pytest.raises(BudgetTooSmallError):
            spec.build(minimum - 1, 0, 2).fit(game)
