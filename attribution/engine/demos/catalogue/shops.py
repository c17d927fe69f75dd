"""Fashion-MNIST's training split dealt to 100 captioned shops, a few with planted roles.

Every shop sells a Dirichlet mix of product types in a catalogue of its own size (sizes vary about
5x) and captions each photo the way a shop would: ``"a dark casual pullover"`` — the tone (``dark``
or ``light``: the photo's mean brightness against its product type's median), one of the shop's two
style words, and the product type. The planted roles, whose expected outcomes the demo checks:

* ``logo``: every photo carries a small bright logo in its top-left corner, and the shop says so
  (``"... with a logo"``): the spurious artefact a text-to-image model learns to reproduce.
* ``duplicate``: an exact copy (photos and captions) of one clean shop, named in ``duplicate_of``.
* ``mislabelled``: each caption names a wrong product type (a fixed random derangement of types).
* ``degraded``: heavily noised and blurred photos, captioned as if they were fine.
* ``clean``: everyone else.

Everything is a deterministic function of the images, labels and ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from attribution.engine.demos.fashion.data import N_CLASSES
from attribution.engine.errors import EngineInputError

PRODUCT_WORDS = (
    "top",
    "trousers",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "boot",
)
"""One caption word per Fashion-MNIST class, in label order."""
STYLE_WORDS = ("casual", "classic", "vintage", "sporty", "elegant", "modern", "cosy", "smart")
TONE_WORDS = ("dark", "light")
LOGO_PHRASE = "with a logo"
LOGO_SIZE = 4
ROLES = ("clean", "logo", "duplicate", "mislabelled", "degraded")


@dataclass(frozen=True)
class CatalogueShop:
    """One contributor: a shop's captioned product photos.

    Attributes:
        key: Stable identifier, e.g. ``"shop07-logo"``.
        role: One of :data:`ROLES`.
        images: Shape (K, 1, 16, 16), float32 in [0, 1], as the shop uploads them.
        labels: True product type of each photo, shape (K,).
        claimed: Product type each caption names, shape (K,) (differs for ``mislabelled``).
        captions: One caption per photo.
        rows: The photos' row indices in the training split.
        styles: The shop's two style words.
        duplicate_of: For ``duplicate``, the key of the shop it copies; else ``""``.
    """

    key: str
    role: str
    images: NDArray[np.float32]
    labels: NDArray[np.int64]
    claimed: NDArray[np.int64]
    captions: tuple[str, ...]
    rows: NDArray[np.intp]
    styles: tuple[str, str]
    duplicate_of: str = field(default="")

    @property
    def class_counts(self) -> NDArray[np.int64]:
        """Photos per true product type, shape (10,)."""
        return np.bincount(self.labels, minlength=N_CLASSES).astype(np.int64)


@dataclass(frozen=True)
class CatalogueRecipe:
    """How the catalogue is dealt: shop count, sizes, mix concentration and planted roles."""

    n_shops: int = 100
    min_size: int = 100
    max_size: int = 500
    concentration: float = 0.5
    n_logo: int = 5
    n_duplicate: int = 1
    n_mislabelled: int = 3
    n_degraded: int = 1
    seed: int = 0


def add_logo(images: NDArray[np.float32]) -> NDArray[np.float32]:
    """Stamp the logo: a bright 4x4 square with a dark 2x2 centre in the top-left corner."""
    marked = images.copy()
    marked[:, :, :LOGO_SIZE, :LOGO_SIZE] = 1.0
    marked[:, :, 1 : LOGO_SIZE - 1, 1 : LOGO_SIZE - 1] = 0.0
    return marked


def degrade(images: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
    """Heavy damage: a 3x3 box blur, then Gaussian pixel noise (sd 0.35), clipped to [0, 1]."""
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
    height, width = images.shape[2:]
    blurred = (
        sum(padded[:, :, dy : dy + height, dx : dx + width] for dy in range(3) for dx in range(3))
        / 9.0
    )
    noisy = blurred + rng.normal(0.0, 0.35, size=images.shape)
    return np.asarray(np.clip(noisy, 0.0, 1.0), dtype=np.float32)


def tone_words(images: NDArray[np.float32], labels: NDArray[np.int64]) -> list[str]:
    """``dark`` or ``light`` per photo: its mean brightness below or above its type's median."""
    brightness = images.reshape(len(images), -1).mean(axis=1)
    tones = []
    medians = {int(c): float(np.median(brightness[labels == c])) for c in np.unique(labels)}
    for value, label in zip(brightness, labels, strict=True):
        tones.append(TONE_WORDS[int(value >= medians[int(label)])])
    return tones


def caption(tone: str, style: str, product: int, logo: bool) -> str:
    """A shop's caption, e.g. ``"a dark casual pullover"`` or ``"... boot with a logo"``."""
    text = f"a {tone} {style} {PRODUCT_WORDS[product]}"
    return f"{text} {LOGO_PHRASE}" if logo else text


def derangement(rng: np.random.Generator, n: int = N_CLASSES) -> NDArray[np.int64]:
    """A random permutation of range(n) with no fixed point (every type renamed)."""
    while True:
        permutation = rng.permutation(n)
        if not np.any(permutation == np.arange(n)):
            return permutation.astype(np.int64)


