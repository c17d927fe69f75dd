"""People, data and money: users, contributors, their data groups, model versions and payouts.

Valuation rounds live in the ``attribution`` app, which depends on this one (never the reverse).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from marketplace.payouts import PayoutError, format_money


class User(AbstractUser):
    """A person who signs in: a contributor, a staff member (admin) or a partner (API client)."""

    class Role(models.TextChoices):
        CONTRIBUTOR = "contributor", "Contributor"
        STAFF = "staff", "Staff"
        PARTNER = "partner", "Partner"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CONTRIBUTOR)
    contributor = models.ForeignKey(
        "marketplace.Contributor",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
        help_text="The contributor (person or organisation) this user acts for.",
    )

    @property
    def is_operator(self) -> bool:
        """Staff in the product's sense: runs rounds and pays out (the dashboard, the API's staff
        endpoints). An active user with Django's ``is_staff`` flag or the staff role; the one
        definition every page and endpoint uses."""
        return bool(self.is_active and (self.is_staff or self.role == self.Role.STAFF))


class Contributor(models.Model):
    """A person or an organisation whose data trained a model and who is paid for it."""

    class Kind(models.TextChoices):
        PERSON = "person", "Person"
        ORGANISATION = "organisation", "Organisation"

    key = models.SlugField(
        max_length=64,
        unique=True,
        help_text="Stable identifier; with a round's seed it fixes this contributor's samples.",
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PERSON)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.name

    def accepted_records(self) -> models.QuerySet[DataRecord]:
        """Records of this contributor's accepted data groups."""
        return DataRecord.objects.filter(
            group__contributor=self, group__status=DataGroup.Status.ACCEPTED
        )


class DataGroupQuerySet(models.QuerySet["DataGroup"]):
    def accepted(self) -> DataGroupQuerySet:
        return self.filter(status=DataGroup.Status.ACCEPTED)


class DataGroup(models.Model):
    """One upload of a contributor: images with a caption or a label each."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending review"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"

    contributor = models.ForeignKey(Contributor, on_delete=models.CASCADE, related_name="groups")
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    consent = models.BooleanField(
        default=False,
        help_text="The contributor agreed that this data may train models and be valued.",
    )
    review_note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = DataGroupQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.title} ({self.contributor})"


class DataRecord(models.Model):
    """One image of a data group with the condition it trained under (label or caption)."""

    group = models.ForeignKey(DataGroup, on_delete=models.CASCADE, related_name="records")
    image = models.FileField(upload_to="records/%Y/%m/")
    sha256 = models.CharField(max_length=64, db_index=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    caption = models.TextField(blank=True)
    label = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "sha256"], name="unique_image_per_group")
        ]

    def __str__(self) -> str:
        """E.g. ``"image 3f2a9c1b0d4e (label 3) in group 12"``: no query for the group."""
        condition = (
            f"label {self.label}"
            if self.label
            else f"caption “{self.caption[:40]}{'…' if len(self.caption) > 40 else ''}”"
            if self.caption
            else "no label or caption"
        )
        return f"image {self.sha256[:12]} ({condition}) in group {self.group_id}"


class ModelVersion(models.Model):
    """A trained generative model whose contributors are valued.

    ``conditions`` says how a contributor's records become the conditions the model generates
    from: their labels, their captions (prompts), or one class per contributor (the model was
    conditioned on the contributor, as the built-in digits model and the SurrogateSHAP paper's
    class-conditional models are); ``contributor_labels`` maps contributor keys to those classes.
    """

    class Kind(models.TextChoices):
        BUILTIN_DIGITS = "builtin_digits", "Built-in digits demo model"
        CLASS_CONDITIONAL = "class_conditional", "Class-conditional UNet (local directory)"
        TEXT_TO_IMAGE = "text_to_image", "Text-to-image pipeline (local directory)"

    class Conditions(models.TextChoices):
        CONTRIBUTOR = "contributor", "One class per contributor"
        LABEL = "label", "Record labels"
        PROMPT = "prompt", "Record captions as prompts"

    class Dtype(models.TextChoices):
        DEFAULT = "", "The pipeline's own"
        FLOAT32 = "float32", "float32"
        FLOAT16 = "float16", "float16"
        BFLOAT16 = "bfloat16", "bfloat16"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    path = models.CharField(max_length=500, blank=True, help_text="Local model directory.")
    lora_path = models.CharField(max_length=500, blank=True)
    checksum = models.CharField(max_length=64, blank=True)
    conditions = models.CharField(max_length=16, choices=Conditions.choices)
    contributor_labels = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    # Sampling (text-to-image and class-conditional models).
    lora_scale = models.FloatField(default=1.0)
    scheduler = models.CharField(
        max_length=100, blank=True, help_text="A diffusers scheduler class; blank: the pipeline's."
    )
    n_steps = models.PositiveIntegerField(default=25, help_text="Inference steps per image.")
    guidance_scale = models.FloatField(default=7.5)
    resolution = models.PositiveIntegerField(
        null=True, blank=True, help_text="Image height and width in pixels; blank: the default."
    )
    dtype = models.CharField(max_length=16, blank=True, choices=Dtype.choices)
    null_label = models.PositiveIntegerField(
        null=True, blank=True, help_text="Class-conditional models: the unconditional label."
    )
    # Featurizers and what the metrics compare against.
    clip_path = models.CharField(max_length=500, blank=True, help_text="Local CLIP directory.")
    inception_path = models.CharField(
        max_length=500, blank=True, help_text="Local TorchScript Inception-v3 file."
    )
    aesthetic_head_path = models.CharField(
        max_length=500, blank=True, help_text="Aesthetic head on CLIP embeddings (safetensors)."
    )
    reference_group = models.ForeignKey(
        "DataGroup",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="An accepted data group whose images are the reference set.",
    )
    reference_dir = models.CharField(max_length=500, blank=True)
    reference_stats_path = models.CharField(
        max_length=500, blank=True, help_text="Precomputed statistics (.npz with mu and sigma)."
    )
    class_prompts = models.JSONField(default=list, blank=True)
    artefact_prompts = models.JSONField(default=list, blank=True)
    clean_prompts = models.JSONField(default=list, blank=True)
    checksums = models.JSONField(
        default=dict, blank=True, help_text="SHA-256 of every file recorded at registration."
    )

    def __str__(self) -> str:
        return self.name


def _money(amount: Decimal, currency: str) -> str:
    """``format_money``, or the stored digits and code when they cannot be formatted (a row
    being typed into the admin, an unknown currency): a name must never raise."""
    try:
        return format_money(Decimal(amount), currency)
    except (PayoutError, ArithmeticError, TypeError, ValueError):
        return f"{currency} {amount}"


currency_code = RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 code, e.g. EUR.")


class PayoutBatch(models.Model):
    """The money of one valuation round, split into payouts that sum to the pool exactly."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        APPROVED = "approved", "Approved"

    pool = models.DecimalField(
        max_digits=18, decimal_places=4, validators=[MinValueValidator(Decimal(0))]
    )
    currency = models.CharField(max_length=3, validators=[currency_code])
    negative_policy = models.CharField(max_length=16)
    clipped_mass = models.DecimalField(max_digits=30, decimal_places=12, default=Decimal(0))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "payout batches"

    def __str__(self) -> str:
        """E.g. ``"Batch 3: €10,000.00, approved"``."""
        status = self.get_status_display().lower()
        return f"Batch {self.pk}: {_money(self.pool, self.currency)}, {status}"


