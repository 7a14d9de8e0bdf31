"""Each SFNet loss is zero in its ideal case and positive otherwise."""

from __future__ import annotations

import torch

from corrbench.matching.kernel_softargmax import normalized_cell_coords
from corrbench_sfnet.losses import flow_consistency, flow_gradients, mask_consistency, sfnet_loss, smoothness, warp
from corrbench_sfnet.model import Matches

H = W = 10


def identity_grid(batch: int = 2) -> torch.Tensor:
    return normalized_cell_coords(H, W).reshape(1, H, W, 2).repeat(batch, 1, 1, 1)


def shifted(grid: torch.Tensor, cells: int) -> torch.Tensor:
    out = grid.clone()
    out[..., 0] += cells * 2 / (W - 1)
    return out


def matches_from(grid_s2t: torch.Tensor, grid_t2s: torch.Tensor) -> Matches:
    ident = identity_grid(grid_s2t.shape[0])
    return Matches(grid_s2t, grid_t2s, (grid_s2t - ident).permute(0, 3, 1, 2), (grid_t2s - ident).permute(0, 3, 1, 2))


def box_mask(x0: int, x1: int, batch: int = 2) -> torch.Tensor:
    mask = torch.zeros(batch, 1, H, W)
    mask[..., 3:7, x0:x1] = 1
    return mask


def test_mask_consistency():
    src, trg = box_mask(2, 5), box_mask(4, 7)  # the target object is 2 cells to the right
    good = matches_from(shifted(identity_grid(), 2), shifted(identity_grid(), -2))
    est_src, est_trg = warp(trg, good.grid_s2t), warp(src, good.grid_t2s)
    assert mask_consistency(est_src, src, est_trg, trg) < 1e-10
    bad = matches_from(identity_grid(), identity_grid())
    assert mask_consistency(warp(trg, bad.grid_s2t), src, warp(src, bad.grid_t2s), trg) > 0.1


def test_flow_consistency():
    src, trg = box_mask(2, 5), box_mask(4, 7)
    inverse = matches_from(shifted(identity_grid(), 2), shifted(identity_grid(), -2))
    value = flow_consistency(inverse.flow_s2t, inverse.flow_t2s, inverse.grid_s2t, inverse.grid_t2s, src, trg)
    assert value < 1e-10
    not_inverse = matches_from(shifted(identity_grid(), 2), shifted(identity_grid(), 1))
    value = flow_consistency(not_inverse.flow_s2t, not_inverse.flow_t2s, not_inverse.grid_s2t,
                             not_inverse.grid_t2s, src, trg)
    assert value > 1e-3


def test_smoothness():
    mask = box_mask(2, 6)
    constant = matches_from(shifted(identity_grid(), 1), shifted(identity_grid(), -1))
    assert smoothness(constant.flow_s2t, constant.flow_t2s, mask, mask) < 1e-6  # float rounding only
    rough = torch.randn(2, 2, H, W)
    assert smoothness(rough, rough, mask, mask) > 0.1


def test_smoothness_mixes_components_like_the_official_code():
    # fx rises to the right as fy falls: the official (summed-before-abs) dx cancels, per-component does not.
    ramp = torch.arange(W, dtype=torch.float32).view(1, 1, 1, W).expand(1, 1, H, W)
    flow = torch.cat([ramp, -ramp], dim=1)
    inner = torch.zeros(1, 1, H, W)
    inner[..., 2:-2, 2:-2] = 1
    assert flow_gradients(flow, inner).abs().sum() == 0
    assert flow_gradients(flow, inner, per_component=True).abs().sum() > 0


def test_total_loss_weights_and_ideal_case():
    src, trg = box_mask(2, 5), box_mask(4, 7)
    ideal = matches_from(shifted(identity_grid(), 2), shifted(identity_grid(), -2))
    total, logs = sfnet_loss(ideal, src, trg)
    assert float(total) < 1e-8 and set(logs) == {"mask", "flow", "smooth"}
    wrong = matches_from(shifted(identity_grid(), -1), shifted(identity_grid(), 3))
    total, logs = sfnet_loss(wrong, src, trg, lambdas=(3.0, 16.0, 0.5))
    assert float(total) > 0 and abs(float(total) - sum(logs.values())) < 1e-5
    only_mask, _ = sfnet_loss(wrong, src, trg, lambdas=(3.0, 0.0, 0.0))
    assert abs(float(only_mask) - logs["mask"]) < 1e-5
