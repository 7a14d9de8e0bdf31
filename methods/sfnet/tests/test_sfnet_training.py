"""SFNet training: synthetic affine pairs, loss goes down, the shared loop checkpoints and resumes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corrbench.data.pair_list import PairList
from corrbench.training.checkpoints import load_checkpoint
from corrbench.errors import UsageError
from corrbench.training import TrainConfig, train
from corrbench_sfnet.method import SFNetMethod
from corrbench_sfnet.synthesis import synthesize
from sfnet_fakes import TINY, blob_image, masked_pair


def test_synthesis_without_deformation_gives_identical_views():
    image, mask = blob_image(40, 52, seed=0)
    torch.manual_seed(0)
    batch = synthesize([image], [mask], image_size=64, feature_size=8, affine_std=0.0, jitter=0.0)
    torch.testing.assert_close(batch.src_images, batch.trg_images)
    torch.testing.assert_close(batch.src_masks, batch.trg_masks)
    assert batch.src_masks.shape == (1, 1, 8, 8) and 0 < batch.src_masks.sum() < 64


def test_synthesis_masks_follow_the_warp():
    image, mask = blob_image(40, 52, seed=0)
    torch.manual_seed(3)
    batch = synthesize([image] * 4, [mask] * 4, image_size=64, feature_size=8)
    assert batch.src_images.shape == (4, 3, 64, 64)
    assert not torch.equal(batch.src_masks, batch.trg_masks)  # different random views


def test_a_few_steps_lower_the_loss():
    method = SFNetMethod(**TINY)
    pairs = [masked_pair(f"p{i}", seed=i) for i in range(2)]
    optimizer = torch.optim.Adam(method.trainable_parameters(), lr=1e-3)
    method.module.train()
    losses = []
    for step in range(8):
        torch.manual_seed(0)  # the same synthetic batch every step
        loss, logs = method.training_loss(pairs, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.8 * losses[0], losses


def test_frozen_backbone_gets_no_gradient():
    method = SFNetMethod(**TINY, freeze_backbone=True)
    assert all(not p.requires_grad for p in method.module.backbone.parameters())
    method.module.train()
    assert not method.module.backbone.training and method.module.adap3.training
    loss, _ = method.training_loss([masked_pair()], 0)
    loss.backward()
    assert method.module.adap3.conv1[0].weight.grad is not None


def test_shared_loop_trains_checkpoints_and_resumes(tmp_path):
    data = PairList([masked_pair(f"p{i}", seed=i) for i in range(4)])
    config = TrainConfig(epochs=2, batch_size=2, lr=1e-3)
    full = SFNetMethod(**TINY)
    summary = train(full, data, config, tmp_path / "full")
    assert summary.steps == 4 and np.isfinite(summary.losses).all()
    half = SFNetMethod(**TINY)
    train(half, data, TrainConfig(epochs=1, batch_size=2, lr=1e-3), tmp_path / "half")
    resumed = SFNetMethod(**TINY)
    train(resumed, data, config, tmp_path / "half")
    for a, b in zip(resumed.module.state_dict().values(), full.module.state_dict().values()):
        assert torch.equal(a, b)
    reloaded = SFNetMethod(weights=str(tmp_path / "full" / "last.pth"))
    pair = masked_pair(seed=9)
    np.testing.assert_array_equal(reloaded.predict([pair])[0].trg_to_src.coords,
                                  full.predict([pair])[0].trg_to_src.coords)
    assert load_checkpoint(tmp_path / "full" / "last.pth")["options"]["config"] == "embedded"


def test_training_needs_masks():
    pair = masked_pair()
    pair.trg_mask = None
    with pytest.raises(UsageError, match="foreground masks"):
        SFNetMethod(**TINY).training_loss([pair], 0)


def test_a_single_image_item_is_one_training_sample(monkeypatch):
    """voc-masks items are one image (source = target): the official batch of 16 images is 16 items."""
    from corrbench_sfnet import method as method_module

    seen = []
    real = method_module.synthesize

    def counting(images, masks, *args, **kwargs):
        seen.append(len(images))
        return real(images, masks, *args, **kwargs)

    monkeypatch.setattr(method_module, "synthesize", counting)
    single = masked_pair("img", seed=3)
    single.trg_image, single.trg_mask, single.meta = single.src_image, single.src_mask, {"single_image": True}
    model = SFNetMethod(**TINY)
    loss, _ = model.training_loss([single, masked_pair("pair", seed=4)], 0)
    assert seen == [3] and torch.isfinite(loss)
