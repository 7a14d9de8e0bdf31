"""The RTN method end to end on small fake pairs: shapes, iterations, training, determinism, checkpoints."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import corrbench
from corrbench.api import Pair
from corrbench.data.pair_list import PairList
from corrbench.training.checkpoints import load_checkpoint
from corrbench.errors import UsageError
from corrbench.training import TrainConfig, train

SMALL = {"image_size": 64}


def _pairs(n=3):
    rng = np.random.default_rng(0)
    pairs = []
    for i in range(n):
        src = rng.integers(0, 255, (50 + 7 * i, 70, 3), dtype=np.uint8)
        trg = rng.integers(0, 255, (66, 45 + 5 * i, 3), dtype=np.uint8)
        pairs.append(Pair(pair_id=f"p{i}", category="a", src_image=src, trg_image=trg,
                          src_bbox=np.array([5, 5, 40, 40.0]), trg_bbox=np.array([3, 4, 30, 50.0])))
    return pairs


def _perturb(method, seed=1):
    """Random non-zero last layer so the fields are no longer the identity."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        method.module.geo.conv10.weight.copy_(torch.randn(method.module.geo.conv10.weight.shape, generator=gen) * 1e-3)


def test_registered_and_random_init_is_labelled():
    method = corrbench.load_method("rtn", **SMALL)
    assert method.weights_tag() == "random-init"
    assert method.provenance()["config"] == "embedded"


def test_shapes_at_non_square_inputs_both_directions():
    method = corrbench.load_method("rtn", **SMALL)
    pairs = _pairs()
    for pair, prediction in zip(pairs, method.predict(pairs)):
        assert prediction.src_to_trg.image_size == pair.src_size
        assert prediction.trg_to_src.image_size == pair.trg_size
        assert prediction.src_to_trg.coords.shape == (16, 16, 2)  # fine grid = image_size / 4
        assert np.isfinite(prediction.src_to_trg.coords).all()
    only = method.predict(pairs[:1], directions=["trg_to_src"])[0]
    assert only.src_to_trg is None and only.trg_to_src is not None


def test_untrained_model_predicts_the_identity_flow():
    """geo_conv10 starts at zero (as officially), so every residual is zero."""
    from corrbench.baselines.identity import relative_position_field

    method = corrbench.load_method("rtn", **SMALL)
    pair = _pairs(1)[0]
    field = method.predict([pair], ["src_to_trg"])[0].src_to_trg
    from corrbench.eval.transfer import identity_grid, transfer_points

    points = identity_grid(pair.src_size, (6, 6)).reshape(-1, 2)
    want = transfer_points(relative_position_field(pair.src_size, pair.trg_size), points)
    np.testing.assert_allclose(transfer_points(field, points), want, atol=1e-3)


def test_one_iteration_versus_several():
    pairs = _pairs(2)
    one = corrbench.load_method("rtn", iterations=1, return_iterations=True, **SMALL)
    four = corrbench.load_method("rtn", iterations=4, return_iterations=True, **SMALL)
    _perturb(one)
    _perturb(four)
    steps_one = one.predict(pairs)[0].extras["iterations"]["src_to_trg"]
    p4 = four.predict(pairs)[0]
    steps_four = p4.extras["iterations"]["src_to_trg"]
    assert len(steps_one) == 2 and len(steps_four) == 5  # init + iterations
    assert [s.coords.shape[:2] for s in steps_four] == [(8, 8), (8, 8), (16, 16), (16, 16), (16, 16)]
    # the recurrence is a prefix: the first two steps agree, later ones keep refining
    for a, b in zip(steps_one, steps_four[:2]):
        np.testing.assert_allclose(a.coords, b.coords, atol=1e-4)
    assert not np.allclose(steps_four[2].coords, steps_four[4].coords, atol=1e-4)
    np.testing.assert_allclose(steps_four[-1].coords, p4.src_to_trg.coords, atol=1e-5)
    assert len(p4.extras["iterations"]["trg_to_src"]) == 5


def test_paper_flow_upsampling_reaches_input_resolution():
    method = corrbench.load_method("rtn", config="embedded", image_size=64, flow_upsample="deconv",
                                   align_corners=True)
    field = method.predict(_pairs(1), ["src_to_trg"])[0].src_to_trg
    assert field.coords.shape == (64, 64, 2)


