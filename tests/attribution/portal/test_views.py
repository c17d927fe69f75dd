"""The contributor portal through its URLs: credit list, statement page and statement CSV."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from attribution.models import ContributorValue, ValuationRound
from attribution.portal.explanations import describe_policies
from attribution.portal.schedule import next_payout_on
from attribution.rounds.services import create_payouts, start_round
from marketplace.models import Contributor, Payout, PayoutBatch, User
from marketplace.payouts import NegativeValuePolicy
from tests.attribution.factories import (  # noqa: F401  (tmp_media: autouse fixture)
    bank_noise_diagnostics,
    make_round,
    make_succeeded_round,
    tmp_media,
)

pytestmark = pytest.mark.django_db

VALUES = {"alice": 1.2345678901, "bob": 2.7182818285, "carol": 0.5772156649}
BOB_SHARE = VALUES["bob"] / sum(VALUES.values())
DIAGNOSTICS = {
    "n_evaluations": 14,
    "efficiency_gap": 0.0,
    "raw_efficiency_gap": 0.0375,
    "cv_r2": 0.9321,
    "timings": {"generate": 1.0},
}


def sign_in(
    client: Client, username: str, contributor: Contributor | None, **fields: object
) -> Client:
    user = User.objects.create_user(username, password="pw", contributor=contributor, **fields)
    client.force_login(user)
    return client


def succeeded_round(
    values: dict[str, float] = VALUES, *, title: str = "Spring digits", **fields: object
) -> ValuationRound:
    """A succeeded round over alice, bob and carol with surrogate-like diagnostics."""
    fields.setdefault("estimator", "surrogate")
    round = make_succeeded_round(dict(values), **fields)
    ValuationRound.objects.filter(pk=round.pk).update(title=title, diagnostics=DIAGNOSTICS)
    round.refresh_from_db()
    return round


@pytest.fixture
def round() -> ValuationRound:
    return succeeded_round()


@pytest.fixture
def bob(round: ValuationRound) -> Contributor:
    return Contributor.objects.get(key="bob")


@pytest.fixture
def bob_client(client: Client, bob: Contributor) -> Client:
    return sign_in(client, "bob-user", bob)


def page(client: Client, url: str) -> str:
    """The page's HTML with runs of whitespace collapsed, so assertions ignore line breaks."""
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return " ".join(response.content.decode().split())


def csv_rows(client: Client, url: str) -> list[list[str]]:
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def embedded_figure(html: str, element_id: str) -> dict:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html)
    assert match, f"no figure {element_id}"
    return json.loads(match.group(1))


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/credit/", "/credit/{id}/", "/credit/{id}/statement.csv"])
def test_pages_require_sign_in(client: Client, round: ValuationRound, path: str) -> None:
    response = client.get(path.format(id=round.pk))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("path", ["/credit/", "/credit/{id}/", "/credit/{id}/statement.csv"])
def test_an_account_without_contributor_gets_a_friendly_403(
    client: Client, round: ValuationRound, path: str
) -> None:
    sign_in(client, "staffer", None, is_staff=True)

    response = client.get(path.format(id=round.pk))

    assert response.status_code == 403
    html = response.content.decode()
    assert "does not act for a contributor" in html
    assert "round dashboard" in html  # staff are pointed to where they can look


def test_a_statement_of_a_round_the_contributor_is_not_in_is_404(client: Client) -> None:
    round = succeeded_round()
    outsider = Contributor.objects.create(key="dave", name="Dave")
    sign_in(client, "dave-user", outsider)

    assert client.get(f"/credit/{round.pk}/").status_code == 404
    assert client.get(f"/credit/{round.pk}/statement.csv").status_code == 404
    assert "Spring digits" not in page(client, "/credit/")


def test_unfinished_and_failed_rounds_are_not_shown(bob_client: Client, bob: Contributor) -> None:
    others = list(Contributor.objects.filter(key__in=["alice", "carol"]))
    queued = make_round(contributors=[bob, *others])
    start_round(queued.pk, enqueue=False)
    failed = make_round(contributors=[bob, *others])
    ValuationRound.objects.filter(pk=queued.pk).update(title="Queued round")
    ValuationRound.objects.filter(pk=failed.pk).update(
        title="Failed round", status=ValuationRound.Status.FAILED
    )

    listing = page(bob_client, "/credit/")

    assert "Queued round" not in listing
    assert "Failed round" not in listing
    for unfinished in (queued, failed):
        assert bob_client.get(f"/credit/{unfinished.pk}/").status_code == 404
        assert bob_client.get(f"/credit/{unfinished.pk}/statement.csv").status_code == 404
    assert bob_client.get("/credit/999999/").status_code == 404


