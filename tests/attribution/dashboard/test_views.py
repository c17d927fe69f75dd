"""The staff round dashboard, through its URLs: access, live progress, figures, payouts, compare."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from attribution.models import ValuationRound
from attribution.rounds.execution import claim_round, execute_round
from attribution.rounds.services import create_payouts, start_round
from marketplace.models import Contributor, Payout, PayoutBatch, User
from marketplace.payouts import NegativeValuePolicy
from tests.attribution.factories import (
    KEYS,
    FakeEngine,
    bank_noise_diagnostics,
    make_contributor,
    make_round,
    make_succeeded_round,
    tmp_media,  # noqa: F401  (autouse fixture)
)

pytestmark = pytest.mark.django_db

Status = ValuationRound.Status

# Diagnostics as the surrogate estimator leaves them: rows 0 and 1 are ∅ and N (no out-of-fold
# prediction), one more row has none, so 4 held-out coalitions remain.
SURROGATE_DIAGNOSTICS: dict[str, Any] = {
    "n_evaluations": 7,
    "efficiency_gap": 0.0,
    "raw_efficiency_gap": 0.0312,
    "cv_r2": 0.9123,
    "depth": 2,
    "timings": {"generate": 1.0},
    "observed": [0.0, 6.0, 1.0, 2.0, 3.0, 4.0, 5.0],
    "predicted": [None, None, 1.1, None, 2.9, 4.2, 5.1],
    "convergence": {
        "n_coalitions": [4, 5, 7],
        "values": {"alice": [0.8, 0.9, 1.0], "bob": [2.2, 2.1, 2.0], "carol": [3.0, 3.0, 3.0]},
    },
}


@pytest.fixture
def staff_client(client: Client) -> Client:
    client.force_login(User.objects.create_user("staffer", is_staff=True, role=User.Role.STAFF))
    return client


@pytest.fixture
def contributor_client(client: Client) -> Client:
    user = User.objects.create_user("ada", contributor=make_contributor("ada"))
    client.force_login(user)
    return client


def surrogate_round(**fields: Any) -> ValuationRound:
    """A succeeded round (values alice 1, bob 2, carol 3) with surrogate diagnostics."""
    round = make_succeeded_round(**fields)
    round.diagnostics = SURROGATE_DIAGNOSTICS
    round.save(update_fields=["diagnostics"])
    return round


def running_round(
    *, keys: tuple[str, ...] = KEYS, progress: float = 0.4, heartbeat_age_s: float = 5.0
) -> ValuationRound:
    round = start_round(make_round(keys).pk, enqueue=False)
    assert claim_round(round.pk, "test-worker")
    ValuationRound.objects.filter(pk=round.pk).update(
        stage=f"generate {keys[1]}",
        progress=progress,
        heartbeat=timezone.now() - timedelta(seconds=heartbeat_age_s),
    )
    round.refresh_from_db()
    return round


def failed_round(message: str = "the GPU caught fire") -> ValuationRound:
    round = start_round(make_round().pk, enqueue=False)
    execute_round(round.pk, engine=FakeEngine(error=RuntimeError(message)))
    round.refresh_from_db()
    assert round.status == Status.FAILED
    return round


def json_scripts(response: HttpResponse) -> dict[str, Any]:
    """Every json_script block of a page, parsed, by element id."""
    html = response.content.decode()
    pattern = r'<script id="([^"]+)" type="application/json">(.*?)</script>'
    return {id: json.loads(text) for id, text in re.findall(pattern, html, re.DOTALL)}


def figures(response: HttpResponse) -> dict[str, Any]:
    """The page's plotly figures by element id, checking each has a drawing area."""
    html = response.content.decode()
    found = {id: data for id, data in json_scripts(response).items() if id.startswith("figure-")}
    for id in found:
        assert f'data-figure="{id}"' in html
    return found


# --- access -----------------------------------------------------------------------------------


def dashboard_urls(round: ValuationRound) -> list[str]:
    return [
        reverse("round-dashboard-list"),
        reverse("round-dashboard", args=[round.pk]),
        reverse("round-progress", args=[round.pk]),
        reverse("round-compare") + f"?a={round.pk}&b={round.pk}",
    ]


