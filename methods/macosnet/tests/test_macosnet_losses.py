"""Each loss of the paper in its ideal case, and the geometry it relies on."""

from __future__ import annotations

import torch

from corrbench_macosnet.geometry import (apply_affine, apply_tps, correlation, grid_points, identity_affine,
                                         identity_tps, tps_control_points)
from corrbench_macosnet.losses import (coseg_loss, cycle_loss, identity_mask, match_score, matching_loss,
                                       synthetic_grid_loss, task_consistency_loss, transitivity_loss)


def _random_affine(batch: int, seed: int, spread: float = 0.2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return identity_affine(batch) + spread * torch.randn(batch, 6, generator=generator)


def _invert(theta: torch.Tensor) -> torch.Tensor:
    full = torch.cat([theta.view(-1, 2, 3), torch.tensor([0.0, 0.0, 1.0]).expand(theta.shape[0], 1, 3)], 1)
    return torch.linalg.inv(full)[:, :2].reshape(-1, 6)


def test_correlation_channels_are_column_major():
    grid = 5
    features = torch.eye(grid * grid).view(1, grid * grid, grid, grid)  # one-hot per cell (row-major)
    corr = correlation(features, features)
    for y, x in ((0, 3), (4, 1), (2, 2)):
        assert int(corr[0, :, y, x].argmax()) == x * grid + y


def test_identity_mask_matches_correlation_layout():
    grid = 4
    features = torch.eye(grid * grid).view(1, grid * grid, grid, grid)
    torch.testing.assert_close(correlation(features, features), identity_mask(grid))


def test_matching_loss_is_lowest_at_the_true_transform():
    grid = 9
    features = torch.randn(2, 32, grid, grid)
    corr = correlation(features, features)  # A == B: the true transform is the identity
    seg = torch.ones(2, 1, grid, grid)
    best = matching_loss(corr, identity_affine(2), identity_tps(2), seg, offset=1.0, reg=0.2)
    for seed in range(5):
        worse = matching_loss(corr, _random_affine(2, seed, 0.15), identity_tps(2), seg, offset=1.0, reg=0.2)
        assert best < worse
    # With one-hot correlations the identity score is the whole grid, up to the official normaliser.
    one_hot = identity_mask(grid).expand(2, -1, -1, -1)
    ideal = matching_loss(one_hot, identity_affine(2), None, seg, offset=1.0, reg=0.0)
    expected = -(grid * grid) / (grid * grid + grid**4 * 1e-5)
    torch.testing.assert_close(ideal, torch.tensor(expected), rtol=1e-5, atol=1e-6)


def test_foreground_guidance_ignores_background_cells_and_legacy_shape():
    grid = 6
    corr = correlation(torch.randn(3, 16, grid, grid), torch.randn(3, 16, grid, grid))
    mask = identity_mask(grid).expand(3, -1, -1, -1) / grid**2
    seg = torch.zeros(3, 1, grid, grid)
    assert torch.equal(match_score(corr, mask, seg), torch.zeros(3))
    assert match_score(corr, mask, seg + 1, legacy=True).shape == (3, grid)  # the released (B, g) bug
    assert match_score(corr, mask, seg + 1).shape == (3,)


def test_cycle_loss_zero_for_inverse_pair_only():
    theta = _random_affine(3, 0)
    assert float(cycle_loss(theta, _invert(theta), 240)) < 1e-6
    assert float(cycle_loss(theta, _random_affine(3, 1), 240)) > 1.0


def test_transitivity_loss_zero_for_consistent_triplet():
    frames = [_random_affine(2, seed) for seed in range(3)]  # canonical -> image i
    thetas = {}
    for x in range(3):
        for y in range(3):
            if x != y:  # theta_xy maps y's frame to x's: G_x o G_y^-1
                full = lambda t: torch.cat([t.view(-1, 2, 3), torch.tensor([0.0, 0.0, 1.0]).expand(2, 1, 3)], 1)
                thetas[(x, y)] = (full(frames[x]) @ torch.linalg.inv(full(frames[y])))[:, :2].reshape(-1, 6)
    assert float(transitivity_loss(thetas, 240)) < 1e-5
    thetas[(0, 1)] = _random_affine(2, 7)
    assert float(transitivity_loss(thetas, 240)) > 1.0


def test_coseg_loss_zero_when_foregrounds_agree_and_differ_from_backgrounds():
    image = torch.zeros(2, 3, 8, 8)
    image[:, :, 2:6, 2:6] = 1.0  # the object
    mask = (image[:, :1] > 0).float()

    def features(x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))  # mean colour as the "perceptual" feature

    ideal = coseg_loss(features, image, image, mask, mask, margin=0.05, l2norm=False)
    assert float(ideal) == 0.0
    swapped = coseg_loss(features, image, image, 1 - mask, mask, margin=0.05, l2norm=False)
    assert float(swapped) > 0.0
    everything = coseg_loss(features, image, image, torch.ones_like(mask), torch.zeros_like(mask), 0.5, l2norm=True)
    assert float(everything) > 0.0


