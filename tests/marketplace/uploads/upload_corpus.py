"""Builders for good and hostile upload files, made in memory in a few milliseconds each."""

from __future__ import annotations

import io
import random
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterable

from PIL import Image, ImageCms, PngImagePlugin

MIB = 1024 * 1024


def noise_image(seed: int, size: tuple[int, int] = (16, 12), mode: str = "RGB") -> Image.Image:
    """A small image whose pixels depend on ``seed``, so different seeds never collide."""
    rng = random.Random(seed)
    n_bands = len(Image.new(mode, (1, 1)).getbands())
    return Image.frombytes(mode, size, rng.randbytes(size[0] * size[1] * n_bands))


def encode(image: Image.Image, format_name: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format_name, **params)
    return buffer.getvalue()


def png(seed: int, size: tuple[int, int] = (16, 12), mode: str = "RGB") -> bytes:
    return encode(noise_image(seed, size, mode), "PNG")


def png_with_text_and_icc(seed: int) -> bytes:
    """A PNG carrying tEXt, iTXt and an sRGB ICC profile (all metadata to strip)."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Contributor")
    info.add_itxt("Comment", "GPS 48.85, 2.35", lang="en")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(noise_image(seed), "PNG", pnginfo=info, icc_profile=icc)


def jpeg_with_exif(seed: int, size: tuple[int, int] = (20, 10), orientation: int = 1) -> bytes:
    """A JPEG with EXIF (camera model, a GPS tag) and the given EXIF orientation."""
    exif = Image.Exif()
    exif[0x0110] = "SecretCam 3000"  # Model
    exif[0x0112] = orientation  # Orientation
    exif[0x8825] = {1: "N"}  # GPSInfo IFD
    return encode(noise_image(seed, size), "JPEG", quality=90, exif=exif.tobytes())


def webp(seed: int, *, lossless: bool = True) -> bytes:
    return encode(noise_image(seed), "WEBP", lossless=lossless)


def gif(seed: int) -> bytes:
    return encode(noise_image(seed).convert("P"), "GIF")


def animated_png(seed: int) -> bytes:
    frames = [noise_image(seed), noise_image(seed + 1)]
    return encode(frames[0], "PNG", save_all=True, append_images=frames[1:])


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR (with a valid CRC) claims ``width`` x ``height`` pixels.

    Decoders learn the size from the header, so this is the cheap form of a decompression bomb:
    opening it must be refused before any pixel buffer is allocated.
    """
    data = bytearray(png(0, (1, 1)))
    ihdr_start = 8 + 4  # signature, then the chunk's length field
    struct.pack_into(">II", data, ihdr_start + 4, width, height)
    crc = zlib.crc32(bytes(data[ihdr_start : ihdr_start + 4 + 13]))
    struct.pack_into(">I", data, ihdr_start + 4 + 13, crc)
    return bytes(data)


def png_chunk_types(data: bytes) -> list[str]:
    """The chunk types of a PNG, in order."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    types, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack_from(">I", data, offset)
        types.append(data[offset + 4 : offset + 8].decode("ascii"))
        offset += 12 + length
    return types


def zip_archive(
    entries: Iterable[tuple[str, bytes]],
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_with_symlink(link_name: str, target: str, extra: Iterable[tuple[str, bytes]] = ()) -> bytes:
    """An archive whose ``link_name`` is a Unix symbolic link to ``target``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in extra:
            archive.writestr(name, data)
        info = zipfile.ZipInfo(link_name)
        info.create_system = 3  # Unix, so external_attr carries the file mode
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, target)
    return buffer.getvalue()


def patch_central_directory(archive: bytes, member: str, **fields: int) -> bytes:
    """Rewrite fields of ``member``'s central directory header (``flag_bits``, ``file_size``).

    This is how a hostile archive lies: zipfile trusts the central directory.
    """
    offsets = {"flag_bits": (8, "<H"), "file_size": (24, "<I")}
    data = bytearray(archive)
    start = data.index(b"PK\x01\x02")
    while True:
        (name_length,) = struct.unpack_from("<H", data, start + 28)
        if data[start + 46 : start + 46 + name_length].decode() == member:
            break
        start = data.index(b"PK\x01\x02", start + 4)
    for field_name, value in fields.items():
        offset, fmt = offsets[field_name]
        struct.pack_into(fmt, data, start + offset, value)
    return bytes(data)


def csv_bytes(header: str, rows: Iterable[tuple[str, str]]) -> bytes:
    lines = [header] + [f'{name},"{text}"' for name, text in rows]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")
