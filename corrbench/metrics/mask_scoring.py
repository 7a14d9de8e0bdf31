"""Foreground masks of one pair as the evaluator scores them, and their aggregation into results.

Used for co-segmentation benchmarks (Internet) and, on keypoint benchmarks with ground-truth
masks (``synthetic``), for methods that also predict masks, so PCK and mask IoU share a table.
The arithmetic is :func:`corrbench.metrics.masks.score_mask` and :class:`~corrbench.metrics.masks.MaskMetric`.
"""

from __future__ import annotations

from typing import Any, Sequence

from corrbench.api import Pair, Prediction
from corrbench.metrics.masks import MaskMetric, score_mask


def mask_scores(pair: Pair, prediction: Prediction, sides: Sequence[str] = ("src", "trg"),
                jaccard_empty_gt: str = "skip") -> dict[str, dict[str, Any]]:
    """{side: {jaccard, precision, empty_gt}} for each side with both a GT and a predicted mask."""
    scores = {}
    for side in sides:
        truth = pair.src_mask if side == "src" else pair.trg_mask
        predicted = prediction.src_mask if side == "src" else prediction.trg_mask
        if truth is not None and predicted is not None:
            scores[side] = score_mask(predicted, truth, jaccard_empty_gt)  # type: ignore[arg-type]
    return scores


def aggregate_masks(records: Sequence[dict[str, Any]], categories: Sequence[str] | None = None,
                    jaccard_empty_gt: str = "skip") -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Summary and per-class ``mask_iou`` / ``mask_precision`` of the images scored in ``records``."""
    metric = MaskMetric(jaccard_empty_gt)  # type: ignore[arg-type]
    for record in records:
        for side, score in record.get("masks", {}).items():
            metric.add(score, record["category"], f"{record['pair_id']}/{side}")
    if not metric.records:
        return {}, {}
    computed = metric.compute(categories)
    per_class = {category: {"mask_iou": values["jaccard"], "mask_precision": values["precision"],
                            "n_mask_images": values["n_images"], "n_empty_gt": values["n_empty_gt"]}
                 for category, values in computed["per_class"].items()}
    mean = computed["mean"]
    summary = {"mask_iou": mean["jaccard"], "mask_precision": mean["precision"],
               "n_mask_images": mean["n_images"], "n_empty_gt": mean["n_empty_gt"]}
    return summary, per_class