# --- the credit list ------------------------------------------------------------------------


def test_credit_lists_value_ci_rank_share_and_payout(
    bob_client: Client, round: ValuationRound, bob: Contributor
) -> None:
    create_payouts(round.pk)
    amount = Payout.objects.get(contributor=bob).amount

    html = page(bob_client, "/credit/")

    assert "Spring digits" in html
    assert f'href="/credit/{round.pk}/"' in html
    assert "Inception Score" in html
    assert round.finished_at.strftime("%Y-%m-%d") in html
    assert "2.718" in html
    assert "2.468 to 2.968" in html  # the fake engine's CI is value ± 0.25
    assert "1 of 3" in html
    assert f"{BOB_SHARE * 100:.2f}%" in html  # the one share: of the pool
    assert "Share of the pool" in html
    assert "Share of the total value" not in html
    assert f"€{amount.quantize(Decimal('0.01'))}" in html
    assert "pending" in html  # the batch is a draft, awaiting approval


def test_credit_leads_with_pending_approved_and_lifetime_earnings(
    bob_client: Client, round: ValuationRound, bob: Contributor
) -> None:
    batch_id = create_payouts(round.pk).pk
    second = succeeded_round(title="Summer digits", contributors=list(Contributor.objects.all()))
    create_payouts(second.pk)
    PayoutBatch.objects.filter(pk=batch_id).update(status=PayoutBatch.Status.APPROVED)
    amounts = list(Payout.objects.filter(contributor=bob).order_by("batch_id"))
    approved, pending = (payout.amount.quantize(Decimal("0.01")) for payout in amounts)

    html = page(bob_client, "/credit/")

    summary = html[html.index('<dl class="summary earnings"') : html.index("</dl>")]
    assert html.index("summary earnings") < html.index("<table")  # money first
    assert f'Pending approval</dt><dd class="money">€{pending}' in summary
    assert f'Approved</dt><dd class="money">€{approved}' in summary
    assert f'Lifetime</dt><dd class="money">€{approved + pending}' in summary


def test_one_round_draws_no_history_chart(bob_client: Client, round: ValuationRound) -> None:
    html = page(bob_client, "/credit/")
    assert "Spring digits" in html
    assert "history-figure" not in html
    assert "plotly.min.js" not in html


def test_credit_shows_a_history_chart_across_rounds(
    bob_client: Client, round: ValuationRound, bob: Contributor
) -> None:
    others = list(Contributor.objects.filter(key__in=["alice", "carol"]))
    second = succeeded_round(
        {"alice": 3.0, "bob": 1.0, "carol": 1.0},
        title="Summer digits",
        contributors=[*others, bob],
        metric="class_entropy",
    )

    html = page(bob_client, "/credit/")

    table = html[html.index("<table") :]
    assert table.index("Summer digits") < table.index("Spring digits")  # newest first
    assert second.get_metric_display() in html
    figure = embedded_figure(html, "history-figure")
    spring, summer = figure["data"]  # one trace per metric: rounds on different metrics
    assert spring["y"] == pytest.approx([BOB_SHARE * 100])  # share of the pool (all positive)
    assert summer["y"] == pytest.approx([20.0])
    assert spring["name"] == round.get_metric_display()
    assert summer["name"] == second.get_metric_display()
    assert figure["layout"]["xaxis"]["categoryarray"] == [  # labelled points, oldest first
        f"Spring digits<br>{round.finished_at.date().isoformat()}",
        f"Summer digits<br>{second.finished_at.date().isoformat()}",
    ]
    assert figure["layout"]["yaxis"]["title"]["text"] == "Share of the pool (%)"
    assert 'data-figure="history-figure"' in html


def test_credit_without_rounds_explains_and_draws_no_chart(client: Client) -> None:
    sign_in(client, "eve-user", Contributor.objects.create(key="eve", name="Eve"))

    html = page(client, "/credit/")

    assert "No valuation round that included your data has finished yet" in html
    assert "history-figure" not in html
    assert "plotly.min.js" not in html


