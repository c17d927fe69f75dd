"""Validate a contributor's upload of images before anything touches the database.

This is the entry point for uploads (import everything from here). A data group arrives as images
uploaded one by one, or as one zip archive that may hold a ``captions.csv`` (header
``file,caption``) and/or a ``labels.csv`` (header ``file,label``); ``archives`` unpacks the
archive safely and this module checks every file by its *content* (PNG, JPEG or WebP only,
decoded by Pillow under size and pixel limits), re-encodes each image as a metadata-free PNG,
finds duplicates, and returns plain records; a later service saves them atomically. The limits
and the refusal live in ``upload_limits``. It never imports Django.

All-or-nothing: problems are collected first, then one `UploadRejected` lists them (one clear line
per bad file, never a traceback); no partial result is ever returned. Validation is bounded in
memory and time: every file first gets the cheap checks (name, size, caption or label, and its
image header from the first bytes: format, size against the per-image limits and the upload's
pixel budget, see ``headers``); only an upload that passes them all is decoded (``pixels``), one
file at a time, stopping at the first file that fails. So a refusal lists every problem the cheap
checks can see, and at most one that only decoding shows (corrupt data, a duplicate).

Duplicate detection hashes the *canonical pixels* (mode, size and the decoded, orientation-applied,
sRGB pixel bytes that the stored PNG holds), not the uploaded bytes: the same picture saved as
PNG and as lossless WebP, or with different metadata, counts as a duplicate. Lossy re-encodes
(a JPEG of a PNG) differ in pixels and are not caught; that would need perceptual hashing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

from marketplace.uploads.archives import (
    CSV_COLUMNS,
    ArchiveContents,
    open_archive,
    printable,
    read_archive,
    safe_path,
)
from marketplace.uploads.headers import ACCEPTED_FORMATS, HEAD_BYTES, read_header
from marketplace.uploads.limits import (
    DEFAULT_LIMITS,
    MIB,
    FileRefusedError,
    UploadLimits,
    UploadRejected,
    UploadSource,
    format_bytes,
)
from marketplace.uploads.pixels import decode_image, encode_png, hash_pixels

__all__ = [
    "ACCEPTED_FORMATS",
    "CSV_COLUMNS",
    "MIB",
    "ArchiveContents",
    "UploadLimits",
    "UploadRejected",
    "UploadSource",
    "ValidatedImage",
    "read_archive",
    "validate_images",
    "validate_upload",
]


@dataclass(frozen=True)
class ValidatedImage:
    """One accepted image, ready to store.

    Attributes:
        name: safe relative POSIX path: the file name, or the path inside the archive
            (``cats/a.png``), never absolute and without ``..``.
        content: the image re-encoded as PNG, with no EXIF, ICC, XMP or text metadata; EXIF
            orientation is applied and colours are converted to sRGB first, so it looks the same.
            Mode is ``L`` (greyscale), ``RGB`` or ``RGBA`` (when the source had transparency).
        sha256: hex digest of the canonical pixels (see the module docstring).
        width: pixels.
        height: pixels.
        caption: the caption, when the upload came with captions.
        label: the class label, when the upload came with labels.
    """

    name: str
    content: bytes = field(repr=False)
    sha256: str
    width: int
    height: int
    caption: str | None = None
    label: str | None = None


class _Entry(NamedTuple):
    """One file of an upload: its name as uploaded, its first bytes, its whole content."""

    name: str
    head: Callable[[], bytes]
    read: Callable[[], bytes]


def validate_upload(
    files: Iterable[tuple[str, UploadSource]] = (),
    *,
    archive: tuple[str, UploadSource] | None = None,
    captions: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    limits: UploadLimits = DEFAULT_LIMITS,
    existing_hashes: Collection[str] = (),
) -> list[ValidatedImage]:
    """Validate either single image files or one zip archive (whose CSVs give captions/labels).

    The archive is streamed: its entries are checked and decoded one at a time.

    Raises:
        UploadRejected: listing every problem, archive and images together.
        ValueError: if ``captions``/``labels`` are passed with an archive (they come from it).
    """
    files = list(files)
    if archive is None:
        return validate_images(
            files,
            captions=captions,
            labels=labels,
            limits=limits,
            existing_hashes=existing_hashes,
        )
    if captions is not None or labels is not None:
        raise ValueError("an archive brings its own captions.csv/labels.csv; pass none here")
    archive_name, source = archive
    if files:
        raise UploadRejected("upload either image files or one zip archive, not both")
    with open_archive(archive_name, source, limits) as listing:
        if not listing.members and not listing.problems:
            raise UploadRejected(f"{archive_name}: contains no images")
        entries = [
            _Entry(
                member.path,
                partial(listing.head, member, HEAD_BYTES),
                partial(listing.read, member),
            )
            for member in listing.members
        ]
        images, problems = _check_images(
            entries,
            listing.captions,
            listing.labels,
            limits,
            existing_hashes,
            listing.refused,
            listing.problems,
        )
    if problems:
        raise UploadRejected(problems)
    return images


def validate_images(
    files: Iterable[tuple[str, UploadSource]],
    *,
    captions: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    limits: UploadLimits = DEFAULT_LIMITS,
    existing_hashes: Collection[str] = (),
) -> list[ValidatedImage]:
    """Validate images and return them all, in upload order, or raise listing every problem.

    Args:
        files: ``(name, content)`` pairs; names are relative paths, checked for safety.
        captions: file name → caption; when given, every image needs a non-empty one and every
            key must name an uploaded file. None: the upload has no captions.
        labels: file name → class label, same rules as ``captions``.
        limits: size and pixel ceilings.
        existing_hashes: ``sha256`` values already accepted (by this contributor or the
            marketplace); an image with one of them is a duplicate.

    Raises:
        UploadRejected: if any file has any problem; nothing is returned then.
    """
    entries = [
        _Entry(
            name,
            partial(_read_head, source, limits.max_file_bytes),
            partial(_read_bounded, source, limits.max_file_bytes),
        )
        for name, source in files
    ]
    images, problems = _check_images(entries, captions, labels, limits, existing_hashes, set(), [])
    if problems:
        raise UploadRejected(problems)
    return images


# --- images -----------------------------------------------------------------------------------


class _Screened(NamedTuple):
    """A file that passed the cheap checks, waiting to be decoded."""

    name: str
    entry: _Entry
    caption: str | None
    label: str | None


def _check_images(
    entries: Iterable[_Entry],
    captions: Mapping[str, str] | None,
    labels: Mapping[str, str] | None,
    limits: UploadLimits,
    existing_hashes: Collection[str],
    refused: set[str],
    problems: list[str],
) -> tuple[list[ValidatedImage], list[str]]:
    """Screen every file cheaply, then decode them one by one unless the upload is refused.

    ``refused``: names already reported by the archive check, so CSV rows naming them are not
    reported twice; ``problems``: those found so far (the archive's), extended here.
    """
    screened = _screen(entries, captions, labels, limits, refused, problems)
    if problems:
        return [], problems  # refused already: decoding the rest would only cost time
    images = _decode_all(screened, limits, frozenset(existing_hashes), problems)
    return images, problems


def _screen(
    entries: Iterable[_Entry],
    captions: Mapping[str, str] | None,
    labels: Mapping[str, str] | None,
    limits: UploadLimits,
    refused: set[str],
    problems: list[str],
) -> list[_Screened]:
    """The cheap checks of every file: name, caption/label, size and header, pixel budget."""
    screened: list[_Screened] = []
    names: set[str] = set()
    pixels = 0
    for entry in entries:
        try:
            name = safe_path(entry.name)
        except FileRefusedError as exc:
            problems.append(f"{printable(entry.name)}: unsafe file name ({exc})")
            continue
        if name in names:
            problems.append(f"{name}: more than one file has this name")
            continue
        names.add(name)
        caption = _text_for(name, captions, "caption", problems)
        label = _text_for(name, labels, "label", problems)
        try:
            head = entry.head()
            header = read_header(head, limits, complete=len(head) < HEAD_BYTES)
        except FileRefusedError as exc:
            problems.append(f"{name}: {exc}")
            continue
        if header is not None:
            pixels, was = pixels + header.pixels, pixels
            if pixels > limits.max_upload_pixels >= was:
                problems.append(_budget_problem(name, limits))
        screened.append(_Screened(name, entry, caption, label))
    if not names and not problems and not refused:
        problems.append("the upload contains no images")
    for kind, mapping in (("caption", captions), ("label", labels)):
        for listed in sorted(set(mapping or ()) - names - refused):
            problems.append(f"{listed}: has a {kind} but is not in the upload")
    return screened


def _decode_all(
    screened: list[_Screened],
    limits: UploadLimits,
    existing: frozenset[str],
    problems: list[str],
) -> list[ValidatedImage]:
    """Decode, hash and re-encode the files one at a time; stop at the first refusal."""
    images: list[ValidatedImage] = []
    first_with_hash: dict[str, str] = {}
    pixels = 0
    for name, entry, caption, label in screened:
        try:
            canonical = decode_image(entry.read(), limits)
        except FileRefusedError as exc:
            problems.append(f"{name}: {exc}")
            return []
        pixels += canonical.width * canonical.height
        digest = hash_pixels(canonical)
        if pixels > limits.max_upload_pixels:  # only headers past HEAD_BYTES get here
            problems.append(_budget_problem(name, limits))
        elif digest in existing:
            problems.append(f"{name}: already uploaded")
        elif digest in first_with_hash:
            problems.append(f"{name}: duplicate of {first_with_hash[digest]}")
        else:
            first_with_hash[digest] = name
            content = encode_png(canonical)
            images.append(
                ValidatedImage(
                    name, content, digest, canonical.width, canonical.height, caption, label
                )
            )
            continue
        return []
    return images


def _budget_problem(name: str, limits: UploadLimits) -> str:
    return (
        f"{name}: the upload's images pass the {limits.max_upload_pixels:,} pixel budget of one "
        "upload here; upload the rest as another data group"
    )


def _text_for(
    name: str, mapping: Mapping[str, str] | None, kind: str, problems: list[str]
) -> str | None:
    """Return the stripped caption/label of ``name``; record a problem when it is missing."""
    if mapping is None:
        return None
    text = mapping.get(name)
    if text is None:
        problems.append(f"{name}: has no {kind}")
        return None
    if not text.strip():
        problems.append(f"{name}: the {kind} is empty")
        return None
    return text.strip()


def _read_bounded(source: UploadSource, max_bytes: int) -> bytes:
    """Return the content, never reading more than one byte past ``max_bytes`` of a stream."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        if source.seekable():
            source.seek(0)
        data = source.read(max_bytes + 1)
    if len(data) > max_bytes:
        # A stream is not read to its end, so its size is only known to exceed the limit.
        size = format_bytes(len(data)) if len(data) > max_bytes + 1 else "the file"
        raise FileRefusedError(f"{size} is above the {format_bytes(max_bytes)} file limit")
    return data


def _read_head(source: UploadSource, max_bytes: int) -> bytes:
    """The first `HEAD_BYTES` of the content; refuses it when even that passes ``max_bytes``."""
    if isinstance(source, bytes | bytearray | memoryview):
        if len(source) > max_bytes:
            limit = format_bytes(max_bytes)
            raise FileRefusedError(f"{format_bytes(len(source))} is above the {limit} file limit")
        return bytes(source[:HEAD_BYTES])
    if source.seekable():
        source.seek(0)
    data = source.read(min(HEAD_BYTES, max_bytes + 1))
    if len(data) > max_bytes:
        raise FileRefusedError(f"the file is above the {format_bytes(max_bytes)} file limit")
    return data
