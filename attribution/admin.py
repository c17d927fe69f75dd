"""Admin for valuation rounds: start, cancel, restart, create payouts."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from attribution.models import ContributorValue, ValuationRound
from attribution.rounds import services
from attribution.rounds.config import RoundConfigError
from marketplace.payouts import PayoutError


class ContributorValueInline(admin.TabularInline):
    model = ContributorValue
    extra = 0
    fields = ("rank", "contributor", "value", "stderr", "ci_low", "ci_high", "exact_value")
    readonly_fields = fields
    can_delete = False


@admin.register(ValuationRound)
class ValuationRoundAdmin(admin.ModelAdmin):
    list_display = ("title", "model_version", "metric", "estimator", "status", "stage", "progress")
    list_filter = ("status", "metric", "estimator")
    filter_horizontal = ("contributors",)
    readonly_fields = (
        "config",
        "config_hash",
        "status",
        "stage",
        "progress",
        "heartbeat",
        "error",
        "worker",
        "baseline",
        "grand_value",
        "diagnostics",
        "payout_batch",
        "started_at",
        "finished_at",
    )
    inlines = [ContributorValueInline]
    actions = ["start", "cancel", "restart", "create_payouts"]

    def _each(self, request: HttpRequest, queryset: QuerySet[ValuationRound], action: str) -> None:
        for round in queryset:
            try:
                if action == "start":
                    services.start_round(round.pk, user=request.user)  # type: ignore[arg-type]
                elif action == "cancel":
                    services.cancel_round(round.pk)
                elif action == "restart":
                    services.restart_round(round.pk, user=request.user)  # type: ignore[arg-type]
                else:
                    services.create_payouts(round.pk, user=request.user)  # type: ignore[arg-type]
            except (services.RoundStateError, RoundConfigError, PayoutError) as error:
                self.message_user(request, f"{round}: {error}", messages.ERROR)
            else:
                self.message_user(request, f"{round}: {action} done.")

    @admin.action(description="Start selected rounds")
    def start(self, request: HttpRequest, queryset: QuerySet[ValuationRound]) -> None:
        self._each(request, queryset, "start")

    @admin.action(description="Cancel selected rounds")
    def cancel(self, request: HttpRequest, queryset: QuerySet[ValuationRound]) -> None:
        self._each(request, queryset, "cancel")

    @admin.action(description="Restart selected failed or cancelled rounds")
    def restart(self, request: HttpRequest, queryset: QuerySet[ValuationRound]) -> None:
        self._each(request, queryset, "restart")

    @admin.action(description="Create payouts for selected succeeded rounds")
    def create_payouts(self, request: HttpRequest, queryset: QuerySet[ValuationRound]) -> None:
        self._each(request, queryset, "payouts")
