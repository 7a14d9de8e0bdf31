"""Random affine warps of single images: the "synthetic first" stage, built from images alone.

As in the official synthetic stage the *warped* image is image 1 and the original is image 2, so
the known flow lives on image 1's grid.  Parameters follow ``getBatch_pascal_synthetic.m`` (scale
0.75-1.25, rotation and shears within +-pi/12) with a smaller translation range, and no TPS term.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from corrbench_rtn.ops import base_grid


@dataclass
class WarpConfig:
    scale: tuple[float, float] = (0.75, 1.25)
    angle: float = math.pi / 12  # rotation and both shears, +-
    translation: float = 0.25


def random_affines(batch: int, config: WarpConfig, generator: torch.Generator) -> torch.Tensor:
    """(B, 2, 3) maps from image-1 normalised (x, y) to image-2 normalised (x, y)."""
    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(batch, generator=generator)

    sx, sy = uniform(*config.scale), uniform(*config.scale)
    rot, shx, shy = (uniform(-config.angle, config.angle) for _ in range(3))
    zeros, ones = torch.zeros(batch), torch.ones(batch)
    scale = torch.stack([torch.stack([sx, zeros], -1), torch.stack([zeros, sy], -1)], -2)
    rotation = torch.stack([torch.stack([rot.cos(), -rot.sin()], -1), torch.stack([rot.sin(), rot.cos()], -1)], -2)
    shear = torch.stack([torch.stack([ones, shx.tan()], -1), torch.stack([shy.tan(), ones], -1)], -2)
    linear = scale @ rotation @ shear
    shift = torch.stack([uniform(-config.translation, config.translation),
                         uniform(-config.translation, config.translation)], -1)
    return torch.cat([linear, shift.unsqueeze(-1)], dim=-1)


def warp_images(images: torch.Tensor, theta: torch.Tensor, align_corners: bool) -> torch.Tensor:
    """Image 1 = image 2 sampled at ``theta(p)`` (reflection outside, so no black borders)."""
    grid = F.affine_grid(theta, list(images.shape), align_corners=align_corners)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=align_corners)


def affine_flow(theta: torch.Tensor, height: int, width: int, align_corners: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Known flow ``theta(p) - p`` (B, 2, H, W) on an (H, W) grid over image 1, and where it is valid."""
    grid = base_grid(height, width, align_corners, device=theta.device)  # (H, W, 2)
    homogeneous = torch.cat([grid, torch.ones(height, width, 1, device=theta.device)], dim=-1)
    target = torch.einsum("bij,hwj->bhwi", theta, homogeneous)
    valid = (target.abs() <= 1).all(dim=-1)
    return (target - grid).permute(0, 3, 1, 2), valid
