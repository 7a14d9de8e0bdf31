"""Foreground-mask metrics: Jaccard (IoU) and precision, per image, per class and overall.

* ``jaccard`` = |M and G| / |M or G| (NaN when both are empty), the TSS kit's SegIUR.
* ``precision`` = fraction of pixels labelled correctly, foreground and background together
  (Rubinstein et al.'s P; the TSS kit's ``SegPrec``).

Masks are scored at the ground truth's resolution.  A prediction of another size is resized
bilinearly (half-pixel centres, edges replicated, no antialiasing) as a foreground probability in
[0, 1] and thresholded at 0.5 (foreground iff > 0.5) - the choice the spec (datasets.md 6.2)
records.  Inputs: bool masks as they are, floating masks as probabilities, integer masks as
labels (nonzero = foreground, so 0/1 and 0/255 both work).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

import numpy as np

EmptyGT = Literal["skip", "zero", "one_if_pred_empty"]
EMPTY_GT_POLICIES: tuple[str, ...] = ("skip", "zero", "one_if_pred_empty")


def _probability(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] in (1, 3, 4):
        mask = mask[..., 0] if mask.shape[2] == 1 else mask[..., :3].max(axis=2)
    if mask.ndim != 2:
        raise ValueError(f"a mask must be 2-D, got shape {mask.shape}")
    if mask.dtype == bool:
        return mask.astype(np.float64)
    if np.issubdtype(mask.dtype, np.floating):
        return mask.astype(np.float64)
    return (mask != 0).astype(np.float64)


def resize_bilinear(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a 2-D float array to ``(H, W)``: half-pixel centres, edges replicated."""
    out = np.asarray(image, dtype=np.float64)
    for axis, n_out in ((0, size[0]), (1, size[1])):
        n_in = out.shape[axis]
        if n_in == n_out:
            continue
        pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        left = np.floor(pos).astype(np.int64)
        right = np.minimum(left + 1, n_in - 1)
        frac = pos - left
        shape = [1, 1]
        shape[axis] = n_out
        frac = frac.reshape(shape)
        out = np.take(out, left, axis=axis) * (1 - frac) + np.take(out, right, axis=axis) * frac
    return out


def binarize(mask: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Boolean foreground at ``size`` (H, W); see the module docstring for the resize rule."""
    prob = _probability(mask)
    if size is not None and prob.shape != tuple(size):
        prob = resize_bilinear(prob, size)
    return prob > 0.5


def _pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gt_bool = binarize(gt)
    return binarize(pred, gt_bool.shape), gt_bool


def jaccard(pred: np.ndarray, gt: np.ndarray) -> float:
    """Foreground IoU at the GT's resolution; NaN when prediction and GT are both empty."""
    m, g = _pair(pred, gt)
    union = int(np.count_nonzero(m | g))
    return int(np.count_nonzero(m & g)) / union if union else float("nan")


def precision(pred: np.ndarray, gt: np.ndarray) -> float:
    """Fraction of GT pixels whose label the prediction gets right."""
    m, g = _pair(pred, gt)
    return float(np.count_nonzero(m == g)) / m.size


def score_mask(pred: np.ndarray, gt: np.ndarray, jaccard_empty_gt: EmptyGT = "skip") -> dict[str, Any]:
    """Jaccard and precision of one image at the GT's resolution, with the empty-GT rule applied.

    ``jaccard_empty_gt`` says what J is for an image whose GT has no foreground: ``skip`` (NaN, not
    averaged; the widely used Internet evaluator), ``zero``, or ``one_if_pred_empty`` (1 when the
    prediction is empty too, else 0).  P is always computed.
    """
    if jaccard_empty_gt not in EMPTY_GT_POLICIES:
        raise ValueError(f"jaccard_empty_gt must be one of {EMPTY_GT_POLICIES}, got {jaccard_empty_gt!r}")
    m, g = _pair(pred, gt)
    empty_gt = not g.any()
    if empty_gt:
        j = {"skip": float("nan"), "zero": 0.0, "one_if_pred_empty": float(not m.any())}[jaccard_empty_gt]
    else:
        j = int(np.count_nonzero(m & g)) / int(np.count_nonzero(m | g))
    return {"jaccard": j, "precision": float(np.count_nonzero(m == g)) / m.size, "empty_gt": bool(empty_gt)}


@dataclass
class MaskMetric:
    """Accumulates per-image J and P; ``compute()`` gives per-image, per-class and mean values.

    The evaluator feeds it the per-image scores kept in per-pair records (:meth:`add`), so resumed
    and distributed runs aggregate exactly like fresh ones.  Per class, J is the mean over images
    with a defined J; ``mean`` is the mean of the defined class means.
    """

    jaccard_empty_gt: EmptyGT = "skip"
    records: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.jaccard_empty_gt not in EMPTY_GT_POLICIES:
            raise ValueError(f"jaccard_empty_gt must be one of {EMPTY_GT_POLICIES}, got {self.jaccard_empty_gt!r}")

    def update(self, pred: np.ndarray, gt: np.ndarray, category: str = "all", image_id: str = "") -> dict:
        record = {"image_id": image_id, "category": category, **score_mask(pred, gt, self.jaccard_empty_gt)}
        self.records.append(record)
        return record

    def add(self, score: dict, category: str, image_id: str = "") -> None:
        """An image already scored by :func:`score_mask` (e.g. read back from a record file)."""
        self.records.append({"image_id": image_id, "category": category, **score})

    def reset(self) -> None:
        self.records.clear()

    def compute(self, categories: Sequence[str] | None = None) -> dict:
        by_class: dict[str, list[dict]] = defaultdict(list)
        for record in self.records:
            by_class[record["category"]].append(record)
        order = [c for c in (categories or sorted(by_class)) if c in by_class]
        order += sorted(c for c in by_class if c not in order)
        per_class = {}
        for category in order:
            records = by_class[category]
            js = [r["jaccard"] for r in records if not math.isnan(r["jaccard"])]
            per_class[category] = {
                "jaccard": float(np.mean(js)) if js else float("nan"),
                "precision": float(np.mean([r["precision"] for r in records])),
                "n_images": len(records),
                "n_empty_gt": sum(bool(r["empty_gt"]) for r in records),
            }

        def mean_of(key: str) -> float:
            values = [c[key] for c in per_class.values() if not math.isnan(c[key])]
            return float(np.mean(values)) if values else float("nan")

        return {
            "per_image": list(self.records),
            "per_class": per_class,
            "mean": {"jaccard": mean_of("jaccard"), "precision": mean_of("precision"),
                     "n_images": len(self.records),
                     "n_empty_gt": sum(bool(r["empty_gt"]) for r in self.records),
                     "jaccard_empty_gt": self.jaccard_empty_gt},
        }
