"""Decode an image fully and canonically: the expensive step of upload validation.

``decode_image`` verifies and decodes one file (after checking its header against the limits
again), applies EXIF orientation, converts to sRGB and to mode L, RGB or RGBA; ``hash_pixels``
and ``encode_png`` turn the canonical pixels into the duplicate key and the stored, metadata-free
PNG. ``images`` calls it one file at a time, and only for uploads not refused already.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from typing import NamedTuple

from PIL import Image, ImageCms, ImageOps

from marketplace.uploads.headers import ImageHeader, check_header, open_image
from marketplace.uploads.limits import FileRefusedError, UploadLimits

_HASH_DOMAIN = b"creditshare/canonical-pixels/v1\0"


class CanonicalImage(NamedTuple):
    """Decoded pixels in mode L, RGB or RGBA: what is hashed and stored."""

    mode: str
    width: int
    height: int
    pixels: bytes


def decode_image(data: bytes, limits: UploadLimits) -> CanonicalImage:
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
    return canonicalize(image)


def canonicalize(image: Image.Image) -> CanonicalImage:
    """Apply EXIF orientation, convert to sRGB and to mode L, RGB or RGBA."""
    with contextlib.suppress(Exception):  # a malformed EXIF block only loses its orientation
        image = ImageOps.exif_transpose(image)
    has_alpha = "A" in image.mode or "transparency" in image.info
    if image.mode.startswith("I"):  # 16-bit greyscale PNG: scale to 8 bits (convert clips)
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    target = "RGBA" if has_alpha else "L" if image.mode in ("1", "L") else "RGB"
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK"):
        image = to_srgb(image, icc, target)
    if image.mode != target:
        image = image.convert(target)
    return CanonicalImage(target, image.width, image.height, image.tobytes())


def to_srgb(image: Image.Image, icc: bytes, target: str) -> Image.Image:
    """Convert from the embedded ICC profile to sRGB (stripping the profile must not change
    colours, e.g. Display P3 phone photos); a broken profile is ignored."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        converted = ImageCms.profileToProfile(image, source, srgb, outputMode=target)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    return converted if converted is not None else image


def hash_pixels(canonical: CanonicalImage) -> str:
    digest = hashlib.sha256(_HASH_DOMAIN)
    digest.update(f"{canonical.mode} {canonical.width}x{canonical.height}\0".encode())
    digest.update(canonical.pixels)
    return digest.hexdigest()


def encode_png(canonical: CanonicalImage) -> bytes:
    # A fresh image from raw pixels carries no info dict, so no metadata can leak into the PNG.
    image = Image.frombytes(canonical.mode, (canonical.width, canonical.height), canonical.pixels)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