def test_anonymous_visitors_are_sent_to_log_in(client: Client) -> None:
    round = make_round()
    for url in dashboard_urls(round):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login") + "?next=")


def test_contributors_are_refused(contributor_client: Client) -> None:
    round = make_round()
    for url in dashboard_urls(round):
        assert contributor_client.get(url).status_code == 403, url


def test_staff_see_every_page(staff_client: Client) -> None:
    round, other = two_rounds()
    batch = create_payouts(round.pk)
    urls = [*dashboard_urls(round)[:3], reverse("round-compare") + f"?a={round.pk}&b={other.pk}"]
    urls += [reverse("round-new"), reverse("round-batch", args=[batch.pk])]
    for url in urls:
        assert staff_client.get(url).status_code == 200, url


def test_missing_rounds_are_404(staff_client: Client) -> None:
    assert staff_client.get(reverse("round-dashboard", args=[9999])).status_code == 404
    assert staff_client.get(reverse("round-progress", args=[9999])).status_code == 404
    round = make_succeeded_round()
    for query in (f"?a={round.pk}&b=9999", f"?a=9999&b={round.pk}", f"?a=x&b={round.pk}"):
        assert staff_client.get(reverse("round-compare") + query).status_code == 404, query


def test_the_dashboard_only_reads(staff_client: Client) -> None:
    round = make_succeeded_round()
    response = staff_client.post(reverse("round-dashboard", args=[round.pk]))
    assert response.status_code == 405


# --- list -------------------------------------------------------------------------------------


def test_list_shows_every_round_with_status_metric_estimator_and_link(
    staff_client: Client,
) -> None:
    done = make_succeeded_round()
    draft = make_round(keys=("dave",), metric="neg_fid")

    response = staff_client.get(reverse("round-dashboard-list"))

    html = response.content.decode()
    for round in (done, draft):
        assert reverse("round-dashboard", args=[round.pk]) in html
        assert round.get_status_display() in html
        assert round.get_estimator_display() in html
    assert "Negative Fréchet distance" in html
    assert "Comparing needs two succeeded rounds" in html  # one succeeded: nothing to pair


# --- one round --------------------------------------------------------------------------------


def assert_no_inline_scripts(response: HttpResponse) -> None:
    for tag in re.findall(r"<script[^>]*>", response.content.decode()):
        assert "src=" in tag or 'type="application/json"' in tag, tag


def test_draft_round_page_renders_without_results(staff_client: Client) -> None:
    round = make_round()

    response = staff_client.get(reverse("round-dashboard", args=[round.pk]))

    assert response.status_code == 200
    assert "This round is a draft" in response.content.decode()
    assert figures(response) == {}
    assert_no_inline_scripts(response)


def test_running_round_page_has_a_live_progress_bar_polling_progress_json(
    staff_client: Client,
) -> None:
    round = running_round(progress=0.5)  # half of bob's images: the 2nd of 3 contributors

    response = staff_client.get(reverse("round-dashboard", args=[round.pk]))

    html = response.content.decode()
    # Overall, not within the stage: generation is 80% of the round, 1.5 of 3 banks are done.
    assert 'id="live-bar" max="100" value="40"' in html
    assert "Generating images for contributor 2 of 3" in html
    assert 'action="{}"'.format(reverse("round-cancel", args=[round.pk])) in html
    assert "€100.00<" in html
    assert "js/dashboard.js" in html
    live = json_scripts(response)["round-live"]
    assert live["progress_url"] == reverse("round-progress", args=[round.pk])
    assert live["status"] == "running"
    assert live["poll_ms"] == 2000
    assert live["stale_after_s"] > 0
    assert set(live["finished"]) == {"succeeded", "failed", "cancelled"}
    assert figures(response) == {}
    assert_no_inline_scripts(response)
    assert "no-cache" in response["Cache-Control"]


