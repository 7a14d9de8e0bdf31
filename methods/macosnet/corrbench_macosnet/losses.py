"""The paper's losses, each a plain function of tensors (so each can be tested in its ideal case).

Conventions as in :mod:`corrbench_macosnet.geometry`: ``theta_XY`` maps Y's frame to X's frame;
``corr_XY`` has X's cells on the channels (column-major) and Y's grid; masks are foreground
probabilities.
"""

from __future__ import annotations

from itertools import permutations
from typing import Callable

import torch
import torch.nn.functional as F

from corrbench_macosnet.geometry import apply_affine, apply_tps, grid_points, sample_at

INVALID = 1e10


# --- foreground-guided matching (weakalign inlier score) -------------------------------------
def identity_mask(grid: int, device: torch.device | None = None) -> torch.Tensor:
    """(1, g*g, g, g) with ``M[k, y, x] = 1`` iff ``k = x*g + y`` (the correlation's channel order)."""
    mask = torch.zeros(1, grid * grid, grid, grid, device=device)
    ys, xs = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    mask[0, (xs * grid + ys).reshape(-1), ys.reshape(-1), xs.reshape(-1)] = 1.0
    return mask


def affine_loss_points(theta_aff: torch.Tensor, points: torch.Tensor, offset: float) -> torch.Tensor:
    """``o * Aff(theta; p / o)``: the linear part unchanged, the translation scaled by ``o``."""
    matrix = theta_aff.view(-1, 2, 3)
    return points @ matrix[:, :, :2].transpose(1, 2) + offset * matrix[:, :, 2].unsqueeze(1)


def composed_loss_points(theta_aff: torch.Tensor, theta_tps: torch.Tensor, points: torch.Tensor,
                         offset: float, reg: float) -> torch.Tensor:
    """``G_aff(G_tps(p))`` with ``G_tps(p) = o * TPS(p / o)``; points leaving (-1, 1) after either
    stage are marked invalid (moved to 1e10, so they select no inlier)."""
    tps = offset * apply_tps(theta_tps, points / offset, reg)
    out = affine_loss_points(theta_aff, tps, offset)
    bad = (tps.abs() >= 1).any(-1, keepdim=True) | (out.abs() >= 1).any(-1, keepdim=True)
    return torch.where(bad, torch.full_like(out, INVALID), out)


def inlier_mask(points_in_x: torch.Tensor, grid: int) -> torch.Tensor:
    """For each Y cell (row-major points, already mapped into X), the bilinear weights of X's cells
    around it, laid out like ``corr_XY``, normalised by ``sum(M + 1e-5)`` (the official eps per element)."""
    ident = identity_mask(grid, points_in_x.device).expand(points_in_x.shape[0], -1, -1, -1)
    mask = sample_at(ident, points_in_x, (grid, grid))
    return mask / (mask + 1e-5).sum(dim=(1, 2, 3), keepdim=True)


def match_score(corr_xy: torch.Tensor, mask: torch.Tensor, seg: torch.Tensor, legacy: bool = False) -> torch.Tensor:
    """``s_b = sum_{y,x} seg[b,y,x] * sum_k M[b,k,y,x] corr[b,k,y,x]`` -> (B,).

    ``legacy=True`` reproduces the released broadcasting, which returns (B, g) and mixes samples."""
    inliers = (mask * corr_xy).sum(dim=1)  # (B, g, g)
    if legacy:
        return (inliers.unsqueeze(0) * seg).sum(dim=(1, 2))
    return (inliers * seg[:, 0]).sum(dim=(1, 2))


def matching_loss(corr_xy: torch.Tensor, theta_aff: torch.Tensor, theta_tps: torch.Tensor | None,
                  seg: torch.Tensor, offset: float, reg: float, legacy: bool = False) -> torch.Tensor:
    """``-(affine score + composed score)`` for one direction, averaged over its elements."""
    grid = corr_xy.shape[-1]
    points = grid_points(grid, corr_xy.device).expand(corr_xy.shape[0], -1, -1)
    score = match_score(corr_xy, inlier_mask(affine_loss_points(theta_aff, points, offset), grid), seg, legacy)
    if theta_tps is not None:
        comp = composed_loss_points(theta_aff, theta_tps, points, offset, reg)
        score = score + match_score(corr_xy, inlier_mask(comp, grid), seg, legacy)
    return -score.mean()


