"""Admin for valuation rounds: start, cancel, restart, create payouts.

Every action reports exactly what it changed, round by round. Once started, a round is a record:
its fields are read-only and it cannot be deleted (only drafts can); starting only queues it (a
worker runs it, never the request), and the message links to its live dashboard.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from attribution.api.model_versions import offered_metrics
from attribution.model_registration import check_registration, checksums
from attribution.models import ContributorValue, ValuationRound
from attribution.portal.charts import format_number
from attribution.rounds import services
from attribution.rounds.config import RoundConfigError
from marketplace.admin import NO_SAVE_BUTTONS
from marketplace.models import ModelVersion
from marketplace.payouts import PayoutError, format_money, format_share

Status = ValuationRound.Status


class ContributorValueInline(admin.TabularInline):
    model = ContributorValue
    extra = 0
    fields = (
        "rank",
        "contributor",
        "value_display",
        "ci_display",
        "share_display",
        "exact_display",
    )
    readonly_fields = fields
    can_delete = False

    @admin.display(description="value")
    def value_display(self, row: ContributorValue) -> str:
        return _number(row.value)

    @admin.display(description="95% interval")
    def ci_display(self, row: ContributorValue) -> str:
        if row.ci_low is None or row.ci_high is None:
            return "—"
        return f"{_number(row.ci_low)} to {_number(row.ci_high)} (± {_number(row.stderr)} s.e.)"

    @admin.display(description="share of v(N) − v(∅)")
    def share_display(self, row: ContributorValue) -> str:
        return format_share(row.share)

    @admin.display(description="exact value")
    def exact_display(self, row: ContributorValue) -> str:
        return _number(row.exact_value)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ContributorValue]:
        """The best-ranked rows only (a filter, so the formset can narrow it to the round): the
        page stays small at any size; the dashboard pages through every value."""
        values = super().get_queryset(request).select_related("contributor")
        return values.filter(rank__lte=INLINE_VALUES)


INLINE_VALUES = 50


_SUMMARISED = ("contributors", "config", "diagnostics")
#: Fields of a started round shown formatted instead of raw (``pool`` has 4 places stored).
_DISPLAYED = {"pool": "pool_display", "progress": "progress_display"}
#: Raw JSON larger than this is not put on the page (it runs to megabytes at 10,000
#: contributors); the summary says how large it is and where to read it.
MAX_FOLDED_JSON = 20_000


def _number(value: float | None) -> str:
    return "—" if value is None else format_number(value)


def _folded(summary: str, raw: Any, what: str) -> str:
    """The summary, with the raw JSON folded in a <details> below it when it is small enough."""
    text = json.dumps(raw, indent=2, sort_keys=True, default=str)
    if len(text) > MAX_FOLDED_JSON:
        size = f"{len(text) / 1000:,.0f} kB"
        return format_html(
            '{}<p class="help">The raw JSON of {} ({}) is too large to show here; the '
            "round's dashboard shows its checks.</p>",
            summary,
            what,
            size,
        )
    return format_html(
        '{}<details class="raw-json"><summary>Raw JSON of {}</summary><pre>{}</pre></details>',
        summary,
        what,
        text,
    )


@admin.register(ValuationRound)
class ValuationRoundAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "model_version",
        "metric",
        "estimator",
        "pool_display",
        "status",
        "stage",
        "progress_display",
    )
    list_select_related = ("model_version",)
    list_filter = ("status", "metric", "estimator")
    filter_horizontal = ("contributors",)
    readonly_fields = (
        "config",
        "config_hash",
        "status",
        "stage",
        "progress_display",
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
    summaries = ("contributor_count", "config_summary", "diagnostics_summary", "dashboard")

    # --- a started round is a record ---------------------------------------------------------

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None or obj.status == Status.DRAFT:
            return self.readonly_fields
        editable = [field.name for field in self.model._meta.get_fields() if field.concrete]
        shown = [_DISPLAYED.get(name, name) for name in editable if name not in _SUMMARISED]
        return tuple(dict.fromkeys([*self.summaries, *self.readonly_fields, *shown]))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """A started round shows summaries instead of its contributor list and raw JSON, which
        run to megabytes at thousands of contributors."""
        fields = super().get_fields(request, obj)
        if obj is None or obj.status == Status.DRAFT:
            return fields
        shown = [_DISPLAYED.get(name, name) for name in fields]
        return list(
            dict.fromkeys(
                [
                    *self.summaries,
                    *(name for name in shown if name not in (*_SUMMARISED, *self.summaries)),
                ]
            )
        )

    @admin.display(description="pool", ordering="pool")
    def pool_display(self, obj: ValuationRound) -> str:
        try:
            return format_money(obj.pool, obj.currency)
        except PayoutError:
            return f"{obj.currency} {obj.pool}"

    @admin.display(description="progress", ordering="progress")
    def progress_display(self, obj: ValuationRound) -> str:
        return f"{obj.progress * 100:.0f}%"

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        """A started round's page has nothing to save: no save buttons, only the actions."""
        round = self.get_object(request, object_id)
        if round is not None and round.status != Status.DRAFT:
            extra_context = {**(extra_context or {}), **NO_SAVE_BUTTONS}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Contributors")
    def contributor_count(self, obj: ValuationRound) -> str:
        return f"{obj.contributors.count():,}"

    @admin.display(description="Frozen configuration")
    def config_summary(self, obj: ValuationRound) -> str:
        config = obj.config or {}
        if not isinstance(config, dict) or not config:
            return "—"
        model = config.get("model") or {}
        summary = (
            f"version {config.get('version')}, {model.get('kind', '?')} model, metric "
            f"{config.get('metric')}, estimator {config.get('estimator')}, budget "
            f"{config.get('budget')}, {config.get('n_samples')} samples per contributor, seed "
            f"{config.get('seed')}; hash {obj.config_hash[:16]}…"
        )
        return _folded(summary, config, "the configuration")

    @admin.display(description="Diagnostics")
    def diagnostics_summary(self, obj: ValuationRound) -> str:
        diagnostics = obj.read_diagnostics()
        parts = []
        if diagnostics.n_evaluations is not None:
            parts.append(f"{diagnostics.n_evaluations:,} coalitions evaluated")
        if diagnostics.efficiency_gap is not None:
            parts.append(f"efficiency gap {diagnostics.efficiency_gap:.3g}")
        if diagnostics.surrogate is not None and diagnostics.surrogate.cv_r2 is not None:
            parts.append(f"surrogate R² {diagnostics.surrogate.cv_r2:.3f}")
        summary = "; ".join(parts) or "—"
        return _folded(summary, obj.diagnostics, "the diagnostics") if obj.diagnostics else summary

    @admin.display(description="Dashboard")
    def dashboard(self, obj: ValuationRound) -> str:
        url = reverse("round-dashboard", args=[obj.pk])
        return format_html('<a href="{}">Every value, chart and check of this round</a>', url)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status != Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # The bulk delete would not ask each round; drafts are deleted from their own page.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    # --- actions -----------------------------------------------------------------------------

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[ValuationRound],
        act: Callable[[HttpRequest, ValuationRound], tuple[str, int]],
    ) -> None:
        for round in queryset.order_by("pk"):
            try:
                message, level = act(request, round)
            except (services.RoundStateError, RoundConfigError, PayoutError) as error:
                message, level = str(error), messages.ERROR
            self.message_user(request, format_html("{}: {}", round, message), level)

    @admin.action(description="Start selected draft rounds")
    def start(self, request: HttpRequest, queryset: QuerySet[ValuationRound]) -> None:
        self._each(request, queryset, _start)

    @admin.action(description="Cancel selected unfinished rounds")
    def cancel(self, request: HttpRequest, queryset: QuerySet[ValuationRound]) -> None:
        self._each(request, queryset, _cancel)

    @admin.action(description="Restart selected failed or cancelled rounds")
    def restart(self, request: HttpRequest, queryset: QuerySet[ValuationRound]) -> None:
        self._each(request, queryset, _restart)

    @admin.action(description="Create payouts for selected succeeded rounds")
    def create_payouts(self, request: HttpRequest, queryset: QuerySet[ValuationRound]) -> None:
        self._each(request, queryset, _create_payouts)


