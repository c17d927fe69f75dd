"""Non-Shapley baselines for generative data attribution: similarity to each contributor's data.

The usual baselines of the diffusion-attribution papers score a training image by how similar it is
to the generated samples, in pixel space or in a feature space (a classifier's, CLIP's), and
aggregate per contributor. Here a contributor's score is

    score_i = mean over generated samples g of  agg_{t ∈ training_i} cos(g, t),

with ``agg`` the mean or the max over contributor i's training items. The mean rewards a
contributor whose data looks like the output overall; the max rewards one who holds a near-copy of
some output (memorisation).

Everything runs in float64. ``"mean"`` needs no pairwise matrix (the mean of cosines is a dot
product with the mean of unit vectors); ``"max"`` forms the (chunk, all training items) matrix of
cosines one chunk of generated samples at a time, so memory stays bounded by ``max_elements``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attribution.engine.errors import EngineInputError

Aggregate = Literal["mean", "max"]
AGGREGATES: tuple[Aggregate, ...] = ("mean", "max")
# Largest cosine matrix formed at once (float64 cells): 2^22 cells is 32 MiB.
DEFAULT_MAX_ELEMENTS = 2**22

FloatArray = NDArray[np.float64]


def similarity_scores(
    generated: ArrayLike,
    training: Sequence[ArrayLike],
    aggregate: Aggregate = "mean",
    *,
    chunk_size: int | None = None,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> FloatArray:
    """Per-contributor cosine similarity between generated samples and the contributors' data.

    Args:
        generated: Generated samples as vectors, shape (G, d), G >= 1.
        training: One array per contributor i, shape (K_i, d) with K_i >= 1.
        aggregate: ``"mean"`` or ``"max"`` over each contributor's K_i items.
        chunk_size: Generated samples per block of the pairwise matrix; None picks the largest
            block with at most ``max_elements`` cells (at least one row).
        max_elements: Memory bound used when ``chunk_size`` is None.

    Returns:
        Shape (n_contributors,): the mean over generated samples of the aggregated cosine, each in
        [-1, 1].

    Raises:
        EngineInputError: Bad shapes, an empty contributor, NaN/inf, an all-zero vector (its cosine
            is undefined), an unknown aggregate or a bad chunk size.
    """
    if aggregate not in AGGREGATES:
        raise EngineInputError(f"unknown aggregate {aggregate!r}; choose one of {AGGREGATES}.")
    queries = _unit_rows(_as_matrix(generated, "generated", None), "generated")
    dimension = queries.shape[1]
    units = []
    for i, items in enumerate(training):
        name = f"contributor {i}'s training data"
        units.append(_unit_rows(_as_matrix(items, name, dimension), name))
    if not units:
        raise EngineInputError("training holds no contributors; pass one array per contributor.")
    if aggregate == "mean":
        # mean_g mean_k ĝ·t̂_k = (mean_g ĝ) · (mean_k t̂_k): no pairwise matrix needed.
        centroids = np.stack([unit.mean(axis=0) for unit in units])
        scores: FloatArray = centroids @ queries.mean(axis=0)
        return scores
    rows = _chunk_rows(chunk_size, max_elements, sum(len(unit) for unit in units))
    return _mean_of_max(queries, units, rows)


def pixel_similarity(
    generated_images: ArrayLike,
    training_images_per_contributor: Sequence[ArrayLike],
    aggregate: Aggregate = "mean",
    *,
    chunk_size: int | None = None,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> FloatArray:
    """Cosine similarity of flattened pixels, per contributor (see ``similarity_scores``).

    Args:
        generated_images: Shape (G, ...) e.g. (G, channels, H, W); each image is flattened.
        training_images_per_contributor: One array per contributor, shape (K_i, ...) with the same
            trailing image shape as ``generated_images``.
        aggregate: ``"mean"`` or ``"max"`` over each contributor's images.
        chunk_size: See ``similarity_scores``.
        max_elements: See ``similarity_scores``.

    Returns:
        Shape (n_contributors,).
    """
    generated = np.asarray(generated_images)
    if generated.ndim < 2:
        raise EngineInputError(
            f"generated_images must be an array of images (G, ...), got shape {generated.shape}."
        )
    image_shape = generated.shape[1:]
    flattened = []
    for i, images in enumerate(training_images_per_contributor):
        array = np.asarray(images)
        if array.shape[1:] != image_shape:
            raise EngineInputError(
                f"contributor {i}'s images have shape {array.shape[1:]}, the generated images "
                f"{image_shape}; resize them to one shape first."
            )
        flattened.append(array.reshape(len(array), -1))
    return similarity_scores(
        generated.reshape(len(generated), -1),
        flattened,
        aggregate,
        chunk_size=chunk_size,
        max_elements=max_elements,
    )


def embedding_similarity(
    generated_embeddings: ArrayLike,
    training_embeddings_per_contributor: Sequence[ArrayLike],
    aggregate: Aggregate = "mean",
    *,
    chunk_size: int | None = None,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> FloatArray:
    """Cosine similarity of feature embeddings, per contributor (see ``similarity_scores``).

    Args:
        generated_embeddings: Shape (G, d), e.g. ``Features.embeddings`` of the generated samples.
        training_embeddings_per_contributor: One array per contributor, shape (K_i, d), from the
            same featurizer.
        aggregate: ``"mean"`` or ``"max"`` over each contributor's items.
        chunk_size: See ``similarity_scores``.
        max_elements: See ``similarity_scores``.

    Returns:
        Shape (n_contributors,).
    """
    return similarity_scores(
        generated_embeddings,
        training_embeddings_per_contributor,
        aggregate,
        chunk_size=chunk_size,
        max_elements=max_elements,
    )


def _mean_of_max(queries: FloatArray, units: list[FloatArray], rows: int) -> FloatArray:
    """mean_g max_{k ∈ contributor i} ĝ·t̂_k for every i, ``rows`` generated samples at a time.

    Args:
        queries: Unit generated vectors, shape (G, d).
        units: Unit training vectors per contributor, shapes (K_i, d).
        rows: Generated samples per block.

    Returns:
        Shape (n_contributors,).
    """
    stacked = np.concatenate(units)
    # Column offsets where each contributor's block starts, for reduceat along the columns.
    starts = np.cumsum([0] + [len(unit) for unit in units[:-1]])
    totals = np.zeros(len(units))
    for start in range(0, len(queries), rows):
        cosines = queries[start : start + rows] @ stacked.T
        totals += np.maximum.reduceat(cosines, starts, axis=1).sum(axis=0)
    scores: FloatArray = totals / len(queries)
    return scores


def _as_matrix(data: ArrayLike, name: str, dimension: int | None) -> FloatArray:
    """Validate a non-empty, finite (rows, d) array and return it as float64."""
    try:
        matrix = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise EngineInputError(f"{name} must be numbers: {error}.") from error
    if matrix.ndim != 2:
        raise EngineInputError(f"{name} must be a 2-D array (items, d), got shape {matrix.shape}.")
    if matrix.shape[0] == 0:
        raise EngineInputError(f"{name} is empty; every set needs at least one item.")
    if dimension is not None and matrix.shape[1] != dimension:
        raise EngineInputError(
            f"{name} has {matrix.shape[1]} features per item, the generated samples {dimension}."
        )
    if not np.isfinite(matrix).all():
        raise EngineInputError(f"{name} holds NaN or infinite values.")
    return matrix


def _unit_rows(matrix: FloatArray, name: str) -> FloatArray:
    """Rows scaled to unit Euclidean norm; an all-zero row has no direction and is refused."""
    norms = np.linalg.norm(matrix, axis=1)
    zero = norms == 0.0
    if zero.any():
        raise EngineInputError(
            f"{name} row {int(np.flatnonzero(zero)[0])} is all zeros, so its cosine similarity "
            "is undefined; drop blank items first."
        )
    units: FloatArray = matrix / norms[:, None]
    return units


def _chunk_rows(chunk_size: int | None, max_elements: int, n_columns: int) -> int:
    """Generated rows per block: ``chunk_size``, or as many as fit in ``max_elements`` cells."""
    if chunk_size is None:
        if isinstance(max_elements, bool) or not isinstance(max_elements, int | np.integer):
            raise EngineInputError("max_elements must be an integer.")
        if max_elements < 1:
            raise EngineInputError(f"max_elements must be at least 1, got {max_elements}.")
        return max(1, int(max_elements) // n_columns)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer):
        raise EngineInputError("chunk_size must be an integer or None.")
    if chunk_size < 1:
        raise EngineInputError(f"chunk_size must be at least 1, got {chunk_size}.")
    return int(chunk_size)