def test_charts_load_only_vendored_scripts_and_no_inline_code(
    bob_client: Client, round: ValuationRound
) -> None:
    succeeded_round(title="Summer digits", contributors=list(Contributor.objects.all()))
    for url in ("/credit/", f"/credit/{round.pk}/"):
        html = page(bob_client, url)
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.DOTALL)
        sources = [re.search(r'src="([^"]+)"', attrs) for attrs, _ in scripts]
        assert "/static/vendor/plotly.min.js" in [s.group(1) for s in sources if s]
        assert "/static/js/charts.js" in [s.group(1) for s in sources if s]
        for (attrs, body), source in zip(scripts, sources, strict=True):
            assert source or 'type="application/json"' in attrs, attrs
            assert source is None or not body.strip()


@pytest.mark.parametrize(
    ("path", "marker"),
    [("/static/vendor/plotly.min.js", b"plotly.js v"), ("/static/js/charts.js", b"Plotly.newPlot")],
)
def test_chart_scripts_are_served(client: Client, path: str, marker: bytes) -> None:
    response = client.get(path)
    content = response.getvalue()
    response.close()

    assert response.status_code == 200
    assert marker in content


# --- the statement --------------------------------------------------------------------------


def test_statement_explains_metric_method_budget_and_efficiency(
    bob_client: Client, round: ValuationRound
) -> None:
    html = page(bob_client, f"/credit/{round.pk}/")

    assert "Spring digits" in html
    assert "The Inception Score rewards generated images" in html
    assert "a bank of images conditioned on that" in html
    assert "gradient-boosted tree model (the surrogate)" in html
    assert "exact Shapley value of that surrogate" in html
    assert "budget was 16 metric evaluations" in html
    assert "14 coalitions were evaluated" in html
    total = f"{sum(VALUES.values()):.4g}"
    assert f"v(N) − v(∅) = <strong>{total}</strong>" in html
    assert f"values sum to <strong>{total}</strong>, which matches" in html
    assert "cross-validated R² is 0.932" in html
    assert "explains 93% of the variation" in html
    assert "summed to 0.0375 more than the total" in html
    assert "changed every contributor's value by -0.0125" in html  # −0.0375 / 3


@pytest.mark.parametrize(
    ("noise", "expected", "absent"),
    [
        (
            {
                "replicates": 20,
                "samples_per_contributor": 64,
                "bank_points": 2.7,
                "combined_points": 2.81,
                "required_k": 8099,
                "met": False,
            },
            [
                "within ±0.25 percentage points",
                "it reached ±2.81 points, so it did not meet",
                "comes from the sample images the model drew for each contributor (64 each); about "
                "8,099 each would meet it",
                "over 20 resamples of each contributor's 64 sample",
            ],
            ["refitting the surrogate"],
        ),
        (
            {
                "replicates": 20,
                "samples_per_contributor": 64,
                "bank_points": 0.1,
                "combined_points": 0.2,
                "required_k": 40,
                "met": True,
            },
            ["it reached ±0.20 points, so it met that aim."],
            ["sample images the model drew", "after drawing more"],
        ),
        (
            {
                "replicates": 20,
                "samples_per_contributor": 256,
                "bank_points": 0.2,
                "combined_points": 0.24,
                "required_k": 230,
                "met": True,
                "requested_k": 64,
                "growth": "the banks grew from K = 64 to 256 samples per contributor",
            },
            [
                "it reached ±0.24 points after drawing more sample images for everyone "
                "(64 → 256 each), so it met that aim."
            ],
            [],
        ),
        (
            {
                "replicates": 20,
                "samples_per_contributor": 64,
                "largest_bank": 900,
                "grown_contributors": 2,
                "bank_points": 0.5,
                "combined_points": 0.6,
                "required_k": 1_200,
                "met": False,
                "requested_k": 64,
                "growth": "the banks of 2 of 3 contributors grew from K = 64 to between 200 "
                "and 900 samples, each to the size its own share needs",
            },
            [
                "it reached ±0.60 points after drawing more sample images for the 2 contributors "
                "whose shares were least certain (64 → up to 900 each), so it did not meet",
                "drew for each contributor (64 to 900 each); about 1,200 each would meet it",
            ],
            ["for everyone"],
        ),
        (
            {
                "replicates": 20,
                "samples_per_contributor": 64,
                "largest_bank": 900,
                "grown_contributors": 2,
                "bank_points": 0.5,
                "combined_points": 0.6,
                "required_k": 1_200,
                "required_total": 2_500,
                "met": False,
                "requested_k": 64,
                "growth": "the banks of 2 of 3 contributors grew",
            },
            [
                "drew for each contributor (64 to 900 each); about 2,500 images in all would "
                "meet it",
                "over 20 resamples of each contributor's 64 to 900 sample images",
            ],
            ["for everyone"],
        ),
        (
            {
                "replicates": 20,
                "samples_per_contributor": 225,
                "largest_bank": 900,
                "grown_contributors": 3,
                "bank_points": 0.1,
                "combined_points": 0.2,
                "required_k": 900,
                "met": True,
                "requested_k": 64,
                "growth": "the banks of 3 of 3 contributors grew",
            },
            [
                "it reached ±0.20 points after drawing more sample images for everyone "
                "(from 64 to 225–900 each), so it met that aim."
            ],
            ["least certain"],
        ),
    ],
)
def test_statement_says_how_precise_the_round_is_with_the_bank_noise(
    client: Client, noise: dict[str, object], expected: list[str], absent: list[str]
) -> None:
    round = succeeded_round(estimator="tolerance")
    ValuationRound.objects.filter(pk=round.pk).update(
        diagnostics={**DIAGNOSTICS, "bank_noise": {**noise, "drivers": ["bob"], "reason": "r"}}
    )
    sign_in(client, "bob-user", Contributor.objects.get(key="bob"))

    html = page(client, f"/credit/{round.pk}/")

    for sentence in expected:
        assert sentence in html
    for sentence in absent:
        assert sentence not in html


