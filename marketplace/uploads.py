"""Validate a contributor's upload of images before anything touches the database.

A data group arrives as images uploaded one by one, or as one zip archive that may hold a
``captions.csv`` (header ``file,caption``) and/or a ``labels.csv`` (header ``file,label``). This
module checks every file by its *content* (PNG, JPEG or WebP only, decoded by Pillow under size
and pixel limits), re-encodes each image as a metadata-free PNG, finds duplicates, and returns
plain records; a later service saves them atomically. It never imports Django.

All-or-nothing: every problem in an upload is collected first, then one `UploadRejected` lists
them all (one clear line per bad file, never a traceback); no partial result is ever returned.

Duplicate detection hashes the *canonical pixels* (mode, size and the decoded, orientation-applied,
sRGB pixel bytes that the stored PNG holds), not the uploaded bytes: the same picture saved as
PNG and as lossless WebP, or with different metadata, counts as a duplicate. Lossy re-encodes
(a JPEG of a PNG) differ in pixels and are not caught; that would need perceptual hashing.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import re
import stat
import warnings
import zipfile
import zlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple, TypeAlias

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

UploadSource: TypeAlias = bytes | BinaryIO
"""A file's content: bytes, or a binary file object (e.g. Django's ``UploadedFile``)."""

MIB = 1024 * 1024

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP")
# Pillow's JPEG opener returns "MPO" for multi-picture JPEGs (most phone photos); their first
# picture is the photo, so they are accepted as JPEG.
_JPEG_FAMILY = frozenset({"JPEG", "MPO"})
CSV_COLUMNS = {"captions.csv": "caption", "labels.csv": "label"}
# Only the two methods every zip tool writes. zipfile decompresses bzip2/LZMA reads without an
# output bound, so a lying header could make one small read expand to gigabytes in memory.
_ALLOWED_COMPRESSION = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
# Below this size a high compression ratio is harmless (a blank CSV compresses 100:1).
_RATIO_CHECK_MIN_BYTES = 1 * MIB
_IGNORED_NAMES = frozenset({"__MACOSX", "Thumbs.db", "desktop.ini"})
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
_HASH_DOMAIN = b"creditshare/canonical-pixels/v1\0"
# Signatures of formats we refuse, only to say *what* was refused instead of "not an image".
_OTHER_SIGNATURES = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
)
_HEIF_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIF", b"avif": "AVIF"}


@dataclass(frozen=True)
class UploadLimits:
    """Ceilings that bound the memory and time one upload can cost.

    Decoding holds a few copies of the pixels (about 4 bytes each), so ``max_pixels`` bounds the
    memory one image needs; the archive limits bound what an archive can expand to.
    """

    max_file_bytes: int = 10 * MIB
    max_pixels: int = 40_000_000
    max_side: int = 8192
    max_archive_bytes: int = 500 * MIB
    max_archive_members: int = 10_000
    max_total_uncompressed_bytes: int = 2048 * MIB
    max_compression_ratio: float = 100.0


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


class UploadRejected(Exception):  # noqa: N818 - the name the product uses
    """The upload is refused; ``problems`` holds one human-readable line per problem."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "\n".join(self.problems)


class ArchiveContents(NamedTuple):
    """What a zip archive holds; ``captions``/``labels`` are None when it has no such CSV."""

    files: list[tuple[str, bytes]]
    captions: dict[str, str] | None
    labels: dict[str, str] | None


class _FileRefusedError(Exception):
    """Internal: why one file is refused; the caller prefixes the file's name."""


class _CanonicalImage(NamedTuple):
    mode: str
    width: int
    height: int
    pixels: bytes


