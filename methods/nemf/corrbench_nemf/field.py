"""The neural matching field: score(s, t) for any source point s and target point t.

The refined cost (N x S^4) plus the mean cost is embedded once more by a 4-D convolution into
a volume V (C x S^4).  A point pair is scored by an MLP over the harmonic embedding of both
coordinates and V sampled at the 4-D point (quadrilinear, zero outside [-1, 1]^4, the
align-corners convention of ``grid_sample``).

Speed: the official code re-runs the 4-D convolution on every call and samples through a
(C*S^2)-channel ``grid_sample`` per point; here V is computed once per pair
(:meth:`NeuralMatchingField.volumes`) and each point gathers its 16 corner vectors from a
(B*S^4, C) table, so the cost per point is O(16*C) and memory is bounded by ``chunk`` points.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from corrbench_nemf.conv4d import conv4d_block


def harmonic_frequencies(count: int) -> torch.Tensor:
    """Linearly spaced frequencies 1 .. 2^(count-1)."""
    return torch.linspace(1.0, 2.0 ** (count - 1), count)


def harmonic_embedding(coords: torch.Tensor, frequencies: torch.Tensor) -> torch.Tensor:
    """(..., D) -> (..., D * (2F + 1)): [sin, cos of (2u+3)*f for each dim, then 2u+3].

    The affine map u -> 2u + 3 is NeMF's (the released weights depend on it).
    """
    shifted = coords * 2 + 3
    phases = (shifted[..., None] * frequencies).flatten(-2)
    return torch.cat((phases.sin(), phases.cos(), shifted), dim=-1)


class ResnetBlockFC(nn.Module):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.fc_0 = nn.Linear(size, size)
        self.fc_1 = nn.Linear(size, size)
        nn.init.zeros_(self.fc_1.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc_1(F.relu(self.fc_0(F.relu(x)), inplace=True))


class LocalDecoder(nn.Module):
    """Occupancy-network decoder: the cost feature is added before each residual block."""

    def __init__(self, point_dim: int, cost_dim: int, hidden: int, blocks: int) -> None:
        super().__init__()
        self.fc_p = nn.Linear(point_dim, hidden)
        self.fc_c = nn.ModuleList(nn.Linear(cost_dim, hidden) for _ in range(blocks))
        self.blocks = nn.ModuleList(ResnetBlockFC(hidden) for _ in range(blocks))
        self.fc_out = nn.Linear(hidden, 1)

    def forward(self, points: torch.Tensor, cost: torch.Tensor) -> torch.Tensor:
        h = self.fc_p(points)
        for fc_c, block in zip(self.fc_c, self.blocks):
            h = block(h.add_(fc_c(cost)))  # in place: no autograd node keeps h itself
        return self.fc_out(F.relu(h, inplace=True)).squeeze(-1)


@dataclass
class Volumes:
    """Per-pair embedded cost volumes as a gather table (B*S^4, C), S = ``side``."""

    table: torch.Tensor
    side: int

    @property
    def pairs(self) -> int:
        return self.table.shape[0] // self.side ** 4


# The 16 corners of a 4-D cell as 0/1 offsets of (ys, xs, yt, xt).
_CORNERS = torch.tensor([[(corner >> bit) & 1 for bit in range(4)] for corner in range(16)])


def sample_volume(volumes: Volumes, pair: torch.Tensor, src: torch.Tensor, trg: torch.Tensor) -> torch.Tensor:
    """Quadrilinear sample (N, C) of pair ``pair[i]``'s volume at (src[i], trg[i]), zeros outside."""
    s = volumes.side
    coords = torch.stack((src[:, 1], src[:, 0], trg[:, 1], trg[:, 0]), dim=1)  # ys, xs, yt, xt
    pix = (coords + 1) * ((s - 1) / 2)
    low = torch.floor(pix)
    frac = (pix - low)[:, None, :]  # (N, 1, 4)
    offsets = _CORNERS.to(pix.device)
    position = low.long()[:, None, :] + offsets  # (N, 16, 4)
    weight = torch.where(offsets.bool(), frac, 1 - frac).prod(dim=2)  # (N, 16)
    inside = ((position >= 0) & (position <= s - 1)).all(dim=2)
    weight = torch.where(inside, weight, torch.zeros_like(weight))
    strides = torch.tensor([s ** 3, s ** 2, s, 1], device=pix.device)
    index = (position.clamp(0, s - 1) * strides).sum(dim=2) + pair.long()[:, None] * s ** 4
    corners = volumes.table.index_select(0, index.reshape(-1)).view(-1, 16, volumes.table.shape[1])
    return torch.bmm(weight[:, None, :], corners)[:, 0]


class NeuralMatchingField(nn.Module):
    """Cost embedding + harmonic encoding + decoder; ``score`` is vectorised over points."""

    def __init__(self, channels: int, hidden: int, blocks: int, harmonics: int) -> None:
        super().__init__()
        self.cost_embedding = conv4d_block(channels + 1, channels, groups=4)
        self.register_buffer("frequencies", harmonic_frequencies(harmonics), persistent=False)
        point_dim = 2 * 2 * (2 * harmonics + 1)
        self.decoder = LocalDecoder(point_dim, channels, hidden, blocks)

    def volumes(self, refined: torch.Tensor, mean_cost: torch.Tensor, side: int) -> Volumes:
        """refined (B, N, S^2, S^2), mean_cost (B, S^2, S^2) -> the table of V (B, C, S^4)."""
        b, n = refined.shape[:2]
        cost = torch.cat((refined, mean_cost[:, None]), dim=1).reshape(b, n + 1, side, side, side, side)
        volume = self.cost_embedding(cost)  # (B, C, Hs, Ws, Ht, Wt)
        table = volume.permute(0, 2, 3, 4, 5, 1).reshape(-1, volume.shape[1]).contiguous()
        return Volumes(table, side)

    def score(self, volumes: Volumes, pair: torch.Tensor, src: torch.Tensor, trg: torch.Tensor,
              chunk: int = 32768) -> torch.Tensor:
        """Logits (N,) of point pairs; gradients reach the coordinates only through V."""
        outputs = []
        for start in range(0, src.shape[0], chunk):
            sl = slice(start, start + chunk)
            cost = sample_volume(volumes, pair[sl], src[sl], trg[sl])
            points = torch.cat((harmonic_embedding(src[sl].detach(), self.frequencies),
                                harmonic_embedding(trg[sl].detach(), self.frequencies)), dim=-1)
            outputs.append(self.decoder(points, cost))
        if not outputs:
            return src.new_zeros(0)
        return torch.cat(outputs)
