"""Valuation rounds and the values they produce.

A round moves ``draft → queued → running → succeeded | failed``, and to ``cancelled`` from any
unfinished state. Starting it freezes the full engine configuration (JSON) and its hash on the
row, so results are reproducible from the row alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from attribution.engine.estimators.catalog import ESTIMATORS, EstimatorSpec, get_estimator
from attribution.engine.metrics.catalog import METRICS, MetricSpec, get_metric
from attribution.engine.profiles import PROFILES, ModelSpec
from attribution.rounds.outcome import Diagnostics
from marketplace.models import Contributor, ModelVersion, PayoutBatch, currency_code
from marketplace.payouts import (
    Allocation,
    NegativeValuePolicy,
    PayoutError,
    allocate_pool,
    minor_unit_exponent,
    to_minor_unit,
)

METRIC_CHOICES = [(spec.name, spec.label) for spec in METRICS.values()]
ESTIMATOR_CHOICES = [(spec.name, spec.label) for spec in ESTIMATORS.values()]
NEGATIVE_POLICY_CHOICES = [(policy.value, policy.label) for policy in NegativeValuePolicy]


class ValuationRoundQuerySet(models.QuerySet["ValuationRound"]):
    """The state transitions of rounds, each one conditional UPDATE.

    A transition returns whether it happened, so two workers (or a worker and a cancel) racing
    for the same round can never both win. "Running for this owner" is written once, here.
    """

    def running_for(self, worker: str) -> ValuationRoundQuerySet:
        """Rounds running for ``worker`` (a worker name or a dispatch owner)."""
        return self.filter(status=ValuationRound.Status.RUNNING, worker=worker)

    def claim(self, round_id: int, worker: str, *, stale_after_s: float) -> bool:
        """Move a queued round (or one running with a heartbeat older than ``stale_after_s``,
        whose worker died) to running for ``worker``; False if someone else has it."""
        now = timezone.now()
        stale = now - timedelta(seconds=stale_after_s)
        claimable = Q(status=ValuationRound.Status.QUEUED) | Q(
            status=ValuationRound.Status.RUNNING, heartbeat__lt=stale
        )
        claimed = self.filter(claimable, pk=round_id).update(
            status=ValuationRound.Status.RUNNING,
            worker=worker,
            started_at=now,
            heartbeat=now,
            stage="starting",
        )
        return claimed == 1

    def beat(self, round_id: int, worker: str, *, stage: str, progress: float) -> bool:
        """Record progress and a heartbeat; False if the round is no longer running for
        ``worker`` (cancelled, failed or reclaimed)."""
        updated = (
            self.running_for(worker)
            .filter(pk=round_id)
            .update(stage=stage[:100], progress=progress, heartbeat=timezone.now())
        )
        return updated == 1

    def fail(self, round_id: int, worker: str, message: str) -> bool:
        """Mark a round running for ``worker`` failed with ``message``."""
        updated = (
            self.running_for(worker)
            .filter(pk=round_id)
            .update(status=ValuationRound.Status.FAILED, error=message, finished_at=timezone.now())
        )
        return updated == 1

    def cancel(self, round_id: int) -> bool:
        """Cancel an unfinished round; False if it had already finished (nothing changed)."""
        updated = self.filter(pk=round_id, status__in=ValuationRound.UNFINISHED).update(
            status=ValuationRound.Status.CANCELLED, finished_at=timezone.now(), stage="cancelled"
        )
        return updated == 1


class ValuationRound(models.Model):
    """One valuation of a model version's contributors on one utility metric."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    UNFINISHED = (Status.DRAFT, Status.QUEUED, Status.RUNNING)
    RESTARTABLE = (Status.FAILED, Status.CANCELLED)

    title = models.CharField(max_length=200)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="rounds")
    contributors = models.ManyToManyField(Contributor, related_name="rounds")
    metric = models.CharField(max_length=32, choices=METRIC_CHOICES, default="inception_score")
    estimator = models.CharField(max_length=16, choices=ESTIMATOR_CHOICES, default="tolerance")
    payout_tolerance = models.DecimalField(
        "payout tolerance (pp)",
        max_digits=5,
        decimal_places=3,
        default=Decimal("0.25"),
        validators=[MinValueValidator(Decimal("0.001")), MaxValueValidator(Decimal("50"))],
        help_text="Every contributor's share of the pool within ± this many percentage points, "
        "at 95% confidence: the default estimator sizes itself to it, and "
        "every round reports the precision it achieved.",
    )
    budget = models.PositiveIntegerField(default=512, validators=[MinValueValidator(6)])
    n_samples = models.PositiveIntegerField(
        default=64, validators=[MinValueValidator(1), MaxValueValidator(100_000)]
    )
    max_samples = models.PositiveIntegerField(
        "grow banks up to (samples per contributor)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
        help_text="When the measured bank noise says the payout tolerance needs more samples "
        "than 'n samples', draw more for each contributor whose share needs them, up to this "
        "many each, and value again. Blank: never grow (the round reports the size it would "
        "need).",
    )
    n_bootstrap = models.PositiveIntegerField(default=20, validators=[MaxValueValidator(1000)])
    seed = models.PositiveBigIntegerField(default=0)
    pool = models.DecimalField(
        max_digits=18, decimal_places=4, default=Decimal(0), validators=[MinValueValidator(0)]
    )
    currency = models.CharField(max_length=3, default="EUR", validators=[currency_code])
    negative_policy = models.CharField(
        max_length=16, choices=NEGATIVE_POLICY_CHOICES, default=NegativeValuePolicy.FLOOR.value
    )

    config = models.JSONField(null=True, blank=True, help_text="Frozen engine configuration.")
    config_hash = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    stage = models.CharField(max_length=100, blank=True)
    progress = models.FloatField(default=0.0)
    heartbeat = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="Who claimed the round.")

    baseline = models.FloatField(null=True, blank=True, help_text="v(∅)")
    grand_value = models.FloatField(null=True, blank=True, help_text="v(N)")
    diagnostics = models.JSONField(default=dict, blank=True)

    payout_batch = models.OneToOneField(
        PayoutBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="round"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ValuationRoundQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_finished(self) -> bool:
        return self.status not in self.UNFINISHED

    @property
    def metric_spec(self) -> MetricSpec:
        """The round's metric in the metric catalog."""
        return get_metric(self.metric)

    @property
    def estimator_spec(self) -> EstimatorSpec:
        """The round's estimator in the estimator catalog."""
        return get_estimator(self.estimator)

    def metric_problem(self) -> str:
        """Why the round's model cannot be valued on its metric, or "" if it can."""
        if self.metric not in METRICS:
            return f"unknown metric {self.metric!r}."
        if not self.model_version_id:
            return ""
        kind = self.model_version.kind
        if kind not in PROFILES:
            return (
                f"model version {self.model_version} is of kind {kind!r}, which this "
                f"installation cannot value yet (it values: {', '.join(sorted(PROFILES))})."
            )
        offered = PROFILES[kind].available_metrics(self.model_version_spec())
        if self.metric not in offered:
            labels = ", ".join(METRICS[name].label for name in offered) or "none"
            return (
                f"model version {self.model_version} does not offer {METRICS[self.metric].label}; "
                f"it offers: {labels}."
            )
        return ""

    @property
    def payout_tolerance_display(self) -> str:
        """The tolerance for people: "0.25", "0.5", "1" (no trailing zeros)."""
        return f"{float(self.payout_tolerance):g}"

    def budget_problem(self, n_contributors: int) -> str:
        """Why the round's budget is too small for its estimator and contributors, or ""."""
        spec = ESTIMATORS.get(self.estimator)
        if spec is None:
            return f"unknown estimator {self.estimator!r}."
        minimum = spec.minimum_budget(n_contributors)
        if self.budget < minimum:
            return (
                f"{spec.label} needs a budget of at least {minimum:,} coalitions for "
                f"{n_contributors:,} contributors; this round has {self.budget:,}."
            )
        return ""

    def model_version_spec(self) -> ModelSpec:
        """The engine's description of the round's model version (its reference group's files
        are left out: they do not change which metrics are offered)."""
        from attribution.rounds.config import model_spec

        return model_spec(self.model_version)

    def clean(self) -> None:
        """Refuse a metric the round's model does not offer (admin and model forms)."""
        super().clean()
        problem = self.metric_problem()
        if problem:
            raise ValidationError({"metric": problem})
        problem = self.growth_problem()
        if problem:
            raise ValidationError({"max_samples": problem})

    def growth_problem(self) -> str:
        """Why the round's bank growth allowance cannot work, or ""."""
        if self.max_samples is None:
            return ""
        if self.n_samples is not None and self.max_samples < self.n_samples:
            return (
                f"grow banks up to {self.max_samples:,} is below the round's "
                f"{self.n_samples:,} samples per contributor; leave it blank not to grow."
            )
        spec = ESTIMATORS.get(self.estimator)
        if (spec is not None and not spec.is_shapley) or (self.n_bootstrap or 0) < 2:
            return (
                "growing the banks needs their noise measured: a Shapley estimator and at "
                "least 2 bootstrap replicates."
            )
        return ""

    def queue(self, config: dict[str, Any], config_hash: str, *, user: Any = None) -> None:
        """Freeze ``config`` on the row and mark it queued (the caller holds the row's lock)."""
        self.config, self.config_hash = config, config_hash
        self.status = self.Status.QUEUED
        self.stage, self.progress, self.error = "queued", 0.0, ""
        self.finished_at, self.worker = None, ""
        if user is not None and self.created_by_id is None:
            self.created_by = user
        self.save()

    def succeed(self, *, baseline: float, grand_value: float, diagnostics: dict[str, Any]) -> None:
        """Record the round's totals and mark it succeeded (the caller holds the row's lock)."""
        self.baseline, self.grand_value = baseline, grand_value
        self.diagnostics = diagnostics
        self.status = self.Status.SUCCEEDED
        self.stage, self.progress = "done", 1.0
        self.finished_at = timezone.now()
        self.save()

    def payout_problem(self) -> str:
        """Why this round's values must not become money, or "" if they may.

        An audit metric (one that attributes harm, such as an artefact rate) ranks and explains
        but never pays; nor does a round whose data achieved nothing (v(N) − v(∅) ≤ 0), where
        shares of the pool would be shares of noise.
        """
        spec = METRICS.get(self.metric)
        if spec is not None and spec.purpose == "audit":
            return (
                f"{spec.label} is an audit metric: its values show whose data brings the "
                "artefact in; they are never paid out."
            )
        gain = None
        if self.grand_value is not None and self.baseline is not None:
            gain = self.grand_value - self.baseline
        if gain is not None and gain <= 0:
            return (
                f"the whole data achieved nothing on this metric (v(N) − v(∅) = {gain:.4g} ≤ 0), "
                "so there is no value to share."
            )
        return ""

    def plan_payouts(self, values: Mapping[str, float]) -> Allocation:
        """How the pool is shared among ``values`` (contributor key → value): exactly what a
        payout batch saves, and what the dashboard previews.

        Raises:
            PayoutError: The values cannot be paid (see ``payout_problem``, and the round's
                negative-value policy).
        """
        problem = self.payout_problem()
        if problem:
            raise PayoutError(problem)
        return allocate_pool(
            to_minor_unit(self.pool, self.currency),
            values,
            policy=NegativeValuePolicy(self.negative_policy),
            minor_unit_exponent=minor_unit_exponent(self.currency),
        )

    def read_diagnostics(self) -> Diagnostics:
        """The stored diagnostics, typed (see ``attribution.rounds.outcome``)."""
        return Diagnostics.from_json(self.diagnostics)


class ContributorValue(models.Model):
    """A contributor's Shapley value in a round, with its uncertainty, rank and share."""

    round = models.ForeignKey(ValuationRound, on_delete=models.CASCADE, related_name="values")
    contributor = models.ForeignKey(Contributor, on_delete=models.PROTECT, related_name="values")
    value = models.FloatField()
    stderr = models.FloatField(null=True, blank=True)
    ci_low = models.FloatField(null=True, blank=True)
    ci_high = models.FloatField(null=True, blank=True)
    exact_value = models.FloatField(null=True, blank=True)
    rank = models.PositiveIntegerField()
    share = models.FloatField(
        null=True,
        blank=True,
        help_text="value / (v(N) − v(∅)): the contributor's part of what the whole data achieved.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "contributor"], name="one_value_per_round")
        ]
        ordering = ["rank"]

    def __str__(self) -> str:
        """E.g. ``"Alice: rank 2, value 0.0986 in round 5"`` (no query for the round)."""
        return (
            f"{self.contributor}: rank {self.rank}, value {self.value:.4g} in round {self.round_id}"
        )
