"""NeMF inference: coarse soft-argmax field -> PatchMatch on a dense grid -> coordinate
optimisation of the decoder score at the query points.

Every step is vectorised over all points of all pairs: each PatchMatch iteration scores the
5 propagation candidates of every cell of every pair in one call and the random-search
candidates in a second call (Python loops run over pairs for cheap tensor reshaping only).
Random draws come from one ``torch.Generator`` per pair, drawn per iteration with the shape
the official code draws from the global generator, so a pair's result does not depend on the
batch it is in and matches the official code for the same seed.

"Query" is the image whose points are matched (the target for ``trg_to_src``), "other" the
image searched.  Coordinates are normalised to [-1, 1] with the align-corners convention.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

#: score(pair index (N,), query points (N, 2), candidate points (N, 2)) -> logits (N,)
ScoreFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def soft_argmax(cost: torch.Tensor, beta: float, xs: torch.Tensor | None = None,
                ys: torch.Tensor | None = None) -> torch.Tensor:
    """cost (B, K other cells (row-major S x S), S, S query grid) -> (B, 2, S, S) other-image (x, y).

    softmax over K of (c - max) / beta; beta is a temperature (0.02 in NeMF).
    """
    b, k, h, w = cost.shape
    side = int(round(math.sqrt(k)))
    xs = torch.linspace(-1, 1, side, device=cost.device) if xs is None else xs
    ys = torch.linspace(-1, 1, side, device=cost.device) if ys is None else ys
    prob = torch.softmax((cost - cost.amax(dim=1, keepdim=True)) / beta, dim=1).reshape(b, side, side, h, w)
    grid_x = (prob.sum(dim=1) * xs.view(1, side, 1, 1)).sum(dim=1)
    grid_y = (prob.sum(dim=2) * ys.view(1, side, 1, 1)).sum(dim=1)
    return torch.stack((grid_x, grid_y), dim=1)


def align_corners_grid(height: int, width: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(h, w, 2) normalised (x, y) of an align-corners grid."""
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, height, device=device), torch.linspace(-1, 1, width, device=device),
                            indexing="ij")
    return torch.stack((xs, ys), dim=-1)


