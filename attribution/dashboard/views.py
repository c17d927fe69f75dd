"""Staff round dashboard, the pages that read: every round, one round's live progress and
diagnostics, two compared, and a payout batch's review (and its CSV).

Staff only (``attribution.dashboard.access``). What the pages show is computed in
``attribution.dashboard.reports`` (values, figures, payouts), ``progress`` (overall progress and
time left) and ``review`` (a batch before approval); figures reach the page as JSON through
``json_script`` and ``static/js/dashboard.js`` draws them, and polls ``progress.json`` every two
seconds while a round runs. Nothing here writes: the operator's actions are in ``operations``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from attribution.dashboard.access import staff_required
from attribution.dashboard.forms import ConfirmForm
from attribution.dashboard.progress import (
    Overall,
    describe_duration,
    eta_seconds,
    overall_progress,
)
from attribution.dashboard.reports import (
    build_figures,
    check_efficiency,
    compare,
    preview_payouts,
    value_rows,
)
from attribution.dashboard.review import review_batch
from attribution.models import ValuationRound
from marketplace.admin import payouts_csv_response
from marketplace.models import PayoutBatch
from marketplace.payouts import format_money

Status = ValuationRound.Status
FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
POLL_INTERVAL_MS = 2000
ROUNDS_PER_PAGE = 50
VALUES_PER_PAGE = 100
PAYOUT_LINES_SHOWN = 100
CONTRIBUTORS_LISTED = 30
"""Pages stay small at any number of contributors: the values table is paged, the payout
preview lists the largest amounts (the batch's CSV has every line), the facts name the first
contributors only."""

LIGHT_COLUMNS = ("config", "diagnostics")
"""Large JSON columns that lists of rounds never show."""

RECENT_BATCHES = 20
APPROVE_LABEL = "I have reviewed the totals and payees above and approve this batch"


# --- views ------------------------------------------------------------------------------------


@require_GET
@staff_required
def list_rounds(request: HttpRequest) -> HttpResponse:
    """Every round, newest first, with its status and, while it runs, its overall progress."""
    rounds = (
        ValuationRound.objects.select_related("model_version")
        .defer(*LIGHT_COLUMNS)
        .annotate(n_contributors=Count("contributors"))
        .order_by("-created_at", "-pk")
    )
    page = Paginator(rounds, ROUNDS_PER_PAGE).get_page(request.GET.get("page"))
    for round in page.object_list:  # which contributor a bank is for would cost a query a row
        overall = overall_progress(
            round.stage, round.progress, position=None, n_contributors=round.n_contributors
        )
        round.overall_percent = (
            None if overall.fraction is None else round_percent(overall.fraction)
        )
        round.stage_label = overall.label
    return render(
        request,
        "attribution/dashboard_list.html",
        {"page": page, "succeeded": succeeded_rounds(), "batches": recent_batches()},
    )


@require_GET
@staff_required
@never_cache
def show_round(request: HttpRequest, round_id: int) -> HttpResponse:
    """One round: live progress while it runs; values, diagnostics and payouts once it succeeded."""
    round = get_object_or_404(
        ValuationRound.objects.select_related("model_version").defer("config"), pk=round_id
    )
    state = progress_state(round)
    keys = round.contributors.order_by("key").values_list("key", flat=True)
    context: dict[str, Any] = {
        "round": round,
        "state": state,
        "percent": round_percent(state["overall"]),
        "pool_text": format_money(round.pool, round.currency),
        "n_contributors": keys.count(),
        "contributors": list(keys[:CONTRIBUTORS_LISTED]),
        "live": {
            "progress_url": reverse("round-progress", args=[round.pk]),
            "status": round.status,
            "finished": list(FINISHED),
            "poll_ms": POLL_INTERVAL_MS,
            "stale_after_s": settings.ENGINE_STALE_AFTER_S,
        },
    }
    if round.status == Status.SUCCEEDED:
        rows = value_rows(round)
        payout = preview_payouts(round, rows)
        diagnostics = round.read_diagnostics()
        context.update(
            rows=Paginator(rows, VALUES_PER_PAGE).get_page(request.GET.get("values_page")),
            figures=build_figures(round, rows),
            efficiency=check_efficiency(round, rows),
            payout=payout,
            tolerance=diagnostics.tolerance,
            # An audit's (or an empty gain's) shares of a pool mean nothing: no precision in pp.
            bank_noise=None if round.payout_problem() else diagnostics.bank_noise,
            payout_lines=payout.lines[:PAYOUT_LINES_SHOWN],
            payout_hidden=max(0, len(payout.lines) - PAYOUT_LINES_SHOWN),
        )
    return render(request, "attribution/dashboard_round.html", context)


@require_GET
@staff_required
@never_cache
def show_batch(request: HttpRequest, batch_id: int) -> HttpResponse:
    """A payout batch reviewed before approval: totals, payees, floored contributors, the
    largest payouts, who created and who approves; the approval form and the CSV export."""
    batch = get_object_or_404(PayoutBatch.objects.select_related("approved_by"), pk=batch_id)
    return render_batch(request, batch, ConfirmForm(label=APPROVE_LABEL))


def render_batch(request: HttpRequest, batch: PayoutBatch, form: ConfirmForm) -> HttpResponse:
    """The batch review page (also shown again by a refused approval, with its error)."""
    return render(
        request,
        "attribution/dashboard_batch.html",
        {"review": review_batch(batch, approver=request.user), "form": form},
    )


@require_GET
@staff_required
def export_batch(request: HttpRequest, batch_id: int) -> StreamingHttpResponse:
    """The batch's payouts as CSV, named by batch, date and status (as the admin exports it)."""
    get_object_or_404(PayoutBatch, pk=batch_id)
    return payouts_csv_response(PayoutBatch.objects.filter(pk=batch_id))


@require_GET
@staff_required
@never_cache
def show_round_progress(request: HttpRequest, round_id: int) -> JsonResponse:
    """The round's status, stage, progress (0..1), heartbeat age in seconds and error."""
    round = get_object_or_404(ValuationRound.objects.defer(*LIGHT_COLUMNS), pk=round_id)
    return JsonResponse(progress_state(round))


@require_GET
@staff_required
def compare_rounds(request: HttpRequest) -> HttpResponse:
    """Two succeeded rounds side by side (``?a=<id>&b=<id>``); a picker when they are missing."""
    context: dict[str, Any] = {"succeeded": succeeded_rounds()}
    raw_a, raw_b = request.GET.get("a"), request.GET.get("b")
    if not raw_a or not raw_b:
        return render(request, "attribution/dashboard_compare.html", context)
    rounds = ValuationRound.objects.select_related("model_version")
    round_a = get_object_or_404(rounds, pk=_round_id(raw_a))
    round_b = get_object_or_404(rounds, pk=_round_id(raw_b))
    context.update(round_a=round_a, round_b=round_b)
    if round_a.pk == round_b.pk:
        context["same_round"] = (
            f"Round A and round B are both #{round_a.pk} {round_a.title}: choose two different "
            "rounds."
        )
        return render(request, "attribution/dashboard_compare.html", context, status=400)
    unfinished = [r for r in (round_a, round_b) if r.status != Status.SUCCEEDED]
    if unfinished:
        context["problem"] = "; ".join(
            f"round {r.pk} ({r.title}) is {r.get_status_display().lower()}" for r in unfinished
        )
        return render(request, "attribution/dashboard_compare.html", context, status=400)
    context["comparison"] = compare(round_a, round_b)
    return render(request, "attribution/dashboard_compare.html", context)


# --- page state ------------------------------------------------------------------------------


def progress_state(valuation: ValuationRound) -> dict[str, Any]:
    """What ``progress.json`` returns (and what the page starts from).

    ``progress`` is the worker's progress within its stage, as stored; ``overall`` is the
    fraction of the whole round (None while unknown), ``stage_label`` the stage in words,
    ``elapsed_s`` the time since a worker started it and ``eta_s`` the estimate of the time
    left (see ``attribution.dashboard.progress``).
    """
    now = timezone.now()
    age = None
    if valuation.heartbeat is not None:
        age = round(max(0.0, (now - valuation.heartbeat).total_seconds()), 1)
    elapsed = None
    if valuation.started_at is not None:
        end = valuation.finished_at if valuation.is_finished and valuation.finished_at else now
        elapsed = round(max(0.0, (end - valuation.started_at).total_seconds()), 1)
    overall = _overall(valuation)
    eta = None
    if valuation.status == Status.RUNNING:
        eta = eta_seconds(elapsed, overall.fraction)
    return {
        "status": valuation.status,
        "status_label": valuation.get_status_display(),
        "stage": valuation.stage,
        "stage_label": overall.label,
        "progress": valuation.progress,
        "overall": overall.fraction,
        "elapsed_s": elapsed,
        "elapsed_text": describe_duration(elapsed),
        "eta_s": None if eta is None else round(eta, 1),
        "eta_text": describe_duration(eta),
        "heartbeat_age_s": age,
        "error": valuation.error,
    }


def _overall(valuation: ValuationRound) -> Overall:
    """The round's overall progress from its stage (see ``progress.overall_progress``)."""
    if valuation.status == Status.DRAFT:
        return Overall(0.0, "Draft: not started")
    if valuation.status == Status.SUCCEEDED:
        return overall_progress("done", 1.0, position=None, n_contributors=0)
    members = valuation.contributors
    position = None
    stage = valuation.stage
    generating = stage.removeprefix("grow ")
    if generating.startswith("generate "):
        position = members.filter(key__lt=generating.removeprefix("generate ")).count()
    return overall_progress(
        stage, valuation.progress, position=position, n_contributors=members.count()
    )


def round_percent(progress: float | None) -> int:
    """Progress 0..1 as a whole percentage, clamped (0 when unknown)."""
    return int(max(0.0, min(1.0, progress or 0.0)) * 100)


@dataclass(frozen=True)
class BatchRow:
    """A payout batch in the list page's table."""

    pk: int
    status: str
    status_label: str
    round_id: int | None
    round_title: str
    pool_text: str
    created_at: datetime


def recent_batches() -> list[BatchRow]:
    """The newest payout batches, for the list page (drafts first: they wait for approval)."""
    batches = PayoutBatch.objects.order_by("status", "-created_at", "-pk")[:RECENT_BATCHES]
    rounds = dict(
        ValuationRound.objects.filter(payout_batch__in=[b.pk for b in batches]).values_list(
            "payout_batch", "pk"
        )
    )
    titles = dict(ValuationRound.objects.filter(pk__in=rounds.values()).values_list("pk", "title"))
    return [
        BatchRow(
            pk=batch.pk,
            status=batch.status,
            status_label=batch.get_status_display(),
            round_id=rounds.get(batch.pk),
            round_title=titles.get(rounds.get(batch.pk, 0), ""),
            pool_text=format_money(batch.pool, batch.currency),
            created_at=batch.created_at,
        )
        for batch in batches
    ]


def succeeded_rounds() -> list[ValuationRound]:
    """Rounds that can be compared, newest first."""
    return list(
        ValuationRound.objects.filter(status=Status.SUCCEEDED)
        .defer(*LIGHT_COLUMNS)
        .order_by("-created_at")
    )


def _round_id(raw: str) -> int:
    """A round id from a query parameter; anything else is a round that does not exist (0)."""
    return int(raw) if raw.isdigit() and len(raw) <= 18 else 0
