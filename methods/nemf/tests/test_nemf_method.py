"""The corrbench method: shapes and directions on non-square pairs, determinism, options."""

from __future__ import annotations

import numpy as np
import torch
import pytest

import corrbench
from corrbench.errors import UsageError
from corrbench_nemf.method import NeMFMethod, grid_shape
from nemf_fakes import TINY, textured_pair


def test_entry_point_and_random_init_provenance():
    method = corrbench.load_method("nemf", **TINY)
    assert isinstance(method, NeMFMethod)
    assert method.weights_tag() == "random-init" and method.provenance()["config"] == "embedded"


def test_predict_both_directions_non_square():
    pairs = [textured_pair("a", (50, 64), (58, 46), seed=0), textured_pair("b", (40, 30), (33, 61), seed=1)]
    method = NeMFMethod(**TINY)
    predictions = method.predict(pairs)
    for pair, prediction in zip(pairs, predictions):
        t2s, s2t = prediction.trg_to_src, prediction.src_to_trg
        assert t2s.image_size == pair.trg_size and s2t.image_size == pair.src_size
        assert t2s.coords.shape == (*grid_shape(pair.trg_size, 12), 2)
        assert s2t.coords.shape == (*grid_shape(pair.src_size, 12), 2)
        assert prediction.points["trg_to_src"].shape == pair.src_kps.shape
        assert prediction.points["src_to_trg"].shape == pair.trg_kps.shape
        assert np.isfinite(t2s.coords).all() and np.isfinite(prediction.points["trg_to_src"]).all()
        # answers stay near the other image (the search is clamped around the soft-argmax field)
        h, w = pair.src_size
        assert (t2s.coords[..., 0] > -0.2 * w).all() and (t2s.coords[..., 0] < 1.2 * w).all()
    only = method.predict(pairs[:1], directions=("trg_to_src",))[0]
    assert only.src_to_trg is None and "src_to_trg" not in only.points


def test_predictions_are_deterministic_and_independent_of_the_batch():
    pairs = [textured_pair("a", seed=0), textured_pair("b", (44, 52), (36, 40), seed=2)]
    first = NeMFMethod(seed=3, **TINY).predict(pairs, directions=("trg_to_src",))
    again = NeMFMethod(seed=3, **TINY)
    alone = again.predict(pairs[1:], directions=("trg_to_src",))
    np.testing.assert_allclose(first[1].points["trg_to_src"], alone[0].points["trg_to_src"], atol=1e-4)
    np.testing.assert_allclose(first[1].trg_to_src.coords, alone[0].trg_to_src.coords, atol=1e-4)


def test_full_resolution_grid_by_default_and_bad_options():
    assert grid_shape((40, 48), None) == (40, 48)
    assert grid_shape((200, 100), 48) == (48, 24)
    with pytest.raises(UsageError, match="no option"):
        NeMFMethod(config="embedded", bogus=1)
    with pytest.raises(UsageError, match="hyperpixel"):
        NeMFMethod(config="embedded", hyperpixel=[1, 2, 3])


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_a_callers_no_grad_or_inference_mode_changes_nothing(context):
    pair = textured_pair("a", (50, 64), (58, 46), seed=0)
    method = NeMFMethod(**TINY)
    plain = method.predict([pair], ("trg_to_src",))[0]
    with context():
        wrapped = method.predict([pair], ("trg_to_src",))[0]
    np.testing.assert_array_equal(wrapped.points["trg_to_src"], plain.points["trg_to_src"])
    np.testing.assert_array_equal(wrapped.trg_to_src.coords, plain.trg_to_src.coords)
    assert all(p.grad is None for p in method.module.parameters())
