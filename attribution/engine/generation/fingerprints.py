"""Fingerprints that identify model weights in a backend's ``describe`` (its cache key).

:func:`state_dict_sha256` hashes weights in memory, :func:`directory_fingerprint` a saved model
directory cheaply (configs plus file names and sizes), and :func:`file_sha256` one file's bytes.
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


def directory_fingerprint(path: Path) -> str:
    """Return sha256 (hex) over a model directory's JSON/text files and every file's name and size.

    Cheap on multi-gigabyte checkpoints: weight files contribute their relative path and size only.
    """
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        relative = file.relative_to(path).as_posix()
        digest.update(f"{relative}|{file.stat().st_size}|".encode())
        if file.suffix in {".json", ".txt"}:
            digest.update(file.read_bytes())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """Return the sha256 (hex) of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(2**20), b""):
            digest.update(chunk)
    return digest.hexdigest()
