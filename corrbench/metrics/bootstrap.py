"""Bootstrap confidence intervals and paired comparisons of PCK, from per-pair records.

Every summary number of a keypoint run is a function of its per-pair records, so its sampling
uncertainty is estimated by resampling pairs (a percentile bootstrap): the mean over classes
resamples pairs *within* each class (stratified, as the class mean weighs classes equally), the
all-pairs mean and the pooled keypoint fraction resample all pairs.  Draws come from one seeded
generator, so an interval is the same every time for the same records and seed.  A class's own
interval resamples only that class's pairs, from a generator seeded by the seed and the class
name, so it does not depend on which other classes a run holds.

A paired comparison of two runs on the same pairs resamples the *same* pairs for both (the paired
bootstrap) and tests "no difference" by randomly swapping the two runs' records pair by pair (a
paired permutation test), the usual tests for "is A better than B" on one test set.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

RESAMPLES = 1000
LEVEL = 0.95


@dataclass(frozen=True)
class PairTable:
    """Per-pair arrays of keypoint records: class index, correct counts per alpha, keypoints."""

    classes: np.ndarray  # (P,) int
    correct: np.ndarray  # (P, A) int
    n_kps: np.ndarray  # (P,) int
    alphas: tuple[str, ...]
    class_names: tuple[str, ...]

    @classmethod
    def from_records(cls, records: Sequence[dict[str, Any]], alphas: Sequence[float]) -> "PairTable":
        keys = tuple(f"{a:g}" for a in alphas)
        names = tuple(dict.fromkeys(r["category"] for r in records))
        index = {name: i for i, name in enumerate(names)}
        return cls(classes=np.array([index[r["category"]] for r in records], dtype=np.int64),
                   correct=np.array([[r["correct"][k] for k in keys] for r in records], dtype=np.float64).reshape(
                       len(records), len(keys)),
                   n_kps=np.array([r["n_kps"] for r in records], dtype=np.float64),
                   alphas=keys, class_names=names)


def _statistics(table: PairTable, draws: np.ndarray) -> dict[str, np.ndarray]:
    """The three PCK summaries for each row of pair indices ``draws`` (B, P) -> {name: (B, A)}."""
    correct = table.correct[draws]  # (B, P, A)
    n_kps = table.n_kps[draws]  # (B, P)
    scored = n_kps > 0
    per_image = np.where(scored[..., None], correct / np.where(scored, n_kps, 1)[..., None], 0.0)
    count = scored.sum(axis=1)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        pairs = per_image.sum(axis=1) / count
        pooled = correct.sum(axis=1) / n_kps.sum(axis=1)[:, None]
    return {"pck_pairs": pairs, "pck_kpt": pooled}


def _class_means(table: PairTable, draws_by_class: list[np.ndarray]) -> np.ndarray:
    """Mean over classes of per-class per-image PCK, for each resample: (B, A)."""
    means = []
    for members in draws_by_class:
        if members is None:
            continue
        n_kps = table.n_kps[members]
        per_image = table.correct[members] / n_kps[..., None]
        means.append(per_image.mean(axis=1))
    return np.mean(means, axis=0)


def _stratified_draws(table: PairTable, rng: np.random.Generator, resamples: int) -> list[np.ndarray]:
    """Per class, (B, n_c) indices of its scored pairs drawn with replacement."""
    draws = []
    for c in range(len(table.class_names)):
        members = np.flatnonzero((table.classes == c) & (table.n_kps > 0))
        draws.append(members[rng.integers(0, len(members), (resamples, len(members)))] if len(members) else None)
    return draws


def pck_intervals(records: Sequence[dict[str, Any]], alphas: Sequence[float], *, resamples: int = RESAMPLES,
                  level: float = LEVEL, seed: int = 0) -> dict[str, list[float]]:
    """``{summary key: [low, high]}`` for ``pck@a`` (stratified), ``pck_pairs@a`` and ``pck_kpt@a``."""
    records = [r for r in records if "n_kps" in r]
    if not records:
        return {}
    table = PairTable.from_records(records, alphas)
    rng = np.random.default_rng(seed)
    tails = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    out: dict[str, list[float]] = {}
    # Resamples in blocks, so memory stays ~block x pairs x alphas whatever the benchmark's size.
    block = max(1, min(resamples, 2_000_000 // max(1, len(records) * len(table.alphas))))
    class_parts, flat_parts = [], []
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        class_parts.append(_class_means(table, _stratified_draws(table, rng, size)))
        flat_parts.append(_statistics(table, rng.integers(0, len(records), (size, len(records)))))
    class_mean = np.concatenate(class_parts)
    flat = {key: np.concatenate([part[key] for part in flat_parts]) for key in flat_parts[0]}
    for a, key in enumerate(table.alphas):
        for name, values in (("pck", class_mean), ("pck_pairs", flat["pck_pairs"]), ("pck_kpt", flat["pck_kpt"])):
            column = values[:, a]
            column = column[np.isfinite(column)]
            if len(column):
                low, high = np.percentile(column, tails)
                out[f"{name}@{key}"] = [float(low), float(high)]
    return out


def class_generator(seed: int, name: str) -> np.random.Generator:
    """The generator of one class's resamples: the run's seed and a stable hash of the class name."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode("utf-8"))])


