"""The operator's forms on the dashboard: a new round, and the confirmation of an approval.

``RoundForm`` validates through the round model itself (``clean()``, so ``metric_problem()``,
then ``budget_problem()``) and the pool's minor units as the API does, so a round the dashboard
accepts is one the API and the admin would accept too; each error is attached to its field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import QuerySet

from attribution.models import ValuationRound
from marketplace.models import Contributor, DataGroup, ModelVersion
from marketplace.payouts import minor_unit_exponent

ALL, LISTED = "all", "listed"
MAX_LISTED_KEYS = 100_000


def eligible_contributors(version: ModelVersion) -> QuerySet[Contributor]:
    """Who "every contributor" means for ``version``: contributors with an accepted data group
    that is not a model version's reference set, restricted to the version's contributor classes
    when the model is conditioned on the contributor."""
    references = ModelVersion.objects.filter(reference_group__isnull=False).values(
        "reference_group"
    )
    groups = DataGroup.objects.accepted().exclude(pk__in=references)
    contributors = Contributor.objects.filter(pk__in=groups.values("contributor"))
    if version.conditions == ModelVersion.Conditions.CONTRIBUTOR:
        contributors = contributors.filter(key__in=list(version.contributor_labels))
    return contributors.order_by("key")


class RoundForm(forms.ModelForm):
    """A draft round: what to value, how, and the money to share."""

    who = forms.ChoiceField(
        label="Contributors",
        choices=[
            (ALL, "Every contributor with accepted data for this model"),
            (LISTED, "Only the contributors listed below"),
        ],
        initial=ALL,
        widget=forms.RadioSelect,
    )
    keys = forms.CharField(
        label="Contributor keys",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One key per line, or separated by commas or spaces.",
    )

    class Meta:
        model = ValuationRound
        fields = [
            "title",
            "model_version",
            "metric",
            "estimator",
            "payout_tolerance",
            "budget",
            "n_samples",
            "max_samples",
            "n_bootstrap",
            "seed",
            "pool",
            "currency",
            "negative_policy",
        ]
        labels = {
            "model_version": "Model version",
            "budget": "Budget (coalitions)",
            "n_samples": "Images per contributor",
            "max_samples": "Grow the banks up to (images per contributor)",
            "n_bootstrap": "Bootstrap resamples",
            "payout_tolerance": "Payout tolerance (± points of the pool)",
            "pool": "Payout pool",
            "negative_policy": "Negative values",
        }
        widgets = {"negative_policy": forms.RadioSelect}
        help_texts = {
            "metric": "What the model's generated images are scored on; the model version must "
            "offer it.",
            "budget": "How many coalitions the estimator may evaluate (more: tighter values).",
            "n_samples": "Images generated per contributor (the bank).",
            "max_samples": "If the measured noise says the tolerance needs more images than "
            "'Images per contributor', draw more for every contributor, up to this many, and "
            "value again (more generation time). Empty: never grow; the round reports how many "
            "it would need.",
            "n_bootstrap": "Resamples of the banks (and surrogate refits) for the confidence "
            "intervals (0: none).",
            "payout_tolerance": "Every share within ± this many percentage points of the pool, "
            "at 95%: the default estimator sizes itself to it and the round reports what it "
            "reached.",
            "seed": "Fixes the samples: the same seed gives the same round.",
            "pool": "The money the round shares, in the currency below.",
            "currency": "ISO 4217 code, e.g. EUR, USD, JPY.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["model_version"].queryset = ModelVersion.objects.order_by("-created_at")
        self.fields["model_version"].empty_label = None
        self.fields["pool"].widget.attrs.update(inputmode="decimal")
        self.fields["currency"].widget.attrs.update(
            autocapitalize="characters", size=3, maxlength=3
        )
        # Left empty, the tolerance is the model's default (±0.25 points), as in the API.
        self.fields["payout_tolerance"].required = False
        self.chosen: list[Contributor] = []

    def clean_payout_tolerance(self) -> Any:
        value = self.cleaned_data.get("payout_tolerance")
        if value is None:
            return ValuationRound._meta.get_field("payout_tolerance").default
        return value

    def clean_currency(self) -> str:
        return str(self.cleaned_data.get("currency", "")).strip().upper()

    def clean_keys(self) -> list[str]:
        text = self.cleaned_data.get("keys") or ""
        keys = list(dict.fromkeys(text.replace(",", " ").split()))
        if len(keys) > MAX_LISTED_KEYS:
            raise forms.ValidationError(f"List at most {MAX_LISTED_KEYS:,} keys.")
        return keys

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        version = cleaned.get("model_version")
        if cleaned.get("who") == LISTED:
            keys = cleaned.get("keys") or []
            if not keys:
                self.add_error("keys", "List the contributors' keys, or choose every contributor.")
            else:
                found = {c.key: c for c in Contributor.objects.filter(key__in=keys)}
                missing = [key for key in keys if key not in found]
                if missing:
                    shown = ", ".join(missing[:10]) + (", …" if len(missing) > 10 else "")
                    self.add_error("keys", f"No contributor has the key: {shown}.")
                self.chosen = [found[key] for key in keys if key in found]
        elif version is not None:
            self.chosen = list(eligible_contributors(version))
            if not self.chosen:
                self.add_error("who", f"No contributor has accepted data for {version}.")
        if self.chosen and len(self.chosen) < 2 and "keys" not in self.errors:
            field = "keys" if cleaned.get("who") == LISTED else "who"
            self.add_error(field, "A round needs at least 2 contributors to share value.")
        self._check_pool(cleaned)
        return cleaned

    def _check_pool(self, cleaned: dict[str, Any]) -> None:
        """A pool finer than the currency's minor unit could never be paid out exactly."""
        pool, currency = cleaned.get("pool"), cleaned.get("currency")
        if pool is None or not currency:
            return
        places = minor_unit_exponent(currency)
        if pool != pool.quantize(Decimal(1).scaleb(-places)):
            self.add_error(
                "pool",
                f"Give the pool in whole minor units of {currency}: at most {places} "
                "decimal places.",
            )

    def _post_clean(self) -> None:
        """The model's own checks (``clean()``: the metric the version offers), then the budget
        the estimator needs for this many contributors."""
        super()._post_clean()
        if self.chosen and not self.has_error("budget") and not self.has_error("estimator"):
            problem = self.instance.budget_problem(len(self.chosen))
            if problem:
                self.add_error("budget", problem)

    def save(self, commit: bool = True) -> ValuationRound:
        round: ValuationRound = super().save(commit=commit)
        if commit:
            round.contributors.set(self.chosen)
        return round


class ConfirmForm(forms.Form):
    """The explicit yes of an irreversible step (approving money)."""

    confirm = forms.BooleanField(
        required=True,
        error_messages={"required": "Tick the box to confirm."},
    )

    def __init__(self, *args: Any, label: str = "I have reviewed this and confirm", **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["confirm"].label = label