def test_progress_json_reports_overall_progress_stage_eta_heartbeat_age_and_error(
    staff_client: Client,
) -> None:
    round = running_round(progress=0.5, heartbeat_age_s=5.0)
    started = timezone.now() - timedelta(seconds=60)
    ValuationRound.objects.filter(pk=round.pk).update(started_at=started)

    response = staff_client.get(reverse("round-progress", args=[round.pk]))

    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    state = response.json()
    assert state["status"] == "running"
    assert state["status_label"] == "Running"
    assert state["stage"] == "generate bob"
    assert state["stage_label"] == "Generating images for contributor 2 of 3"
    assert state["progress"] == pytest.approx(0.5)  # within the stage, as the worker wrote it
    assert state["overall"] == pytest.approx(0.8 * 1.5 / 3)
    assert state["elapsed_s"] == pytest.approx(60.0, abs=5.0)
    # 40% done in 60 s: the other 60% take about 90 s more.
    assert state["eta_s"] == pytest.approx(90.0, abs=8.0)
    assert state["eta_text"] == "90 s" or state["eta_text"].endswith(" min")
    assert state["heartbeat_age_s"] == pytest.approx(5.0, abs=2.0)
    assert state["error"] == ""


def test_progress_json_of_a_draft_has_no_heartbeat(staff_client: Client) -> None:
    state = staff_client.get(reverse("round-progress", args=[make_round().pk])).json()

    assert state == {
        "status": "draft",
        "status_label": "Draft",
        "stage": "",
        "stage_label": "Draft: not started",
        "progress": 0.0,
        "overall": 0.0,
        "elapsed_s": None,
        "elapsed_text": "",
        "eta_s": None,
        "eta_text": "",
        "heartbeat_age_s": None,
        "error": "",
    }


def test_progress_json_of_a_failed_round_carries_the_error(staff_client: Client) -> None:
    round = failed_round("out of memory")

    state = staff_client.get(reverse("round-progress", args=[round.pk])).json()

    assert state["status"] == "failed"
    assert state["error"] == "RuntimeError: out of memory"


def test_failed_round_page_shows_the_error(staff_client: Client) -> None:
    round = failed_round("the GPU caught <fire>")

    response = staff_client.get(reverse("round-dashboard", args=[round.pk]))

    html = response.content.decode()
    assert "The round failed" in html
    assert "RuntimeError: the GPU caught &lt;fire&gt;" in html
    assert "round-live" not in json_scripts(response)  # finished: nothing to poll
    assert figures(response) == {}


def test_succeeded_round_page_has_every_figure_with_one_point_per_item(
    staff_client: Client,
) -> None:
    round = surrogate_round()

    response = staff_client.get(reverse("round-dashboard", args=[round.pk]))

    found = figures(response)
    assert set(found) == {"figure-values", "figure-shares", "figure-fit", "figure-convergence"}
    values_bar, exact = found["figure-values"]["data"]
    assert values_bar["y"] == ["Carol", "Bob", "Alice"]  # highest value first
    assert values_bar["x"] == [3.0, 2.0, 1.0]
    assert values_bar["error_x"]["array"] == [0.25, 0.25, 0.25]
    assert values_bar["error_x"]["arrayminus"] == [0.25, 0.25, 0.25]
    assert exact["x"] == [3.0, 2.0, 1.0]
    (shares,) = found["figure-shares"]["data"]
    assert shares["x"] == pytest.approx([0.5, 2 / 6, 1 / 6])
    points, identity = found["figure-fit"]["data"]
    assert points["x"] == [1.0, 3.0, 4.0, 5.0]  # ∅, N and the row without prediction skipped
    assert points["y"] == [1.1, 2.9, 4.2, 5.1]
    assert identity["mode"] == "lines"
    assert "R² = 0.912" in found["figure-fit"]["layout"]["title"]["text"]
    convergence = found["figure-convergence"]["data"]
    assert [trace["name"] for trace in convergence] == ["Alice", "Bob", "Carol"]
    assert all(trace["x"] == [4, 5, 7] and len(trace["y"]) == 3 for trace in convergence)
    assert "round-live" not in json_scripts(response)
    assert "vendor/plotly.min.js" in response.content.decode()
    assert_no_inline_scripts(response)


