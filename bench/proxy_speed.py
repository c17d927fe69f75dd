"""Cost of a coalition utility: the reference protocol against the SurrogateSHAP proxy game.

SurrogateSHAP retrains no model: every coalition's utility comes from per-contributor sample banks,
reduced once to sufficient statistics. This script measures what that buys on the embedded digits
model with its 20 planted contributors, Inception Score and negative FID (digits-classifier
features, reference statistics from the real digits):

1. **Cost per coalition.** The reference protocol generates N fresh images for one coalition S
   (each image's contributor drawn from π_i(S) ∝ |C_i|, the model conditioned on it), featurizes
   them and computes the metric on that pool. Ours builds the banks and statistics once (timed
   apart) and evaluates many random coalitions through ``ProxyGame``. It prints the ratio
   reference/ours per metric at N = 1,000 (measured, or extrapolated linearly from a smaller N).
2. **Round overhead.** Whole 20-contributor rounds with ``run_round`` and no store (so generation
   really runs): time spent generating banks against everything else, for SurrogateShapley with
   ``n_bootstrap=20``, with ``n_bootstrap=0`` and with ``exact=True``.

    PYTHONPATH=. .venv/bin/python bench/proxy_speed.py                    # full run (minutes)
    PYTHONPATH=. .venv/bin/python bench/proxy_speed.py --quick            # smoke run
    PYTHONPATH=. .venv/bin/python bench/proxy_speed.py --reference-n 250  # extrapolate to 1,000
"""

from __future__ import annotations

import os

# One BLAS/OpenMP thread: must be set before numpy loads its BLAS (threadpoolctl enforces it too).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from attribution.engine import make_paper_games
from attribution.engine.demos.digits.data import (
    PlantedContributor,
    load_digit_images,
    make_digits_marketplace,
)
from attribution.engine.demos.digits.demo import digits_metrics
from attribution.engine.demos.digits.training import SHIPPED_WEIGHTS, load_digits_models
from attribution.engine.estimators import SurrogateShapley
from attribution.engine.features import Features, Featurizer
from attribution.engine.games.proxy import EmptyValue, Metric, ProxyGame
from attribution.engine.generation import GenerationBackend, contributor_seed
from attribution.engine.metrics import BankStatistics, compute_bank_statistics
from attribution.engine.run import (
    ContributorInput,
    build_statistics,
    featurize_banks,
    generate_banks,
    run_round,
)
from bench.machine import print_machine

FloatArray = NDArray[np.float64]

QUALITY_METRICS = ("inception_score", "neg_fid")
TARGET_N = 1_000  # the reference pool size the ratio is quoted at
TARGET_RATIO = 1_000.0
TARGET_SHARE = 0.10  # at most this share of a round outside bank generation
ROUND_SEED = 0  # seeds the banks (as a round with seed 0 would)
REFERENCE_SEED = 1_000  # a different round seed: the reference pool's images are fresh
REPEATS = 3  # batched proxy timings: median of this many runs


@dataclass
class ReferenceRun:
    """One reference-protocol evaluation of coalition S from N fresh images."""

    n_images: int
    generate_s: float
    featurize_s: float
    metric_s: dict[str, float]
    values: dict[str, float]
    engine_values: dict[str, float]  # the engine's metric on the same pool, as a cross-check

    @property
    def seconds_per_image(self) -> float:
        return (self.generate_s + self.featurize_s) / self.n_images

    def seconds(self, metric: str, n_images: int) -> float:
        """Cost of one coalition at ``n_images`` (linear in the pool size, plus the metric)."""
        return self.seconds_per_image * n_images + self.metric_s[metric]


@dataclass
class ProxyRun:
    """ProxyGame timings of one metric."""

    n_coalitions: int
    batched_s: float  # median wall time of constructing the game + one call on all coalitions
    n_single: int
    single_s: float  # wall time of n_single calls with one coalition each
    value: float  # v(S) of the reference coalition

    @property
    def batched_us(self) -> float:
        return 1e6 * self.batched_s / self.n_coalitions

    @property
    def single_us(self) -> float:
        return 1e6 * self.single_s / self.n_single


