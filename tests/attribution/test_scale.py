"""Pages, endpoints and round start-up at 2,000 contributors: a constant number of queries.

Each page is requested for a marketplace of 50 and one of 2,000 contributors; the number of
queries must be the same (no query per row), and pages that show a round stay small (the values
table is paged, charts show the top contributors). ``bench/scale_web.py`` measures the times.
"""

import math

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from attribution.models import ValuationRound
from attribution.rounds.config import RoundConfig
from attribution.rounds.fanout import UNIT_SAMPLES, plan_units
from attribution.rounds.services import start_round
from attribution.synthetic_marketplace import SyntheticMarketplace, seed_synthetic_marketplace

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SMALL, LARGE = 50, 2000
PAGES = {
    "contributor": ("/credit/", "/credit/{round}/", "/credit/{round}/statement.csv"),
    "staff": (
        "/dashboard/",
        "/dashboard/{round}/",
        "/dashboard/{round}/?values_page=7",
        "/dashboard/{round}/progress.json",
        "/api/v1/rounds/",
        "/api/v1/rounds/{round}/",
        "/api/v1/rounds/{round}/values/",
        "/admin/attribution/valuationround/",
        "/admin/attribution/valuationround/{round}/change/",
    ),
}


def client_for(marketplace: SyntheticMarketplace, who: str) -> Client:
    client = Client()
    username = (
        marketplace.contributor_username if who == "contributor" else marketplace.staff_username
    )
    assert client.login(username=username, password=marketplace.password)
    return client


def measure(marketplace: SyntheticMarketplace, who: str, url: str) -> tuple[int, int]:
    """(queries, bytes) of one GET, the client's sign-in excluded."""
    client = client_for(marketplace, who)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url.format(round=marketplace.succeeded_round_id))
    assert response.status_code == 200, url
    return len(queries), len(response.content)


@pytest.fixture
def marketplaces() -> tuple[SyntheticMarketplace, SyntheticMarketplace]:
    return seed_synthetic_marketplace(SMALL, prefix="a"), seed_synthetic_marketplace(
        LARGE, prefix="b"
    )


@pytest.mark.parametrize(("who", "url"), [(w, u) for w, urls in PAGES.items() for u in urls])
def test_pages_issue_no_more_queries_at_2000_contributors_than_at_50(
    marketplaces: tuple[SyntheticMarketplace, SyntheticMarketplace], who: str, url: str
) -> None:
    small, large = marketplaces
    small_queries, _ = measure(small, who, url)
    large_queries, size = measure(large, who, url)

    assert large_queries <= small_queries, f"{url}: {small_queries} → {large_queries} queries"
    assert large_queries <= 10
    assert size < 150_000, f"{url}: {size} bytes"


def test_starting_a_round_takes_the_same_queries_at_2000_contributors_as_at_50(
    marketplaces: tuple[SyntheticMarketplace, SyntheticMarketplace],
) -> None:
    counts = []
    for marketplace in marketplaces:
        with CaptureQueriesContext(connection) as queries:
            start_round(marketplace.draft_round_id, enqueue=False)
        counts.append(len(queries))

    assert counts[0] == counts[1] <= 10
    round = ValuationRound.objects.get(pk=marketplaces[1].draft_round_id)
    assert len(RoundConfig.from_json(round.config).contributors) == LARGE


def test_bank_units_carry_only_their_own_contributors(
    marketplaces: tuple[SyntheticMarketplace, SyntheticMarketplace],
) -> None:
    large = marketplaces[1]
    start_round(large.draft_round_id, enqueue=False)
    config = RoundConfig.from_json(ValuationRound.objects.get(pk=large.draft_round_id).config)

    units = plan_units(config)

    per_unit = UNIT_SAMPLES // config.n_samples
    assert len(units) == math.ceil(LARGE / per_unit)
    assert [key for unit in units for key in RoundConfig.from_json(unit).keys] == config.keys
    assert max(len(unit["contributors"]) for unit in units) == per_unit
