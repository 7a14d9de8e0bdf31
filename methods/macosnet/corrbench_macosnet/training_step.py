"""One weakly supervised training step of the joint model: every loss of the paper on a batch.

Images A (source), B (target) and, for the triplets, C.  Only the images are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch
import torch.nn.functional as F
from torch.func import functional_call

from corrbench_macosnet.geometry import compose_points, correlation, grid_points, identity_affine, sample_at, warp_image
from corrbench_macosnet.losses import (coseg_loss, cosaliency_loss, cosaliency_targets, cycle_loss, matching_loss,
                                       synthetic_grid_loss, task_consistency_loss, transitivity_loss)
from corrbench_macosnet.model import Encoded

if TYPE_CHECKING:
    from corrbench_macosnet.method import MaCoSNetMethod


def _take(encoded: Encoded, start: int, stop: int) -> Encoded:
    return Encoded([s[start:stop] for s in encoded.skips], encoded.match[start:stop])


def _subset(encoded: Encoded, rows: Sequence[int]) -> Encoded:
    index = torch.as_tensor(list(rows), device=encoded.match.device)
    return Encoded([s.index_select(0, index) for s in encoded.skips], encoded.match.index_select(0, index))


def _seg(method: MaCoSNetMethod, corr_xy: torch.Tensor, mask_y: torch.Tensor) -> torch.Tensor:
    """Foreground weight of each Y cell: the max correlation (released code) or Y's predicted mask."""
    if method.config.fg_guidance == "corr_max":
        return corr_xy.max(dim=1, keepdim=True).values
    return F.adaptive_avg_pool2d(mask_y.detach(), corr_xy.shape[-2:])


