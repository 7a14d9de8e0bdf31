"""NeMF training losses (the official release has none; written from the paper).

* Matching-field loss: for each ground-truth correspondence (s, t), the decoder scores
  ``candidates`` points: the true partner first, then uniform random points of the other image;
  cross-entropy with the true partner as class 0.  Both directions: source anchors against
  target candidates and target anchors against source candidates (as the official
  ``forward_MLP`` builds its logits).
* Encoder flow loss (weight ``flow_weight``): the coarse soft-argmax field, sampled at the
  ground-truth target points, against the true source points; end-point error in coarse-grid
  cells (as CATs, whose aggregator NeMF adopts).  PatchMatch only searches near this field, so
  the encoder must learn it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from corrbench.api import Pair
from corrbench_nemf.field import NeuralMatchingField, Volumes


@dataclass
class Correspondences:
    """Normalised (align-corners) ground-truth point pairs of a batch, with their pair index."""

    pair: torch.Tensor  # (M,)
    src: torch.Tensor  # (M, 2)
    trg: torch.Tensor  # (M, 2)


def normalise(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    height, width = size
    return np.stack([points[:, 0] / (width - 1) * 2 - 1, points[:, 1] / (height - 1) * 2 - 1], axis=1)


def pair_correspondences(pair: Pair, count: int, generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``count`` (source px, target px) matches: visible keypoints, topped up from the dense
    ground-truth flow (valid, inside the target) when the pair has one."""
    visible = pair.kps_visible if pair.kps_visible is not None else np.ones(len(pair.src_kps), bool)
    src, trg = pair.src_kps[visible], pair.trg_kps[visible]
    if pair.flow_src_to_trg is not None and len(src) < count:
        flow = pair.flow_src_to_trg
        h_t, w_t = pair.trg_size
        ok = np.isfinite(flow).all(-1) & (flow[..., 0] >= 0) & (flow[..., 0] <= w_t - 1) \
            & (flow[..., 1] >= 0) & (flow[..., 1] <= h_t - 1)
        rows, cols = np.nonzero(ok)
        if len(rows):
            pick = torch.randint(len(rows), (count - len(src),), generator=generator).numpy()
            src = np.concatenate([src, np.stack([cols[pick], rows[pick]], 1).astype(np.float64)])
            trg = np.concatenate([trg, flow[rows[pick], cols[pick]].astype(np.float64)])
    if len(src) > count:
        keep = torch.randperm(len(src), generator=generator)[:count].numpy()
        src, trg = src[keep], trg[keep]
    return src, trg


def batch_correspondences(pairs: list[Pair], count: int, generator: torch.Generator,
                          device: torch.device | str = "cpu") -> Correspondences:
    ids, srcs, trgs = [], [], []
    for index, pair in enumerate(pairs):
        src, trg = pair_correspondences(pair, count, generator)
        ids.append(np.full(len(src), index))
        srcs.append(normalise(src, pair.src_size))
        trgs.append(normalise(trg, pair.trg_size))
    as_tensor = lambda parts, dtype: torch.as_tensor(np.concatenate(parts), dtype=dtype, device=device)
    return Correspondences(as_tensor(ids, torch.long), as_tensor(srcs, torch.float32), as_tensor(trgs, torch.float32))


def candidate_logits(field: NeuralMatchingField, volumes: Volumes, gt: Correspondences, candidates: int,
                     anchor_is_source: bool, generator: torch.Generator, chunk: int) -> torch.Tensor:
    """(M, candidates) logits; column 0 is the true partner."""
    anchors, partners = (gt.src, gt.trg) if anchor_is_source else (gt.trg, gt.src)
    m = anchors.shape[0]
    random = torch.rand((m, candidates - 1, 2), generator=generator).to(anchors.device) * 2 - 1
    cands = torch.cat((partners[:, None], random), dim=1)
    fixed = anchors[:, None].expand(m, candidates, 2)
    src, trg = (fixed, cands) if anchor_is_source else (cands, fixed)
    logits = field.score(volumes, gt.pair.repeat_interleave(candidates), src.reshape(-1, 2), trg.reshape(-1, 2), chunk)
    return logits.view(m, candidates)


def matching_loss(field: NeuralMatchingField, volumes: Volumes, gt: Correspondences, candidates: int,
                  generator: torch.Generator, chunk: int) -> tuple[torch.Tensor, float]:
    """Cross-entropy over candidates, both directions; also the top-1 accuracy."""
    logits = torch.cat([candidate_logits(field, volumes, gt, candidates, side, generator, chunk)
                        for side in (True, False)])
    target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    accuracy = float((logits.argmax(dim=1) == 0).float().mean())
    return F.cross_entropy(logits, target), accuracy


def coarse_flow_loss(coarse: torch.Tensor, gt: Correspondences) -> torch.Tensor:
    """coarse (B, 2, S, S): source coordinates on the target grid; EPE in grid cells."""
    side = coarse.shape[-1]
    sampled = F.grid_sample(coarse[gt.pair], gt.trg.view(-1, 1, 1, 2), mode="bilinear", align_corners=True)
    predicted = sampled[:, :, 0, 0]
    return ((predicted - gt.src) * ((side - 1) / 2)).norm(dim=1).mean()