def class_intervals(records: Sequence[dict[str, Any]], alphas: Sequence[float], *, resamples: int = RESAMPLES,
                    level: float = LEVEL, seed: int = 0) -> dict[str, dict[str, list[float]]]:
    """``{class: {"pck@a" | "pck_kpt@a": [low, high]}}``: each class's pairs resampled on their own.

    ``pck@a`` of a class is its mean per-image PCK, ``pck_kpt@a`` its pooled keypoint fraction
    (the per-class values of :func:`corrbench.metrics.pck.aggregate_pck`).
    """
    scored = [r for r in records if r.get("n_kps", 0) > 0]
    if not scored:
        return {}
    table = PairTable.from_records(scored, alphas)
    tails = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    out: dict[str, dict[str, list[float]]] = {}
    for c, name in enumerate(table.class_names):
        members = np.flatnonzero(table.classes == c)
        rng = class_generator(seed, name)
        block = max(1, min(resamples, 2_000_000 // max(1, len(members) * len(table.alphas))))
        image_parts, pooled_parts = [], []
        for start in range(0, resamples, block):  # memory ~ block x pairs x alphas, whatever the class size
            draws = members[rng.integers(0, len(members), (min(block, resamples - start), len(members)))]
            correct, n_kps = table.correct[draws], table.n_kps[draws]  # (b, n_c, A), (b, n_c)
            image_parts.append((correct / n_kps[..., None]).mean(axis=1))
            pooled_parts.append(correct.sum(axis=1) / n_kps.sum(axis=1)[:, None])
        per_image, pooled = np.concatenate(image_parts), np.concatenate(pooled_parts)
        intervals: dict[str, list[float]] = {}
        for a, key in enumerate(table.alphas):
            for prefix, values in (("pck", per_image), ("pck_kpt", pooled)):
                low, high = np.percentile(values[:, a], tails)
                intervals[f"{prefix}@{key}"] = [float(low), float(high)]
        out[name] = intervals
    return out


@dataclass
class PairedDifference:
    """``b - a`` of one summary metric on the shared pairs, its paired-bootstrap interval and p-value."""

    metric: str
    a: float
    b: float
    difference: float
    interval: tuple[float, float]
    p_value: float


def paired_comparison(records_a: Sequence[dict[str, Any]], records_b: Sequence[dict[str, Any]],
                      alphas: Sequence[float], *, resamples: int = RESAMPLES, permutations: int = 2000,
                      level: float = LEVEL, seed: int = 0, classes: Sequence[str] | None = None
                      ) -> list[PairedDifference]:
    """Per summary metric (``pck@a`` class mean, ``pck_pairs@a``), B minus A on the pairs both scored."""
    by_id_b = {r["pair_id"]: r for r in records_b}
    shared = [(r, by_id_b[r["pair_id"]]) for r in records_a if r["pair_id"] in by_id_b and r.get("n_kps", 0) > 0]
    if classes is not None:
        shared = [(x, y) for x, y in shared if x["category"] in classes]
    if not shared:
        return []
    table_a = PairTable.from_records([x for x, _ in shared], alphas)
    table_b = PairTable.from_records([y for _, y in shared], alphas)
    rng = np.random.default_rng(seed)
    n = len(shared)
    tails = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    per_image_a = table_a.correct / table_a.n_kps[:, None]
    per_image_b = table_b.correct / table_b.n_kps[:, None]

    strata = [np.flatnonzero(table_a.classes == c) for c in np.unique(table_a.classes)]

    def class_mean(values: np.ndarray) -> np.ndarray:
        return np.mean([values[members].mean(axis=0) for members in strata], axis=0)

    results = []
    boot_class = np.zeros((resamples, len(table_a.alphas)))
    boot_pairs = np.zeros((resamples, len(table_a.alphas)))
    diff = per_image_b - per_image_a  # (n, A)
    for k in range(resamples):
        boot_class[k] = np.mean([diff[members[rng.integers(0, len(members), len(members))]].mean(axis=0)
                                 for members in strata], axis=0)
        boot_pairs[k] = diff[rng.integers(0, n, n)].mean(axis=0)
    # Paired permutation test: under "no difference" each pair's two records are exchangeable.
    flips = rng.choice([-1.0, 1.0], size=(permutations, n))
    observed_class = class_mean(diff)
    observed_pairs = diff.mean(axis=0)
    perm_pairs = flips @ diff / n  # (permutations, A)
    perm_class = np.mean([(flips[:, members] @ diff[members]) / len(members) for members in strata], axis=0)
    for a, key in enumerate(table_a.alphas):
        for name, observed, boot, perm, base_a, base_b in (
            ("pck", observed_class[a], boot_class[:, a], perm_class[:, a],
             class_mean(per_image_a)[a], class_mean(per_image_b)[a]),
            ("pck_pairs", observed_pairs[a], boot_pairs[:, a], perm_pairs[:, a],
             per_image_a[:, a].mean(), per_image_b[:, a].mean()),
        ):
            low, high = np.percentile(boot, tails)
            extreme = np.count_nonzero(np.abs(perm) >= abs(observed) - 1e-12)
            results.append(PairedDifference(f"{name}@{key}", float(base_a), float(base_b), float(observed),
                                            (float(low), float(high)), float((extreme + 1) / (permutations + 1))))
    return results