def _loss(method, pairs, step):
    with torch.no_grad():
        return float(method.training_loss(pairs, step)[0])


@pytest.mark.parametrize("phase_step,options,factor", [
    (0, {}, 0.98),  # synthetic warm-up
    (10_000, {}, 1.0),  # weak loss, geo net only (random noise images: slow but strictly down)
    (10_000, {"weak_train_backbone": True}, 0.98),  # weak loss, everything trained
])
def test_a_few_steps_lower_the_loss(phase_step, options, factor):
    torch.manual_seed(0)
    method = corrbench.load_method("rtn", warmup_steps=5_000, **options, **SMALL)
    pairs = _pairs(2)
    optimizer = torch.optim.Adam(method.trainable_parameters(), lr=1e-3)
    before = _loss(method, pairs, phase_step)
    method.module.train()
    for _ in range(6):
        loss, _ = method.training_loss(pairs, phase_step)  # same step: same warps and order
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert _loss(method, pairs, phase_step) < factor * before


def test_weak_loss_uses_no_ground_truth():
    method = corrbench.load_method("rtn", **SMALL)
    pairs = _pairs(2)
    loss_a = _loss(method, pairs, 10_000)
    for pair in pairs:  # wipe every label: the loss must not change
        pair.src_kps = pair.trg_kps = np.full((3, 2), 7.0)
        pair.flow_src_to_trg = np.zeros((*pair.src_size, 2))
        pair.src_mask = np.zeros(pair.src_size, bool)
    assert _loss(method, pairs, 10_000) == loss_a


def test_bbox_region_option_changes_the_loss():
    all_pixels = corrbench.load_method("rtn", warmup_steps=0, **SMALL)
    boxed = corrbench.load_method("rtn", warmup_steps=0, loss_region="bbox", **SMALL)
    pairs = _pairs(2)
    assert _loss(boxed, pairs, 0) < _loss(all_pixels, pairs, 0)


def test_training_is_deterministic_under_a_seed(tmp_path):
    results = []
    for run in range(2):
        method = corrbench.load_method("rtn", seed=3, warmup_steps=1, **SMALL)
        config = TrainConfig(epochs=1, batch_size=2, lr=1e-3, seed=5)
        train(method, PairList(_pairs(4)), config, tmp_path / f"run{run}")
        results.append(method.predict(_pairs(1))[0].src_to_trg.coords)
    np.testing.assert_array_equal(results[0], results[1])
    other = corrbench.load_method("rtn", seed=4, **SMALL)
    assert not all(torch.equal(a, b) for a, b in zip(other.module.parameters(), method.module.parameters()))


def test_checkpoint_restores_the_trained_configuration(tmp_path):
    method = corrbench.load_method("rtn", image_size=64, iterations=2, warmup_steps=1)
    train(method, PairList(_pairs(2)), TrainConfig(epochs=1, batch_size=2), tmp_path)
    path = tmp_path / "last.pth"
    assert load_checkpoint(path)["options"]["image_size"] == 64
    reloaded = corrbench.load_method("rtn", weights=str(path), iterations=2)
    assert reloaded.config.image_size == 64 and re.fullmatch(r"last\.pth@[0-9a-f]{8}", reloaded.weights_tag())
    pairs = _pairs(1)
    np.testing.assert_allclose(reloaded.predict(pairs)[0].src_to_trg.coords,
                               method.predict(pairs)[0].src_to_trg.coords, atol=1e-5)
    with pytest.raises(UsageError, match="trained with backbone_width=16; backbone_width=8 contradicts"):
        corrbench.load_method("rtn", weights=str(path), backbone_width=8)


@pytest.mark.parametrize("train_backbone", [False, True])
def test_weak_stage_freezes_the_backbone_by_default(train_backbone):
    method = corrbench.load_method("rtn", warmup_steps=0, weak_train_backbone=train_backbone, **SMALL)
    _perturb(method)
    loss, _ = method.training_loss(_pairs(2), step=3)
    loss.backward()
    backbone_grads = [p.grad for p in method.module.backbone.parameters()]
    assert all(p.requires_grad for p in method.module.parameters())  # restored after the forward
    assert any(p.grad is not None for p in method.module.geo.parameters())
    assert all(g is not None for g in backbone_grads) == train_backbone
    assert all(g is None for g in backbone_grads) == (not train_backbone)


