"""Unpack a contributor's zip archive safely, without decoding any image.

An archive may hold images and, at its top, a ``captions.csv`` (header ``file,caption``) and/or a
``labels.csv`` (header ``file,label``). Unpacking is bounded before anything is read (archive
size, entry count, declared total size) and per entry (declared and actual size, compression
ratio, method), so a zip bomb or a lying header costs at most the limits. `open_archive` checks
every entry's metadata (and reads the CSVs) up front, then hands out the image entries one at a
time (a prefix, or the whole entry): validation holds one entry in memory, never the whole
archive. Entry names must be safe
relative paths (no absolute paths, ``..``, backslashes or control characters); symlinks and
encrypted entries are refused; directories, ``__MACOSX/``, dotfiles and OS thumbnails are skipped;
if every file sits in one top-level folder (a zipped folder), that folder is stripped.

``safe_path`` is also how ``uploads`` checks the names of images uploaded one by one. Validating
the images themselves is ``uploads``' job; this module returns their bytes untouched.
"""

from __future__ import annotations

import csv
import io
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

from marketplace.uploads.limits import (
    DEFAULT_LIMITS,
    MIB,
    FileRefusedError,
    UploadLimits,
    UploadRejected,
    UploadSource,
    format_bytes,
)

CSV_COLUMNS = {"captions.csv": "caption", "labels.csv": "label"}
# Only the two methods every zip tool writes. zipfile decompresses bzip2/LZMA reads without an
# output bound, so a lying header could make one small read expand to gigabytes in memory.
_ALLOWED_COMPRESSION = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
# Below this size a high compression ratio is harmless (a blank CSV compresses 100:1).
_RATIO_CHECK_MIN_BYTES = 1 * MIB
_IGNORED_NAMES = frozenset({"__MACOSX", "Thumbs.db", "desktop.ini"})
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
# What zipfile and zlib raise on a damaged entry.
_CORRUPT = (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, RuntimeError)


class ArchiveContents(NamedTuple):
    """What a zip archive holds; ``captions``/``labels`` are None when it has no such CSV."""

    files: list[tuple[str, bytes]]
    captions: dict[str, str] | None
    labels: dict[str, str] | None


class ArchiveMember(NamedTuple):
    """One file entry of an open archive, its metadata already checked; ``path`` is safe."""

    path: str
    info: zipfile.ZipInfo


@dataclass
class ArchiveListing:
    """An open archive, listed and checked without reading its images.

    Every entry's metadata (path, type, encryption, method, declared size and compression ratio)
    is checked when the archive is opened, and the CSVs are read and parsed; the images are read
    only through `head` and `read`, one at a time, so memory never holds more than one entry.

    Attributes:
        members: the entries to validate as images, in archive order.
        captions: ``captions.csv`` as {path: caption}, or None without one.
        labels: ``labels.csv`` as {path: label}, or None without one.
        problems: one line per refused entry or CSV problem found so far.
        refused: paths of refused entries (so CSV rows naming them are not reported twice).
    """

    archive: zipfile.ZipFile
    limits: UploadLimits
    members: list[ArchiveMember] = field(default_factory=list)
    captions: dict[str, str] | None = None
    labels: dict[str, str] | None = None
    problems: list[str] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)

    def head(self, member: ArchiveMember, n_bytes: int) -> bytes:
        """The first ``n_bytes`` of the entry (fewer if it is shorter); decompresses no more."""
        try:
            with self.archive.open(member.info) as stream:
                return stream.read(n_bytes)
        except _CORRUPT as exc:
            raise FileRefusedError("the archive entry is corrupt") from exc

    def read(self, member: ArchiveMember) -> bytes:
        """The whole entry, never more than one byte past its declared size or the file limit."""
        return _read_member(self.archive, member.info, self.limits)


def read_archive(
    data: UploadSource, limits: UploadLimits = DEFAULT_LIMITS, *, name: str = "upload.zip"
) -> ArchiveContents:
    """Unpack a zip archive's images and caption/label CSVs safely, without decoding images.

    Unsafe entries (absolute paths, ``..``, backslashes, symlinks, encryption), oversized or
    over-compressed entries are refused; directories, ``__MACOSX/`` and dotfiles are skipped; if
    every file sits in one top-level folder (a zipped folder), that folder is stripped. This holds
    every entry in memory at once (bounded by the limits); validation streams with `open_archive`.

    Raises:
        UploadRejected: listing every problem with the archive's entries or CSVs.
    """
    with open_archive(name, data, limits) as listing:
        files: list[tuple[str, bytes]] = []
        for member in listing.members:
            try:
                files.append((member.path, listing.read(member)))
            except FileRefusedError as exc:
                listing.problems.append(f"{member.path}: {exc}")
        if listing.problems:
            raise UploadRejected(listing.problems)
        return ArchiveContents(files, listing.captions, listing.labels)


