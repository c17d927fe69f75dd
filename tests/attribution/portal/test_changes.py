""" "What changed since last round" on the statement: payout, share, rank and data, in words."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from attribution.models import ValuationRound
from attribution.portal.changes import compare_with_previous
from attribution.portal.credit import find_credit
from attribution.rounds.services import create_payouts
from marketplace.models import Contributor, DataGroup, ModelVersion, Payout, User
from tests.attribution.factories import (
    make_group,
    make_model_version,
    make_succeeded_round,
    tmp_media,  # noqa: F401  (autouse fixture)
)

pytestmark = pytest.mark.django_db

T0 = timezone.now() - timedelta(days=30)


def dated_round(
    values: dict[str, float],
    *,
    version: ModelVersion,
    day: int,
    title: str,
    contributors: list[Contributor] | None = None,
    pay: bool = True,
    **fields: object,
) -> ValuationRound:
    """A succeeded round started on ``T0 + day`` days and finished an hour later."""
    if contributors is not None:
        fields["contributors"] = contributors
    round = make_succeeded_round(values, version=version, **fields)
    started = T0 + timedelta(days=day)
    ValuationRound.objects.filter(pk=round.pk).update(
        title=title, started_at=started, finished_at=started + timedelta(hours=1)
    )
    if pay:
        create_payouts(round.pk)
    round.refresh_from_db()
    return round


@pytest.fixture
def version() -> ModelVersion:
    return make_model_version()


@pytest.fixture
def first(version: ModelVersion) -> ValuationRound:
    return dated_round(
        {"alice": 1.0, "bob": 1.0, "carol": 2.0}, version=version, day=0, title="January"
    )


@pytest.fixture
def bob(first: ValuationRound) -> Contributor:
    return Contributor.objects.get(key="bob")


def everyone() -> list[Contributor]:
    return list(Contributor.objects.order_by("key"))


def changes_of(contributor: Contributor, round: ValuationRound):  # type: ignore[no-untyped-def]
    line = find_credit(contributor, round.pk)
    assert line is not None
    return compare_with_previous(contributor, line)


def amount(contributor: Contributor, round: ValuationRound) -> Decimal:
    return Payout.objects.get(contributor=contributor, batch=round.payout_batch).amount


def test_a_first_round_has_nothing_to_compare(bob: Contributor, first: ValuationRound) -> None:
    changes = changes_of(bob, first)
    assert changes.is_first
    assert changes.payout_sentence is None
    assert changes.data_sentences == []


def test_payout_share_and_rank_are_compared_with_the_previous_round(
    version: ModelVersion, first: ValuationRound, bob: Contributor
) -> None:
    # January: bob 1 of 4 → 25%, rank 2 or 3 of 3; February: bob 3 of 6 → 50%, rank 1 of 3.
    second = dated_round(
        {"alice": 1.0, "bob": 3.0, "carol": 2.0},
        version=version,
        day=7,
        title="February",
        contributors=everyone(),
    )
    before, after = amount(bob, first), amount(bob, second)
    was_rank = first.values.get(contributor=bob).rank

    changes = changes_of(bob, second)

    assert changes.previous_round == first
    assert changes.payout_sentence == (
        f"Your payout is up €{after - before:.2f}: €{after:.2f}, against €{before:.2f} last time."
    )
    assert changes.share_sentence == (
        "Your share of the pool went from 25.00% to 50.00% (+25.00 percentage points)."
    )
    assert changes.rank_sentence == (
        f"You moved up {was_rank - 1} place{'s' if was_rank - 1 != 1 else ''}: 1 of 3, "
        f"from {was_rank} of 3."
    )


def test_a_fall_reads_with_a_real_minus_sign(version: ModelVersion, first: ValuationRound) -> None:
    carol = Contributor.objects.get(key="carol")  # January: 50%, rank 1
    second = dated_round(
        {"alice": 2.0, "bob": 1.0, "carol": 1.0},
        version=version,
        day=7,
        title="February",
        contributors=everyone(),
    )

    changes = changes_of(carol, second)

    assert changes.payout_sentence.startswith("Your payout is down €25.00: ")  # type: ignore[union-attr]
    assert changes.share_sentence == (
        "Your share of the pool went from 50.00% to 25.00% (\u221225.00 percentage points)."
    )
    assert changes.rank_sentence.startswith("You moved down ")  # type: ignore[union-attr]
    assert second.payout_batch is not None


def test_only_the_same_metric_and_model_version_compare(
    version: ModelVersion, first: ValuationRound, bob: Contributor
) -> None:
    other_metric = dated_round(
        {"alice": 1.0, "bob": 3.0, "carol": 2.0},
        version=version,
        day=3,
        title="Entropy",
        contributors=everyone(),
        metric="class_entropy",
    )
    other_model = dated_round(
        {"alice": 1.0, "bob": 3.0, "carol": 2.0},
        version=make_model_version(),
        day=5,
        title="New model",
        contributors=everyone(),
    )
    latest = dated_round(
        {"alice": 1.0, "bob": 3.0, "carol": 2.0},
        version=version,
        day=7,
        title="February",
        contributors=everyone(),
    )

    assert changes_of(bob, other_metric).is_first
    assert changes_of(bob, other_model).is_first
    assert changes_of(bob, latest).previous_round == first  # not the two rounds in between
    assert changes_of(bob, first).is_first  # a later round is never "the previous one"


def test_unpaid_rounds_say_why_the_payout_is_not_compared(
    version: ModelVersion, first: ValuationRound, bob: Contributor
) -> None:
    second = dated_round(
        {"alice": 1.0, "bob": 3.0, "carol": 2.0},
        version=version,
        day=7,
        title="February",
        contributors=everyone(),
        pay=False,
    )

    sentence = changes_of(bob, second).payout_sentence

    assert sentence == (
        f"Your payout last time was €{amount(bob, first):.2f}; this round's payouts have not "
        "been created yet."
    )


def test_data_that_joined_or_left_between_the_two_starts_is_named(
    version: ModelVersion, first: ValuationRound, bob: Contributor
) -> None:
    between = T0 + timedelta(days=3)
    accepted = make_group(bob, labels=["1", "1", "1"], title="harbour photos")
    withdrawn = make_group(bob, labels=["2"], title="old scans", status=DataGroup.Status.WITHDRAWN)
    pending = make_group(bob, labels=["4", "4"], title="May batch", status=DataGroup.Status.PENDING)
    DataGroup.objects.filter(pk__in=[accepted.pk, withdrawn.pk]).update(
        decided_at=between, created_at=between - timedelta(hours=1)
    )
    DataGroup.objects.filter(pk=pending.pk).update(created_at=between)
    later = make_group(bob, labels=["5"], title="after February")  # after the second start
    DataGroup.objects.filter(pk=later.pk).update(
        created_at=T0 + timedelta(days=9), decided_at=T0 + timedelta(days=9)
    )
    second = dated_round(
        {"alice": 1.0, "bob": 3.0, "carol": 2.0},
        version=version,
        day=7,
        title="February",
        contributors=everyone(),
    )

    sentences = changes_of(bob, second).data_sentences

    assert sentences == [
        "“harbour photos” (3 images) was accepted between the two rounds, so it counted in "
        "this one and not in the previous one.",
        "You withdrew “old scans” (1 image) between the two rounds, so this round did not use it.",
        "“May batch” (2 images) was uploaded between the two rounds but had not been accepted "
        "when this round started, so it did not count: it still waits for review.",
    ]


def test_unchanged_data_is_said_in_words(
    version: ModelVersion, first: ValuationRound, bob: Contributor
) -> None:
    second = dated_round(
        {"alice": 1.0, "bob": 3.0, "carol": 2.0},
        version=version,
        day=7,
        title="February",
        contributors=everyone(),
    )

    assert changes_of(bob, second).data_sentences == [
        "Your data did not change between the two rounds: the difference comes from the other "
        "contributors' data and the rounds' own settings and random samples."
    ]


def statement_html(client: Client, contributor: Contributor, round: ValuationRound) -> str:
    client.force_login(User.objects.create_user(f"u{round.pk}", contributor=contributor))
    response = client.get(f"/credit/{round.pk}/")
    assert response.status_code == 200
    return " ".join(response.content.decode().split())


def test_the_statement_answers_what_changed_after_how_sure(
    client: Client, version: ModelVersion, first: ValuationRound, bob: Contributor
) -> None:
    second = dated_round(
        {"alice": 1.0, "bob": 3.0, "carol": 2.0},
        version=version,
        day=7,
        title="February",
        contributors=everyone(),
    )

    html = statement_html(client, bob, second)

    order = [
        html.index(text)
        for text in (
            "Share of the pool</dt>",
            "What was measured",
            "How sure is this?",
            "What changed since your last round",
            "How this was computed",
        )
    ]
    assert order == sorted(order)  # how much, why, how sure, what changed; then the details
    assert f'Compared with <a href="/credit/{first.pk}/">“January”</a>' in html
    assert "from 25.00% to 50.00% (+25.00 percentage points)" in html
    assert "Your data did not change between the two rounds" in html


def test_the_statement_of_a_first_round_says_so(
    client: Client, first: ValuationRound, bob: Contributor
) -> None:
    html = statement_html(client, bob, first)
    assert "This is your first round on the Inception Score of the model" in html
    assert "Compared with" not in html


def test_the_comparison_costs_the_same_queries_however_many_rounds_came_before(
    client: Client, version: ModelVersion, first: ValuationRound, bob: Contributor
) -> None:
    def queries(round: ValuationRound) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/credit/{round.pk}/").status_code == 200
        return len(captured)

    client.force_login(User.objects.create_user("bob-user", contributor=bob))
    second = dated_round(
        {"alice": 1.0, "bob": 3.0, "carol": 2.0},
        version=version,
        day=7,
        title="February",
        contributors=everyone(),
    )
    with_one_before = queries(second)
    for day in (10, 11, 12):
        last = dated_round(
            {"alice": 1.0, "bob": 3.0, "carol": 2.0},
            version=version,
            day=day,
            title=f"Day {day}",
            contributors=everyone(),
        )

    assert queries(last) == with_one_before