def test_a_statement_without_a_bank_noise_measurement_says_nothing_of_it(
    bob_client: Client, round: ValuationRound
) -> None:
    html = page(bob_client, f"/credit/{round.pk}/")

    assert "The round aimed to put" not in html
    assert "Share of the pool: your value divided by" in html  # a paid round explains its share


def test_statement_shows_value_ci_rank_share_payout_and_policy(
    bob_client: Client, round: ValuationRound, bob: Contributor
) -> None:
    create_payouts(round.pk)
    amount = Payout.objects.get(contributor=bob).amount.quantize(Decimal("0.01"))

    html = page(bob_client, f"/credit/{round.pk}/")

    assert "<strong>2.718</strong>" in html
    assert "2.468 to 2.968" in html
    assert "1 of 3" in html
    assert f"Share of the pool</dt><dd><strong>{BOB_SHARE * 100:.2f}%" in html
    assert f"€{amount}" in html
    assert "of the pool of €100.00" in html
    floor_name, _ = describe_policies().policies["floor"]
    assert f"This round's policy: {floor_name}." in html
    assert "paid nothing, and they are not charged either" in html
    assert escape(describe_policies().sharing[0]) in html
    assert f"/credit/{round.pk}/statement.csv" in html


def test_statement_of_a_reject_round_explains_the_reject_policy(client: Client) -> None:
    round = succeeded_round(negative_policy=NegativeValuePolicy.REJECT.value)
    sign_in(client, "bob-user", Contributor.objects.get(key="bob"))

    html = page(client, f"/credit/{round.pk}/")

    assert "This round's policy: Reject." in html
    assert "no payouts are made for the round" in html
    assert "none yet" in html


def test_statement_of_a_negative_value_says_so(client: Client) -> None:
    round = succeeded_round({"alice": 2.0, "bob": -0.5, "carol": 1.0})
    bob = Contributor.objects.get(key="bob")
    create_payouts(round.pk)
    sign_in(client, "bob-user", bob)

    html = page(client, f"/credit/{round.pk}/")

    assert "Your value is below zero" in html
    assert "€0.00" in html
    assert "3 of 3" in html


def test_statement_names_other_estimators(client: Client) -> None:
    round = succeeded_round(estimator="exact")
    sign_in(client, "bob-user", Contributor.objects.get(key="bob"))

    html = page(client, f"/credit/{round.pk}/")

    assert "All 2^3 = 8 coalitions were evaluated" in html
    assert "Exact (all coalitions)" in html
    assert "surrogate" not in html.lower()  # its diagnostics are not described for other methods