def _start(request: HttpRequest, round: ValuationRound) -> tuple[str, int]:
    services.start_round(round.pk, user=request.user)  # type: ignore[arg-type]
    return _queued("queued", round), messages.SUCCESS


def _restart(request: HttpRequest, round: ValuationRound) -> tuple[str, int]:
    services.restart_round(round.pk, user=request.user)  # type: ignore[arg-type]
    return _queued("queued again (stored banks are reused)", round), messages.SUCCESS


def _cancel(request: HttpRequest, round: ValuationRound) -> tuple[str, int]:
    if services.cancel_round(round.pk):
        return "cancelled", messages.SUCCESS
    round.refresh_from_db(fields=["status"])
    return f"nothing to cancel: it is {round.status}", messages.WARNING


def _create_payouts(request: HttpRequest, round: ValuationRound) -> tuple[str, int]:
    existing = round.payout_batch_id
    batch = services.create_payouts(round.pk, user=request.user)  # type: ignore[arg-type]
    if existing is not None:
        return f"already paid out in batch {batch.pk}; nothing created", messages.WARNING
    count = batch.payouts.count()
    return f"created draft payout batch {batch.pk} with {count} payout(s)", messages.SUCCESS


def _queued(what: str, round: ValuationRound) -> str:
    """The message of a round handed to the worker, with a link to its live dashboard."""
    url = reverse("round-dashboard", args=[round.pk])
    return format_html(
        '{}; a worker runs it. <a href="{}">Follow it on its dashboard</a>.', what, url
    )


class ModelVersionForm(forms.ModelForm):
    """Registering or changing a model version checks every file a round will need."""

    class Meta:
        model = ModelVersion
        exclude = ("checksum", "checksums", "created_at")

    def _post_clean(self) -> None:
        super()._post_clean()  # the instance now holds the form's values
        if self.errors:
            return
        for problem in check_registration(self.instance):
            self.add_error(None, problem)

    def save(self, commit: bool = True) -> ModelVersion:
        version: ModelVersion = super().save(commit=False)
        version.checksums = checksums(version)
        if commit:
            version.save()
        return version


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    form = ModelVersionForm
    list_display = ("name", "kind", "conditions", "created_at")
    readonly_fields = ("metrics_offered", "checksum", "checksums", "created_at")

    @admin.display(description="Metrics its rounds can use")
    def metrics_offered(self, obj: ModelVersion) -> str:
        if obj.pk is None:
            return "— (known once it is saved)"
        names = [metric["label"] for metric in offered_metrics(obj)]
        return ", ".join(names) or "none: give it a featurizer (and what each metric needs)"
