"""The operator's actions on the round dashboard: create, start, cancel and restart a round,
create its payouts, approve a batch.

Staff only (``attribution.dashboard.access``). Every action but the new-round page is a POST
(CSRF-protected by Django's middleware) that calls ``attribution.rounds.services``, says what
happened in a message and redirects (post/redirect/get). Starting returns at once: the service
enqueues the round on commit and a worker runs it, so no round ever runs in a request. A refusal
(a round in the wrong state, a configuration that cannot run, values that cannot be paid) is a
message on the page, never an error page; so is a task queue that cannot be reached (the round
is then queued with no worker told, and the message says how to run or cancel it).
"""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from kombu.exceptions import OperationalError

from attribution.dashboard.access import staff_required
from attribution.dashboard.forms import ALL, LISTED, ConfirmForm, RoundForm, eligible_contributors
from attribution.dashboard.review import balanced
from attribution.dashboard.views import APPROVE_LABEL, render_batch
from attribution.models import ValuationRound
from attribution.rounds import services
from attribution.rounds.config import RoundConfigError
from marketplace.models import PayoutBatch, User
from marketplace.payouts import PayoutError, format_money

Status = ValuationRound.Status


@require_http_methods(["GET", "POST"])
@staff_required
def new_round(request: HttpRequest) -> HttpResponse:
    """A form for a draft round; saving it leads to the round's page, where it is started."""
    form = RoundForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            round = form.save(commit=False)
            round.created_by = request.user
            round.save()
            round.contributors.set(form.chosen)
        messages.success(
            request,
            f"Created the draft round #{round.pk} {round.title} over {len(form.chosen):,} "
            "contributors. Check it, then start it.",
        )
        return redirect("round-dashboard", round_id=round.pk)
    # A refused form is shown again with 200, as Django's forms are (the errors are on the page).
    return render(request, "attribution/dashboard_new.html", {"form": form})


@require_http_methods(["GET", "POST"])
@staff_required
def edit_round(request: HttpRequest, round_id: int) -> HttpResponse:
    """Change a draft round (a started round is a record: it is refused)."""
    round = get_object_or_404(ValuationRound.objects.defer("config", "diagnostics"), pk=round_id)
    if round.status != Status.DRAFT:
        messages.error(
            request,
            f"Only drafts can be changed; this round is {round.get_status_display().lower()}.",
        )
        return _to_round(round)
    form = RoundForm(request.POST or None, instance=round, initial=_who_initial(round))
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            locked = ValuationRound.objects.select_for_update().get(pk=round.pk)
            if locked.status != Status.DRAFT:  # started meanwhile
                messages.error(request, "The round was started meanwhile; nothing was changed.")
                return _to_round(round)
            form.save(commit=False).save()
            round.contributors.set(form.chosen)
        messages.success(request, f"Saved the draft over {len(form.chosen):,} contributors.")
        return _to_round(round)
    return render(request, "attribution/dashboard_new.html", {"form": form, "round": round})


def _who_initial(round: ValuationRound) -> dict[str, str]:
    """A draft's contributors as the form shows them: "every eligible one" if they are exactly
    those, else their keys listed."""
    keys = list(round.contributors.order_by("key").values_list("key", flat=True))
    eligible = list(eligible_contributors(round.model_version).values_list("key", flat=True))
    if keys == eligible:
        return {"who": ALL, "keys": ""}
    return {"who": LISTED, "keys": "\n".join(keys)}


@require_POST
@staff_required
def start_round(request: HttpRequest, round_id: int) -> HttpResponse:
    """Freeze and queue a draft round; a worker runs it and the page follows its progress."""
    round = get_object_or_404(ValuationRound.objects.only("pk", "title"), pk=round_id)
    try:
        services.start_round(round.pk, user=_user(request))
    except (services.RoundStateError, RoundConfigError) as error:
        messages.error(request, f"The round was not started: {error}")
    except OperationalError as error:  # committed, but the task never reached the broker
        messages.error(request, _unsent(round, error))
    else:
        messages.success(request, "Started: the round is queued for a worker.")
    return _to_round(round)