def test_succeeded_round_page_shows_the_efficiency_check(staff_client: Client) -> None:
    round = surrogate_round(values={"alice": 1.5, "bob": 2.0, "carol": 2.5})

    response = staff_client.get(reverse("round-dashboard", args=[round.pk]))

    check = response.context["efficiency"]
    assert check.sum_values == pytest.approx(6.0)
    assert check.total_gain == pytest.approx(6.0)  # FakeEngine: v(∅) = 0, v(N) = Σ values
    assert check.gap == pytest.approx(0.0)
    assert check.raw_gap == pytest.approx(0.0312)
    assert check.max_exact_error == pytest.approx(0.0)
    html = response.content.decode()
    assert "Σφ (sum of the values)" in html
    assert "Raw surrogate gap" in html
    assert "0.0312" in html
    assert "max |estimate − exact| over 3 contributors" in html


def test_estimators_without_surrogate_diagnostics_skip_fit_and_convergence(
    staff_client: Client,
) -> None:
    round = make_succeeded_round()  # FakeEngine leaves no surrogate diagnostics

    response = staff_client.get(reverse("round-dashboard", args=[round.pk]))

    assert set(figures(response)) == {"figure-values", "figure-shares"}
    assert "fits no surrogate" in response.content.decode()


# --- payouts ----------------------------------------------------------------------------------


def payout_amounts(response: HttpResponse) -> dict[str, Decimal]:
    return {line.key: line.amount for line in response.context["payout"].lines}


def test_payout_preview_sums_to_the_pool_exactly_and_writes_nothing(
    staff_client: Client,
) -> None:
    round = make_succeeded_round(values=dict.fromkeys(KEYS, 1.0), pool="100.00")
    url = reverse("round-dashboard", args=[round.pk])

    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(url)

    amounts = payout_amounts(response)
    assert sum(amounts.values()) == Decimal("100.00")
    assert amounts == {
        "alice": Decimal("33.34"),  # the leftover cent goes to the smallest key
        "bob": Decimal("33.33"),
        "carol": Decimal("33.33"),
    }
    writes = [q["sql"] for q in queries if q["sql"].split()[0] in {"INSERT", "UPDATE", "DELETE"}]
    assert writes == []
    assert PayoutBatch.objects.count() == Payout.objects.count() == 0
    round.refresh_from_db()
    assert round.payout_batch is None
    html = response.content.decode()
    assert "Payout preview" in html
    assert "Nothing has been saved" in html
    assert "€33.34" in html
    assert "€100.00" in html


def test_payout_preview_uses_the_currency_minor_unit(staff_client: Client) -> None:
    round = make_succeeded_round(pool="1000", currency="JPY")

    amounts = payout_amounts(staff_client.get(reverse("round-dashboard", args=[round.pk])))

    assert sum(amounts.values()) == Decimal(1000)
    assert all(amount == amount.to_integral_value() for amount in amounts.values())


def test_payout_preview_explains_the_clipped_mass(staff_client: Client) -> None:
    round = make_succeeded_round(values={"alice": -0.5, "bob": 1.0, "carol": 3.0}, pool="10.00")

    response = staff_client.get(reverse("round-dashboard", args=[round.pk]))

    assert payout_amounts(response) == {
        "alice": Decimal("0.00"),
        "bob": Decimal("2.50"),
        "carol": Decimal("7.50"),
    }
    preview = response.context["payout"]
    assert preview.clipped_mass == Decimal("-0.5")
    assert preview.clipped_labels == ["Alice"]
    html = response.content.decode()
    assert "Clipped mass -0.5" in html
    assert "negative value of Alice was set to zero" in html


def test_payout_preview_under_reject_policy_shows_why_nothing_is_paid(
    staff_client: Client,
) -> None:
    round = make_succeeded_round(
        values={"alice": -0.5, "bob": 1.0, "carol": 3.0},
        negative_policy=NegativeValuePolicy.REJECT.value,
    )

    response = staff_client.get(reverse("round-dashboard", args=[round.pk]))

    assert response.context["payout"].lines == []
    assert "No payouts can be made" in response.content.decode()
    assert "&#x27;alice&#x27;" in response.content.decode()