def validate_upload(
    files: Iterable[tuple[str, UploadSource]] = (),
    *,
    archive: tuple[str, UploadSource] | None = None,
    captions: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    limits: UploadLimits = UploadLimits(),
    existing_hashes: Collection[str] = (),
) -> list[ValidatedImage]:
    """Validate either single image files or one zip archive (whose CSVs give captions/labels).

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
    contents, problems, refused = _unpack_archive(archive_name, source, limits)
    if not contents.files and not problems:
        raise UploadRejected(f"{archive_name}: contains no images")
    images, image_problems = _check_images(
        contents.files, contents.captions, contents.labels, limits, existing_hashes, refused
    )
    if problems or image_problems:
        raise UploadRejected(problems + image_problems)
    return images


def validate_images(
    files: Iterable[tuple[str, UploadSource]],
    *,
    captions: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    limits: UploadLimits = UploadLimits(),
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
    images, problems = _check_images(files, captions, labels, limits, existing_hashes, set())
    if problems:
        raise UploadRejected(problems)
    return images


def read_archive(
    data: UploadSource, limits: UploadLimits = UploadLimits(), *, name: str = "upload.zip"
) -> ArchiveContents:
    """Unpack a zip archive's images and caption/label CSVs safely, without decoding images.

    Unsafe entries (absolute paths, ``..``, backslashes, symlinks, encryption), oversized or
    over-compressed entries are refused; directories, ``__MACOSX/`` and dotfiles are skipped; if
    every file sits in one top-level folder (a zipped folder), that folder is stripped.

    Raises:
        UploadRejected: listing every problem with the archive's entries or CSVs.
    """
    contents, problems, _ = _unpack_archive(name, data, limits)
    if problems:
        raise UploadRejected(problems)
    return contents


# --- images -----------------------------------------------------------------------------------


def _check_images(
    files: Iterable[tuple[str, UploadSource]],
    captions: Mapping[str, str] | None,
    labels: Mapping[str, str] | None,
    limits: UploadLimits,
    existing_hashes: Collection[str],
    refused: set[str],
) -> tuple[list[ValidatedImage], list[str]]:
    """Validate every file; return the images and the problems. ``refused``: names already
    reported by the archive check, so CSV rows naming them are not reported twice."""
    existing = frozenset(existing_hashes)
    images: list[ValidatedImage] = []
    problems: list[str] = []
    names: set[str] = set()
    first_with_hash: dict[str, str] = {}
    for raw_name, source in files:
        try:
            name = _safe_path(raw_name)
        except _FileRefusedError as exc:
            problems.append(f"{_printable(raw_name)}: unsafe file name ({exc})")
            continue
        if name in names:
            problems.append(f"{name}: more than one file has this name")
            continue
        names.add(name)
        caption = _text_for(name, captions, "caption", problems)
        label = _text_for(name, labels, "label", problems)
        try:
            canonical = _decode_image(_read_bounded(source, limits.max_file_bytes), limits)
        except _FileRefusedError as exc:
            problems.append(f"{name}: {exc}")
            continue
        digest = _hash_pixels(canonical)
        if digest in existing:
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
    if not names and not problems and not refused:
        problems.append("the upload contains no images")
    for kind, mapping in (("caption", captions), ("label", labels)):
        for listed in sorted(set(mapping or ()) - names - refused):
            problems.append(f"{listed}: has a {kind} but is not in the upload")
    return images, problems


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
        size = _format_bytes(len(data)) if len(data) > max_bytes + 1 else "the file"
        raise _FileRefusedError(f"{size} is above the {_format_bytes(max_bytes)} file limit")
    return data


def _decode_image(data: bytes, limits: UploadLimits) -> _CanonicalImage:
    """Check the header against the limits, verify, decode; return the canonical pixels."""
    header = _open_image(data, limits)
    width, height = header.size
    if width * height > limits.max_pixels:
        raise _FileRefusedError(
            f"{width}x{height} pixels is above the {limits.max_pixels:,} pixel limit"
        )
    if max(width, height) > limits.max_side:
        raise _FileRefusedError(
            f"{width}x{height} pixels is above the {limits.max_side:,} side limit"
        )
    if getattr(header, "is_animated", False) and header.format not in _JPEG_FAMILY:
        raise _FileRefusedError("animated images are not accepted")
    # Pillow raises many exception types on hostile input (SyntaxError, OSError, ValueError,
    # struct.error, zlib.error, ...); whatever it raises, the file is unreadable.
    try:
        header.verify()  # checks structure and checksums without decoding pixels
        image = _open_image(data, limits)
        image.load()
    except _FileRefusedError:
        raise
    except Exception as exc:
        raise _FileRefusedError("the image is truncated or corrupt") from exc
    return _canonicalize(image)


def _open_image(data: bytes, limits: UploadLimits) -> Image.Image:
    """Open lazily (header only), trying only the accepted formats' decoders."""
    try:
        # Our own pixel limit (checked by the caller on the header's size) is the guard; the
        # warning Pillow emits between its warn and error thresholds is noise here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        # Past Pillow's own hard limit the size is not exposed; say so without numbers.
        raise _FileRefusedError(
            f"the image is above the {limits.max_pixels:,} pixel limit"
        ) from exc
    except UnidentifiedImageError as exc:
        raise _FileRefusedError(_why_not_an_image(data)) from exc
    except Exception as exc:
        raise _FileRefusedError("the image is truncated or corrupt") from exc


