"""Validate a contributor's upload of images before anything touches the database.

This is the entry point for uploads (import everything from here). A data group arrives as images
uploaded one by one, or as one zip archive that may hold a ``captions.csv`` (header
``file,caption``) and/or a ``labels.csv`` (header ``file,label``); ``archives`` unpacks the
archive safely and this module checks every file by its *content* (PNG, JPEG or WebP only,
decoded by Pillow under size and pixel limits), re-encodes each image as a metadata-free PNG,
finds duplicates, and returns plain records; a later service saves them atomically. The limits
and the refusal live in ``upload_limits``. It never imports Django.

All-or-nothing: every problem in an upload is collected first, then one `UploadRejected` lists
them all (one clear line per bad file, never a traceback); no partial result is ever returned.

Duplicate detection hashes the *canonical pixels* (mode, size and the decoded, orientation-applied,
sRGB pixel bytes that the stored PNG holds), not the uploaded bytes: the same picture saved as
PNG and as lossless WebP, or with different metadata, counts as a duplicate. Lossy re-encodes
(a JPEG of a PNG) differ in pixels and are not caught; that would need perceptual hashing.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

from PIL import Image, ImageCms, ImageOps

from marketplace.uploads.archives import (
    CSV_COLUMNS,
    ArchiveContents,
    open_archive,
    printable,
    read_archive,
    safe_path,
)
from marketplace.uploads.headers import (
    ACCEPTED_FORMATS,
    HEAD_BYTES,
    ImageHeader,
    check_header,
    open_image,
    read_header,
)
from marketplace.uploads.limits import (
    DEFAULT_LIMITS,
    MIB,
    FileRefusedError,
    UploadLimits,
    UploadRejected,
    UploadSource,
    format_bytes,
)

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

_HASH_DOMAIN = b"creditshare/canonical-pixels/v1\0"


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


class _CanonicalImage(NamedTuple):
    mode: str
    width: int
    height: int
    pixels: bytes


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
            canonical = _decode_image(entry.read(), limits)
        except FileRefusedError as exc:
            problems.append(f"{name}: {exc}")
            return []
        pixels += canonical.width * canonical.height
        digest = _hash_pixels(canonical)
        if pixels > limits.max_upload_pixels:  # only headers past HEAD_BYTES get here
            problems.append(_budget_problem(name, limits))
        elif digest in existing:
            problems.append(f"{name}: already uploaded")
        elif digest in first_with_hash:
            problems.append(f"{name}: duplicate of {first_with_hash[digest]}")
        else:
            first_with_hash[digest] = name
            content = _encode_png(canonical)
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


def _decode_image(data: bytes, limits: UploadLimits) -> _CanonicalImage:
    """Check the header against the limits, verify, decode; return the canonical pixels."""
    header = open_image(data, limits)
    check_header(header, ImageHeader(str(header.format), *header.size), limits)
    # Pillow raises many exception types on hostile input (SyntaxError, OSError, ValueError,
    # struct.error, zlib.error, ...); whatever it raises, the file is unreadable.
    try:
        header.verify()  # checks structure and checksums without decoding pixels
        image = open_image(data, limits)
        image.load()
    except FileRefusedError:
        raise
    except Exception as exc:
        raise FileRefusedError("the image is truncated or corrupt") from exc
    return _canonicalize(image)


def _canonicalize(image: Image.Image) -> _CanonicalImage:
    """Apply EXIF orientation, convert to sRGB and to mode L, RGB or RGBA."""
    with contextlib.suppress(Exception):  # a malformed EXIF block only loses its orientation
        image = ImageOps.exif_transpose(image)
    has_alpha = "A" in image.mode or "transparency" in image.info
    if image.mode.startswith("I"):  # 16-bit greyscale PNG: scale to 8 bits (convert clips)
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    target = "RGBA" if has_alpha else "L" if image.mode in ("1", "L") else "RGB"
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK"):
        image = _to_srgb(image, icc, target)
    if image.mode != target:
        image = image.convert(target)
    return _CanonicalImage(target, image.width, image.height, image.tobytes())


def _to_srgb(image: Image.Image, icc: bytes, target: str) -> Image.Image:
    """Convert from the embedded ICC profile to sRGB (stripping the profile must not change
    colours, e.g. Display P3 phone photos); a broken profile is ignored."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        converted = ImageCms.profileToProfile(image, source, srgb, outputMode=target)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    return converted if converted is not None else image


def _hash_pixels(canonical: _CanonicalImage) -> str:
    digest = hashlib.sha256(_HASH_DOMAIN)
    digest.update(f"{canonical.mode} {canonical.width}x{canonical.height}\0".encode())
    digest.update(canonical.pixels)
    return digest.hexdigest()


def _encode_png(canonical: _CanonicalImage) -> bytes:
    # A fresh image from raw pixels carries no info dict, so no metadata can leak into the PNG.
    image = Image.frombytes(canonical.mode, (canonical.width, canonical.height), canonical.pixels)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