# --- geometric consistency ----------------------------------------------------------------------
def _pixel_sq_distance(a: torch.Tensor, b: torch.Tensor, image_size: int) -> torch.Tensor:
    scale = (image_size - 1) / 2.0  # normalised -> pixels of the network input
    return (((a - b) * scale) ** 2).sum(-1)


def cycle_loss(theta_xy: torch.Tensor, theta_yx: torch.Tensor, image_size: int, samples: int = 100) -> torch.Tensor:
    """Squared pixel distance after Y -> X -> Y over a 100x100 grid (``CycleLoss``), mean per point."""
    points = grid_points(samples, theta_xy.device).expand(theta_xy.shape[0], -1, -1)
    back = apply_affine(theta_yx, apply_affine(theta_xy, points))
    return _pixel_sq_distance(points, back, image_size).mean()


def transitivity_loss(thetas: dict[tuple[int, int], torch.Tensor], image_size: int, samples: int = 100) -> torch.Tensor:
    """Round trips X -> Z -> Y -> X over the 6 orderings of a triplet (``TransLoss``).

    ``thetas[(i, j)]`` is theta_ij (maps j's frame to i's) for images i, j in {0, 1, 2}."""
    first = next(iter(thetas.values()))
    points = grid_points(samples, first.device).expand(first.shape[0], -1, -1)
    terms = []
    for x, y, z in permutations(range(3)):
        in_z = apply_affine(thetas[(z, x)], points)
        in_y = apply_affine(thetas[(y, z)], in_z)
        back = apply_affine(thetas[(x, y)], in_y)
        terms.append(_pixel_sq_distance(points, back, image_size).mean())
    return torch.stack(terms).mean()


# --- co-segmentation ------------------------------------------------------------------------------
def coseg_loss(features: Callable[[torch.Tensor], torch.Tensor], image_x: torch.Tensor, image_y: torch.Tensor,
               mask_x: torch.Tensor, mask_y: torch.Tensor, margin: float, l2norm: bool) -> torch.Tensor:
    """Perceptual contrastive loss (``CosegLoss``): the two foregrounds look alike, and each
    foreground differs from its own background by at least ``margin``.

    ``pos = d(o_x, o_y)``, ``neg = max(0, margin - (d(o_x, b_x) + d(o_y, b_y)))`` with
    ``d = ||.||^2 / D`` averaged over the batch (or ``||.||^2`` of L2-normalised features)."""
    batch = image_x.shape[0]
    crops = torch.cat([image_x * mask_x, image_y * mask_y, image_x * (1 - mask_x), image_y * (1 - mask_y)])
    feats = features(crops).flatten(1)
    if l2norm:
        feats = F.normalize(feats, dim=1)
        scale = 1.0
    else:
        scale = 1.0 / feats.shape[1]
    fg_x, fg_y, bg_x, bg_y = feats.split(batch)

    def distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return ((a - b) ** 2).sum(1).mean() * scale

    positive = distance(fg_x, fg_y)
    negative = F.relu(margin - (distance(fg_x, bg_x) + distance(fg_y, bg_y)))
    return positive + negative