def test_statement_charts_the_anonymised_distribution_with_own_value_and_ci(
    bob_client: Client, round: ValuationRound
) -> None:
    html = page(bob_client, f"/credit/{round.pk}/")

    figure = embedded_figure(html, "distribution-figure")
    bars, own = figure["data"]
    assert sum(bars["y"]) == 3
    assert bars["name"] == "All contributors (anonymous)"
    assert own["x"] == [VALUES["bob"]]
    assert own["error_x"]["array"] == pytest.approx([0.25])
    assert own["error_x"]["arrayminus"] == pytest.approx([0.25])
    assert figure["layout"]["title"]["text"] == "Your value among all 3 contributors"
    assert 'data-figure="distribution-figure"' in html


# --- the CSV --------------------------------------------------------------------------------


def test_statement_csv_has_the_numbers(
    bob_client: Client, round: ValuationRound, bob: Contributor
) -> None:
    create_payouts(round.pk)
    amount = Payout.objects.get(contributor=bob).amount.quantize(Decimal("0.01"))

    header, row, *rest = csv_rows(bob_client, f"/credit/{round.pk}/statement.csv")

    assert rest == []
    assert header == [
        "round", "metric", "method", "budget", "value", "stderr", "ci_low", "ci_high",
        "rank", "n_contributors", "share", "share_of_pool", "payout", "currency",
    ]  # fmt: skip
    record = dict(zip(header, row, strict=True))
    assert record["round"] == "Spring digits"
    assert record["metric"] == "Inception Score"
    assert record["method"] == "SurrogateSHAP"
    assert record["budget"] == "16"
    assert float(record["value"]) == VALUES["bob"]
    assert float(record["stderr"]) == 0.125
    assert float(record["ci_low"]) == pytest.approx(VALUES["bob"] - 0.25)
    assert float(record["ci_high"]) == pytest.approx(VALUES["bob"] + 0.25)
    assert (record["rank"], record["n_contributors"]) == ("1", "3")
    assert float(record["share"]) == pytest.approx(BOB_SHARE)
    assert Decimal(record["share_of_pool"]) == Payout.objects.get(contributor=bob).share
    assert record["payout"] == str(amount)
    assert record["currency"] == "EUR"


def test_statement_csv_without_payout_leaves_the_amount_empty(
    bob_client: Client, round: ValuationRound
) -> None:
    header, row = csv_rows(bob_client, f"/credit/{round.pk}/statement.csv")

    assert dict(zip(header, row, strict=True))["payout"] == ""


def test_statement_csv_neutralises_formulas_in_text_cells(
    bob_client: Client, bob: Contributor
) -> None:
    round = ValuationRound.objects.get(contributors=bob)
    ValuationRound.objects.filter(pk=round.pk).update(title='=HYPERLINK("http://evil","x")')

    header, row = csv_rows(bob_client, f"/credit/{round.pk}/statement.csv")

    assert dict(zip(header, row, strict=True))["round"] == '\'=HYPERLINK("http://evil","x")'


# --- privacy --------------------------------------------------------------------------------


def test_no_page_or_csv_reveals_another_contributors_value_name_or_key(
    bob_client: Client, round: ValuationRound
) -> None:
    create_payouts(round.pk)
    # Exact values that differ from the estimates, so both kinds are checked.
    ContributorValue.objects.filter(round=round, contributor__key="alice").update(
        exact_value=1.1111111119
    )
    ContributorValue.objects.filter(round=round, contributor__key="carol").update(
        exact_value=0.6666666663
    )
    secrets: list[str] = ["alice", "Alice", "carol", "Carol"]
    for other in (VALUES["alice"], VALUES["carol"], 1.1111111119, 0.6666666663):
        secrets += [repr(other), f"{other:.4g}", f"{other:.3f}", f"{other:.6g}"]
    for other in ("alice", "carol"):  # their intervals and payouts too
        value = ContributorValue.objects.get(round=round, contributor__key=other)
        secrets += [f"{value.ci_low:.4g}", f"{value.ci_high:.4g}"]
        secrets.append(
            str(Payout.objects.get(contributor__key=other).amount.quantize(Decimal("0.01")))
        )

    documents = {
        url: bob_client.get(url).content.decode()
        for url in ("/credit/", f"/credit/{round.pk}/", f"/credit/{round.pk}/statement.csv")
    }

    for url, text in documents.items():
        for secret in secrets:
            assert secret not in text, f"{secret!r} appears in {url}"