def test_existing_payout_batch_is_shown_instead_of_a_preview(staff_client: Client) -> None:
    round = make_succeeded_round(pool="100.00")
    batch = create_payouts(round.pk)

    response = staff_client.get(reverse("round-dashboard", args=[round.pk]))

    preview = response.context["payout"]
    assert preview.saved
    assert preview.batch_id == batch.pk
    assert sum(payout_amounts(response).values()) == Decimal("100.00")
    html = response.content.decode()
    assert f"Payouts (batch {batch.pk}, draft)" in html
    assert "€100.00 shared under" in html
    assert PayoutBatch.objects.count() == 1


# --- compare ----------------------------------------------------------------------------------


def two_rounds() -> tuple[ValuationRound, ValuationRound]:
    """A: alice 1, bob 2, carol 3. B: bob 5, carol 4, dave 1 (bob and carol swap ranks)."""
    round_a = make_succeeded_round()
    keys = ("bob", "carol", "dave")
    contributors = [*Contributor.objects.filter(key__in=keys[:2]), make_contributor("dave")]
    round_b = make_succeeded_round(
        {"bob": 5.0, "carol": 4.0, "dave": 1.0}, keys=keys, contributors=contributors
    )
    return round_a, round_b


def test_compare_shows_both_rounds_values_ranks_and_spearman(staff_client: Client) -> None:
    round_a, round_b = two_rounds()

    response = staff_client.get(reverse("round-compare") + f"?a={round_a.pk}&b={round_b.pk}")

    assert response.status_code == 200
    comparison = response.context["comparison"]
    rows = {
        row.label: (row.value_a, row.rank_a, row.value_b, row.rank_b) for row in comparison.rows
    }
    assert rows == {
        "Alice": (1.0, 3, None, None),
        "Bob": (2.0, 2, 5.0, 1),
        "Carol": (3.0, 1, 4.0, 2),
        "Dave": (None, None, 1.0, 3),
    }
    assert comparison.n_shared == 2
    assert comparison.spearman == pytest.approx(-1.0)
    (figure,) = figures(response).values()
    first, second = figure["data"]
    assert first["type"] == second["type"] == "bar"
    assert figure["layout"]["barmode"] == "group"
    assert len(first["y"]) == len(first["x"]) == len(second["x"]) == 4
    html = response.content.decode()
    assert "ρ = -1.000" in html
    assert_no_inline_scripts(response)


def test_compare_refuses_a_round_against_itself(staff_client: Client) -> None:
    round, _ = two_rounds()

    response = staff_client.get(reverse("round-compare") + f"?a={round.pk}&b={round.pk}")

    assert response.status_code == 400
    assert "comparison" not in response.context
    html = response.content.decode()
    assert "choose two different rounds" in html
    assert 'aria-describedby="compare-error"' in html  # the error is tied to the pickers
    assert f'<option value="{round.pk}" selected>' in html  # the choice is kept


def test_compare_with_one_succeeded_round_explains_why_there_is_no_picker(
    staff_client: Client,
) -> None:
    make_succeeded_round()

    html = staff_client.get(reverse("round-compare")).content.decode()

    assert "Comparing needs two succeeded rounds" in html
    assert 'name="a"' not in html


def test_compare_refuses_unfinished_rounds(staff_client: Client) -> None:
    done, running = make_succeeded_round(), running_round(keys=("dave", "erin"))

    response = staff_client.get(reverse("round-compare") + f"?a={done.pk}&b={running.pk}")

    assert response.status_code == 400
    assert "Only succeeded rounds can be compared" in response.content.decode()
    assert "comparison" not in response.context


def test_compare_without_rounds_shows_the_picker(staff_client: Client) -> None:
    round_a, round_b = two_rounds()

    response = staff_client.get(reverse("round-compare"))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'<option value="{round_a.pk}"' in html
    assert f'<option value="{round_b.pk}"' in html