def test_task_consistency_warps_a_known_mask_by_a_known_flow():
    side = 16
    mask_y = torch.zeros(1, 1, side, side)
    mask_y[..., 4:10, 6:12] = 1.0
    shift = 4 * 2 / (side - 1)  # 4 pixels in normalised units (align-corners)
    grid = grid_points(side).unsqueeze(0)
    points_in_y = grid + torch.tensor([shift, 0.0])  # X's pixel (x, y) sits at (x + 4, y) in Y
    mask_x = torch.zeros(1, 1, side, side)
    mask_x[..., 4:10, 2:8] = 1.0  # Y's square moved 4 px left
    assert float(task_consistency_loss(mask_x, mask_y, points_in_y)) < 1e-4
    wrong = torch.zeros_like(mask_x)
    wrong[..., 4:10, 6:12] = 1.0
    assert float(task_consistency_loss(wrong, mask_y, points_in_y)) > 1.0
    flow = points_in_y.clone().requires_grad_(True)
    task_consistency_loss(mask_x * 0.5 + 0.25, mask_y, flow).backward()
    assert flow.grad is not None and flow.grad.abs().sum() > 0


def test_synthetic_grid_loss_zero_at_truth():
    theta = _random_affine(2, 3)
    assert float(synthetic_grid_loss(theta, theta)) == 0.0
    assert float(synthetic_grid_loss(identity_affine(2), theta)) > 0.0


def test_tps_identity_and_interpolation():
    points = torch.rand(2, 50, 2) * 2 - 1
    torch.testing.assert_close(apply_tps(identity_tps(2), points, reg=0.2), points, atol=1e-5, rtol=0)
    theta = identity_tps(1) + 0.1 * torch.randn(1, 18)
    control = tps_control_points().unsqueeze(0)
    mapped = apply_tps(theta, control, reg=0.0)  # lambda 0 interpolates the control points
    torch.testing.assert_close(mapped, theta.view(1, 2, 9).transpose(1, 2), atol=1e-4, rtol=0)
    torch.testing.assert_close(apply_affine(identity_affine(2), points), points)


def test_cosaliency_targets_pick_the_cells_common_to_both_images():
    from corrbench_macosnet.losses import cosaliency_loss, cosaliency_targets

    generator = torch.Generator().manual_seed(0)
    feat_x = torch.randn(2, 256, 6, 6, generator=generator)
    feat_y = torch.randn(2, 256, 6, 6, generator=generator)
    feat_y[:, :, 3:5, 0:2] = feat_x[:, :, 1:3, 2:4]  # a 2x2 "object" seen in both, elsewhere in Y
    target = cosaliency_targets(feat_x, feat_y, quantile=1 - 4 / 36)
    expected = torch.zeros(2, 1, 6, 6)
    expected[:, :, 1:3, 2:4] = 1.0
    assert torch.equal(target, expected)
    mask = torch.nn.functional.interpolate(expected, scale_factor=4.0)
    assert float(cosaliency_loss(mask.clamp(0.01, 0.99), target)) < float(cosaliency_loss(torch.full_like(mask, 0.5), target))


def test_class_balance_weights_give_each_class_half_the_weight():
    from corrbench_macosnet.losses import class_balance_weights

    target = torch.zeros(3, 1, 4, 5)
    target[0, :, :1, :3] = 1.0  # 3 of 20 cells positive
    target[1] = 1.0  # a single class keeps weight 1
    weights = class_balance_weights(target)
    torch.testing.assert_close(weights.mean(dim=(1, 2, 3)), torch.ones(3))
    positive = (weights * target)[0].sum()
    torch.testing.assert_close(positive, (weights * (1 - target))[0].sum())
    torch.testing.assert_close(weights[1], torch.ones(1, 4, 5))
    torch.testing.assert_close(weights[2], torch.ones(1, 4, 5))


def test_balanced_cosaliency_loss_is_minimal_in_its_ideal_case_and_moves_the_decision_to_the_base_rate():
    """The balanced BCE is minimal for the pseudo-labels themselves; for an uninformative (constant)
    mask its optimum is 0.5, while the plain BCE's is the positive rate r (0.15 here): that is why
    plainly trained masks thresholded at 0.5 come out too small."""
    from corrbench_macosnet.losses import cosaliency_loss

    target = torch.zeros(2, 1, 10, 10)
    target[:, :, 2:5, 3:8] = 1.0  # r = 0.15
    ideal = target.clamp(1e-4, 1 - 1e-4)
    for balanced in (False, True):
        best = float(cosaliency_loss(ideal, target, balanced))
        for other in (0.5 * ideal + 0.25, ideal.flip(-1), torch.full_like(target, 0.3)):
            assert best < float(cosaliency_loss(other, target, balanced))
    levels = torch.linspace(0.01, 0.99, 99)
    plain = torch.stack([cosaliency_loss(torch.full_like(target, float(c)), target) for c in levels])
    balanced = torch.stack([cosaliency_loss(torch.full_like(target, float(c)), target, True) for c in levels])
    assert abs(float(levels[plain.argmin()]) - 0.15) < 0.011
    assert abs(float(levels[balanced.argmin()]) - 0.5) < 0.011
