"""Training: a few steps lower the joint loss; the shared loop checkpoints and resumes exactly."""

from __future__ import annotations

import numpy as np
import torch

from corrbench.data.pair_list import PairList
from corrbench.training import TrainConfig, train
from corrbench_macosnet.method import MaCoSNetMethod
from corrbench_macosnet.triplets import TripletSampler
from macosnet_fakes import TINY, blob_pair


def test_a_few_steps_lower_the_joint_loss():
    method = MaCoSNetMethod(**TINY)
    pairs = [blob_pair(f"p{i}", seed=i) for i in range(3)]
    optimizer = torch.optim.Adam(method.trainable_parameters(), lr=1e-3)
    method.module.train()
    losses = []
    for step in range(10):
        torch.manual_seed(0)  # the same warm-up warps every step
        loss, logs = method.training_loss(pairs, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert {"match", "cycle", "trans", "coseg", "task", "synth"} <= set(logs)
    assert losses[-1] < 0.8 * losses[0], losses


def test_every_loss_sends_gradient_to_its_modules():
    method = MaCoSNetMethod(**TINY)
    method.module.train()
    loss, _ = method.training_loss([blob_pair("a", seed=1), blob_pair("b", seed=2)], 0)
    loss.backward()
    module = method.module
    for parameter in (module.encoder.model[0].weight, module.regress_affine.linear.weight,
                      module.regress_tps.linear.weight, module.decoder.deconv4.weight):
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0


def test_triplets_come_from_the_same_category_and_are_deterministic():
    pairs = [blob_pair(f"p{i}", seed=i, category="ab"[i % 2]) for i in range(6)]
    sampler = TripletSampler(PairList(pairs), seed=0)
    for step in range(4):
        third = sampler.third_image(pairs[0], step, 0)
        owners = [p for p in pairs if any(np.array_equal(third, p.image(s)) for s in ("src", "trg"))]
        assert owners and all(p.category == "a" and p.pair_id != "p0" for p in owners)
    fresh = TripletSampler(PairList(pairs), seed=0)
    assert np.array_equal(fresh.third_image(pairs[3], 7, 1), sampler.third_image(pairs[3], 7, 1))
    assert TripletSampler(PairList(pairs[:1])).third_image(pairs[0], 0, 0) is None


def test_shared_loop_trains_checkpoints_and_resumes(tmp_path):
    data = PairList([blob_pair(f"p{i}", seed=i) for i in range(4)])
    config = TrainConfig(epochs=2, batch_size=2, lr=1e-3)
    full = MaCoSNetMethod(**TINY)
    summary = train(full, data, config, tmp_path / "full")
    assert summary.steps == 4 and np.isfinite(summary.losses).all()
    half = MaCoSNetMethod(**TINY)
    train(half, data, TrainConfig(epochs=1, batch_size=2, lr=1e-3), tmp_path / "half")
    resumed = MaCoSNetMethod(**TINY)
    train(resumed, data, config, tmp_path / "half")
    for a, b in zip(resumed.module.state_dict().values(), full.module.state_dict().values()):
        assert torch.equal(a, b)
    reloaded = MaCoSNetMethod(weights=str(tmp_path / "full" / "last.pth"))
    pair = blob_pair(seed=9)
    np.testing.assert_array_equal(reloaded.predict([pair])[0].trg_to_src.coords,
                                  full.predict([pair])[0].trg_to_src.coords)
    np.testing.assert_array_equal(reloaded.predict([pair])[0].src_mask, full.predict([pair])[0].src_mask)


def test_embedded_curriculum_warms_up_then_trains_the_decoder_only():
    method = MaCoSNetMethod(**{**TINY, "warmup_steps": 2, "freeze_encoder_after_warmup": True,
                               "weak_train_matching": False, "cosal_weight": 1.0, "mask_area": 0.4})
    method.module.train()
    pairs = [blob_pair("a", seed=1), blob_pair("b", seed=2)]
    _, logs = method.training_loss(pairs, 0)
    assert {"synth", "cosal", "area"} <= set(logs) and not {"match", "coseg", "task"} & set(logs)
    loss, logs = method.training_loss(pairs, 2)
    assert {"coseg", "task", "cosal"} <= set(logs)
    loss.backward()
    module = method.module
    assert module.decoder.deconv4.weight.grad.abs().sum() > 0
    for parameter in (module.encoder.model[0].weight, module.regress_affine.linear.weight):
        assert parameter.grad is None


def test_balanced_cosaliency_option_trains_the_decoder():
    method = MaCoSNetMethod(**{**TINY, "cosal_weight": 1.0, "cosal_balanced": True, "mask_prior_correction": False,
                               "lambdas": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]})
    method.module.train()
    loss, logs = method.training_loss([blob_pair("a", seed=1), blob_pair("b", seed=2)], 0)
    assert {"cosal", "area"} <= set(logs) and float(loss.detach()) > 0
    loss.backward()
    assert method.module.decoder.deconv4.weight.grad.abs().sum() > 0