def inception_score(probabilities: FloatArray) -> float:
    """IS = exp(mean_x KL(p(y|x) ‖ p̄)) computed directly on a pool, as the standard code does."""
    marginal = probabilities.mean(axis=0)
    log_p = np.log(np.clip(probabilities, 1e-12, None))
    log_marginal = np.log(np.clip(marginal, 1e-12, None))
    return float(np.exp((probabilities * (log_p - log_marginal)).sum(axis=1).mean()))


def negative_frechet_distance(
    embeddings: FloatArray, reference_mean: FloatArray, reference_covariance: FloatArray
) -> float:
    """−FD of a pool to the reference with scipy's sqrtm (the usual FID code's formula).

    The pool covariance divides by N, as the engine's reference and pool covariances do.
    """
    mean = embeddings.mean(axis=0)
    covariance = np.cov(embeddings, rowvar=False, bias=True)
    with warnings.catch_warnings():
        # Dead ReLU units make both covariances singular; sqrtm then warns but stays accurate
        # (the engine's eigenvalue formula on the same pool is printed beside it as a check).
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(covariance @ reference_covariance)
    trace_root = float(np.trace(np.real(root)))
    distance = (
        float(((mean - reference_mean) ** 2).sum())
        + float(np.trace(covariance))
        + float(np.trace(reference_covariance))
        - 2.0 * trace_root
    )
    return -distance


def run_reference(
    contributors: list[PlantedContributor],
    members: NDArray[np.intp],
    backend: GenerationBackend[Any],
    classifier: Featurizer,
    metrics: dict[str, Metric],
    reference_embeddings: FloatArray,
    n_images: int,
    seed: int,
) -> ReferenceRun:
    """Generate N fresh images for coalition ``members``, featurize them, score the pool."""
    sizes = np.array([len(contributors[i].images) for i in members], dtype=np.float64)
    rng = np.random.default_rng(seed)
    drawn = rng.choice(len(members), size=n_images, p=sizes / sizes.sum())
    counts = np.bincount(drawn, minlength=len(members))
    start = time.perf_counter()
    parts = []
    for position, count in enumerate(counts):
        if count == 0:
            continue
        index = int(members[position])
        # The contributor's records all carry its label, so conditioning on [index] is the same
        # distribution as conditioning on its records.
        contributor_key = contributors[index].key
        parts.append(backend.generate([index], int(count), contributor_seed(seed, contributor_key)))
    images = np.concatenate(parts)
    generate_s = time.perf_counter() - start
    start = time.perf_counter()
    features = classifier(images)
    featurize_s = time.perf_counter() - start
    assert features.probabilities is not None  # the digits classifier has a head
    reference_mean = reference_embeddings.mean(axis=0)
    reference_covariance = np.cov(reference_embeddings, rowvar=False, bias=True)
    metric_s, values = {}, {}
    start = time.perf_counter()
    values["inception_score"] = inception_score(features.probabilities)
    metric_s["inception_score"] = time.perf_counter() - start
    start = time.perf_counter()
    values["neg_fid"] = negative_frechet_distance(
        features.embeddings, reference_mean, reference_covariance
    )
    metric_s["neg_fid"] = time.perf_counter() - start
    # The engine's formulas on the same pool, treated as a single bank.
    pool = compute_bank_statistics([features.probabilities], [features.embeddings])
    engine_values = {
        name: float(metrics[name](pool, np.ones((1, 1)))[0]) for name in QUALITY_METRICS
    }
    return ReferenceRun(n_images, generate_s, featurize_s, metric_s, values, engine_values)


def run_proxy(
    make_metric: Callable[[], Metric],
    empty_value: EmptyValue,
    bank_statistics: BankStatistics,
    sizes: list[int],
    masks: NDArray[np.bool_],
    n_single: int,
    reference_mask: NDArray[np.bool_],
) -> ProxyRun:
    """Time ProxyGame on ``masks`` (fresh metric and game each repeat, so caches are paid for)."""
    runs = []
    for _ in range(REPEATS):
        metric = make_metric()
        start = time.perf_counter()
        game = ProxyGame(bank_statistics, sizes, metric, empty_value)
        game(masks)
        runs.append(time.perf_counter() - start)
    game = ProxyGame(bank_statistics, sizes, make_metric(), empty_value)
    game(masks[:1])  # pay the metric's one-off bank products outside the loop
    start = time.perf_counter()
    for row in masks[:n_single]:
        game(row[None, :])
    single_s = time.perf_counter() - start
    value = float(game(reference_mask[None, :])[0])
    return ProxyRun(masks.shape[0], statistics.median(runs), n_single, single_s, value)


