"""Admin for people, data and money: review data groups, approve and export payouts."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from decimal import Decimal

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from marketplace.models import (
    Contributor,
    DataGroup,
    DataRecord,
    ModelVersion,
    Payout,
    PayoutBatch,
    User,
)
from marketplace.payouts import csv_safe, to_minor_unit


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
    model = DataRecord
    extra = 0
    fields = ("image", "sha256", "width", "height", "label", "caption")
    readonly_fields = ("sha256", "width", "height")


@admin.register(DataGroup)
class DataGroupAdmin(admin.ModelAdmin):
    list_display = ("title", "contributor", "status", "consent", "created_at", "decided_at")
    list_filter = ("status", "consent")
    search_fields = ("title", "contributor__name", "contributor__key")
    inlines = [DataRecordInline]
    actions = ["accept", "reject"]

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


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "conditions", "created_at")


class PayoutInline(admin.TabularInline):
    model = Payout
    extra = 0
    fields = ("contributor", "amount", "share")
    readonly_fields = fields
    can_delete = False


@admin.register(PayoutBatch)
class PayoutBatchAdmin(admin.ModelAdmin):
    list_display = ("pk", "pool", "currency", "negative_policy", "status", "created_at")
    readonly_fields = (
        "pool",
        "currency",
        "negative_policy",
        "clipped_mass",
        "status",
        "approved_by",
        "approved_at",
    )
    inlines = [PayoutInline]
    actions = ["approve", "export_csv"]

    @admin.action(description="Approve selected payout batches")
    def approve(self, request: HttpRequest, queryset: QuerySet[PayoutBatch]) -> None:
        count = queryset.filter(status=PayoutBatch.Status.DRAFT).update(
            status=PayoutBatch.Status.APPROVED, approved_by=request.user, approved_at=timezone.now()
        )
        self.message_user(request, f"Approved {count} batch(es).")

    @admin.action(description="Export selected payout batches as CSV")
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet[PayoutBatch]
    ) -> StreamingHttpResponse:
        return payouts_csv_response(queryset)


class _Echo:
    def write(self, value: str) -> str:
        return value


def payouts_csv_rows(batches: QuerySet[PayoutBatch]) -> Iterator[list[str]]:
    """Header and one row per payout; names are neutralised against formula injection."""
    yield ["batch", "contributor_key", "contributor_name", "currency", "amount", "share"]
    payouts = Payout.objects.filter(batch__in=batches).select_related("contributor", "batch")
    for payout in payouts.order_by("batch_id", "contributor__key").iterator():
        yield [
            str(payout.batch_id),
            csv_safe(payout.contributor.key),
            csv_safe(payout.contributor.name),
            payout.batch.currency,
            _plain_amount(payout.amount, payout.batch.currency),
            str(payout.share),
        ]


def _plain_amount(amount: Decimal, currency: str) -> str:
    """Fixed-point text with the currency's decimal places (never 5E+1)."""
    return f"{to_minor_unit(amount, currency):f}"


def payouts_csv_response(batches: QuerySet[PayoutBatch]) -> StreamingHttpResponse:
    """Stream the payouts of ``batches`` as CSV (row by row, so large batches use no memory)."""
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in payouts_csv_rows(batches)), content_type="text/csv"
    )
    response["Content-Disposition"] = 'attachment; filename="payouts.csv"'
    return response