def _unsent(round: ValuationRound, error: Exception) -> str:
    return (
        f"The round is queued, but no worker was told: the task queue could not be reached "
        f"({error}). Check CELERY_BROKER_URL and the workers, then run it with "
        f"'manage.py run_round {round.pk}' or cancel it."
    )


@require_POST
@staff_required
def cancel_round(request: HttpRequest, round_id: int) -> HttpResponse:
    """Cancel an unfinished round (a running worker stops at its next progress report)."""
    round = get_object_or_404(ValuationRound.objects.only("pk", "status"), pk=round_id)
    if services.cancel_round(round.pk):
        messages.success(request, "Cancelled the round; it has no results.")
    else:
        round.refresh_from_db(fields=["status"])
        messages.warning(
            request, f"Nothing to cancel: the round is {round.get_status_display().lower()}."
        )
    return _to_round(round)


@require_POST
@staff_required
def restart_round(request: HttpRequest, round_id: int) -> HttpResponse:
    """Queue a failed or cancelled round again (banks already generated are reused)."""
    round = get_object_or_404(ValuationRound.objects.only("pk"), pk=round_id)
    try:
        services.restart_round(round.pk, user=_user(request))
    except (services.RoundStateError, RoundConfigError) as error:
        messages.error(request, f"The round was not restarted: {error}")
    except OperationalError as error:
        messages.error(request, _unsent(round, error))
    else:
        messages.success(request, "Restarted: the round is queued again; stored banks are reused.")
    return _to_round(round)


@require_POST
@staff_required
def create_payouts(request: HttpRequest, round_id: int) -> HttpResponse:
    """Turn a succeeded round's values into a draft payout batch and open its review."""
    round = get_object_or_404(ValuationRound.objects.only("pk", "payout_batch"), pk=round_id)
    existing = round.payout_batch_id
    try:
        batch = services.create_payouts(round.pk, user=_user(request))
    except (services.RoundStateError, PayoutError) as error:
        messages.error(request, f"No payouts were created: {error}")
        return _to_round(round)
    if existing is not None:
        messages.warning(request, f"This round was paid out already in batch {batch.pk}.")
    else:
        count = batch.payouts.count()
        messages.success(
            request,
            f"Created the draft payout batch {batch.pk}: {count:,} payouts sharing "
            f"{format_money(batch.pool, batch.currency)}. Review it before approving.",
        )
    return redirect("round-batch", batch_id=batch.pk)


@require_POST
@staff_required
def approve_batch(request: HttpRequest, batch_id: int) -> HttpResponse:
    """Approve a draft batch once its review was confirmed; a second approval is refused."""
    batch = get_object_or_404(PayoutBatch, pk=batch_id)
    form = ConfirmForm(request.POST, label=APPROVE_LABEL)
    if batch.status != PayoutBatch.Status.DRAFT:
        return _already_approved(request, batch)
    if not form.is_valid():
        return render_batch(request, batch, form)
    with transaction.atomic():
        locked = PayoutBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != PayoutBatch.Status.DRAFT:  # approved meanwhile by someone else
            return _already_approved(request, locked)
        if not balanced(locked):
            messages.error(
                request,
                f"Payout batch {locked.pk} was not approved: its payouts do not add up to its "
                "pool. Recreate it from its round.",
            )
            return redirect("round-batch", batch_id=locked.pk)
        approved = services.approve_payouts(locked.pk, user=_user(request))
    messages.success(
        request,
        f"Approved payout batch {approved.pk}: {format_money(approved.pool, approved.currency)} "
        "will be paid. Export the CSV for the payment run.",
    )
    return redirect("round-batch", batch_id=approved.pk)


def _already_approved(request: HttpRequest, batch: PayoutBatch) -> HttpResponse:
    by = f" by {batch.approved_by}" if batch.approved_by_id else ""
    when = f" on {batch.approved_at:%Y-%m-%d %H:%M}" if batch.approved_at else ""
    messages.warning(
        request, f"Payout batch {batch.pk} was approved already{by}{when}; nothing changed."
    )
    return redirect("round-batch", batch_id=batch.pk)


def _to_round(round: ValuationRound) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("round-dashboard", args=[round.pk]))


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # staff_required let only signed-in staff through
    return user