@dataclass
class RoundRun:
    """Timings of one ``run_round``."""

    label: str
    total_s: float
    timings: dict[str, float]
    n_evaluations: int

    @property
    def generate_s(self) -> float:
        return self.timings["generate"]

    @property
    def outside_share(self) -> float:
        return (self.total_s - self.generate_s) / self.total_s


def run_rounds(
    inputs: list[ContributorInput],
    backend: GenerationBackend[Any],
    classifier: Featurizer,
    metric_name: str,
    reference_features: Features,
    n_samples: int,
) -> list[RoundRun]:
    """Whole rounds, no store: SurrogateShapley(n_bootstrap=20), (n_bootstrap=0), exact=True."""
    variants: list[tuple[str, int, bool]] = [
        ("n_bootstrap=20", 20, False),
        ("n_bootstrap=0", 0, False),
        ("n_bootstrap=20, exact=True", 20, True),
    ]
    rounds = []
    for label, n_bootstrap, exact in variants:
        metrics, empty = digits_metrics(reference_features)  # fresh metric objects, no caches

        def make_estimator(n_bootstrap: int = n_bootstrap) -> SurrogateShapley:
            return SurrogateShapley(n_bootstrap=n_bootstrap)

        start = time.perf_counter()
        result = run_round(
            inputs,
            backend,
            classifier,
            {metric_name: metrics[metric_name]},
            n_samples=n_samples,
            seed=ROUND_SEED,
            empty_values={metric_name: empty[metric_name]},
            estimator=make_estimator,
            exact=exact,
        )
        total_s = time.perf_counter() - start
        evaluations = result.valuations[metric_name].n_evaluations
        rounds.append(RoundRun(label, total_s, result.timings, evaluations))
    return rounds


def print_reference(run: ReferenceRun, members: list[str], n_contributors: int) -> None:
    print(
        f"\n=== 1. cost per coalition: reference protocol vs ProxyGame, {n_contributors} "
        "contributors ==="
    )
    print(f"coalition S (random half, π_i ∝ |C_i|): {', '.join(members)}")
    print(
        f"\nreference protocol on S, N = {run.n_images:,} fresh images "
        f"(measured{'' if run.n_images == TARGET_N else f'; N = {TARGET_N:,} extrapolated'}):"
    )
    print(f"  {'step':<44}{'seconds':>10}{'ms/image':>10}")
    rows = [
        (f"generate {run.n_images:,} images (grouped by contributor)", run.generate_s),
        ("featurize them (digits classifier)", run.featurize_s),
    ]
    for label, seconds in rows:
        print(f"  {label:<44}{seconds:>10.3f}{1e3 * seconds / run.n_images:>10.2f}")
    print(f"  {'IS on the pool (direct KL form)':<44}{run.metric_s['inception_score']:>10.4f}")
    print(f"  {'neg FID on the pool (scipy sqrtm)':<44}{run.metric_s['neg_fid']:>10.4f}")
    print(
        f"  rate: {1.0 / run.seconds_per_image:.1f} images/s generated and featurized "
        f"({1e3 * run.seconds_per_image:.2f} ms/image)"
    )


def print_build(n_samples: int, n_contributors: int, generate_s: float, featurize_s: float) -> None:
    n_images = n_samples * n_contributors
    print(
        f"\nours, once per round: banks of {n_samples} × {n_contributors} = {n_images:,} images: "
        f"generate {generate_s:.1f} s ({n_images / generate_s:.1f} images/s), featurize + "
        f"statistics {featurize_s:.3f} s"
    )