def soft_bce(prob: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Binary cross-entropy differentiable in both arguments, weighted mean."""
    prob = prob.clamp(eps, 1 - eps)
    bce = -(target * torch.log(prob) + (1 - target) * torch.log(1 - prob))
    return (bce * weight).sum() / weight.sum().clamp_min(1.0)


def task_consistency_loss(mask_x: torch.Tensor, mask_y: torch.Tensor, points_in_y: torch.Tensor) -> torch.Tensor:
    """X's mask should equal Y's mask carried into X's frame by the predicted flow (``TaskLoss``).

    ``points_in_y`` (B, h*w, 2): where each cell of X's ``linspace`` grid (h, w = mask_x's size)
    lands in Y.  Cells whose match leaves Y are ignored.  ``BCE(m, w) + BCE(1-m, 1-w)`` is twice
    the BCE, so the mean BCE is used; gradients reach both masks and the flow."""
    height, width = mask_x.shape[-2:]
    warped = sample_at(mask_y, points_in_y, (height, width))
    inside = (points_in_y.abs() <= 1).all(-1).view(-1, 1, height, width).to(mask_x.dtype)
    return soft_bce(mask_x, warped, inside)


# --- embedded warm-up ---------------------------------------------------------------------------
def synthetic_grid_loss(theta_pred: torch.Tensor, theta_true: torch.Tensor, samples: int = 20) -> torch.Tensor:
    """CNNGeometric's grid loss: mean squared distance of grid points under both affines."""
    points = grid_points(samples, theta_pred.device).expand(theta_pred.shape[0], -1, -1)
    return ((apply_affine(theta_pred, points) - apply_affine(theta_true, points)) ** 2).sum(-1).mean()


# --- embedded co-saliency pseudo-labels -------------------------------------------------------------
def cosaliency_targets(feat_x: torch.Tensor, feat_y: torch.Tensor, quantile: float) -> torch.Tensor:
    """(B, 1, h, w) 0/1 targets for X: its cells whose best cosine match in Y beats their best
    match among X's other cells, the top ``1 - quantile`` of that margin per image.

    The object is common to both images while the backgrounds differ, so common cells are
    foreground (the co-segmentation premise); no ground truth is used.  No gradient."""
    with torch.no_grad():
        batch, _, height, width = feat_x.shape
        fx = F.normalize(feat_x.flatten(2), dim=1)
        fy = F.normalize(feat_y.flatten(2), dim=1)
        cross = torch.bmm(fx.transpose(1, 2), fy).max(dim=2).values  # (B, hw)
        own = torch.bmm(fx.transpose(1, 2), fx)
        own = own - 3.0 * torch.eye(own.shape[-1], device=own.device)  # exclude each cell itself
        margin = cross - own.max(dim=2).values
        threshold = margin.quantile(quantile, dim=1, keepdim=True)
        return (margin >= threshold).to(feat_x.dtype).view(batch, 1, height, width)


def class_balance_weights(target: torch.Tensor) -> torch.Tensor:
    """Per-cell weights giving each image's positives and negatives half of its total weight.

    With a fraction ``r`` of positive cells, positives weigh ``1 / (2r)`` and negatives
    ``1 / (2(1 - r))`` (mean weight 1).  A classifier minimising the balanced BCE outputs
    ``p = q / (q + r/(1-r) (1 - q))`` where ``q`` is the probability that a cell is labelled
    positive: ``p > 0.5`` iff ``q > r``, i.e. the 0.5 decision threshold sits at the base rate
    instead of at ``q = 0.5``.  An image with only one class keeps weight 1 everywhere."""
    dims = tuple(range(1, target.dim()))
    rate = target.mean(dim=dims, keepdim=True)
    single = (rate <= 0) | (rate >= 1)
    positive = 0.5 / rate.clamp_min(1e-6)
    negative = 0.5 / (1 - rate).clamp_min(1e-6)
    weights = target * positive + (1 - target) * negative
    return torch.where(single, torch.ones_like(weights), weights)


def cosaliency_loss(mask: torch.Tensor, target: torch.Tensor, balanced: bool = False) -> torch.Tensor:
    """Mean BCE of the mask (pooled to the targets' grid) against the pseudo-labels.

    ``balanced``: class-balanced BCE (:func:`class_balance_weights`).  The pseudo-labels mark a
    fixed ``1 - quantile`` of each image and are noisy (the same object cell is positive against
    one partner image and not another), so the unbalanced BCE's optimum on object cells stays
    below 0.5 and thresholded masks come out far smaller than the object."""
    pooled = F.adaptive_avg_pool2d(mask, target.shape[-2:])
    weights = class_balance_weights(target) if balanced else torch.ones_like(target)
    return soft_bce(pooled, target, weights)
