"""What one upload may cost, and how a refusal is reported.

The limits and the refusal are shared by ``uploads`` (the entry point: images) and ``archives``
(zip unpacking); they live here, below both, so that ``archives`` never imports ``uploads``.
Import them from ``marketplace.uploads.images``, which re-exports them. No Django, no Pillow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, TypeAlias

UploadSource: TypeAlias = bytes | BinaryIO
"""A file's content: bytes, or a binary file object (e.g. Django's ``UploadedFile``)."""

MIB = 1024 * 1024


@dataclass(frozen=True)
class UploadLimits:
    """Ceilings that bound the memory and time one upload can cost.

    Decoding holds a few copies of the pixels (about 4 bytes each), so ``max_pixels`` bounds the
    memory one image needs; ``max_upload_pixels`` bounds the decoding time of one upload and the
    memory its accepted images take (their PNGs are kept until saved); the archive limits bound
    what an archive can expand to. Images are decoded one at a time.
    """

    max_file_bytes: int = 10 * MIB
    max_pixels: int = 40_000_000
    max_upload_pixels: int = 250_000_000
    max_side: int = 8192
    max_archive_bytes: int = 500 * MIB
    max_archive_members: int = 10_000
    max_total_uncompressed_bytes: int = 2048 * MIB
    max_compression_ratio: float = 100.0


DEFAULT_LIMITS = UploadLimits()
"""The limits an upload gets unless the caller passes its own."""


class UploadRejected(Exception):  # noqa: N818 - the name the product uses
    """The upload is refused; ``problems`` holds one human-readable line per problem."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "\n".join(self.problems)


class FileRefusedError(Exception):
    """Internal to upload validation: why one file is refused; the caller prefixes its name."""


def format_bytes(n_bytes: int) -> str:
    """A size as people read it in a refusal: ``12 bytes``, ``1.5 KiB``, ``10 MiB``."""
    if n_bytes >= MIB:
        return f"{n_bytes / MIB:,.1f} MiB".replace(".0 MiB", " MiB")
    if n_bytes >= 1024:
        return f"{n_bytes / 1024:,.1f} KiB".replace(".0 KiB", " KiB")
    return f"{n_bytes:,} bytes"