def print_ratios(reference: ReferenceRun, proxies: dict[str, ProxyRun]) -> None:
    how = "measured" if reference.n_images == TARGET_N else "extrapolated"
    any_proxy = next(iter(proxies.values()))
    print(
        f"\nProxyGame: {any_proxy.n_coalitions:,} random coalitions in one call (game built fresh, "
        f"median of {REPEATS}), and {any_proxy.n_single:,} calls of one coalition each"
    )
    header = (
        f"  {'metric':<17}{'reference s/coal.':>22}{'ours µs/coal.':>15}{'ours µs/coal.':>15}"
        f"{'ratio':>15}{'ratio':>15}"
    )
    print(header)
    print(
        f"  {'':<17}{f'N={TARGET_N:,}, {how}':>22}{'batched':>15}{'one per call':>15}"
        f"{'batched':>15}{'one per call':>15}"
    )
    print("  " + "-" * (len(header) - 2))
    for name, proxy in proxies.items():
        seconds = reference.seconds(name, TARGET_N)
        batched = seconds / (proxy.batched_s / proxy.n_coalitions)
        single = seconds / (proxy.single_s / proxy.n_single)
        print(
            f"  {name:<17}{seconds:>22.2f}{proxy.batched_us:>15.2f}{proxy.single_us:>15.1f}"
            f"{f'{batched:,.0f}×':>15}{f'{single:,.0f}×':>15}"
        )
    if reference.n_images != TARGET_N:
        print(f"  (at the measured N = {reference.n_images:,}:", end="")
        for name, proxy in proxies.items():
            ratio = reference.seconds(name, reference.n_images) / (
                proxy.batched_s / proxy.n_coalitions
            )
            print(f" {name} {ratio:,.0f}×", end="")
        print(" batched)")
    worst = min(
        reference.seconds(name, TARGET_N) / (proxy.batched_s / proxy.n_coalitions)
        for name, proxy in proxies.items()
    )
    verdict = "met" if worst >= TARGET_RATIO else "NOT met"
    print(f"  target ≥ {TARGET_RATIO:,.0f}× at N = {TARGET_N:,} (batched): {verdict}")
    print(
        f"\nv(S) of the same coalition ({reference.n_images:,}-image fresh pool vs bank mixture):"
    )
    for name, proxy in proxies.items():
        print(
            f"  {name:<17} reference {reference.values[name]:10.4f}   "
            f"engine formula on that pool {reference.engine_values[name]:10.4f}   "
            f"ProxyGame {proxy.value:10.4f}"
        )
    print(
        "  (a finite pool's FD is biased upward by roughly O(d/N), so the two neg FID values "
        "agree only as both pools grow)"
    )