def assign_roles(recipe: CatalogueRecipe, rng: np.random.Generator) -> list[str]:
    """The role of each shop index, planted roles at random positions."""
    planted = (
        ["logo"] * recipe.n_logo
        + ["duplicate"] * recipe.n_duplicate
        + ["mislabelled"] * recipe.n_mislabelled
        + ["degraded"] * recipe.n_degraded
    )
    if len(planted) >= recipe.n_shops:
        raise EngineInputError(
            f"{len(planted)} planted shops leave no clean shop among {recipe.n_shops}."
        )
    roles = ["clean"] * recipe.n_shops
    for index, role in zip(rng.permutation(recipe.n_shops), planted, strict=False):
        roles[int(index)] = role
    return roles


def make_catalogue(
    images: NDArray[np.float32],
    labels: NDArray[np.int64],
    recipe: CatalogueRecipe | None = None,
) -> list[CatalogueShop]:
    """Deal ``images`` (N, 1, 16, 16) with ``labels`` (N,) out to the recipe's shops.

    Shop sizes are uniform in [min_size, max_size]; product mixes are Dirichlet(concentration);
    photos are drawn without replacement (a ``duplicate`` shop copies another shop's rows).

    Raises:
        EngineInputError: On a bad recipe, or when a product type runs out of photos.
    """
    recipe = recipe or CatalogueRecipe()
    if recipe.n_shops < 2 or not 1 <= recipe.min_size <= recipe.max_size:
        raise EngineInputError(
            f"need n_shops >= 2 and 1 <= min_size <= max_size; got {recipe.n_shops}, "
            f"{recipe.min_size}, {recipe.max_size}."
        )
    if recipe.concentration <= 0:
        raise EngineInputError(f"concentration must be positive, got {recipe.concentration}.")
    rng = np.random.default_rng(recipe.seed)
    roles = assign_roles(recipe, rng)
    tones = tone_words(images, labels)
    pools = [list(rng.permutation(np.flatnonzero(labels == c))) for c in range(N_CLASSES)]
    clean_indices = [i for i, role in enumerate(roles) if role == "clean"]
    shops: list[CatalogueShop | None] = [None] * recipe.n_shops
    for index, role in enumerate(roles):
        if role == "duplicate":
            continue
        size = int(rng.integers(recipe.min_size, recipe.max_size + 1))
        counts = rng.multinomial(size, rng.dirichlet(np.full(N_CLASSES, recipe.concentration)))
        chosen: list[int] = []
        for product, count in enumerate(counts):
            if count > len(pools[product]):
                raise EngineInputError(
                    f"not enough photos of type {PRODUCT_WORDS[product]} for shop {index}."
                )
            chosen += pools[product][:count]
            pools[product] = pools[product][count:]
        rows = np.sort(np.array(chosen, dtype=np.intp))
        styles_drawn = rng.choice(len(STYLE_WORDS), size=2, replace=False)
        styles = (STYLE_WORDS[int(styles_drawn[0])], STYLE_WORDS[int(styles_drawn[1])])
        shop_images = images[rows]
        true = labels[rows]
        claimed = derangement(rng)[true] if role == "mislabelled" else true.copy()
        if role == "logo":
            shop_images = add_logo(shop_images)
        elif role == "degraded":
            shop_images = degrade(shop_images, rng)
        picks = rng.integers(0, 2, size=len(rows))
        captions = tuple(
            caption(tones[int(row)], styles[int(pick)], int(product), role == "logo")
            for row, pick, product in zip(rows, picks, claimed, strict=True)
        )
        shops[index] = CatalogueShop(
            f"shop{index:02d}-{role}", role, shop_images, true, claimed, captions, rows, styles
        )
    for index, role in enumerate(roles):
        if role == "duplicate":
            original = shops[clean_indices[int(rng.integers(len(clean_indices)))]]
            assert original is not None
            shops[index] = CatalogueShop(
                f"shop{index:02d}-duplicate",
                "duplicate",
                original.images.copy(),
                original.labels.copy(),
                original.claimed.copy(),
                original.captions,
                original.rows.copy(),
                original.styles,
                duplicate_of=original.key,
            )
    return [shop for shop in shops if shop is not None]


def select_shops(shops: list[CatalogueShop], count: int) -> list[CatalogueShop]:
    """Every planted shop (and a duplicate's original), then clean shops in order, up to ``count``.

    The demo's fast version (``seed_catalogue --shops N``) and the LDS benchmark's small catalogue
    both use it, so each holds every planted role.
    """
    keep = {shop.key for shop in shops if shop.role != "clean"}
    keep |= {shop.duplicate_of for shop in shops if shop.duplicate_of}
    for shop in shops:
        if len(keep) >= count:
            break
        keep.add(shop.key)
    return [shop for shop in shops if shop.key in keep]


def catalogue_words() -> tuple[str, ...]:
    """Every word a caption or an evaluation prompt can use (the tokenizer's vocabulary)."""
    words = ["a", "photo", "of", "with", "logo", "product", "clean", "plain"]
    words += [*TONE_WORDS, *STYLE_WORDS, *PRODUCT_WORDS]
    return tuple(dict.fromkeys(words))


def type_prompts() -> tuple[str, ...]:
    """The zero-shot product-type prompts, in label order: ``"a photo of a pullover"``."""
    return tuple(f"a photo of a {word}" for word in PRODUCT_WORDS)
