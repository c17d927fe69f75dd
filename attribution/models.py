"""Valuation rounds and the values they produce.

A round moves ``draft → queued → running → succeeded | failed``, and to ``cancelled`` from any
unfinished state. Starting it freezes the full engine configuration (JSON) and its hash on the
row, so results are reproducible from the row alone.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from marketplace.models import Contributor, ModelVersion, PayoutBatch, currency_code


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

    class Metric(models.TextChoices):
        INCEPTION_SCORE = "inception_score", "Inception Score"
        NEG_FID = "neg_fid", "Negative Fréchet distance"
        CLASS_ENTROPY = "class_entropy", "Class diversity (entropy)"
        LABEL_FIDELITY = "label_fidelity", "Label fidelity"
        MARKER_FREE = "marker_free", "Artefact-free rate"

    class Estimator(models.TextChoices):
        SURROGATE = "surrogate", "SurrogateSHAP"
        KERNEL = "kernel", "KernelSHAP"
        PERMUTATION = "permutation", "Permutation sampling"
        EXACT = "exact", "Exact (all coalitions)"
        LOO = "loo", "Leave-one-out"

    class NegativePolicy(models.TextChoices):
        FLOOR = "floor", "Floor negative values at zero and renormalise"
        REJECT = "reject", "Refuse to pay out if any value is negative"

    title = models.CharField(max_length=200)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="rounds")
    contributors = models.ManyToManyField(Contributor, related_name="rounds")
    metric = models.CharField(max_length=32, choices=Metric.choices, default=Metric.INCEPTION_SCORE)
    estimator = models.CharField(
        max_length=16, choices=Estimator.choices, default=Estimator.SURROGATE
    )
    budget = models.PositiveIntegerField(default=512, validators=[MinValueValidator(6)])
    n_samples = models.PositiveIntegerField(
        default=64, validators=[MinValueValidator(1), MaxValueValidator(100_000)]
    )
    n_bootstrap = models.PositiveIntegerField(default=20, validators=[MaxValueValidator(1000)])
    seed = models.PositiveBigIntegerField(default=0)
    pool = models.DecimalField(
        max_digits=18, decimal_places=4, default=Decimal(0), validators=[MinValueValidator(0)]
    )
    currency = models.CharField(max_length=3, default="EUR", validators=[currency_code])
    negative_policy = models.CharField(
        max_length=16, choices=NegativePolicy.choices, default=NegativePolicy.FLOOR
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

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_finished(self) -> bool:
        return self.status not in self.UNFINISHED


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
