"""Staff round dashboard: every round, one round's live progress and diagnostics, two compared.

Staff only (``User.is_operator``, as in the API): anonymous visitors are sent to the login page,
other users get 403. What the pages show is computed in ``attribution.dashboard.reports``;
figures reach the page as JSON through ``json_script`` and ``static/js/dashboard.js`` draws them,
and polls ``progress.json`` every two seconds while a round runs. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from attribution.dashboard.reports import (
    build_figures,
    check_efficiency,
    compare,
    preview_payouts,
    value_rows,
)
from attribution.models import ValuationRound
from marketplace.api.permissions import is_staff
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

View = Callable[..., HttpResponse]


def staff_required(view: View) -> View:
    """Let staff through; send anonymous visitors to log in; refuse everyone else (403)."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_staff(request.user):
            raise PermissionDenied("The round dashboard is for staff.")
        return view(request, *args, **kwargs)

    return guarded


# --- views ------------------------------------------------------------------------------------


@require_GET
@staff_required
def list_rounds(request: HttpRequest) -> HttpResponse:
    """Every round, newest first, with its status and progress."""
    rounds = (
        ValuationRound.objects.select_related("model_version")
        .defer(*LIGHT_COLUMNS)
        .order_by("-created_at", "-pk")
    )
    page = Paginator(rounds, ROUNDS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "attribution/dashboard_list.html",
        {"page": page, "succeeded": succeeded_rounds()},
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
        "percent": round_percent(round.progress),
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
        context.update(
            rows=Paginator(rows, VALUES_PER_PAGE).get_page(request.GET.get("values_page")),
            figures=build_figures(round, rows),
            efficiency=check_efficiency(round, rows),
            payout=payout,
            tolerance=round.read_diagnostics().tolerance,
            payout_lines=payout.lines[:PAYOUT_LINES_SHOWN],
            payout_hidden=max(0, len(payout.lines) - PAYOUT_LINES_SHOWN),
        )
    return render(request, "attribution/dashboard_round.html", context)


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
    """What ``progress.json`` returns (and what the page starts from)."""
    age = None
    if valuation.heartbeat is not None:
        age = round(max(0.0, (timezone.now() - valuation.heartbeat).total_seconds()), 1)
    return {
        "status": valuation.status,
        "stage": valuation.stage,
        "progress": valuation.progress,
        "heartbeat_age_s": age,
        "error": valuation.error,
    }


def round_percent(progress: float) -> int:
    """Progress 0..1 as a whole percentage, clamped."""
    return int(max(0.0, min(1.0, progress)) * 100)


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
