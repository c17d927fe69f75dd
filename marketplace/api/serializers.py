"""API representations of people, data, model versions, payouts and API keys.

Only public contributor fields leave the server (key, name, kind): never users or e-mails.
"""

from __future__ import annotations

from decimal import Decimal
from operator import attrgetter
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from marketplace.models import ApiKey, Contributor, DataGroup, ModelVersion, Payout
from marketplace.payouts import minor_unit_exponent

_DECIMAL_STRING = {
    "type": "string",
    "format": "decimal",
    "pattern": r"^-?\d+(\.\d+)?$",
    "example": "1060.36",
}


def money_string(amount: Decimal, currency: str) -> str:
    """``amount`` as a plain decimal string with exactly the currency's minor units ("1060.36",
    "667" for JPY, "7.000" for BHD). An amount finer than the minor unit (a pool typed in the
    admin with four places) keeps every digit rather than being rounded."""
    quantum = Decimal(1).scaleb(-minor_unit_exponent(currency))
    quantized = amount.quantize(quantum)
    return f"{quantized if quantized == amount else amount.normalize():f}"


def money_minor(amount: Decimal, currency: str) -> int | None:
    """``amount`` in whole minor units (cents, yen, fils), or None if it is finer than that."""
    scaled = amount.scaleb(minor_unit_exponent(currency))
    return int(scaled) if scaled == scaled.to_integral_value() else None


@extend_schema_field(_DECIMAL_STRING)
class MoneyField(serializers.Field):
    """A read-only amount rendered by ``money_string`` in the currency at ``currency_source``."""

    def __init__(self, *, currency_source: str, **kwargs: Any) -> None:
        self.currency_of = attrgetter(currency_source)
        super().__init__(read_only=True, **kwargs)

    def get_attribute(self, instance: Any) -> Any:
        return instance

    def to_representation(self, instance: Any) -> str:
        amount: Decimal = attrgetter(self.source)(instance)
        return money_string(amount, self.currency_of(instance))


@extend_schema_field({"type": "integer", "nullable": True, "example": 106036})
class MinorUnitsField(MoneyField):
    """The same amount as an integer of minor units (106036 for EUR 1,060.36); null when the
    amount is finer than the minor unit."""

    def to_representation(self, instance: Any) -> int | None:  # type: ignore[override]
        amount: Decimal = attrgetter(self.source)(instance)
        return money_minor(amount, self.currency_of(instance))


class ContributorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contributor
        fields = ["key", "name", "kind"]


class DataGroupSerializer(serializers.ModelSerializer):
    contributor = serializers.SlugRelatedField(slug_field="key", read_only=True)
    n_records = serializers.IntegerField(read_only=True, help_text="Images in the group.")

    class Meta:
        model = DataGroup
        fields = [
            "id",
            "contributor",
            "title",
            "status",
            "consent",
            "review_note",
            "n_records",
            "created_at",
            "decided_at",
        ]
        read_only_fields = fields


class DataGroupUploadSerializer(serializers.Serializer):
    """A multipart upload: images (one label or caption for all), or one zip archive whose
    ``labels.csv`` / ``captions.csv`` gives them per file."""

    title = serializers.CharField(max_length=200)
    consent = serializers.BooleanField(
        help_text="Must be true: the data may train models and be valued for payouts."
    )
    images = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        required=False,
        default=list,
        help_text="PNG, JPEG or WebP images (repeat the field for each image).",
    )
    archive = serializers.FileField(
        required=False,
        allow_null=True,
        allow_empty_file=True,
        help_text="Or one zip of images with a labels.csv (file,label) or captions.csv "
        "(file,caption).",
    )
    label = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Label of every image."
    )
    caption = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, help_text="Caption of every image."
    )

    def validate_consent(self, consent: bool) -> bool:
        if not consent:
            raise serializers.ValidationError(
                "Consent is required: confirm that this data may train models and be valued."
            )
        return consent

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        images, archive = attrs.get("images") or [], attrs.get("archive")
        if not images and not archive:
            raise serializers.ValidationError("Send images or one zip archive.")
        if images and archive:
            raise serializers.ValidationError("Send either images or one zip archive, not both.")
        if archive and (attrs.get("label") or attrs.get("caption")):
            raise serializers.ValidationError(
                "A zip archive brings its labels or captions in its own CSV file."
            )
        return attrs


class UploadRejectedSerializer(serializers.Serializer):
    """Why an upload was refused: one line per problem; nothing was saved."""

    detail = serializers.CharField()
    problems = serializers.ListField(
        child=serializers.CharField(), help_text="One line per problem, naming the file or field."
    )
    errors = serializers.DictField(
        required=False,
        help_text="Field errors by field (absent when the files themselves were refused).",
    )


class ModelVersionSerializer(serializers.ModelSerializer):
    """A model version, without its local file paths."""

    class Meta:
        model = ModelVersion
        fields = ["id", "name", "kind", "conditions", "checksum", "created_at"]
        read_only_fields = fields


class PayoutSerializer(serializers.ModelSerializer):
    contributor = serializers.SlugRelatedField(slug_field="key", read_only=True)
    currency = serializers.CharField(source="batch.currency", read_only=True)
    status = serializers.CharField(
        source="batch.status", read_only=True, help_text="draft or approved (by staff)."
    )
    created_at = serializers.DateTimeField(source="batch.created_at", read_only=True)
    amount = MoneyField(
        currency_source="batch.currency",
        help_text='Decimal string with exactly the currency\'s minor units, e.g. "1060.36".',
    )
    amount_minor = MinorUnitsField(
        source="amount",
        currency_source="batch.currency",
        help_text="The amount in the currency's minor units (cents), e.g. 106036.",
    )
    share = serializers.DecimalField(
        max_digits=30,
        decimal_places=28,
        read_only=True,
        coerce_to_string=True,
        help_text="Exact share of the pool, 0 to 1 (28 decimal places: exact for sums).",
    )

    class Meta:
        model = Payout
        fields = [
            "id",
            "batch",
            "contributor",
            "amount",
            "amount_minor",
            "currency",
            "share",
            "status",
            "created_at",
        ]
        read_only_fields = fields


class ApiKeySerializer(serializers.ModelSerializer):
    """A key as listed: its prefix identifies it; the secret is never shown again."""

    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ApiKey
        fields = ["prefix", "name", "owner", "scopes", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiKey.SCOPES),
        required=False,
        default=list,
        max_length=len(ApiKey.SCOPES),
        help_text=f"Only staff may grant {ApiKey.ROUNDS_WRITE}.",
    )


class ApiKeyCreatedSerializer(ApiKeySerializer):
    """A new key with its plaintext ``key``, shown this once."""

    key = serializers.CharField(read_only=True, help_text="Send as 'Authorization: Api-Key <key>'.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields
