"""Admin for people, data and money: review data groups, approve and export payouts.

The consent rule holds on every path: a data group is accepted only with its contributor's consent
(the action and the change form both check it), and consent is the contributor's statement, shown
here but never set by staff. An approved payout batch is a record: read-only, never deleted.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import Count, QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from marketplace.models import (
    ApiKey,
    Contributor,
    DataGroup,
    DataRecord,
    Payout,
    PayoutBatch,
    User,
)
from marketplace.payouts import csv_safe, format_money, format_share, to_minor_unit

NO_SAVE_BUTTONS = {
    "show_save": False,
    "show_save_and_continue": False,
    "show_save_and_add_another": False,
}
"""The change page's context for an object nothing on the page may save (read-only pages)."""


@admin.register(User)
class CreditshareUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Creditshare", {"fields": ("role", "contributor")}))
    list_display = ("username", "email", "role", "contributor", "is_staff")
    list_filter = ("role", "is_staff", "is_active")


@admin.register(Contributor)
class ContributorAdmin(admin.ModelAdmin):
    list_display = ("key", "name", "kind", "created_at")
    search_fields = ("key", "name")


class DataRecordInline(admin.TabularInline):
    """Records come from validated uploads only; staff may correct labels and captions."""

    model = DataRecord
    extra = 0
    fields = ("image", "sha256", "width", "height", "label", "caption")
    readonly_fields = ("image", "sha256", "width", "height")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DataGroupForm(forms.ModelForm):
    """The change form: refuses to accept a group its contributor has not consented to."""

    class Meta:
        model = DataGroup
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("status") == DataGroup.Status.ACCEPTED and not self.instance.consent:
            raise forms.ValidationError(
                "This group cannot be accepted: its contributor has not consented to its use."
            )
        return data


@admin.register(DataGroup)
class DataGroupAdmin(admin.ModelAdmin):
    form = DataGroupForm
    list_display = ("title", "contributor", "status", "consent", "created_at", "decided_at")
    list_filter = ("status", "consent")
    search_fields = ("title", "contributor__name", "contributor__key")
    readonly_fields = ("consent", "created_at", "decided_at")
    inlines = [DataRecordInline]
    actions = ["accept", "reject"]

    def save_model(self, request: HttpRequest, obj: DataGroup, form: Any, change: bool) -> None:
        if "status" in form.changed_data:
            obj.decided_at = timezone.now()
        super().save_model(request, obj, form, change)

    @admin.action(description="Accept selected data groups (consent required)")
    def accept(self, request: HttpRequest, queryset: QuerySet[DataGroup]) -> None:
        without_consent = queryset.filter(consent=False).count()
        accepted = queryset.filter(consent=True).exclude(status=DataGroup.Status.WITHDRAWN)
        count = accepted.update(status=DataGroup.Status.ACCEPTED, decided_at=timezone.now())
        self.message_user(request, f"Accepted {count} data group(s).")
        if without_consent:
            self.message_user(
                request,
                f"{without_consent} group(s) lack the contributor's consent and were not accepted.",
                messages.WARNING,
            )

    @admin.action(description="Reject selected data groups")
    def reject(self, request: HttpRequest, queryset: QuerySet[DataGroup]) -> None:
        count = queryset.exclude(status=DataGroup.Status.WITHDRAWN).update(
            status=DataGroup.Status.REJECTED, decided_at=timezone.now()
        )
        self.message_user(request, f"Rejected {count} data group(s).")


# ModelVersion's admin lives in attribution/admin.py: registering one checks its files against
# the model profiles of the attribution engine, which this app does not import.


class PayoutInline(admin.TabularInline):
    model = Payout
    extra = 0
    fields = ("contributor", "amount_display", "share_display")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # payouts come from a round's values, all at once (they sum to the pool)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Payout]:
        # No query per row: the contributor and the batch's currency come with the payout.
        return super().get_queryset(request).select_related("contributor", "batch")

    @admin.display(description="amount")
    def amount_display(self, payout: Payout) -> str:
        return format_money(payout.amount, payout.batch.currency)

    @admin.display(description="share of the pool")
    def share_display(self, payout: Payout) -> str:
        return format_share(payout.share)


