"""Memory and time one hostile upload costs while it is being refused.

Two bombs from the hostile review, built here from nothing:

* ``members``: an ~18.7 MB zip of 166 entries named ``*.png``, each a valid PNG header followed by
  9.5 MiB of data that deflates about 90:1 (under the 100:1 ratio limit, under the 10 MiB file
  limit, 1.5 GiB in all: under the 2 GiB unpacked limit). Every entry passes the per-entry checks.
* ``pixels``: a ~12 KB zip of ten distinct 8000x5000 (40-megapixel) single-colour RGB PNGs, each
  at the per-image pixel limit; ``pixels-6`` holds six of them, which fit the upload's pixel budget
  (250 MP): the most one accepted upload of such images costs.

Each bomb is validated by ``marketplace.uploads.images.validate_upload`` (from an open file, as the
web form passes it) in a fresh interpreter, which reports its peak resident memory above the
baseline after imports (VmHWM - VmRSS from /proc: Linux only), the wall time and the first
problem line. Run from the repository root:

    PYTHONPATH=. .venv/bin/python bench/upload_bombs.py

To compare with another version of the upload code, run it with ``--code DIR`` (a checkout whose
``marketplace/uploads`` is imported instead), e.g. ``git archive <commit> | tar -x -C /tmp/old``.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

from PIL import Image

MIB = 1024 * 1024

MEASURE = r"""
import sys, time
from marketplace.uploads.images import UploadRejected, validate_upload
def status_mib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
# VmHWM, the peak resident size of this process image (ru_maxrss would count the parent's
# memory at fork time). The baseline: everything imported.
base = status_mib("VmRSS")
start = time.perf_counter()
with open(sys.argv[1], "rb") as archive:
    try:
        validate_upload(archive=("bomb.zip", archive))
        outcome = "accepted"
    except UploadRejected as rejected:
        outcome = f"refused, {len(rejected.problems)} problems; first: {rejected.problems[0][:90]}"
elapsed = time.perf_counter() - start
peak = status_mib("VmHWM")
print(f"{peak - base:9.0f} MiB {elapsed:8.2f} s  {outcome}")
"""


def png_header(width: int, height: int) -> bytes:
    """A PNG signature and IHDR chunk (8-bit greyscale), nothing more."""
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + len(ihdr).to_bytes(4, "big") + chunk + crc(chunk)


def crc(data: bytes) -> bytes:
    return (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")


def build_members_bomb(path: Path) -> None:
    random = os.urandom(100 * 1024)
    body = png_header(512, 512) + random + bytes(int(9.5 * MIB) - len(random))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for n in range(166):
            archive.writestr(f"m{n:03d}.png", body)


def build_pixels_bomb(path: Path, count: int = 10) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for n in range(count):
            buffer = io.BytesIO()
            Image.new("RGB", (8000, 5000), color=(n * 20, 255 - n * 20, 128)).save(
                buffer, format="PNG", optimize=True
            )
            archive.writestr(f"p{n}.png", buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, default=Path.cwd(), help="checkout to import from")
    args = parser.parse_args()
    print("upload bombs: peak memory above the baseline, wall time, outcome")
    print(f"code: {args.code.resolve()}; python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as directory:
        bombs = (
            ("members", build_members_bomb),
            ("pixels", build_pixels_bomb),
            # The most an accepted upload can cost: six 40 MP images fit the 250 MP budget.
            ("pixels-6", lambda path: build_pixels_bomb(path, 6)),
        )
        for name, build in bombs:
            path = Path(directory) / f"{name}.zip"
            build(path)
            env = {**os.environ, "PYTHONPATH": str(args.code.resolve()), "OMP_NUM_THREADS": "1"}
            result = subprocess.run(
                [sys.executable, "-c", MEASURE, str(path)],
                cwd=args.code,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            size = path.stat().st_size
            line = result.stdout.strip() or result.stderr.strip()[-300:]
            print(f"{name:8} {size / 1e6:7.3f} MB zip: {line}")


if __name__ == "__main__":
    main()