def print_rounds(rounds: list[RoundRun], metric: str, n_samples: int, n_players: int) -> None:
    print(
        f"\n=== 2. round overhead: run_round, {n_players} contributors × {n_samples} samples, "
        f"metric {metric}, no store ==="
    )
    print(
        "estimator: SurrogateShapley defaults (budget 256, kernel sampler, depth 'auto' by 5-fold "
        "CV), n_bootstrap as listed; exact=True adds ExactShapley over all 2^n coalitions"
    )
    header = (
        f"  {'variant':<28}{'total s':>9}{'generate':>10}{'featurize':>11}{'value':>9}"
        f"{'other':>8}{'evals':>7}{'outside gen.':>14}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for run in rounds:
        value_s = run.timings[f"value {metric}"]
        other = run.total_s - run.generate_s - run.timings["featurize"] - value_s
        verdict = "ok" if run.outside_share <= TARGET_SHARE else "over"
        print(
            f"  {run.label:<28}{run.total_s:>9.1f}{run.generate_s:>10.1f}"
            f"{run.timings['featurize']:>11.2f}{value_s:>9.2f}{other:>8.2f}{run.n_evaluations:>7}"
            f"{100 * run.outside_share:>9.1f}% {verdict:>4}"
        )
    print(
        f"  (outside gen. = (total − generate) / total; target ≤ {100 * TARGET_SHARE:.0f}%; "
        "'evals' = the surrogate's utility evaluations)"
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: N=64 reference images, 2,000 coalitions, 16 samples per contributor",
    )
    parser.add_argument("--samples", type=int, help="bank size per contributor (default 64)")
    parser.add_argument(
        "--reference-n",
        type=int,
        help=f"fresh images in the reference pool (default {TARGET_N:,}; smaller N is "
        f"extrapolated linearly to {TARGET_N:,})",
    )
    parser.add_argument(
        "--coalitions", type=int, help="random coalitions through ProxyGame (default 10,000)"
    )
    parser.add_argument(
        "--round-metric",
        choices=QUALITY_METRICS,
        default="neg_fid",
        help="the metric of the run_round section",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the coalitions")
    parser.add_argument("--device", default="cpu", help="torch device for the model (cpu, cuda)")
    args = parser.parse_args(argv)
    if args.samples is None:
        args.samples = 16 if args.quick else 64
    if args.reference_n is None:
        args.reference_n = 64 if args.quick else TARGET_N
    if args.coalitions is None:
        args.coalitions = 2_000 if args.quick else 10_000
    for name in ("samples", "reference_n", "coalitions"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: list[str]) -> None:
    import torch

    torch.set_num_threads(1)
    args = parse_args(argv)
    started = time.perf_counter()
    print_machine(
        "Coalition cost: reference protocol vs the SurrogateSHAP proxy game (digits demo)",
        ("numpy", "scipy", "torch", "diffusers", "catboost", "shap"),
        f"torch.get_num_threads()={torch.get_num_threads()}; CatBoost thread_count=1; "
        f"device {args.device}",
    )
    start = time.perf_counter()
    backend, classifier, record = load_digits_models(SHIPPED_WEIGHTS, args.device)
    contributors = make_digits_marketplace(record["recipe"]["data_seed"])
    real_images, _ = load_digit_images()
    reference_features = classifier(real_images)
    print(
        f"models: {SHIPPED_WEIGHTS.name}/ (DDIM {backend.n_steps} steps, guidance "
        f"{backend.guidance_scale}, batch {backend.batch_size}), loaded in "
        f"{time.perf_counter() - start:.1f} s; reference statistics from {len(real_images):,} "
        "real digits"
    )
    # Untimed warm-ups: the first forward passes, and CatBoost/shap imports.
    backend.generate([0], 2, seed=0)
    SurrogateShapley(budget=16, cv_folds=0).fit(make_paper_games(6, 0, seed=0)["linear"])

    inputs = [
        ContributorInput(c.key, [index] * len(c.images)) for index, c in enumerate(contributors)
    ]
    sizes = [c.size for c in inputs]
    n_players = len(inputs)

    # Ours: banks and statistics, once per round.
    start = time.perf_counter()
    banks, bank_inputs = generate_banks(inputs, backend, n_samples=args.samples, seed=ROUND_SEED)
    bank_generate_s = time.perf_counter() - start
    start = time.perf_counter()
    bank_features = featurize_banks(banks, bank_inputs, classifier)
    bank_statistics = build_statistics(banks, bank_features)
    bank_featurize_s = time.perf_counter() - start

    rng = np.random.default_rng(args.seed)
    members = np.sort(rng.choice(n_players, size=n_players // 2, replace=False))
    reference_mask = np.zeros(n_players, dtype=np.bool_)
    reference_mask[members] = True
    metrics, empty = digits_metrics(reference_features)
    reference = run_reference(
        contributors,
        members,
        backend,
        classifier,
        metrics,
        reference_features.embeddings,
        args.reference_n,
        REFERENCE_SEED,
    )
    print_reference(reference, [contributors[i].key for i in members], n_players)
    print_build(args.samples, n_players, bank_generate_s, bank_featurize_s)

    masks = rng.random((args.coalitions, n_players)) < 0.5
    n_single = min(args.coalitions, 200 if args.quick else 1_000)
    proxies = {}
    for name in QUALITY_METRICS:

        def make_metric(name: str = name) -> Metric:
            return digits_metrics(reference_features)[0][name]

        proxies[name] = run_proxy(
            make_metric, empty[name], bank_statistics, sizes, masks, n_single, reference_mask
        )
    print_ratios(reference, proxies)

    rounds = run_rounds(
        inputs, backend, classifier, args.round_metric, reference_features, args.samples
    )
    print_rounds(rounds, args.round_metric, args.samples, n_players)
    print(f"\ntotal wall time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    with threadpool_limits(limits=1):
        main(sys.argv[1:])