@admin.register(PayoutBatch)
class PayoutBatchAdmin(admin.ModelAdmin):
    """Every field is read-only, drafts included: a batch's amounts were computed from its pool
    and policy, so changing either here would break "the payouts sum to the pool"."""

    list_display = ("__str__", "round_title", "pool_display", "payee_count", "status", "created_at")
    list_filter = ("status", "currency")
    fields = (
        "round_title",
        "pool_display",
        "currency",
        "negative_policy",
        "clipped_mass_display",
        "status",
        "approved_by",
        "approved_at",
        "created_at",
    )
    readonly_fields = fields
    inlines = [PayoutInline]
    actions = ["approve", "export_csv"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PayoutBatch]:
        # The round's title comes through its reverse accessor (this app names no attribution
        # model); the payee count is one aggregate, not a query per row.
        return (
            super()
            .get_queryset(request)
            .annotate(n_payouts=Count("payouts"))
            .select_related("round")
        )

    @admin.display(description="pool", ordering="pool")
    def pool_display(self, batch: PayoutBatch) -> str:
        return format_money(batch.pool, batch.currency)

    @admin.display(description="payees", ordering="n_payouts")
    def payee_count(self, batch: PayoutBatch) -> str:
        return f"{getattr(batch, 'n_payouts', batch.payouts.count()):,}"

    @admin.display(description="round")
    def round_title(self, batch: PayoutBatch) -> str:
        round = getattr(batch, "round", None)  # the reverse one-to-one raises when unset
        if round is None:
            return "—"
        # By URL name: this app imports nothing of the attribution app.
        url = reverse("admin:attribution_valuationround_change", args=[round.pk])
        return format_html('<a href="{}">{}</a>', url, round)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        """Nothing on a batch's page can be saved (approve and export are actions; a draft can
        still be deleted), so it shows no save buttons."""
        extra_context = {**(extra_context or {}), **NO_SAVE_BUTTONS}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="clipped value (negative values paid nothing)")
    def clipped_mass_display(self, batch: PayoutBatch) -> str:
        if not batch.clipped_mass:
            return "none"
        return f"{float(batch.clipped_mass):.4g} (in the round's value units, not money)"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a batch comes from a round's values ("Create payouts"), never by hand

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status != PayoutBatch.Status.DRAFT:
            return False  # the page still shows it, read-only (view permission)
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status != PayoutBatch.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # The bulk delete would take approved batches too; drafts are deleted from their page.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Approve selected draft payout batches")
    def approve(self, request: HttpRequest, queryset: QuerySet[PayoutBatch]) -> None:
        selected = queryset.count()
        count = queryset.filter(status=PayoutBatch.Status.DRAFT).update(
            status=PayoutBatch.Status.APPROVED, approved_by=request.user, approved_at=timezone.now()
        )
        self.message_user(request, f"Approved {count} batch(es).")
        if selected > count:
            self.message_user(
                request,
                f"{selected - count} batch(es) were approved already and were left as they were.",
                messages.WARNING,
            )

    @admin.action(description="Export selected payout batches as CSV")
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet[PayoutBatch]
    ) -> StreamingHttpResponse:
        return payouts_csv_response(queryset)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are listed, searched and revoked here; they are created where the plaintext can be
    shown once to its owner (the API-keys page, the API, or ``manage.py create_api_key``)."""

    list_display = ("name", "prefix", "owner", "scopes", "created_at", "last_used_at", "state")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "owner__username")
    list_select_related = ("owner",)
    fields = ("name", "prefix", "owner", "scopes", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "owner", "scopes", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the plaintext would have to be shown to staff, not to the key's owner

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the row records who had access, and until when

    @admin.display(description="state", boolean=False)
    def state(self, key: ApiKey) -> str:
        return "revoked" if key.is_revoked else "active"

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = queryset.filter(revoked_at=None).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} key(s).")


class _Echo:
    def write(self, value: str) -> str:
        return value


CSV_HEADER = [
    "batch",
    "status",
    "round",
    "contributor_key",
    "contributor_name",
    "currency",
    "amount",
    "share",
]


def payouts_csv_rows(batches: QuerySet[PayoutBatch]) -> Iterator[list[str]]:
    """Header and one row per payout; names are neutralised against formula injection.

    ``status`` tells a draft export from an approved one; ``round`` is the title of the round
    the batch pays (empty if none); ``share`` is the share of the pool in percent ("12.34%").
    """
    yield CSV_HEADER
    payouts = Payout.objects.filter(batch__in=batches).select_related("contributor", "batch")
    rounds = _round_titles(batches)
    for payout in payouts.order_by("batch_id", "contributor__key").iterator():
        yield [
            str(payout.batch_id),
            payout.batch.status,
            csv_safe(rounds.get(payout.batch_id, "")),
            csv_safe(payout.contributor.key),
            csv_safe(payout.contributor.name),
            payout.batch.currency,
            _plain_amount(payout.amount, payout.batch.currency),
            format_share(payout.share),
        ]


def _round_titles(batches: QuerySet[PayoutBatch]) -> dict[int, str]:
    """Batch id → title of the round it pays, through the round's reverse accessor (``round``;
    this app names no attribution model)."""
    rows = PayoutBatch.objects.filter(pk__in=batches.values("pk"), round__isnull=False)
    return dict(rows.values_list("pk", "round__title"))


def csv_filename(batches: QuerySet[PayoutBatch]) -> str:
    """``payouts-batch-7-2026-12-01-draft.csv`` for one batch; ``payouts-3-batches-<date>.csv``
    for several, so a draft export is never mistaken for the approved one."""
    today = timezone.localdate().isoformat()
    rows = list(batches.order_by("pk").values_list("pk", "status")[:2])
    if len(rows) == 1:
        pk, status = rows[0]
        return f"payouts-batch-{pk}-{today}-{status}.csv"
    return f"payouts-{batches.count()}-batches-{today}.csv"


def _plain_amount(amount: Decimal, currency: str) -> str:
    """Fixed-point text with the currency's decimal places (never 5E+1)."""
    return f"{to_minor_unit(amount, currency):f}"


def payouts_csv_response(batches: QuerySet[PayoutBatch]) -> StreamingHttpResponse:
    """Stream the payouts of ``batches`` as CSV (row by row, so large batches use no memory)."""
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in payouts_csv_rows(batches)), content_type="text/csv"
    )
    response["Content-Disposition"] = f'attachment; filename="{csv_filename(batches)}"'
    return response