class Payout(models.Model):
    """One contributor's amount in a batch."""

    batch = models.ForeignKey(PayoutBatch, on_delete=models.CASCADE, related_name="payouts")
    contributor = models.ForeignKey(Contributor, on_delete=models.PROTECT, related_name="payouts")
    amount = models.DecimalField(max_digits=18, decimal_places=4)
    share = models.DecimalField(max_digits=30, decimal_places=28)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "contributor"], name="one_payout_per_batch")
        ]
        ordering = ["-amount"]

    def __str__(self) -> str:
        """E.g. ``"€1,060.36 to Alice — batch 3"`` (select the batch and contributor with it)."""
        amount = _money(self.amount, self.batch.currency)
        return f"{amount} to {self.contributor} — batch {self.batch_id}"


class ApiKey(models.Model):
    """A secret that lets a script act as its owner: a partner's client or a contributor's token.

    The key a client sends is ``<prefix>.<secret>``. Only the prefix (to find the row and to show
    in lists) and the SHA-256 of the secret are stored; the plaintext is shown once, by `create`.
    The secret is 256 random bits, so a fast hash is enough (no password stretching needed).
    """

    ROUNDS_WRITE = "rounds:write"
    SCOPES = (ROUNDS_WRITE,)
    """What a key may do beyond reading as its owner; ``rounds:write``: create and start rounds."""

    PREFIX_LENGTH = 8
    _PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100, help_text="What the key is for, e.g. 'nightly job'.")
    prefix = models.CharField(max_length=PREFIX_LENGTH, unique=True, editable=False)
    secret_sha256 = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @classmethod
    def create(cls, owner: User, name: str, scopes: Sequence[str] = ()) -> tuple[ApiKey, str]:
        """Mint a key for ``owner``; return it with its plaintext, which is never stored.

        Raises:
            ValueError: An unknown scope, or a blank or overlong name.
        """
        unknown = sorted(set(scopes) - set(cls.SCOPES))
        if unknown:
            raise ValueError(f"unknown scope(s): {', '.join(unknown)}")
        max_length = cls._meta.get_field("name").max_length or 0
        if not name.strip() or len(name) > max_length:
            raise ValueError(f"give the key a name of 1 to {max_length} characters.")
        secret = secrets.token_urlsafe(32)
        while True:  # 36^8 prefixes: a clash is rare, and the unique index catches it anyway
            prefix = "".join(secrets.choice(cls._PREFIX_ALPHABET) for _ in range(cls.PREFIX_LENGTH))
            if not cls.objects.filter(prefix=prefix).exists():
                break
        key = cls.objects.create(
            owner=owner,
            name=name,
            prefix=prefix,
            secret_sha256=cls.hash_secret(secret),
            scopes=sorted(set(scopes)),
        )
        return key, f"{prefix}.{secret}"

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    def matches(self, secret: str) -> bool:
        """Whether ``secret`` is this key's secret (constant time in the secret's content)."""
        return hmac.compare_digest(self.hash_secret(secret), self.secret_sha256)

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def has_scope(self, scope: str) -> bool:
        return not self.is_revoked and scope in self.scopes

    def revoke(self) -> None:
        """Revoke the key for good; revoking twice keeps the first time."""
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            ApiKey.objects.filter(pk=self.pk, revoked_at=None).update(revoked_at=self.revoked_at)

    def record_use(self, *, every: timedelta = timedelta(minutes=1)) -> None:
        """Note that the key was used; at most one write per ``every``, not one per request."""
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at >= every:
            self.last_used_at = now
            ApiKey.objects.filter(pk=self.pk).update(last_used_at=now)