def test_list_shows_a_running_rounds_overall_progress_and_stage_in_words(
    staff_client: Client,
) -> None:
    round = running_round(keys=("dave", "erin", "fay", "gus"))
    ValuationRound.objects.filter(pk=round.pk).update(stage="features", progress=0.5)

    html = staff_client.get(reverse("round-dashboard-list")).content.decode()

    # Generation done (80%) and half the features (2.5% of 5%): 82% of the whole round.
    assert 'max="100" value="82"' in html
    assert "Reading features of 2 of 4 banks" in html


def test_a_round_page_states_the_precision_reached_with_the_bank_noise(
    staff_client: Client,
) -> None:
    round = make_succeeded_round(estimator="tolerance", payout_tolerance="0.5")
    noise = {
        "replicates": 20,
        "samples_per_contributor": 64,
        "bank_points": 2.7,
        "combined_points": 2.81,
        "required_k": 8099,
        "required_total": 31_500,
        "met": False,
        "drivers": ["carol", "alice"],
        "reason": "bank noise measured over 20 resampled banks",
    }
    tolerance = {"estimator": "exact", "reason": "exact: fits", "achieved_points": 0.0, "met": True}
    ValuationRound.objects.filter(pk=round.pk).update(
        diagnostics={"bank_noise": noise, "tolerance": tolerance}
    )

    html = staff_client.get(reverse("round-dashboard", args=[round.pk])).content.decode()

    assert "Estimation, against the round's ±0.5 points: met" in html
    assert "every share within ±2.81 points at 95%" in html
    assert "the round's ±0.5 points are not met" in html
    assert "about 8,099 images per contributor would meet them" in html
    assert "(about 31,500 in all with a targeted growth, which tops up each bank" in html
    assert "Banks that drive the uncertainty: carol, alice." in html
    assert "The banks grew" not in html


def test_a_round_page_says_how_far_the_banks_grew(staff_client: Client) -> None:
    round = make_succeeded_round(estimator="tolerance")
    growth = "the banks grew from K = 64 to 1,024 samples per contributor, the round's allowance"
    ValuationRound.objects.filter(pk=round.pk).update(
        diagnostics={
            "bank_noise": bank_noise_diagnostics(
                samples_per_contributor=1024, requested_k=64, growth=growth
            )
        }
    )

    html = staff_client.get(reverse("round-dashboard", args=[round.pk])).content.decode()

    assert "The banks grew from K = 64 to 1,024 samples per contributor" in html


def test_an_audit_round_page_previews_no_payout(staff_client: Client) -> None:
    round = make_succeeded_round(metric="marker_free")

    html = staff_client.get(reverse("round-dashboard", args=[round.pk])).content.decode()

    assert "No payouts can be made:" in html
    assert "What creating the payouts would pay" not in html
    assert "Create these payouts" not in html


def test_the_convergence_chart_follows_the_largest_values_positive_or_negative(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from attribution.dashboard import reports

    monkeypatch.setattr(reports, "CONVERGENCE_TOP", 2)
    round = make_succeeded_round(values={"alice": -3.0, "bob": 0.5, "carol": 2.0})
    round.diagnostics = {
        "convergence": {
            "n_coalitions": [4, 8],
            "values": {"alice": [-2.0, -3.0], "bob": [0.4, 0.5], "carol": [1.0, 2.0]},
        }
    }
    round.save(update_fields=["diagnostics"])

    response = staff_client.get(reverse("round-dashboard", args=[round.pk]))

    lines = {trace["name"] for trace in figures(response)["figure-convergence"]["data"]}
    assert len(lines) == 2
    assert not any("bob" in name.lower() for name in lines)  # the smallest |value| is left out
    assert "largest values, positive or negative" in response.content.decode()


def test_an_audit_round_page_states_no_precision_in_points_of_a_pool(
    staff_client: Client,
) -> None:
    round = make_succeeded_round(metric="marker_free")
    ValuationRound.objects.filter(pk=round.pk).update(
        diagnostics={"bank_noise": bank_noise_diagnostics()}
    )

    html = staff_client.get(reverse("round-dashboard", args=[round.pk])).content.decode()

    assert "With the sample banks' noise" not in html