def initial_field(coarse: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(2, S, S) coarse field -> (h, w, 2), bilinear with aligned corners."""
    return F.interpolate(coarse[None], size=size, mode="bilinear", align_corners=True)[0].permute(1, 2, 0)


def _neighbours(field: torch.Tensor) -> torch.Tensor:
    """(h, w, 2) -> (5, h, w, 2): itself, then the values at x-1, x+1, y-1, y+1 (reflected at borders)."""
    chw = field.permute(2, 0, 1)[None]
    pad_x = F.pad(chw, (1, 1, 0, 0), mode="reflect")[0]
    pad_y = F.pad(chw, (0, 0, 1, 1), mode="reflect")[0]
    cands = (chw[0], pad_x[:, :, :-2], pad_x[:, :, 2:], pad_y[:, :-2, :], pad_y[:, 2:, :])
    return torch.stack(cands).permute(0, 2, 3, 1)


@dataclass
class PatchMatchResult:
    fields: list[torch.Tensor]  # per pair (h, w, 2)
    scores: list[torch.Tensor]  # per pair (h, w): best score found in the last iteration (before clamping)


@torch.no_grad()
def patchmatch(score: ScoreFn, init: list[torch.Tensor], iterations: int, radius: float, clamp: float,
               generators: list[torch.Generator], decay: float = 1.0,
               on_iteration: Callable[[int, list[torch.Tensor]], None] | None = None) -> PatchMatchResult:
    """PatchMatch over per-pair grids ``init[i]`` (h_i, w_i, 2) of other-image coordinates.

    Each iteration: (1) propagation: every cell takes the best of itself and its 4 neighbours'
    values, scored at its own query coordinate (first wins ties); (2) random search: a uniform
    candidate within ``radius`` (times ``decay``^it) replaces it if strictly better; (3) the field
    is clamped to within ``clamp`` of ``init``.
    """
    fields = [f.clone() for f in init]
    queries = [align_corners_grid(f.shape[0], f.shape[1], f.device).reshape(-1, 2) for f in fields]
    counts = [q.shape[0] for q in queries]
    pair_ids = torch.cat([torch.full((n,), i, dtype=torch.long, device=init[0].device) for i, n in enumerate(counts)])
    query_all = torch.cat(queries)
    best_scores: list[torch.Tensor] = [f.new_zeros(f.shape[:2]) for f in fields]
    for it in range(iterations):
        cands = [_neighbours(f).reshape(5, -1, 2) for f in fields]  # (5, n_i, 2)
        flat = torch.cat([c.transpose(0, 1).reshape(-1, 2) for c in cands])  # per pair: cell-major, 5 each
        scores = score(pair_ids.repeat_interleave(5), query_all.repeat_interleave(5, dim=0), flat).reshape(-1, 5)
        best, which = scores.max(dim=1)
        chosen = flat.reshape(-1, 5, 2).gather(1, which.view(-1, 1, 1).expand(-1, 1, 2))[:, 0]
        step = radius * decay ** it
        noise = torch.cat([torch.rand((1, f.shape[0], f.shape[1], 2), generator=g, device=f.device).reshape(-1, 2)
                           for f, g in zip(fields, generators)])
        search = chosen + (noise - 0.5) * 2 * step
        search_scores = score(pair_ids, query_all, search)
        better = best < search_scores
        updated = torch.where(better[:, None], search, chosen)
        best = torch.where(better, search_scores, best)
        new_fields, new_scores = [], []
        for f0, part, part_score in zip(init, updated.split(counts), best.split(counts)):
            h, w = f0.shape[:2]
            new_fields.append(torch.clamp(part.reshape(h, w, 2), f0 - clamp, f0 + clamp))
            new_scores.append(part_score.reshape(h, w))
        fields, best_scores = new_fields, new_scores
        if on_iteration is not None:
            on_iteration(it, fields)
    return PatchMatchResult(fields, best_scores)


def cosine_lrs(lr: float, steps: int, eta_min: float) -> list[float]:
    """Learning rate used at each step by CosineAnnealingLR(T_max=steps) stepped as
    ``scheduler.step(epoch)`` after each optimiser step (the official loop): lr, lr, then the
    closed form at epochs 1 .. steps-2."""
    out = []
    for step in range(steps):
        epoch = max(0, step - 1)
        out.append(eta_min + (lr - eta_min) * (1 + math.cos(math.pi * epoch / steps)) / 2 if step else lr)
    return out


def optimise_points(score: ScoreFn, fields: list[torch.Tensor], queries: list[torch.Tensor], steps: int,
                    lr: float, eta_min: float, weight_decay: float, clamp: float) -> list[torch.Tensor]:
    """Gradient ascent of each query point's log-sigmoid score, all points of all pairs at once.

    Start: the PatchMatch field sampled at the query (bilinear, align-corners); AdamW (decay acts
    on the coordinates, as in the official code); each pair's loss is the mean over its points,
    so one optimiser over all points equals one per pair; clamp to within ``clamp`` of the start.
    """
    counts = [q.shape[0] for q in queries]
    if sum(counts) == 0:
        return [q.new_zeros((0, 2)) for q in queries]
    starts = []
    for field, query in zip(fields, queries):
        grid = field.permute(2, 0, 1)[None]
        starts.append(F.grid_sample(grid, query.view(1, 1, -1, 2), mode="bilinear", align_corners=True)[0, :, 0].T)
    start = torch.cat(starts)
    query_all = torch.cat(queries)
    pair_ids = torch.cat([torch.full((n,), i, dtype=torch.long, device=start.device) for i, n in enumerate(counts)])
    weights = torch.cat([torch.full((n,), 1.0 / n, device=start.device) for n in counts if n])
    coords = start.clone().requires_grad_(True)
    optimiser = torch.optim.AdamW([coords], lr=lr, weight_decay=weight_decay)
    with torch.enable_grad():
        for step_lr in cosine_lrs(lr, steps, eta_min):
            for group in optimiser.param_groups:
                group["lr"] = step_lr
            logits = score(pair_ids, query_all, coords)
            loss = (-torch.log(torch.sigmoid(logits)) * weights).sum()
            # Only the coordinates need a gradient (no .grad ever lands on the network weights).
            (coords.grad,) = torch.autograd.grad(loss, [coords])
            optimiser.step()
            with torch.no_grad():
                coords.copy_(torch.clamp(coords, start - clamp, start + clamp))
    return list(coords.detach().split(counts))