def _why_not_an_image(data: bytes) -> str:
    for signature, format_name in _OTHER_SIGNATURES:
        if data.startswith(signature):
            return f"{format_name} images are not accepted (only PNG, JPEG or WebP)"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        format_name = _HEIF_BRANDS[data[8:12]]
        return f"{format_name} images are not accepted (only PNG, JPEG or WebP)"
    return "not an image (the content is not PNG, JPEG or WebP)"


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


# --- archives ---------------------------------------------------------------------------------


def _unpack_archive(
    name: str, source: UploadSource, limits: UploadLimits
) -> tuple[ArchiveContents, list[str], set[str]]:
    """Return the contents, the per-entry problems and the refused entries' paths.

    Raises:
        UploadRejected: at once for problems with the archive as a whole.
    """
    archive = _open_zip(name, source, limits)
    with archive:
        members, problems = _select_members(name, archive.infolist(), limits)
        files: list[tuple[str, bytes]] = []
        texts: dict[str, dict[str, str]] = {}
        refused: set[str] = set()
        total = 0
        for path, info in members:
            try:
                data = _read_member(archive, info, limits)
            except _FileRefusedError as exc:
                problems.append(f"{path}: {exc}")
                refused.add(path)
                continue
            total += len(data)
            if total > limits.max_total_uncompressed_bytes:
                raise UploadRejected(_total_problem(name, limits))
            if path.lower() in CSV_COLUMNS:
                column = CSV_COLUMNS[path.lower()]
                texts[column], csv_problems = _parse_mapping_csv(path, data, column)
                problems.extend(csv_problems)
            elif path.rsplit("/", 1)[-1].lower() in CSV_COLUMNS:
                problems.append(f"{path}: must be at the top of the archive")
            else:
                files.append((path, data))
    return ArchiveContents(files, texts.get("caption"), texts.get("label")), problems, refused


def _open_zip(name: str, source: UploadSource, limits: UploadLimits) -> zipfile.ZipFile:
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    if size > limits.max_archive_bytes:
        raise UploadRejected(
            f"{name}: {_format_bytes(size)} is above the "
            f"{_format_bytes(limits.max_archive_bytes)} archive limit"
        )
    try:
        return zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UploadRejected(f"{name}: not a zip archive") from exc


def _select_members(
    name: str, infos: list[zipfile.ZipInfo], limits: UploadLimits
) -> tuple[list[tuple[str, zipfile.ZipInfo]], list[str]]:
    """Return the entries to read with their safe paths, and the problems of the others."""
    if len(infos) > limits.max_archive_members:
        raise UploadRejected(
            f"{name}: {len(infos):,} entries is above the {limits.max_archive_members:,} limit"
        )
    if sum(info.file_size for info in infos) > limits.max_total_uncompressed_bytes:
        raise UploadRejected(_total_problem(name, limits))
    problems: list[str] = []
    members: list[tuple[str, zipfile.ZipInfo]] = []
    seen: set[str] = set()
    for info in infos:
        if info.is_dir():
            continue
        try:
            path = _safe_path(info.filename)
        except _FileRefusedError as exc:
            problems.append(f"{_printable(info.filename)}: unsafe path in archive ({exc})")
            continue
        if _is_ignored(path):
            continue
        if path in seen:
            problems.append(f"{path}: appears more than once in the archive")
            continue
        seen.add(path)
        members.append((path, info))
    prefix = _common_folder([path for path, _ in members])
    return [(path.removeprefix(prefix), info) for path, info in members], problems


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: UploadLimits) -> bytes:
    """Read one entry after checking its declared metadata, never past the file limit."""
    if stat.S_ISLNK(info.external_attr >> 16):
        raise _FileRefusedError("symbolic links are not accepted in archives")
    if info.flag_bits & 0x1:
        raise _FileRefusedError("encrypted (password-protected) entries are not accepted")
    if info.compress_type not in _ALLOWED_COMPRESSION:
        raise _FileRefusedError("unsupported compression method (use a standard zip: deflate)")
    if info.file_size > limits.max_file_bytes:
        raise _FileRefusedError(
            f"{_format_bytes(info.file_size)} is above the "
            f"{_format_bytes(limits.max_file_bytes)} file limit"
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size >= _RATIO_CHECK_MIN_BYTES and ratio > limits.max_compression_ratio:
        raise _FileRefusedError(
            f"compression ratio {ratio:,.0f}:1 is above the "
            f"{limits.max_compression_ratio:,.0f}:1 limit (possible zip bomb)"
        )
    # Headers can lie: read at most one byte more than allowed and compare with the declaration.
    bound = min(info.file_size, limits.max_file_bytes) + 1
    try:
        with archive.open(info) as member:
            data = member.read(bound)
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, RuntimeError) as exc:
        raise _FileRefusedError("the archive entry is corrupt") from exc
    if len(data) != info.file_size:
        raise _FileRefusedError(
            "the archive entry's size differs from its header (corrupt archive)"
        )
    return data


