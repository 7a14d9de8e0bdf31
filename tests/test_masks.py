"""Mask metrics against plain reference code and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from corrbench.metrics.masks import MaskMetric, binarize, jaccard, precision


def ref_jaccard(m, g):
    inter = union = 0
    for a, b in zip(m.ravel().tolist(), g.ravel().tolist()):
        inter += a and b
        union += a or b
    return inter / union if union else float("nan")


def ref_precision(m, g):
    return sum(a == b for a, b in zip(m.ravel().tolist(), g.ravel().tolist())) / m.size


def test_random_masks_match_reference():
    rng = np.random.default_rng(1)
    for _ in range(20):
        h, w = rng.integers(1, 30, size=2)
        m = rng.random((h, w)) < rng.random()
        g = rng.random((h, w)) < rng.random()
        assert jaccard(m, g) == pytest.approx(ref_jaccard(m, g), nan_ok=True)
        assert precision(m, g) == pytest.approx(ref_precision(m, g))


def test_hand_computed():
    g = np.array([[1, 1, 0, 0]], bool)
    m = np.array([[0, 1, 1, 0]], bool)
    assert jaccard(m, g) == pytest.approx(1 / 3)
    assert precision(m, g) == pytest.approx(2 / 4)
    assert np.isnan(jaccard(np.zeros((2, 2)), np.zeros((2, 2), bool)))


def test_encodings_agree():
    g = np.array([[0, 1], [1, 1]], bool)
    for m in (np.array([[0, 1], [0, 1]], np.uint8), np.array([[0, 255], [0, 255]], np.uint8),
              np.array([[0.1, 0.9], [0.4, 0.6]])):
        assert jaccard(m, g) == pytest.approx(2 / 3)


def test_resize_matches_torch_bilinear():
    import torch
    rng = np.random.default_rng(2)
    prob = rng.random((7, 9))
    ref = torch.nn.functional.interpolate(torch.tensor(prob)[None, None], size=(20, 13), mode="bilinear",
                                          align_corners=False)[0, 0].numpy()
    from corrbench.metrics.masks import resize_bilinear

    assert np.allclose(resize_bilinear(prob, (20, 13)), ref)
    assert np.array_equal(binarize(prob, (20, 13)), ref > 0.5)


def test_mask_metric_policies():
    full = np.ones((2, 2), bool)
    empty = np.zeros((2, 2), bool)
    for policy, expected in (("skip", 1.0), ("zero", 0.5), ("one_if_pred_empty", 1.0)):
        metric = MaskMetric(jaccard_empty_gt=policy)
        metric.update(full, full, "cat")
        metric.update(empty, empty, "cat")  # empty GT, empty prediction
        metric.update(full, empty, "dog")  # empty GT, full prediction
        out = metric.compute()
        assert out["per_class"]["cat"]["jaccard"] == pytest.approx(expected)
        assert out["per_class"]["cat"]["n_empty_gt"] == 1
        assert out["per_class"]["cat"]["precision"] == pytest.approx(1.0)
        assert out["per_class"]["dog"]["precision"] == pytest.approx(0.0)
        dog_j = out["per_class"]["dog"]["jaccard"]
        assert np.isnan(dog_j) if policy == "skip" else dog_j == 0.0
        assert out["mean"]["n_empty_gt"] == 2
    with pytest.raises(ValueError):
        MaskMetric(jaccard_empty_gt="bogus")
