"""Per-sample digits banks for the money-grade benchmark, generated in independent chunks.

Each chunk holds ``--chunk`` samples per contributor of the digits demo, generated with round seed
``1000 + chunk index`` (so chunks are independent draws from the same model) and reduced to what
the four demo metrics read per sample: classifier probabilities, 32-d embeddings, the marker
indicator and the claimed-label fidelity. Chunks are written one by one to
``<out>/chunk_XXX.npz``, so a run that is stopped early leaves every finished chunk usable and a
rerun skips the chunks it already has. Concatenating chunks gives larger banks; disjoint groups
of chunks are independently regenerated banks.

    nice -n 10 PYTHONPATH=. .venv/bin/python bench/digits_banks.py --chunks 20   # K up to 1,280
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

DEFAULT_OUT = Path("var/money/banks")
SHARED_OUT = Path("var/money/shared_banks")
CHUNK_SEED_OFFSET = 1000
SHARED_SEED_OFFSET = 5000


def chunk_path(out: Path, index: int) -> Path:
    """Where chunk ``index`` lives."""
    return out / f"chunk_{index:03d}.npz"


def generate_chunk(index: int, n_samples: int, out: Path, shared_noise: bool = False) -> None:
    """Generate, featurize and score one chunk of every contributor's bank; write it.

    With ``shared_noise`` every contributor's sample ``k`` starts from the same initial noise
    (common random numbers: one seed for the chunk, ``SHARED_SEED_OFFSET + index``).
    """
    import torch

    from attribution.engine.demos.digits.data import make_digits_marketplace, marker_present
    from attribution.engine.demos.digits.demo import digits_scorers
    from attribution.engine.demos.digits.training import SHIPPED_WEIGHTS, load_digits_models
    from attribution.engine.generation import contributor_seed

    torch.set_num_threads(1)
    backend, classifier, record = load_digits_models(SHIPPED_WEIGHTS, "cpu")
    contributors = make_digits_marketplace(record["recipe"]["data_seed"])
    scorers = digits_scorers([c.labels.tolist() for c in contributors])
    probabilities, embeddings, marker, fidelity = [], [], [], []
    for position, contributor in enumerate(contributors):
        if shared_noise:
            seed = SHARED_SEED_OFFSET + index
        else:
            seed = contributor_seed(CHUNK_SEED_OFFSET + index, contributor.key)
        images = backend.generate([position] * len(contributor.images), n_samples, seed)
        features = classifier(images)
        assert features.probabilities is not None
        probabilities.append(features.probabilities)
        embeddings.append(features.embeddings)
        marker.append(marker_present(images))
        fidelity.append(scorers["label_fidelity"](images, features, position))
    out.mkdir(parents=True, exist_ok=True)
    partial = out / f".chunk_{index:03d}.tmp.npz"
    np.savez(
        partial,
        probabilities=np.stack(probabilities),
        embeddings=np.stack(embeddings),
        marker=np.stack(marker),
        label_fidelity=np.stack(fidelity),
    )
    partial.rename(chunk_path(out, index))


def load_chunks(out: Path, indices: list[int]) -> dict[str, NDArray[np.float64]]:
    """Concatenate chunks along the sample axis: arrays of shape (n, K, ...)."""
    parts = [np.load(chunk_path(out, index)) for index in indices]
    return {
        name: np.concatenate([part[name] for part in parts], axis=1).astype(np.float64)
        for name in ("probabilities", "embeddings", "marker", "label_fidelity")
    }


def available_chunks(out: Path) -> list[int]:
    """Indices of the finished chunks under ``out``, ascending."""
    return sorted(int(path.stem.split("_")[1]) for path in out.glob("chunk_*.npz"))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=5, help="chunks to have on disk")
    parser.add_argument("--chunk", type=int, default=64, help="samples per contributor per chunk")
    parser.add_argument("--out", type=Path, default=None, help=f"default {DEFAULT_OUT}")
    parser.add_argument(
        "--shared-noise",
        action="store_true",
        help=f"every contributor's sample k from the same initial noise (default out {SHARED_OUT})",
    )
    parser.add_argument("--first", type=int, default=0, help="first chunk index to generate")
    args = parser.parse_args(argv)
    out = args.out or (SHARED_OUT if args.shared_noise else DEFAULT_OUT)
    for index in range(args.first, args.chunks):
        if chunk_path(out, index).exists():
            continue
        start = time.perf_counter()
        generate_chunk(index, args.chunk, out, args.shared_noise)
        print(f"chunk {index}: {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
