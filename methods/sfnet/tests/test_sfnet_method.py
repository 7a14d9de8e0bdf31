"""SFNet inference: shapes and directions, official read-out, batching = per pair, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corrbench.api import Pair
from corrbench.errors import UsageError
from corrbench.eval.transfer import identity_grid
from corrbench_sfnet.method import SFNetMethod
from sfnet_fakes import TINY, blob_image, masked_pair


def test_shapes_both_directions_non_square():
    method = SFNetMethod(**TINY)
    pair = masked_pair(src_hw=(50, 64), trg_hw=(58, 46))
    prediction = method.predict([pair])[0]
    assert prediction.src_to_trg.coords.shape == (50, 64, 2) and prediction.src_to_trg.image_size == (50, 64)
    assert prediction.trg_to_src.coords.shape == (58, 46, 2) and prediction.trg_to_src.image_size == (58, 46)
    only = method.predict([pair], directions=("trg_to_src",))[0]
    assert only.src_to_trg is None
    np.testing.assert_array_equal(only.trg_to_src.coords, prediction.trg_to_src.coords)


def test_same_image_with_hard_argmax_and_exact_rescale_is_identity():
    """Self-similarity peaks on the diagonal: grids are the identity, and the official read-out
    (crop the padding cells, rescale by (f-1)/(f-3), upsample align-corners) maps pixels to themselves."""
    method = SFNetMethod(**TINY, beta=None, exact_border_rescale=True)
    image, _ = blob_image(48, 60, seed=3)
    prediction = method.predict([Pair("same", "blob", image, image)])[0]
    for field in (prediction.src_to_trg, prediction.trg_to_src):
        np.testing.assert_allclose(field.coords, identity_grid((48, 60)), atol=1e-4)


def test_official_ten_ninths_rescale_is_reproduced():
    official = SFNetMethod(**TINY, beta=None)
    image, _ = blob_image(48, 60, seed=3)
    field = official.predict([Pair("same", "blob", image, image)])[0].trg_to_src
    f = 8
    # A point at the first interior cell maps to -(f-3)/(f-1) * (f//2)/(f//2-1) instead of -1.
    expected_left = (1 - (f - 3) / (f - 1) * (f // 2) / (f // 2 - 1)) * (60 - 1) / 2
    assert abs(field.coords[0, 0, 0] - expected_left) < 1e-4


def test_batched_equals_per_pair_and_images_are_embedded_once():
    pairs = [masked_pair(f"p{i}", seed=i % 2) for i in range(4)]  # two distinct pairs, each twice
    batched = SFNetMethod(**TINY)
    together = batched.predict(pairs)
    assert batched.cache.misses == 4  # 4 distinct images among 8 image slots
    single = SFNetMethod(**TINY, cache_mb=0)
    for pair, prediction in zip(pairs, together):
        alone = single.predict([pair])[0]
        np.testing.assert_allclose(prediction.trg_to_src.coords, alone.trg_to_src.coords, atol=1e-4)
        np.testing.assert_allclose(prediction.src_to_trg.coords, alone.src_to_trg.coords, atol=1e-4)


def test_deterministic_under_seed():
    pair = masked_pair(seed=5)
    first = SFNetMethod(**TINY, seed=7).predict([pair])[0].trg_to_src.coords
    again = SFNetMethod(**TINY, seed=7).predict([pair])[0].trg_to_src.coords
    other = SFNetMethod(**TINY, seed=8).predict([pair])[0].trg_to_src.coords
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3


def test_random_init_is_declared_and_bad_options_are_one_line_errors():
    method = SFNetMethod(**TINY)
    assert method.weights_tag() == "random-init"
    assert method.provenance()["backbone_weights"] == "random-init"
    with pytest.raises(UsageError, match="no option"):
        SFNetMethod(**TINY, not_an_option=1)
    with pytest.raises(UsageError, match="timm:<model name>"):
        SFNetMethod(backbone="vgg16")


def test_timm_backbone_swap():
    method = SFNetMethod(backbone="timm:resnet10t", levels=[2, 3], feature_size=6, kernels=[3, 3])
    assert method.module.backbone.channels == (128, 256)
    assert method.predict([masked_pair()])[0].trg_to_src.coords.shape == (58, 46, 2)
    assert torch.isfinite(torch.from_numpy(method.predict([masked_pair()])[0].src_to_trg.coords)).all()
