"""Foreground-mask scores of a run: per image Jaccard and precision, per class, mean of classes.

Used for co-segmentation benchmarks (Internet) and, on keypoint benchmarks with ground-truth
masks (``synthetic``), for methods that also predict masks, so PCK and mask IoU share a table.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Sequence

import numpy as np

from corrbench.api import Pair, Prediction
from corrbench.metrics.masks import jaccard, precision


def mask_scores(pair: Pair, prediction: Prediction, sides: Sequence[str] = ("src", "trg"),
                jaccard_empty_gt: str = "skip") -> dict[str, dict[str, float]]:
    """{side: {jaccard, precision, empty_gt}} for each side with both a GT and a predicted mask."""
    scores = {}
    for side in sides:
        truth = pair.src_mask if side == "src" else pair.trg_mask
        predicted = prediction.src_mask if side == "src" else prediction.trg_mask
        if truth is None or predicted is None:
            continue
        empty = not np.asarray(truth).any()
        if empty:
            predicted_empty = not (np.asarray(predicted) > 0.5).any()
            j = {"skip": float("nan"), "zero": 0.0, "one_if_pred_empty": float(predicted_empty)}[jaccard_empty_gt]
        else:
            j = jaccard(predicted, truth)
        scores[side] = {"jaccard": j, "precision": precision(predicted, truth), "empty_gt": bool(empty)}
    return scores


def aggregate_masks(records: Sequence[dict[str, Any]], categories: Sequence[str] | None = None
                    ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Summary and per-class ``mask_iou`` / ``mask_precision`` over every scored image."""
    by_class: dict[str, list[dict[str, float]]] = defaultdict(list)
    for record in records:
        for score in record.get("masks", {}).values():
            by_class[record["category"]].append(score)
    if not by_class:
        return {}, {}
    per_class = {}
    for category in [c for c in (categories or sorted(by_class)) if c in by_class]:
        images = by_class[category]
        ious = [s["jaccard"] for s in images if not math.isnan(s["jaccard"])]
        per_class[category] = {
            "mask_iou": float(np.mean(ious)) if ious else float("nan"),
            "mask_precision": float(np.mean([s["precision"] for s in images])),
            "n_mask_images": len(images),
            "n_empty_gt": sum(bool(s["empty_gt"]) for s in images),
        }
    summary = {}
    for key in ("mask_iou", "mask_precision"):
        values = [c[key] for c in per_class.values() if not math.isnan(c[key])]
        summary[key] = float(np.mean(values)) if values else float("nan")
    summary["n_mask_images"] = sum(c["n_mask_images"] for c in per_class.values())
    summary["n_empty_gt"] = sum(c["n_empty_gt"] for c in per_class.values())
    return summary, per_class