def _perceptual_features(method: MaCoSNetMethod):
    if method.config.coseg_features == "resnet50":
        return method.perceptual()
    encoder = method.module.encoder
    # Gradients reach the masks, never the encoder's weights; cloned BN buffers keep the
    # running statistics out of it.
    params = {k: v.detach() for k, v in encoder.named_parameters()}
    buffers = {k: v.clone() for k, v in encoder.named_buffers()}

    def features(images: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(functional_call(encoder, (params, buffers), (images,))[3], 1)

    return features


def joint_loss(method: MaCoSNetMethod, src: torch.Tensor, trg: torch.Tensor, third: torch.Tensor | None,
               has_third: Sequence[int], step: int = 0) -> tuple[torch.Tensor, dict[str, float]]:
    config, model = method.config, method.module
    weights = dict(config.loss_weights)
    warming = step < config.warmup_steps
    if warming:  # curriculum stage 1: random affine warps (and co-saliency) only
        weights = {name: (value if name == "synth" else 0.0) for name, value in weights.items()}
    elif config.warmup_steps > 0:
        frozen = list(model.encoder.parameters()) if config.freeze_encoder_after_warmup else []
        if not config.weak_train_matching:
            frozen += list(model.regress_affine.parameters()) + list(model.regress_tps.parameters())
            weights.update(match=0.0, cycle=0.0, trans=0.0, synth=0.0)
        for parameter in frozen:  # stage 2: these weights stay fixed
            parameter.requires_grad_(False)
    batch, size = src.shape[0], config.image_size
    use_trans = weights["trans"] > 0 and third is not None
    encoded = model.encode(torch.cat([src, trg] + ([third] if use_trans else [])))
    f_a, f_b = _take(encoded, 0, batch), _take(encoded, batch, 2 * batch)

    theta_ab, corr_ab = model.affine(f_a, f_b)
    theta_ba, corr_ba = model.affine(f_b, f_a)
    # Second stage for both directions (and the warm-up's warped copies of A) in one encoder pass.
    synth = weights["synth"] > 0
    second = not warming
    warped = [warp_image(src, theta_ab), warp_image(trg, theta_ba)] if second else []
    if synth:
        theta_true = identity_affine(batch, src.device) + config.synth_affine_std * torch.randn(batch, 6, device=src.device)
        warped.append(warp_image(src, theta_true))
    f_warped = model.encode(torch.cat(warped)) if warped else None
    start_synth = 2 * batch if second else 0
    tps_ab = tps_ba = None
    if second:
        tps_ab = model.regress_tps(correlation(_take(f_warped, 0, batch).match, f_b.match))
        tps_ba = model.regress_tps(correlation(_take(f_warped, batch, 2 * batch).match, f_a.match))

    mask_a = torch.sigmoid(model.mask_logits(f_a, corr_ba))
    mask_b = torch.sigmoid(model.mask_logits(f_b, corr_ab))

    terms: dict[str, torch.Tensor] = {}
    reg, offset, legacy = config.tps_reg_train, config.offset_factor, config.legacy_segmask_broadcast
    if second:
        terms["match"] = 0.5 * (matching_loss(corr_ab, theta_ab, tps_ab, _seg(method, corr_ab, mask_b), offset, reg, legacy)
                                + matching_loss(corr_ba, theta_ba, tps_ba, _seg(method, corr_ba, mask_a), offset, reg, legacy))
        terms["cycle"] = 0.5 * (cycle_loss(theta_ab, theta_ba, size) + cycle_loss(theta_ba, theta_ab, size))
    if use_trans:
        rows = list(has_third)
        f_c = _take(encoded, 2 * batch, encoded.match.shape[0])
        feats = [_subset(f_a, rows), _subset(f_b, rows), f_c]
        thetas = {(0, 1): theta_ab[rows], (1, 0): theta_ba[rows]}
        for x, y in ((0, 2), (2, 0), (1, 2), (2, 1)):
            thetas[(x, y)] = model.affine(feats[x], feats[y])[0]
        terms["trans"] = transitivity_loss(thetas, size)
    if weights["coseg"] > 0:
        terms["coseg"] = coseg_loss(_perceptual_features(method), src, trg, mask_a, mask_b,
                                    config.coseg_margin, config.coseg_l2norm)
    if config.cosal_weight > 0:
        layer2 = encoded.skips[2].detach()
        target_a = cosaliency_targets(layer2[:batch], layer2[batch:2 * batch], config.cosal_quantile)
        target_b = cosaliency_targets(layer2[batch:2 * batch], layer2[:batch], config.cosal_quantile)
        balanced = config.cosal_balanced
        terms["cosal"] = 0.5 * (cosaliency_loss(mask_a, target_a, balanced) + cosaliency_loss(mask_b, target_b, balanced))
        if config.mask_area < 1:
            terms["area"] = 0.5 * (F.relu(mask_a.mean((1, 2, 3)) - config.mask_area) ** 2
                                   + F.relu(mask_b.mean((1, 2, 3)) - config.mask_area) ** 2).mean()
        weights["cosal"] = weights["area"] = config.cosal_weight
    if weights["task"] > 0:
        side = max(size // 4, 8)
        grid = grid_points(side, src.device).expand(batch, -1, -1)
        small_a, small_b = sample_at(mask_a, grid, (side, side)), sample_at(mask_b, grid, (side, side))
        a_in_b = compose_points(theta_ba, tps_ba, grid, reg)  # A's cells carried into B
        b_in_a = compose_points(theta_ab, tps_ab, grid, reg)
        terms["task"] = 0.5 * (task_consistency_loss(small_a, mask_b, a_in_b)
                               + task_consistency_loss(small_b, mask_a, b_in_a))
    if synth:
        theta_pred = model.regress_affine(correlation(f_a.match, _take(f_warped, start_synth, start_synth + batch).match))
        terms["synth"] = synthetic_grid_loss(theta_pred, theta_true)
    total = sum(weights[name] * value for name, value in terms.items() if weights[name] > 0)
    if not torch.is_tensor(total):  # every weight zero: a zero that still has a graph
        total = 0.0 * mask_a.sum()
    logs = {name: float(value.detach()) for name, value in terms.items()}
    logs["fg_fraction"] = float(0.5 * (mask_a.mean() + mask_b.mean()).detach())
    return total, logs
