"""Use cases for people and data: turning an upload into a data group, withdrawing it.

Uploads are validated completely before anything is written (``uploads``), then saved in one
transaction: a refused upload leaves no group, no record and no file behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from marketplace.models import Contributor, DataGroup, DataRecord
from marketplace.uploads.images import UploadLimits, UploadRejected, ValidatedImage, validate_upload


def create_data_group(
    contributor: Contributor,
    *,
    title: str,
    consent: bool,
    files: Iterable[tuple[str, bytes | IO[bytes]]] = (),
    archive: tuple[str, bytes | IO[bytes]] | None = None,
    labels: dict[str, str] | None = None,
    captions: dict[str, str] | None = None,
    limits: UploadLimits | None = None,
) -> DataGroup:
    """Validate an upload and save it as a pending data group of ``contributor``.

    Single ``files`` take their labels or captions from the name-keyed mappings; an ``archive``
    brings its own ``labels.csv`` or ``captions.csv``.

    Raises:
        UploadRejected: With one message per bad file; nothing is saved.
    """
    if not title.strip():
        raise UploadRejected("give the data group a title.")
    if not consent:
        raise UploadRejected(
            "consent is required: confirm that this data may train models and be valued."
        )
    existing = set(
        DataRecord.objects.filter(group__contributor=contributor)
        .exclude(group__status__in=(DataGroup.Status.REJECTED, DataGroup.Status.WITHDRAWN))
        .values_list("sha256", flat=True)
    )
    images = validate_upload(
        files,
        archive=archive,
        labels=labels,
        captions=captions,
        limits=limits or UploadLimits(),
        existing_hashes=existing,
    )
    if not images:
        raise UploadRejected("the upload holds no images.")
    saved: list[DataRecord] = []
    try:
        with transaction.atomic():
            group = DataGroup.objects.create(contributor=contributor, title=title, consent=True)
            for image in images:
                saved.append(_save_record(group, image))
    except BaseException:
        for record in saved:  # the rows are rolled back; remove their files too
            record.image.delete(save=False)
        raise
    return group


def withdraw_data_group(group: DataGroup) -> None:
    """The contributor withdraws a group: it leaves every round that has not started yet."""
    DataGroup.objects.filter(pk=group.pk).exclude(status=DataGroup.Status.WITHDRAWN).update(
        status=DataGroup.Status.WITHDRAWN, decided_at=timezone.now()
    )


def _save_record(group: DataGroup, image: ValidatedImage) -> DataRecord:
    record = DataRecord(
        group=group,
        sha256=image.sha256,
        width=image.width,
        height=image.height,
        caption=image.caption or "",
        label=image.label or "",
    )
    stem = image.name.rsplit("/", 1)[-1].rsplit(".", 1)[0][:80] or "image"
    record.image.save(f"{stem}.png", ContentFile(image.content), save=False)
    record.save()
    return record
