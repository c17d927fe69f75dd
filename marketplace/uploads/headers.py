"""An image's header, read from the first bytes of a file: the cheap check of every upload.

Format, size and animation are known from the header, so the per-image limits (pixels, side),
the accepted formats and the upload's pixel budget are checked on every file without decoding
any pixels, even when the upload is already refused. Decoding is ``images``' job.
"""

from __future__ import annotations

import io
import warnings
from typing import NamedTuple

from PIL import Image, UnidentifiedImageError

from marketplace.uploads.limits import FileRefusedError, UploadLimits

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP")
# Pillow's JPEG opener returns "MPO" for multi-picture JPEGs (most phone photos); their first
# picture is the photo, so they are accepted as JPEG.
JPEG_FAMILY = frozenset({"JPEG", "MPO"})
# How much of each file the header check reads. PNG and WebP headers sit in the first few dozen
# bytes; a JPEG's size comes after its EXIF/ICC segments, which rarely pass this.
HEAD_BYTES = 256 * 1024
# Files starting like a JPEG (size after the metadata segments) or a WebP (whose decoder wants the
# whole file) whose header does not open from the first bytes wait for the full decode. A PNG's
# header is always its first 33 bytes: one that does not open is refused at once.
_DEFERRED_SIGNATURES = (b"\xff\xd8", b"RIFF")
# Signatures of formats we refuse, only to say *what* was refused instead of "not an image".
_OTHER_SIGNATURES = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
)
_HEIF_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIF", b"avif": "AVIF"}


class ImageHeader(NamedTuple):
    """What the header says: Pillow's format name and the size in pixels."""

    format: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def read_header(head: bytes, limits: UploadLimits, *, complete: bool) -> ImageHeader | None:
    """Check a file's header against the formats and per-image limits.

    Args:
        head: the file's first bytes (up to `HEAD_BYTES`).
        limits: the pixel and side limits.
        complete: whether ``head`` is the whole file. When it is not and the header does not fit
            in it (a JPEG behind large metadata), the answer waits for the full decode: None.

    Raises:
        FileRefusedError: the header alone refuses the file (format, size, animation, garbage).
    """
    try:
        image = open_image(head, limits)
    except FileRefusedError:
        if complete or not head.startswith(_DEFERRED_SIGNATURES):
            raise
        return None
    header = ImageHeader(str(image.format), *image.size)
    check_header(image, header, limits)
    return header


def check_header(image: Image.Image, header: ImageHeader, limits: UploadLimits) -> None:
    """Refuse by size or animation (``image`` is the lazily opened file ``header`` came from)."""
    if header.pixels > limits.max_pixels:
        raise FileRefusedError(
            f"{header.width}x{header.height} pixels is above the {limits.max_pixels:,} pixel limit"
        )
    if max(header.width, header.height) > limits.max_side:
        raise FileRefusedError(
            f"{header.width}x{header.height} pixels is above the {limits.max_side:,} side limit"
        )
    try:
        animated = header.format not in JPEG_FAMILY and getattr(image, "is_animated", False)
    except Exception as exc:  # counting frames reads on: a damaged file
        raise FileRefusedError("the image is truncated or corrupt") from exc
    if animated:
        raise FileRefusedError("animated images are not accepted")


def open_image(data: bytes, limits: UploadLimits) -> Image.Image:
    """Open lazily (header only), trying only the accepted formats' decoders."""
    try:
        # Our own pixel limit (checked on the header's size) is the guard; the warning Pillow
        # emits between its warn and error thresholds is noise here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        # Past Pillow's own hard limit the size is not exposed; say so without numbers.
        raise FileRefusedError(f"the image is above the {limits.max_pixels:,} pixel limit") from exc
    except UnidentifiedImageError as exc:
        raise FileRefusedError(_why_not_an_image(data)) from exc
    except Exception as exc:
        raise FileRefusedError("the image is truncated or corrupt") from exc


def _why_not_an_image(data: bytes) -> str:
    for signature, format_name in _OTHER_SIGNATURES:
        if data.startswith(signature):
            return f"{format_name} images are not accepted (only PNG, JPEG or WebP)"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        format_name = _HEIF_BRANDS[data[8:12]]
        return f"{format_name} images are not accepted (only PNG, JPEG or WebP)"
    return "not an image (the content is not PNG, JPEG or WebP)"
