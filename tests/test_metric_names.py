"""Metric identities: what each summary key measures, parsed in one place."""

from __future__ import annotations

import numpy as np
import pytest

from corrbench.metrics.masks import MaskMetric, score_mask
from corrbench.metrics.names import MetricId, parse_key


@pytest.mark.parametrize("key, expected", [
    ("pck@0.1", MetricId("pck", 0.1, "class_mean")),
    ("pck_pairs@0.05", MetricId("pck", 0.05, "all_pairs")),
    ("pck_kpt@0.15", MetricId("pck_kpt", 0.15, "pooled_keypoints")),
    ("mask_iou", MetricId("mask_iou")),
    ("tss_T5_wo_flip", MetricId("tss_T5_wo_flip")),
    ("n_pairs", MetricId("n_pairs", None, "count")),
    ("n_mask_images", MetricId("n_mask_images", None, "count")),
])
def test_keys_parse_and_round_trip(key, expected):
    assert parse_key(key) == expected
    assert parse_key(key).key == key


def test_the_runners_mask_kernel_is_the_metric_class_kernel():
    rng = np.random.default_rng(0)
    pred, gt = rng.random((7, 9)), rng.random((14, 18)) > 0.5
    metric = MaskMetric()
    record = metric.update(pred, gt, "cat")
    assert {k: record[k] for k in ("jaccard", "precision", "empty_gt")} == score_mask(pred, gt)
    assert metric.compute()["per_class"]["cat"]["jaccard"] == score_mask(pred, gt)["jaccard"]