def _parse_mapping_csv(csv_name: str, data: bytes, column: str) -> tuple[dict[str, str], list[str]]:
    """Parse a UTF-8 ``file,<column>`` CSV into {safe path: text} and a list of problems."""
    try:
        text = data.decode("utf-8-sig")  # Excel writes a byte-order mark
    except UnicodeDecodeError:
        return {}, [f"{csv_name}: not UTF-8 text"]
    rows = csv.reader(io.StringIO(text, newline=""))
    mapping: dict[str, str] = {}
    problems: list[str] = []
    try:
        header = next(rows, None)
        if header is None or [cell.strip().lower() for cell in header] != ["file", column]:
            return {}, [f"{csv_name}: the first line must be the header file,{column}"]
        for row in rows:
            where = f"{csv_name} line {rows.line_num}"
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != 2:
                problems.append(f"{where}: expected 2 columns (file,{column}), found {len(row)}")
                continue
            try:
                path = _safe_path(row[0].strip())
            except _FileRefusedError as exc:
                problems.append(f"{where}: {_printable(row[0])} is not a safe file name ({exc})")
                continue
            if path in mapping:
                problems.append(f"{where}: {path} is listed more than once")
                continue
            mapping[path] = row[1]
    except csv.Error as exc:
        problems.append(f"{csv_name} line {rows.line_num}: not valid CSV ({exc})")
    return mapping, problems


# --- names and numbers ------------------------------------------------------------------------


def _safe_path(raw: str) -> str:
    """Return ``raw`` as a normalised relative POSIX path, or raise `_FileRefusedError` saying why
    it is unsafe. ``.`` and empty components are dropped; nothing else is rewritten."""
    if not raw.isprintable():
        raise _FileRefusedError("control characters")
    if "\\" in raw:
        raise _FileRefusedError("backslash")
    if raw.startswith("/") or _DRIVE_LETTER.match(raw):
        raise _FileRefusedError("absolute path")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _FileRefusedError("'..' component")
    if not parts:
        raise _FileRefusedError("empty name")
    return "/".join(parts)


def _is_ignored(path: str) -> bool:
    """macOS resource forks, dotfiles and OS thumbnails are not part of the data."""
    parts = path.split("/")
    return any(part.startswith(".") for part in parts) or any(
        part in _IGNORED_NAMES for part in parts
    )


def _common_folder(paths: list[str]) -> str:
    """Return ``"folder/"`` if every path lies in that one top-level folder, else ``""``."""
    tops = {path.split("/", 1)[0] for path in paths}
    if len(tops) == 1 and all("/" in path for path in paths):
        return tops.pop() + "/"
    return ""


def _total_problem(name: str, limits: UploadLimits) -> str:
    limit = _format_bytes(limits.max_total_uncompressed_bytes)
    return f"{name}: unpacks to more than the {limit} limit"


def _format_bytes(n_bytes: int) -> str:
    if n_bytes >= MIB:
        return f"{n_bytes / MIB:,.1f} MiB".replace(".0 MiB", " MiB")
    if n_bytes >= 1024:
        return f"{n_bytes / 1024:,.1f} KiB".replace(".0 KiB", " KiB")
    return f"{n_bytes:,} bytes"


def _printable(name: str) -> str:
    return name if name.isprintable() else repr(name)
