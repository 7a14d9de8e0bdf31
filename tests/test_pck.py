"""PCK: hand-computed cases, a plain-numpy reference on random inputs, and aggregation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from corrbench.api import Pair
from corrbench.metrics.pck import PCKMetric, aggregate_pck, keypoint_correct, pck, threshold_length
from corrbench.eval.protocols import Protocol


def _pair(src_hw=(100, 300), trg_hw=(200, 50), src_bbox=(10, 20, 70, 60), trg_bbox=(0, 0, 40, 150)):
    return Pair("p", "c", np.zeros((*src_hw, 3), np.uint8), np.zeros((*trg_hw, 3), np.uint8),
                src_kps=[[10, 10], [50, 90], [20, 30]], trg_kps=[[5, 5], [40, 190], [30, 60]],
                kps_visible=[True, True, False],
                src_bbox=np.array(src_bbox, float), trg_bbox=np.array(trg_bbox, float))


def test_threshold_reference_image_bbox_extent_and_side():
    pair = _pair()
    assert threshold_length(pair, Protocol("a", threshold="image", threshold_side="source")) == 300
    assert threshold_length(pair, Protocol("a", threshold="image", threshold_side="target")) == 200
    assert threshold_length(pair, Protocol("a", threshold="bbox", threshold_side="source")) == 60  # w=60, h=40
    assert threshold_length(pair, Protocol("a", threshold="bbox", threshold_side="target")) == 150
    # Extent over VISIBLE source keypoints only: x 10..50 (40), y 10..90 (80).
    assert threshold_length(pair, Protocol("a", threshold="kps_extent")) == 80
    # DHPF/CATs padding bug: max(max_x + 1, max_y + 1).
    assert threshold_length(pair, Protocol("a", threshold="kps_extent", extent_pad_bug=True)) == 91


def test_hand_computed_pck_with_invisible_points_and_boundary():
    reference = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 0.0], [5.0, 5.0]])
    predicted = np.array([[3.0, 4.0], [10.0, 6.0], [100.0, 0.0], [np.nan, 5.0]])
    visible = np.array([True, True, False, True])
    # errors: 5 (boundary at alpha*L = 5), 6, (invisible), NaN -> wrong
    assert pck(predicted, reference, length=50, alpha=0.1, visible=visible) == pytest.approx(1 / 3)
    assert pck(predicted, reference, length=50, alpha=0.1, visible=visible, comparison="lt") == 0.0
    assert pck(predicted, reference, length=60, alpha=0.1, visible=visible) == pytest.approx(2 / 3)
    assert math.isnan(pck(predicted[:0], reference[:0], length=1))


def _reference_pck(pred, ref, length, alpha, strict):
    hits = 0
    for (px, py), (rx, ry) in zip(pred, ref):
        if not (np.isfinite(px) and np.isfinite(py)):
            continue
        err = math.sqrt((px - rx) ** 2 + (py - ry) ** 2)
        hits += err < alpha * length if strict else err <= alpha * length
    return hits / len(ref)


@pytest.mark.parametrize("seed", range(5))
def test_functional_matches_plain_reference_on_random_inputs(seed):
    rng = np.random.default_rng(seed)
    ref = rng.uniform(0, 100, (40, 2))
    pred = ref + rng.normal(0, 8, (40, 2))
    pred[rng.random(40) < 0.1] = np.nan
    for alpha in (0.05, 0.1, 0.2):
        for comparison in ("le", "lt"):
            expected = _reference_pck(pred, ref, 77.0, alpha, comparison == "lt")
            assert pck(pred, ref, 77.0, alpha, comparison) == pytest.approx(expected)


def test_metric_aggregates_per_image_pooled_per_class_and_buckets():
    metric = PCKMetric(alphas=(0.1,), buckets=("occlusion",))
    ref = np.zeros((4, 2))
    good, bad = np.zeros((1, 2)), np.full((1, 2), 50.0)
    # class a: pair 1 has 1/1 correct, pair 2 has 1/3 correct; class b: pair 3 0/2 correct
    metric.update(good, ref[:1], 10, "a", "1", meta={"occlusion": 0})
    metric.update(np.vstack([good, bad, bad]), ref[:3], 10, "a", "2", meta={"occlusion": 1})
    metric.update(np.vstack([bad, [np.inf, 0]]), ref[:2], 10, "b", "3", meta={"occlusion": 1})
    out = metric.compute()
    assert out["per_class"]["a"]["pck@0.1"] == pytest.approx((1 + 1 / 3) / 2)
    assert out["per_class"]["b"]["pck@0.1"] == 0.0
    assert out["summary"]["pck@0.1"] == pytest.approx(((1 + 1 / 3) / 2 + 0) / 2)  # mean of classes
    assert out["summary"]["pck_pairs@0.1"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert out["summary"]["pck_kpt@0.1"] == pytest.approx(2 / 6)
    assert out["summary"]["n_nonfinite"] == 1
    assert out["buckets"]["occlusion"] == {"0": 1.0, "1": pytest.approx((1 / 3 + 0) / 2)}


def test_pairs_without_visible_keypoints_are_counted_not_averaged():
    metric = PCKMetric(alphas=(0.1,))
    metric.update(np.zeros((2, 2)), np.zeros((2, 2)), 10, "a", "1")
    metric.update(np.zeros((2, 2)), np.zeros((2, 2)), 10, "a", "2", visible=np.array([False, False]))
    out = metric.compute()
    assert out["summary"]["pck@0.1"] == 1.0
    assert out["summary"]["n_pairs_without_kps"] == 1


def test_keypoint_correct_shape_and_monotonic_in_alpha():
    rng = np.random.default_rng(0)
    ref = rng.uniform(0, 50, (30, 2))
    pred = ref + rng.normal(0, 5, (30, 2))
    table = keypoint_correct(pred, ref, 50, (0.01, 0.05, 0.1, 0.2))
    assert table.shape == (30, 4)
    assert (table.sum(axis=0)[:-1] <= table.sum(axis=0)[1:]).all()
    assert aggregate_pck([], (0.1,))["summary"]["n_pairs"] == 0