def test_committed_embedded_checkpoint_loads_and_is_trained():
    from corrbench_rtn.method import default_checkpoint

    method = corrbench.load_method("rtn", weights=str(default_checkpoint()))
    assert method.options["config"] == "embedded" and re.fullmatch(r"rtn-synthetic\.pth@[0-9a-f]{8}", method.weights_tag())
    assert method.module.geo.conv10.weight.abs().sum() > 0  # moved away from the zero init
    field = method.predict(_pairs(1), ["trg_to_src"])[0].trg_to_src
    assert field.coords.shape == (32, 32, 2) and np.isfinite(field.coords).all()


def test_committed_checkpoint_recovers_a_known_affine_warp():
    """End to end through ``predict``: image 1 = a known affine warp of image 2 (a synthetic test
    image, non-square); the predicted pixel coordinates must be much closer to the true map than
    the identity's.  Catches a wrong pixel conversion as well as an untrained checkpoint."""
    import torch.nn.functional as F

    from corrbench.eval.transfer import identity_grid
    from corrbench_rtn.method import default_checkpoint

    method = corrbench.load_method("rtn", weights=str(default_checkpoint()))
    dataset = corrbench.load_dataset("synthetic", split="test")
    theta = torch.tensor([[[0.95, -0.2, 0.1], [0.15, 1.05, -0.08]]])  # rotation + shear + shift
    model_errors, identity_errors = [], []
    for index in range(4):
        image2 = dataset[index].src_image
        height, width = image2.shape[:2]
        grid = F.affine_grid(theta, [1, 3, height, width], align_corners=False)
        tensor = torch.from_numpy(image2).permute(2, 0, 1)[None].float()
        image1 = F.grid_sample(tensor, grid, padding_mode="reflection", align_corners=False)
        image1 = image1[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()
        pair = Pair(pair_id=f"warp{index}", category="a", src_image=image1, trg_image=image2)
        coords = method.predict([pair], ["src_to_trg"])[0].src_to_trg.coords
        centres = identity_grid((height, width), coords.shape[:2])
        nx, ny = (centres[..., 0] + 0.5) * 2 / width - 1, (centres[..., 1] + 0.5) * 2 / height - 1
        a = theta[0].numpy()
        tx, ty = a[0, 0] * nx + a[0, 1] * ny + a[0, 2], a[1, 0] * nx + a[1, 1] * ny + a[1, 2]
        truth = np.stack([((tx + 1) * width - 1) / 2, ((ty + 1) * height - 1) / 2], axis=-1)
        inside = (np.abs(tx) < 1) & (np.abs(ty) < 1)
        model_errors.append(np.median(np.linalg.norm(coords - truth, axis=-1)[inside]))
        identity_errors.append(np.median(np.linalg.norm(centres - truth, axis=-1)[inside]))
    assert np.mean(model_errors) < 0.7 * np.mean(identity_errors)


def test_config_names_the_preset_like_every_other_method():
    method = corrbench.load_method("rtn", config="embedded", image_size=64)
    assert method.options["config"] == "embedded" and method.config.backbone == "tiny"
    assert method.default_train_config().optimizer == "adam"
    with pytest.raises(UsageError, match=r"no option\(s\): preset; known: config, .* 'preset' is now 'config'"):
        corrbench.load_method("rtn", preset="embedded")


def test_explicit_config_cannot_override_the_checkpoint_preset():
    from corrbench_rtn.method import default_checkpoint

    with pytest.raises(UsageError, match="rtn-synthetic.pth was trained with config=embedded; config=paper"):
        corrbench.load_method("rtn", weights=str(default_checkpoint()), config="paper")
    # the committed checkpoint (written with the old 'preset' name) restores its own preset
    assert corrbench.load_method("rtn", weights=str(default_checkpoint()), config="embedded").config.image_size == 128
