"""From RTN's normalised affine fields to the contract's pixel-space correspondence fields.

The model works in normalised coordinates of its square ``S x S`` input.  With
``align_corners=False`` those coordinates cover the image extent, so they map to original pixels
of any image size exactly; with ``align_corners=True`` (the official convention, -1/+1 = first/last
pixel centre of the resized image) the translation map is resampled at the contract's cell centres.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from corrbench.api import CorrespondenceField
from corrbench_rtn.ops import T_H, T_V, base_grid, upsample2


def translation(field: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W) flow (x, y) in normalised units: the affine field's translation channels."""
    return torch.stack([field[:, T_H], field[:, T_V]], dim=1)


def upsample_flow(flow: torch.Tensor, input_size: int, mode: str) -> torch.Tensor:
    """The official output step: x2 fixed deconvs until the flow reaches the input resolution."""
    if mode == "none":
        return flow
    steps = max(0, round(math.log2(input_size / flow.shape[-1])))
    for _ in range(steps):
        flow = upsample2(flow, mode)
    return flow


def _contract_positions(height: int, width: int, input_size: int, align_corners: bool, device=None) -> torch.Tensor:
    """Contract cell centres of an (H, W) grid, in the model's normalised coordinates (H, W, 2)."""
    extent = base_grid(height, width, align_corners=False, device=device)
    if not align_corners:
        return extent
    # image-extent coordinate -> pixel of the S x S input -> align_corners=True coordinate
    pixels = ((extent + 1) * input_size - 1) / 2
    return pixels * 2 / (input_size - 1) - 1


def flow_to_coords(flow: torch.Tensor, other_sizes: list[tuple[int, int]], input_size: int,
                   align_corners: bool) -> np.ndarray:
    """(B, 2, H, W) normalised flow on a grid over image 1 -> (B, H, W, 2) pixel xy in each image 2."""
    batch, _, height, width = flow.shape
    positions = _contract_positions(height, width, input_size, align_corners, flow.device)
    if align_corners:
        grid = positions.unsqueeze(0).expand(batch, -1, -1, -1)
        flow = F.grid_sample(flow, grid, mode="bilinear", padding_mode="border", align_corners=True)
    target = (positions.unsqueeze(0) + flow.permute(0, 2, 3, 1)).double().cpu().numpy()
    out = np.empty_like(target)
    for index, (h2, w2) in enumerate(other_sizes):
        if align_corners:  # normalised -> pixel of the resized S x S image -> original pixel
            resized = (target[index] + 1) * (input_size - 1) / 2
            scale = np.array([w2 / input_size, h2 / input_size])
            out[index] = (resized + 0.5) * scale - 0.5
        else:
            out[index, ..., 0] = ((target[index, ..., 0] + 1) * w2 - 1) / 2
            out[index, ..., 1] = ((target[index, ..., 1] + 1) * h2 - 1) / 2
    return out.astype(np.float32)


def to_correspondence_fields(flow: torch.Tensor, sizes1: list[tuple[int, int]], sizes2: list[tuple[int, int]],
                             input_size: int, align_corners: bool) -> list[CorrespondenceField]:
    coords = flow_to_coords(flow, sizes2, input_size, align_corners)
    return [CorrespondenceField(c, size) for c, size in zip(coords, sizes1)]
