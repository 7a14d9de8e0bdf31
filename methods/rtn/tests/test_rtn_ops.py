"""RTN primitives: transformer, correlation order, fixed up-sampling, identity fields, losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from corrbench.baselines.identity import relative_position_field
from corrbench.eval.transfer import identity_grid, transfer_points
from corrbench_rtn.fields import to_correspondence_fields, translation
from corrbench_rtn.losses import flow_l1_loss, weak_matching_loss
from corrbench_rtn.ops import (T_H, T_V, constrained_correlation, deconv_upsample2, identity_field, l2_normalize,
                               transform_features)


@pytest.mark.parametrize("align_corners", [True, False])
def test_identity_field_makes_the_transformer_a_plain_conv(align_corners):
    torch.manual_seed(0)
    features = torch.randn(2, 5, 7, 9)
    conv = torch.nn.Conv2d(5, 4, 3, padding=1)
    out = transform_features(features, identity_field(2, 7, 9), conv, align_corners)
    assert torch.allclose(out, conv(features), atol=1e-5)


def test_translation_field_shifts_the_sampled_features():
    torch.manual_seed(0)
    features = torch.randn(1, 3, 8, 10)
    conv = torch.nn.Conv2d(3, 3, 3, padding=1)
    field = identity_field(1, 8, 10)
    field[:, T_H] = 2 * 2.0 / 10  # two pixels right (align_corners=False units)
    out = transform_features(features, field, conv, align_corners=False)
    reference = conv(features)
    assert torch.allclose(out[..., :, 1:-3], reference[..., :, 3:-1], atol=1e-5)


def test_correlation_channel_order_is_horizontal_major():
    f1 = torch.zeros(1, 1, 11, 11)
    f1[0, 0, 5, 5] = 1.0
    for dv, dw in [(0, 0), (2, -3), (-4, 4), (1, 0)]:
        f2 = torch.zeros(1, 1, 11, 11)
        f2[0, 0, 5 + dv, 5 + dw] = 1.0
        corr = constrained_correlation(f1, f2, max_disp=9)
        assert corr.shape == (1, 81, 11, 11)
        assert int(corr[0, :, 5, 5].argmax()) == 9 * (dw + 4) + (dv + 4)


def test_fixed_deconv_upsampling_attenuates_borders():
    up = deconv_upsample2(torch.ones(1, 2, 4, 5))
    assert up.shape == (1, 2, 8, 10)
    assert torch.allclose(up[0, 0, 3:5, 3:7], torch.ones(2, 4))
    assert up[0, 0, 0, 4].item() == pytest.approx(0.75)
    assert up[0, 0, 0, 0].item() == pytest.approx(0.5625)


def test_l2_norm_uses_eps_inside_the_sqrt():
    x = torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)
    assert torch.allclose(l2_normalize(x).flatten(), torch.tensor([3.0, 4.0]) / np.sqrt(25.01))


@pytest.mark.parametrize("align_corners", [True, False])
def test_identity_affine_field_gives_the_identity_flow(align_corners):
    field = identity_field(2, 16, 16)
    sizes1, sizes2 = [(60, 80), (90, 70)], [(60, 80), (45, 140)]
    fields = to_correspondence_fields(translation(field), sizes1, sizes2, input_size=64, align_corners=align_corners)
    for got, s1, s2 in zip(fields, sizes1, sizes2):
        assert got.image_size == s1 and got.coords.shape == (16, 16, 2)
        points = identity_grid(s1, (5, 7)).reshape(-1, 2)
        want = transfer_points(relative_position_field(s1, s2), points)
        np.testing.assert_allclose(transfer_points(got, points), want, atol=1e-3)


def test_weak_loss_prefers_the_true_candidate():
    corr = torch.zeros(1, 81, 4, 4)
    good, bad = corr.clone(), corr.clone()
    good[:, 40] = 1.0  # centre = zero offset
    bad[:, 13] = 1.0
    assert weak_matching_loss(good) < weak_matching_loss(corr) < weak_matching_loss(bad)


def test_weak_loss_is_lowest_under_the_true_warp():
    """Through the transformer: the true translation makes the zero offset the best candidate."""
    torch.manual_seed(0)
    f2 = torch.randn(1, 8, 12, 12)
    conv = torch.nn.Conv2d(8, 16, 3, padding=1)
    f1 = l2_normalize(F.relu(conv(torch.roll(f2, shifts=(0, -2), dims=(2, 3)))))  # f1(p) = f2(p + 2 px right)

    def loss_for(shift_px):
        field = identity_field(1, 12, 12)
        field[:, T_H] = shift_px * 2.0 / 12
        warped = l2_normalize(F.relu(transform_features(f2, field, conv, align_corners=False)))
        return weak_matching_loss(constrained_correlation(f1, warped)[..., 2:-4, 2:-4])

    assert loss_for(2) < loss_for(0) and loss_for(2) < loss_for(1) and loss_for(2) < loss_for(-2)


def test_flow_l1_ignores_invalid_pixels():
    field = identity_field(1, 3, 3)
    field[:, T_V] = 1.0
    target = torch.zeros(1, 2, 3, 3)
    valid = torch.zeros(1, 3, 3, dtype=torch.bool)
    assert flow_l1_loss(field, target, valid) == 0
    valid[0, 1, 1] = True
    assert flow_l1_loss(field, target, valid) == pytest.approx(1.0)
