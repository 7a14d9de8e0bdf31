"""PCK (percentage of correct keypoints) as a metric object plus a functional twin.

The metric keeps one record per pair; every aggregate (per-image mean, pooled over keypoints,
per class, mean over classes, difficulty buckets) is computed from those records, so resumed
and distributed runs only need to gather records.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Literal, Sequence

import numpy as np

from corrbench.api import Pair
from corrbench.errors import UsageError
from corrbench.eval.protocols import Protocol

Comparison = Literal["le", "lt"]


def alpha_key(prefix: str, alpha: float) -> str:
    return f"{prefix}@{alpha:g}"


def keypoint_errors(predicted: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Euclidean error per keypoint; NaN/inf predictions give +inf (always wrong)."""
    predicted = np.asarray(predicted, dtype=np.float64).reshape(-1, 2)
    reference = np.asarray(reference, dtype=np.float64).reshape(-1, 2)
    errors = np.linalg.norm(predicted - reference, axis=1)
    return np.where(np.isfinite(errors), errors, np.inf)


def mean_normalised_error(predicted: np.ndarray, reference: np.ndarray, length: float) -> float | None:
    """Mean of error / L over the keypoints with a finite prediction (None when there is none).

    Ranks pairs of equal PCK by how far off they are (``corrbench show --worst``); NaN/inf
    predictions are left out here and counted by ``n_nonfinite`` instead.
    """
    errors = keypoint_errors(predicted, reference)
    finite = errors[np.isfinite(errors)]
    if not len(finite) or not float(length) > 0:
        return None
    return float(finite.mean() / float(length))


def keypoint_correct(
    predicted: np.ndarray,
    reference: np.ndarray,
    length: float,
    alphas: Sequence[float],
    comparison: Comparison = "le",
) -> np.ndarray:
    """(N, len(alphas)) bool: keypoint i is within alpha * length of its reference."""
    errors = keypoint_errors(predicted, reference)[:, None]
    limits = np.asarray(alphas, dtype=np.float64)[None, :] * float(length)
    return errors <= limits if comparison == "le" else errors < limits


def pck(
    predicted: np.ndarray,
    reference: np.ndarray,
    length: float,
    alpha: float = 0.1,
    comparison: Comparison = "le",
    visible: np.ndarray | None = None,
) -> float:
    """PCK of one pair (fraction of visible keypoints within alpha * length); NaN if none visible."""
    predicted = np.asarray(predicted, dtype=np.float64).reshape(-1, 2)
    reference = np.asarray(reference, dtype=np.float64).reshape(-1, 2)
    if visible is not None:
        predicted, reference = predicted[visible], reference[visible]
    if len(reference) == 0:
        return float("nan")
    return float(keypoint_correct(predicted, reference, length, [alpha], comparison).mean())


def threshold_length(pair: Pair, protocol: Protocol) -> float:
    """Reference length L of PCK@alpha for ``pair`` (already in the protocol's frame)."""
    side = "src" if protocol.threshold_side == "source" else "trg"
    if protocol.threshold == "image":
        height, width = pair.image(side).shape[:2]
        return float(max(height, width))
    if protocol.threshold == "frame":
        return float(protocol.frame_size or max(pair.image(side).shape[:2]))
    if protocol.threshold == "bbox":
        box = pair.bbox(side)
        if box is None:
            raise UsageError(
                f"protocol '{protocol.name}' needs bounding boxes but pair {pair.pair_id} has none; "
                "choose an image-size protocol"
            )
        x1, y1, x2, y2 = np.asarray(box, dtype=np.float64)
        return float(max(x2 - x1, y2 - y1))
    if protocol.threshold == "kps_extent":
        points = pair.kps(side)[pair.kps_visible]
        if len(points) == 0:
            return float("nan")
        if protocol.extent_pad_bug:
            # DHPF/CATs compute the extent over -1 padded columns: min becomes -1.
            return float(max(points[:, 0].max() + 1, points[:, 1].max() + 1))
        return float(max(np.ptp(points[:, 0]), np.ptp(points[:, 1])))
    raise UsageError(f"unknown threshold reference '{protocol.threshold}'")


