"""NeMF's PF-PASCAL / PF-WILLOW test path: both images zero-padded (bottom, right) to a common size."""

from __future__ import annotations

import numpy as np
import torch

import corrbench
import corrbench_nemf.method as nemf_method
from corrbench_nemf.method import NeMFMethod, pad_to_same_shape
from nemf_fakes import TINY, textured_pair

SRC_HW, TRG_HW = (50, 64), (58, 46)  # unequal in both directions: the padded size is (58, 64)


def test_padding_is_bottom_right_zeros_and_keeps_keypoints():
    pair = textured_pair("p", SRC_HW, TRG_HW, seed=0)
    padded = pad_to_same_shape(pair)
    assert padded.src_size == padded.trg_size == (58, 64)
    assert np.array_equal(padded.src_image[:50, :64], pair.src_image) and not padded.src_image[50:].any()
    assert np.array_equal(padded.trg_image[:58, :46], pair.trg_image) and not padded.trg_image[:, 46:].any()
    assert np.array_equal(padded.src_kps, pair.src_kps) and np.array_equal(padded.trg_kps, pair.trg_kps)


def test_query_keypoints_are_normalised_with_the_padded_size(monkeypatch):
    """As the official loader: x / (W_pad - 1) * 2 - 1 with the padded width, not the image's own."""
    pair = textured_pair("p", SRC_HW, TRG_HW, seed=0)
    seen: list[torch.Tensor] = []
    real = nemf_method.optimise_points

    def spy(score, fields, queries, *args):
        seen.extend(q.clone() for q in queries)
        return real(score, fields, queries, *args)

    monkeypatch.setattr(nemf_method, "optimise_points", spy)
    NeMFMethod(**TINY, pad_to_same_shape=True).predict([pair], directions=("trg_to_src",))
    kps = pair.trg_kps.astype(np.float64)  # trg -> src: the target's keypoints are the queries
    expected = np.stack((kps[:, 0] / (64 - 1) * 2 - 1, kps[:, 1] / (58 - 1) * 2 - 1), axis=1)
    assert np.allclose(seen[0].numpy(), expected, atol=1e-6)
    own = np.stack((kps[:, 0] / (46 - 1) * 2 - 1, kps[:, 1] / (58 - 1) * 2 - 1), axis=1)
    assert not np.allclose(expected, own)  # the two conventions differ on this pair


def test_padded_prediction_is_the_unpadded_method_on_the_padded_pair_cropped():
    pair = textured_pair("p", SRC_HW, TRG_HW, seed=0)
    padded_method = NeMFMethod(**TINY, pad_to_same_shape=True)
    plain_method = NeMFMethod(**TINY)
    mine = padded_method.predict([pair])[0]
    reference = plain_method.predict([pad_to_same_shape(pair)])[0]
    for direction, size in (("trg_to_src", TRG_HW), ("src_to_trg", SRC_HW)):
        assert np.allclose(mine.points[direction], reference.points[direction])
        field, full = getattr(mine, direction), getattr(reference, direction)
        assert field.image_size == size and full.image_size == (58, 64)
        rows, cols = field.coords.shape[:2]
        assert np.allclose(field.coords, full.coords[:rows, :cols])
    unpadded = plain_method.predict([pair])[0]
    assert not np.allclose(mine.points["trg_to_src"], unpadded.points["trg_to_src"])


def test_the_benchmarks_of_the_official_padding_turn_it_on_and_it_is_recorded():
    on = corrbench.load_method("nemf", for_dataset="pfpascal", **TINY)
    assert on.config.pad_to_same_shape and on.init_options()["pad_to_same_shape"] is True
    assert corrbench.load_method("nemf", for_dataset="pfwillow", **TINY).config.pad_to_same_shape
    assert not corrbench.load_method("nemf", for_dataset="spair", **TINY).config.pad_to_same_shape
    assert not corrbench.load_method("nemf", for_dataset="synthetic", **TINY).config.pad_to_same_shape
    off = corrbench.load_method("nemf", for_dataset="pfpascal", pad_to_same_shape=False, **TINY)
    assert not off.config.pad_to_same_shape  # an explicit option wins
