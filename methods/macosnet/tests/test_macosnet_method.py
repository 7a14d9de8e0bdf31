"""Predictions (shapes, frames, masks, determinism) and the official checkpoint mapping."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from corrbench.errors import CheckpointError, UsageError
from corrbench_macosnet.checkpoint import PREFIXES
from corrbench_macosnet.method import MaCoSNetMethod
from macosnet_fakes import TINY, blob_pair


def test_shapes_for_non_square_images_both_directions():
    pair = blob_pair(src_hw=(50, 64), trg_hw=(58, 46))
    prediction = MaCoSNetMethod(**TINY).predict([pair, blob_pair("p1", seed=3)])[0]
    assert prediction.src_to_trg.coords.shape == (50, 64, 2) and prediction.src_to_trg.image_size == (50, 64)
    assert prediction.trg_to_src.coords.shape == (58, 46, 2) and prediction.trg_to_src.image_size == (58, 46)
    assert prediction.src_mask.shape == (50, 64) and prediction.trg_mask.shape == (58, 46)
    for mask in (prediction.src_mask, prediction.trg_mask):
        assert mask.min() >= 0 and mask.max() <= 1
    only = MaCoSNetMethod(**TINY).predict([pair], directions=("trg_to_src",))[0]
    assert only.src_to_trg is None and only.trg_to_src is not None


def test_identity_transform_maps_corners_to_corners():
    """An untrained model predicts the identity: its field maps image corners onto corners."""
    pair = blob_pair(src_hw=(50, 64), trg_hw=(58, 46))
    field = MaCoSNetMethod(**TINY).predict([pair], directions=("trg_to_src",))[0].trg_to_src.coords
    np.testing.assert_allclose(field[0, 0], [0, 0], atol=1.5)
    np.testing.assert_allclose(field[-1, -1], [63, 49], atol=1.5)


def test_predictions_are_deterministic_by_seed():
    pair = blob_pair(seed=5)
    a = MaCoSNetMethod(**TINY, seed=3).predict([pair])[0]
    b = MaCoSNetMethod(**TINY, seed=3).predict([pair])[0]
    c = MaCoSNetMethod(**TINY, seed=4).predict([pair])[0]
    np.testing.assert_array_equal(a.trg_to_src.coords, b.trg_to_src.coords)
    np.testing.assert_array_equal(a.src_mask, b.src_mask)
    assert not np.array_equal(a.src_mask, c.src_mask)


def test_batched_equals_one_by_one():
    pairs = [blob_pair(f"p{i}", seed=i) for i in range(3)]
    method = MaCoSNetMethod(**TINY)
    together = method.predict(pairs)
    for pair, joint in zip(pairs, together):
        alone = method.predict([pair])[0]
        np.testing.assert_allclose(alone.trg_to_src.coords, joint.trg_to_src.coords, atol=1e-3)
        np.testing.assert_allclose(alone.src_mask, joint.src_mask, atol=1e-5)


def test_unknown_option_and_random_init_tag():
    with pytest.raises(UsageError, match="no option"):
        MaCoSNetMethod(**TINY, nonsense=1)
    method = MaCoSNetMethod(**TINY)
    assert method.weights_tag() == "random-init" and method.provenance()["weights_kind"] == "random-init"


def _official_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    inverse = {ours: theirs for theirs, ours in PREFIXES.items()}
    renamed = {}
    for key, value in state.items():
        for ours, theirs in inverse.items():
            if key.startswith(ours):
                renamed[theirs + key[len(ours):]] = value.clone()
    return renamed


def test_official_checkpoint_keys_and_shapes_load(tmp_path):
    source = MaCoSNetMethod(config="paper", seed=1)
    official = _official_names(source.module.state_dict())
    # The spec's key table: shapes of the released WeakMatchNet (+ the fixed decoder).
    assert official["FeatureExtraction.model.0.weight"].shape == (64, 3, 7, 7)
    assert official["FeatureRegression.conv.0.weight"].shape == (128, 225, 7, 7)
    assert official["FeatureRegression.linear.weight"].shape == (6, 1600)
    assert official["FeatureRegression2.linear.weight"].shape == (18, 1600)
    assert official["Decoder.deconv1.weight"].shape == (1249, 512, 3, 3)
    assert official["Decoder.deconv4.weight"].shape == (64, 1, 3, 3)
    assert "FeatureExtraction.model.6.22.conv3.weight" in official
    matching_only = {k: v for k, v in official.items()
                     if not k.startswith("Decoder.") and not k.endswith("num_batches_tracked")}
    torch.save({"state_dict": matching_only, "epoch": 3}, tmp_path / "weakalign.pth.tar")
    loaded = MaCoSNetMethod(weights=str(tmp_path / "weakalign.pth.tar"), seed=2)
    for key, value in source.module.state_dict().items():
        if not key.startswith("decoder.") and not key.endswith("num_batches_tracked"):
            assert torch.equal(loaded.module.state_dict()[key], value), key
    assert re.fullmatch(r"weakalign\.pth\.tar@[0-9a-f]{8}\+random-decoder", loaded.weights_tag())
    torch.save(official, tmp_path / "flat.pth.tar")
    flat = MaCoSNetMethod(weights=str(tmp_path / "flat.pth.tar"))
    assert torch.equal(flat.module.decoder.deconv1.weight, source.module.decoder.deconv1.weight)
    del official["FeatureRegression2.linear.bias"]
    torch.save(official, tmp_path / "broken.pth.tar")
    with pytest.raises(CheckpointError, match="missing"):
        MaCoSNetMethod(weights=str(tmp_path / "broken.pth.tar"))


def test_mask_prior_correction_shifts_logits_to_the_pseudo_label_rate():
    """Prior correction: p > 0.5 iff q > r (r = 1 - cosal_quantile), applied at inference only."""
    from corrbench_macosnet.config import build_config

    config = build_config("embedded")
    assert config.mask_prior_correction and not config.cosal_balanced
    rate = 1 - config.cosal_quantile
    q = torch.tensor([rate - 0.01, rate + 0.01])
    corrected = torch.sigmoid(torch.logit(q) + config.mask_logit_offset)
    assert float(corrected[0]) < 0.5 < float(corrected[1])
    assert build_config("paper").mask_logit_offset == 0.0
    assert build_config("embedded", mask_prior_correction=False).mask_logit_offset == 0.0
    with pytest.raises(UsageError, match="use one of them"):
        build_config("embedded", cosal_balanced=True)

    pair = blob_pair(src_hw=(50, 64), trg_hw=(58, 46))
    raw = MaCoSNetMethod(**TINY, mask_prior_correction=False).predict([pair])[0]
    fixed = MaCoSNetMethod(**TINY).predict([pair])[0]
    np.testing.assert_array_equal(raw.trg_to_src.coords, fixed.trg_to_src.coords)
    for before, after in ((raw.src_mask, fixed.src_mask), (raw.trg_mask, fixed.trg_mask)):
        # the masks are resized after the sigmoid, so compare them in probability space
        inside = (before > 0.02) & (before < 0.98)
        shifted = torch.sigmoid(torch.logit(torch.from_numpy(before[inside]).double()) + config.mask_logit_offset)
        assert float((torch.from_numpy(after[inside]).double() - shifted).max()) < 0.05
        assert (after >= before - 1e-6).all()


def test_committed_embedded_checkpoint_loads_and_predicts():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "checkpoints" / "macosnet-synthetic.pth"
    method = MaCoSNetMethod(weights=str(path))
    assert method.options["config"] == "embedded" and method.config.mask_prior_correction
    assert method.weights_kind == "corrbench"
    prediction = method.predict([blob_pair(src_hw=(50, 64), trg_hw=(58, 46))])[0]
    assert prediction.src_mask.shape == (50, 64) and prediction.trg_to_src.coords.shape == (58, 46, 2)