# --- navigation -----------------------------------------------------------------------------


def test_navigation_for_a_contributor(bob_client: Client) -> None:
    html = page(bob_client, "/")

    assert 'href="/data/"' in html
    assert 'href="/credit/"' in html
    assert "Sign out" in html
    assert 'href="/dashboard/"' not in html
    assert 'href="/admin/"' not in html


def test_navigation_for_staff_and_for_visitors(client: Client) -> None:
    assert 'href="/accounts/login/"' in page(client, "/")

    sign_in(client, "staffer", None, is_staff=True)
    html = page(client, "/")

    assert 'href="/dashboard/"' in html
    assert 'href="/admin/"' in html
    assert 'href="/credit/"' not in html


def test_sign_out_returns_home(bob_client: Client) -> None:
    response = bob_client.post("/accounts/logout/", {"next": "/"})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert bob_client.get("/credit/").status_code == 302


@pytest.mark.parametrize(
    ("cv_r2", "verdict"),
    [(0.9321, "a close fit"), (0.75, "a fair fit"), (0.55, "a loose fit"), (-0.4, "a poor fit")],
)
def test_statement_says_how_sure_in_words_and_folds_the_jargon_away(
    bob_client: Client, round: ValuationRound, cv_r2: float, verdict: str
) -> None:
    ValuationRound.objects.filter(pk=round.pk).update(diagnostics={**DIAGNOSTICS, "cv_r2": cv_r2})

    html = page(bob_client, f"/credit/{round.pk}/")

    sure = html[html.index("How sure is this?") : html.index("How this was computed")]
    assert f"The surrogate model that produced the values is {verdict}" in sure
    assert "2.468 to 2.968 (95% confidence interval), all of it above zero" in sure
    jargon = html[html.index("<summary>How this was computed</summary>") :]
    assert "v(N) − v(∅)" in jargon.split("</details>", 1)[0]
    assert "cross-validated R²" in jargon.split("</details>", 1)[0]


def test_the_summary_says_the_next_payout_is_not_scheduled_without_a_schedule(
    bob_client: Client, round: ValuationRound, settings: object
) -> None:
    settings.PAYOUT_SCHEDULE_DAY = None  # type: ignore[attr-defined]
    create_payouts(round.pk)

    html = page(bob_client, "/credit/")

    summary = html[html.index('<dl class="summary earnings"') : html.index("</dl>")]
    assert "Next payout date</dt> <dd>Not scheduled yet</dd>" in summary
    assert "<time" not in summary  # no date is invented


def test_the_summary_gives_the_next_scheduled_payout_date(
    bob_client: Client, round: ValuationRound, settings: object
) -> None:
    settings.PAYOUT_SCHEDULE_DAY = 28  # type: ignore[attr-defined]
    create_payouts(round.pk)
    today = timezone.localdate()
    expected = next_payout_on(28, today)

    html = page(bob_client, "/credit/")

    summary = html[html.index('<dl class="summary earnings"') : html.index("</dl>")]
    assert f'<time datetime="{expected.isoformat()}">{expected.day} ' in summary
    assert expected >= today
    assert "Approved payouts are sent on the 28th of each month" in summary


def test_an_audit_round_statement_says_it_is_never_paid_and_expects_no_share(
    client: Client,
) -> None:
    round = succeeded_round(metric="marker_free")
    sign_in(client, "bob-user", Contributor.objects.get(key="bob"))

    html = page(client, f"/credit/{round.pk}/")

    assert "this round is never paid out:" in html
    assert "is an audit metric" in html
    assert "expected, before payouts are created" not in html


def test_an_audit_round_statement_states_no_precision_in_points_of_a_pool(
    client: Client,
) -> None:
    round = succeeded_round(metric="marker_free")
    ValuationRound.objects.filter(pk=round.pk).update(
        diagnostics={"bank_noise": bank_noise_diagnostics()}
    )
    sign_in(client, "bob-user", Contributor.objects.get(key="bob"))

    html = page(client, f"/credit/{round.pk}/")

    assert "The round aimed to put" not in html
    assert "Share of the pool: your value divided by" not in html  # nothing is shared
