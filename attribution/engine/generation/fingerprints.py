"""Fingerprints that identify model weights in a backend's ``describe`` (its cache key).

:func:`state_dict_sha256` hashes weights in memory, :func:`directory_fingerprint` a saved model
directory (configs, file names and every weight file's bytes), and :func:`file_sha256` one file's
bytes.

A directory's fingerprint reads every byte of its weights: a checkpoint retrained and saved over
the old one keeps its file names and sizes (they follow from the architecture), so anything less
would let the artefact store serve the old model's samples for the new one. Hashing runs at disk
speed (a 4 GB Stable Diffusion checkpoint in a few seconds) and each file's digest is remembered
per process by path, size and modification time, so a worker pays it once per checkpoint.
Content, not modification times, is what is hashed, so two workers with copies of the same
checkpoint agree on the fingerprint (a distributed round's units and its valuation share banks).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def state_dict_sha256(module: torch.nn.Module) -> str:
    """Return sha256 (hex) over a module's state dict: names, dtypes, shapes, bytes; name order."""
    import torch

    digest = hashlib.sha256()
    state = module.state_dict()
    for name in sorted(state):
        tensor = state[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


_FILE_DIGESTS: dict[tuple[str, int, int], str] = {}
"""sha256 of weight files already read by this process, by (resolved path, size, mtime_ns)."""


def directory_fingerprint(path: Path) -> str:
    """Return sha256 (hex) over a model directory: every file's relative path and size, the
    JSON/text files' bytes and every other file's sha256 (see the module docstring)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        relative = file.relative_to(path).as_posix()
        digest.update(f"{relative}|{file.stat().st_size}|".encode())
        if file.suffix in {".json", ".txt"}:
            digest.update(file.read_bytes())
        else:
            digest.update(remembered_sha256(file).encode())
    return digest.hexdigest()


def remembered_sha256(path: Path) -> str:
    """:func:`file_sha256`, read once per process while the file's size and mtime stay put."""
    status = path.stat()
    key = (str(path.resolve()), status.st_size, status.st_mtime_ns)
    if key not in _FILE_DIGESTS:
        _FILE_DIGESTS[key] = file_sha256(path)
    return _FILE_DIGESTS[key]


def file_sha256(path: Path) -> str:
    """Return the sha256 (hex) of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(2**20), b""):
            digest.update(chunk)
    return digest.hexdigest()
