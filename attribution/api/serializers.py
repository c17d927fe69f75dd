"""API representations of valuation rounds and contributor values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from attribution.models import ContributorValue, ValuationRound
from marketplace.api.serializers import MinorUnitsField, MoneyField
from marketplace.models import Contributor, ModelVersion
from marketplace.payouts import minor_unit_exponent

# Bounds of the database columns: larger numbers are a 400, not a database error.
MAX_POSITIVE_INT = 2**31 - 1
MAX_POSITIVE_BIG_INT = 2**63 - 1
KEY_MAX_LENGTH = Contributor._meta.get_field("key").max_length or 64


class RoundSerializer(serializers.ModelSerializer):
    """A round's state and results. ``grand_value`` is v(N), ``baseline`` is v(∅)."""

    model_version = serializers.PrimaryKeyRelatedField(read_only=True)
    contributors = serializers.SlugRelatedField(slug_field="key", many=True, read_only=True)
    grand_value = serializers.FloatField(
        read_only=True, allow_null=True, help_text="v(N): utility of all contributors' data."
    )
    baseline = serializers.FloatField(
        read_only=True, allow_null=True, help_text="v(∅): utility with no contributor's data."
    )
    pool = MoneyField(
        currency_source="currency",
        help_text="Money shared by the round's payouts: a decimal string with exactly the "
        'currency\'s minor units, e.g. "10000.00".',
    )
    pool_minor = MinorUnitsField(
        source="pool",
        currency_source="currency",
        help_text="The pool in the currency's minor units (cents), e.g. 1000000.",
    )
    n_contributors = serializers.IntegerField(
        read_only=True, help_text="How many contributors the round values."
    )

    class Meta:
        model = ValuationRound
        fields = [
            "id",
            "title",
            "status",
            "stage",
            "progress",
            "error",
            "model_version",
            "contributors",
            "n_contributors",
            "metric",
            "estimator",
            "budget",
            "n_samples",
            "max_samples",
            "n_bootstrap",
            "seed",
            "payout_tolerance",
            "pool",
            "pool_minor",
            "currency",
            "negative_policy",
            "grand_value",
            "baseline",
            "config_hash",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class RoundSummarySerializer(RoundSerializer):
    """A round in a list: everything but the contributor keys (``n_contributors`` counts them;
    the round's own page lists them), so a page of rounds stays small at any size."""

    class Meta(RoundSerializer.Meta):
        fields = [name for name in RoundSerializer.Meta.fields if name != "contributors"]
        read_only_fields = fields


class ContributorKeyField(serializers.SlugRelatedField):
    """A contributor by key. A key that no contributor could have (not a string, too long, a
    NUL character, which PostgreSQL cannot even compare) is "no such contributor", never a
    database error."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or "\x00" in data or len(data) > KEY_MAX_LENGTH:
            self.fail("does_not_exist", slug_name=self.slug_field, value=str(data)[:80])
        return super().to_internal_value(data)


class RoundCreateSerializer(serializers.ModelSerializer):
    """A new draft round; ``POST rounds/{id}/start/`` freezes and queues it."""

    model_version = serializers.PrimaryKeyRelatedField(
        queryset=ModelVersion.objects.all(),
        pk_field=serializers.IntegerField(min_value=1, max_value=MAX_POSITIVE_BIG_INT),
    )
    contributors = ContributorKeyField(
        slug_field="key",
        queryset=Contributor.objects.all(),
        many=True,
        allow_empty=False,
        help_text="Keys of the contributors to value.",
    )
    budget = serializers.IntegerField(
        min_value=6, max_value=MAX_POSITIVE_INT, default=512, help_text="Coalitions evaluated."
    )
    n_samples = serializers.IntegerField(min_value=1, max_value=100_000, default=64)
    n_bootstrap = serializers.IntegerField(min_value=0, max_value=1000, default=20)
    seed = serializers.IntegerField(min_value=0, max_value=MAX_POSITIVE_BIG_INT, default=0)

    class Meta:
        model = ValuationRound
        fields = [
            "title",
            "model_version",
            "contributors",
            "metric",
            "estimator",
            "budget",
            "n_samples",
            "max_samples",
            "n_bootstrap",
            "seed",
            "payout_tolerance",
            "pool",
            "currency",
            "negative_policy",
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Refuse a metric the model version's profile does not offer (a 400, not a failed
        round on the worker)."""
        draft = ValuationRound(
            model_version=attrs["model_version"],
            metric=attrs.get("metric", ValuationRound._meta.get_field("metric").default),
        )
        problem = draft.metric_problem()
        if problem:
            raise serializers.ValidationError({"metric": problem})
        draft.estimator = attrs.get("estimator", draft.estimator)
        draft.budget = attrs.get("budget", draft.budget)
        problem = draft.budget_problem(len(attrs["contributors"]))
        if problem:
            raise serializers.ValidationError({"budget": problem})
        draft.n_samples = attrs.get("n_samples", draft.n_samples)
        draft.n_bootstrap = attrs.get("n_bootstrap", draft.n_bootstrap)
        draft.max_samples = attrs.get("max_samples")
        problem = draft.growth_problem()
        if problem:
            raise serializers.ValidationError({"max_samples": problem})
        self._check_pool(attrs)
        return attrs

    def _check_pool(self, attrs: dict[str, Any]) -> None:
        """A pool finer than the currency's minor unit could never be paid out exactly."""
        pool = attrs.get("pool")
        if pool is None:
            return
        currency = attrs.get("currency") or ValuationRound._meta.get_field("currency").default
        places = minor_unit_exponent(str(currency))
        if pool != pool.quantize(Decimal(1).scaleb(-places)):
            raise serializers.ValidationError(
                {
                    "pool": f"Give the pool in whole minor units of {currency}: at most {places} "
                    "decimal places."
                }
            )

    def validate_contributors(self, contributors: list[Contributor]) -> list[Contributor]:
        if len({contributor.pk for contributor in contributors}) != len(contributors):
            raise serializers.ValidationError("A contributor is listed more than once.")
        return contributors


class ContributorValueSerializer(serializers.ModelSerializer):
    """A contributor's Shapley value in a round with its uncertainty, rank and share."""

    contributor = serializers.SlugRelatedField(slug_field="key", read_only=True)

    class Meta:
        model = ContributorValue
        fields = [
            "contributor",
            "value",
            "stderr",
            "ci_low",
            "ci_high",
            "exact_value",
            "rank",
            "share",
        ]
        read_only_fields = fields


class RoundErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
