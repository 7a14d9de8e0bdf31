"""Separable 4-D convolutions over cost volumes laid out (B, C, Hs, Ws, Ht, Wt).

A 4-D 3x3x3x3 kernel is approximated, as in NeMF (after VAT), by the SUM of a 2-D convolution
over the source dims (batched over target positions) and one over the target dims (batched
over source positions).  With stride 2 each branch first max-pools the dims it does not
convolve; the transposed (upsampling) variant bilinearly resizes them instead.  Memory is
bounded by the input volume: the largest tensor is one permuted copy of it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _over_source(x: torch.Tensor, conv: nn.Module) -> torch.Tensor:
    """Apply a 2-D module over (Hs, Ws) of every target position."""
    b, c, hs, ws, ht, wt = x.shape
    flat = x.permute(0, 4, 5, 1, 2, 3).reshape(b * ht * wt, c, hs, ws)
    out = conv(flat)
    return out.reshape(b, ht, wt, *out.shape[1:]).permute(0, 3, 4, 5, 1, 2)


def _over_target(x: torch.Tensor, conv: nn.Module) -> torch.Tensor:
    """Apply a 2-D module over (Ht, Wt) of every source position."""
    b, c, hs, ws, ht, wt = x.shape
    flat = x.permute(0, 2, 3, 1, 4, 5).reshape(b * hs * ws, c, ht, wt)
    out = conv(flat)
    return out.reshape(b, hs, ws, *out.shape[1:]).permute(0, 3, 1, 2, 4, 5)


def _pool_pairs(x: torch.Tensor, dim: int) -> torch.Tensor:
    """2x2 stride-2 max pooling over dims ``dim``, ``dim + 1`` (even sizes) as the max of 4 strided views."""
    def part(i: int, j: int) -> torch.Tensor:
        return x[(slice(None),) * dim + (slice(i, None, 2), slice(j, None, 2))]
    return torch.maximum(torch.maximum(part(0, 0), part(0, 1)), torch.maximum(part(1, 0), part(1, 1)))


class _Resize2d(nn.Module):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=True)


class Conv4d(nn.Module):
    """Kernel 3, padding 1; ``stride`` 1 or 2; ``transposed`` doubles the size when stride is 2."""

    def __init__(self, cin: int, cout: int, stride: int = 1, transposed: bool = False, out_size: int | None = None) -> None:
        super().__init__()
        if transposed:
            make = lambda: nn.ConvTranspose2d(cin, cout, 3, stride=stride, padding=1, output_padding=stride - 1)
        else:
            make = lambda: nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
        self.query_conv = make()  # over the source dims
        self.supp_conv = make()  # over the target dims
        self.resample: nn.Module | None = None
        if stride > 1:
            self.resample = _Resize2d(int(out_size)) if transposed else nn.MaxPool2d(stride, stride, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.resample is None:
            return _over_source(x, self.query_conv) + _over_target(x, self.supp_conv)
        if isinstance(self.resample, nn.MaxPool2d) and not any(d % 2 for d in x.shape[2:]):
            # 2x2 max pooling of even sides straight on the 6-D layout (no permuted copy; max is exact).
            return _over_source(_pool_pairs(x, 4), self.query_conv) + _over_target(_pool_pairs(x, 2), self.supp_conv)
        source_branch = _over_source(_over_target(x, self.resample), self.query_conv)
        target_branch = _over_target(_over_source(x, self.resample), self.supp_conv)
        return source_branch + target_branch


def conv4d_block(cin: int, cout: int, groups: int, stride: int = 1, transposed: bool = False,
                 out_size: int | None = None) -> nn.Sequential:
    """Conv4d -> GroupNorm (over C x Hs x Ws x Ht x Wt) -> ReLU."""
    return nn.Sequential(Conv4d(cin, cout, stride, transposed, out_size), nn.GroupNorm(groups, cout), nn.ReLU())


class LevelEmbedding(nn.Module):
    """Embed one level's raw correlation (side ``side``) into ``channels`` x S^4 (S = ``target``).

    Side 4S: two stride-2 blocks; 2S: stride 2 then 1; S: two stride-1 blocks; S/2: a transposed
    stride-2 block then a transposed stride-1 block.  Widths 1 -> channels/4 -> channels.
    """

    def __init__(self, side: int, target: int, channels: int) -> None:
        super().__init__()
        self.side = side
        mid = max(1, channels // 4)
        plans = {4 * target: (2, 2, False), 2 * target: (2, 1, False), target: (1, 1, False),
                 target // 2: (2, 1, True)}
        if side not in plans:
            raise ValueError(f"no 4-D embedding from side {side} to {target}")
        first, second, transposed = plans[side]
        self.blocks = nn.Sequential(
            conv4d_block(1, mid, 1, first, transposed, target),
            conv4d_block(mid, channels, 1, second, transposed, target),
        )

    def forward(self, corr: torch.Tensor) -> torch.Tensor:
        s = self.side
        return self.blocks(corr.reshape(-1, 1, s, s, s, s))