@contextmanager
def open_archive(name: str, source: UploadSource, limits: UploadLimits) -> Iterator[ArchiveListing]:
    """Open, list and check an archive (see `ArchiveListing`); closed when the block exits.

    Raises:
        UploadRejected: at once for problems with the archive as a whole (size, entry count,
            declared total size, not a zip).
    """
    archive = _open_zip(name, source, limits)
    with archive:
        entries, problems = _select_members(name, archive.infolist(), limits)
        listing = ArchiveListing(archive, limits, problems=problems)
        texts: dict[str, dict[str, str]] = {}
        for path, info in entries:
            try:
                _check_member(info, limits)
            except FileRefusedError as exc:
                listing.problems.append(f"{path}: {exc}")
                listing.refused.add(path)
                continue
            if path.lower() in CSV_COLUMNS:
                column = CSV_COLUMNS[path.lower()]
                try:
                    data = _read_member(archive, info, limits)
                except FileRefusedError as exc:
                    listing.problems.append(f"{path}: {exc}")
                    continue
                texts[column], csv_problems = _parse_mapping_csv(path, data, column)
                listing.problems.extend(csv_problems)
            elif path.rsplit("/", 1)[-1].lower() in CSV_COLUMNS:
                listing.problems.append(f"{path}: must be at the top of the archive")
            else:
                listing.members.append(ArchiveMember(path, info))
        listing.captions, listing.labels = texts.get("caption"), texts.get("label")
        yield listing


def safe_path(raw: str) -> str:
    """Return ``raw`` as a normalised relative POSIX path, or raise `FileRefusedError` saying why
    it is unsafe. ``.`` and empty components are dropped; nothing else is rewritten."""
    if not raw.isprintable():
        raise FileRefusedError("control characters")
    if "\\" in raw:
        raise FileRefusedError("backslash")
    if raw.startswith("/") or _DRIVE_LETTER.match(raw):
        raise FileRefusedError("absolute path")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise FileRefusedError("'..' component")
    if not parts:
        raise FileRefusedError("empty name")
    return "/".join(parts)


def printable(name: str) -> str:
    """``name`` as it can be shown in a problem line: quoted if it holds control characters."""
    return name if name.isprintable() else repr(name)


def _open_zip(name: str, source: UploadSource, limits: UploadLimits) -> zipfile.ZipFile:
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    if size > limits.max_archive_bytes:
        raise UploadRejected(
            f"{name}: {format_bytes(size)} is above the "
            f"{format_bytes(limits.max_archive_bytes)} archive limit"
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
            path = safe_path(info.filename)
        except FileRefusedError as exc:
            problems.append(f"{printable(info.filename)}: unsafe path in archive ({exc})")
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


def _check_member(info: zipfile.ZipInfo, limits: UploadLimits) -> None:
    """Refuse an entry by its declared metadata alone (nothing is decompressed)."""
    if stat.S_ISLNK(info.external_attr >> 16):
        raise FileRefusedError("symbolic links are not accepted in archives")
    if info.flag_bits & 0x1:
        raise FileRefusedError("encrypted (password-protected) entries are not accepted")
    if info.compress_type not in _ALLOWED_COMPRESSION:
        raise FileRefusedError("unsupported compression method (use a standard zip: deflate)")
    if info.file_size > limits.max_file_bytes:
        raise FileRefusedError(
            f"{format_bytes(info.file_size)} is above the "
            f"{format_bytes(limits.max_file_bytes)} file limit"
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size >= _RATIO_CHECK_MIN_BYTES and ratio > limits.max_compression_ratio:
        raise FileRefusedError(
            f"compression ratio {ratio:,.0f}:1 is above the "
            f"{limits.max_compression_ratio:,.0f}:1 limit (possible zip bomb)"
        )


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: UploadLimits) -> bytes:
    """Read one entry after checking its declared metadata, never past the file limit."""
    _check_member(info, limits)
    # Headers can lie: read at most one byte more than allowed and compare with the declaration.
    bound = min(info.file_size, limits.max_file_bytes) + 1
    try:
        with archive.open(info) as member:
            data = member.read(bound)
    except _CORRUPT as exc:
        raise FileRefusedError("the archive entry is corrupt") from exc
    if len(data) != info.file_size:
        raise FileRefusedError("the archive entry's size differs from its header (corrupt archive)")
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
                path = safe_path(row[0].strip())
            except FileRefusedError as exc:
                problems.append(f"{where}: {printable(row[0])} is not a safe file name ({exc})")
                continue
            if path in mapping:
                problems.append(f"{where}: {path} is listed more than once")
                continue
            mapping[path] = row[1]
    except csv.Error as exc:
        problems.append(f"{csv_name} line {rows.line_num}: not valid CSV ({exc})")
    return mapping, problems


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
    limit = format_bytes(limits.max_total_uncompressed_bytes)
    return f"{name}: unpacks to more than the {limit} limit"
