"""SFNet's three training losses (paper §3.3; official ``custom_loss.py`` for the constants).

All maps are at feature resolution: masks (B, 1, h, w) binary, flows (B, 2, h, w) and grids
(B, h, w, 2) in normalised align-corners units.  ``n = mask.sum() + 1`` per sample normalises
the flow terms, as the official code does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from corrbench_sfnet.model import Matches


def warp(values: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Bilinear sampling with zero padding; align_corners=True as torch 1.0 (the official grids
    are ``linspace(-1, 1)``, i.e. corner-aligned)."""
    return F.grid_sample(values, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def foreground_count(mask: torch.Tensor) -> torch.Tensor:
    return mask.sum(dim=(2, 3), keepdim=True) + 1.0


def mask_consistency(est_src: torch.Tensor, src_mask: torch.Tensor, est_trg: torch.Tensor,
                     trg_mask: torch.Tensor) -> torch.Tensor:
    """L_mask: squared error between masks warped through the flow and the true masks."""
    area = src_mask.shape[-1] * src_mask.shape[-2]
    return ((est_src - src_mask) ** 2).sum() / area + ((est_trg - trg_mask) ** 2).sum() / area


def flow_consistency(flow_s2t: torch.Tensor, flow_t2s: torch.Tensor, grid_s2t: torch.Tensor,
                     grid_t2s: torch.Tensor, src_mask: torch.Tensor, trg_mask: torch.Tensor) -> torch.Tensor:
    """L_flow: on the foreground, the forward flow must equal minus the backward flow read at the
    matched position (the official code samples the *unmasked* backward flow)."""
    warped_s2t = -warp(flow_t2s, grid_s2t) * src_mask
    warped_t2s = -warp(flow_s2t, grid_t2s) * trg_mask
    term_s = (((flow_s2t * src_mask - warped_s2t) ** 2) / foreground_count(src_mask)).sum()
    term_t = (((flow_t2s * trg_mask - warped_t2s) ** 2) / foreground_count(trg_mask)).sum()
    return term_s + term_t


def flow_gradients(flow: torch.Tensor, mask: torch.Tensor, per_component: bool = False) -> torch.Tensor:
    """|central differences| of the flow on the foreground, zero-padded at the border, (B, 2, h, w).

    Official (``per_component=False``): the x and y flow components are summed before the
    absolute value, so dx = |d(fx)/dx + d(fy)/dx| (one channel for dx, one for dy).
    """
    padded_x = F.pad(flow, (1, 1, 0, 0))
    padded_y = F.pad(flow, (0, 0, 1, 1))
    dx = (padded_x[..., 2:] - padded_x[..., :-2]) / 2  # (B, 2, h, w)
    dy = (padded_y[..., 2:, :] - padded_y[..., :-2, :]) / 2
    if per_component:
        return torch.cat([dx.abs().sum(1, keepdim=True), dy.abs().sum(1, keepdim=True)], 1) * mask
    return torch.cat([dx.sum(1, keepdim=True).abs(), dy.sum(1, keepdim=True).abs()], 1) * mask


def smoothness(flow_s2t: torch.Tensor, flow_t2s: torch.Tensor, src_mask: torch.Tensor,
               trg_mask: torch.Tensor) -> torch.Tensor:
    """L_smooth: first-order flow variation on the foreground, normalised by foreground size."""
    return ((flow_gradients(flow_s2t, src_mask) / foreground_count(src_mask)).sum()
            + (flow_gradients(flow_t2s, trg_mask) / foreground_count(trg_mask)).sum())


def sfnet_loss(matches: Matches, src_mask: torch.Tensor, trg_mask: torch.Tensor,
               lambdas: tuple[float, float, float] = (3.0, 16.0, 0.5)) -> tuple[torch.Tensor, dict[str, float]]:
    """(λ1·L_mask + λ2·L_flow + λ3·L_smooth) / B, with the paper's λ = (3, 16, 0.5)."""
    batch = src_mask.shape[0]
    est_src = warp(trg_mask, matches.grid_s2t)
    est_trg = warp(src_mask, matches.grid_t2s)
    terms = (
        mask_consistency(est_src, src_mask, est_trg, trg_mask),
        flow_consistency(matches.flow_s2t, matches.flow_t2s, matches.grid_s2t, matches.grid_t2s,
                         src_mask, trg_mask),
        smoothness(matches.flow_s2t, matches.flow_t2s, src_mask, trg_mask),
    )
    weighted = [weight * term / batch for weight, term in zip(lambdas, terms)]
    total = weighted[0] + weighted[1] + weighted[2]
    logs = {name: float(value.detach()) for name, value in zip(("mask", "flow", "smooth"), weighted)}
    return total, logs