class PCKMetric:
    """Accumulates per-pair PCK records; ``compute()`` returns every aggregate.

    Per-image PCK is the mean over a pair's visible keypoints; pairs without visible keypoints
    are counted but excluded from per-image means.
    """

    def __init__(
        self,
        alphas: Sequence[float] = (0.05, 0.1, 0.15),
        comparison: Comparison = "le",
        bucket_alpha: float = 0.1,
        buckets: Sequence[str] = (),
    ) -> None:
        self.alphas = tuple(float(a) for a in alphas)
        self.comparison = comparison
        self.bucket_alpha = float(bucket_alpha)
        self.buckets = tuple(buckets)
        self.records: list[dict[str, Any]] = []

    @classmethod
    def from_protocol(cls, protocol: Protocol) -> "PCKMetric":
        return cls(protocol.alphas, protocol.comparison, protocol.bucket_alpha, protocol.buckets)

    def make_record(
        self,
        predicted: np.ndarray,
        reference: np.ndarray,
        length: float,
        category: str,
        pair_id: str = "",
        visible: np.ndarray | None = None,
        meta: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        predicted = np.asarray(predicted, dtype=np.float64).reshape(-1, 2)
        reference = np.asarray(reference, dtype=np.float64).reshape(-1, 2)
        if visible is not None:
            visible = np.asarray(visible, dtype=bool)
            predicted, reference = predicted[visible], reference[visible]
        correct = keypoint_correct(predicted, reference, length, self.alphas, self.comparison)
        record: dict[str, Any] = {
            "pair_id": pair_id,
            "category": category,
            "n_kps": int(len(reference)),
            "n_nonfinite": int((~np.isfinite(predicted).all(axis=1)).sum()),
            "threshold": float(length),
            "correct": {f"{a:g}": int(correct[:, i].sum()) for i, a in enumerate(self.alphas)},
            "mean_norm_error": mean_normalised_error(predicted, reference, length),
        }
        for key in self.buckets:
            if meta and key in meta:
                record.setdefault("buckets", {})[key] = meta[key]
        return record

    def update(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        record = self.make_record(*args, **kwargs)
        self.records.append(record)
        return record

    def add(self, record: dict[str, Any]) -> None:
        """A pair already scored by :meth:`make_record` (fresh, resumed from disk or from another rank)."""
        self.records.append(record)

    def reset(self) -> None:
        self.records.clear()

    def compute(self, categories: Sequence[str] | None = None) -> dict[str, Any]:
        return aggregate_pck(self.records, self.alphas, self.bucket_alpha, categories)


def _per_image(record: dict[str, Any], alpha: float) -> float:
    return record["correct"][f"{alpha:g}"] / record["n_kps"]


def _summaries(records: Iterable[dict[str, Any]], alphas: Sequence[float]) -> dict[str, float]:
    scored = [r for r in records if r["n_kps"] > 0]
    out: dict[str, float] = {}
    total_kps = sum(r["n_kps"] for r in scored)
    for alpha in alphas:
        per_image = [_per_image(r, alpha) for r in scored]
        out[alpha_key("pck", alpha)] = float(np.mean(per_image)) if per_image else float("nan")
        pooled = sum(r["correct"][f"{alpha:g}"] for r in scored)
        out[alpha_key("pck_kpt", alpha)] = pooled / total_kps if total_kps else float("nan")
    return out


def aggregate_pck(
    records: Sequence[dict[str, Any]],
    alphas: Sequence[float],
    bucket_alpha: float = 0.1,
    categories: Sequence[str] | None = None,
) -> dict[str, Any]:
    """All aggregates of a list of records.

    ``summary['pck@a']`` is the mean over classes of the per-class per-image means; the mean over
    all pairs is ``pck_pairs@a`` and the pooled keypoint fraction ``pck_kpt@a``.
    """
    by_class: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_class[record["category"]].append(record)
    order = [c for c in (categories or sorted(by_class)) if c in by_class]
    per_class = {c: {**_summaries(by_class[c], alphas), "n_pairs": len(by_class[c]),
                     "n_kps": sum(r["n_kps"] for r in by_class[c])} for c in order}

    overall = _summaries(records, alphas)
    summary: dict[str, float] = {}
    for alpha in alphas:
        key = alpha_key("pck", alpha)
        class_values = [per_class[c][key] for c in order if not np.isnan(per_class[c][key])]
        summary[key] = float(np.mean(class_values)) if class_values else float("nan")
        summary[alpha_key("pck_pairs", alpha)] = overall[key]
        summary[alpha_key("pck_kpt", alpha)] = overall[alpha_key("pck_kpt", alpha)]
    summary["n_pairs"] = len(records)
    summary["n_kps"] = sum(r["n_kps"] for r in records)
    summary["n_nonfinite"] = sum(r["n_nonfinite"] for r in records)
    summary["n_pairs_without_kps"] = sum(1 for r in records if r["n_kps"] == 0)

    buckets: dict[str, dict[str, float]] = {}
    for record in records:
        for key, value in record.get("buckets", {}).items():
            buckets.setdefault(key, {}).setdefault(str(value), [])
    for key, groups in buckets.items():
        for value in list(groups):
            members = [r for r in records if r["n_kps"] > 0 and str(r.get("buckets", {}).get(key)) == value]
            groups[value] = float(np.mean([_per_image(r, bucket_alpha) for r in members])) if members else float("nan")
    return {"summary": summary, "per_class": per_class, "buckets": buckets}
