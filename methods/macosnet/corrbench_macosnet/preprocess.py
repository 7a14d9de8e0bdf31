"""Network input and coordinate frames.

The official code resizes every image to a square (240²) with ``affine_grid``/``grid_sample``
under torch 1.1, i.e. bilinear with ``align_corners=True``, then ImageNet-normalises.  In that
frame the normalised coordinate of original pixel ``x`` (0-based) of a W-wide image is
``2x / (W - 1) - 1`` (the official 1-based ``(x - 1 - (W-1)/2) * 2/(W-1)``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from corrbench.training.learned import Preprocessing

#: Bilinear (align-corners) resize of the 0..255 image to image_size², then ImageNet statistics.
MACOSNET_INPUT = Preprocessing(size_option="image_size", resize="bilinear-align-corners")


def to_input(image: np.ndarray, size: int, preprocessing: Preprocessing = MACOSNET_INPUT) -> torch.Tensor:
    """uint8 (H, W, 3) (or greyscale) -> (3, size, size), resized align-corners, normalised."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    tensor = torch.from_numpy(np.ascontiguousarray(image[..., :3])).permute(2, 0, 1).float()
    resized = F.interpolate(tensor[None], size=(size, size), mode="bilinear", align_corners=True)[0]
    return preprocessing.normalize(resized / 255.0)


def pixel_grid(image_size: tuple[int, int], device: torch.device | None = None) -> torch.Tensor:
    """Normalised coordinates of every pixel centre of an (H, W) image, row-major (H*W, 2)."""
    height, width = image_size
    xs = _normalised(torch.arange(width, dtype=torch.float32, device=device), width)
    ys = _normalised(torch.arange(height, dtype=torch.float32, device=device), height)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def pixel_points(xy: np.ndarray, image_size: tuple[int, int], device: torch.device | None = None) -> torch.Tensor:
    """Normalised coordinates of integer pixels (M, 2) (x, y): the rows of :func:`pixel_grid`, bit for bit."""
    height, width = image_size
    xy = torch.as_tensor(np.asarray(xy), dtype=torch.float32, device=device).reshape(-1, 2)
    return torch.stack([_normalised(xy[:, 0], width), _normalised(xy[:, 1], height)], dim=1)


def _normalised(pixels: torch.Tensor, length: int) -> torch.Tensor:
    return pixels * 2 / max(length - 1, 1) - 1


def to_pixels(points: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    """Normalised (x, y) -> 0-based pixel (x, y) of an (H, W) image."""
    height, width = image_size
    scale = torch.tensor([(width - 1) / 2, (height - 1) / 2], dtype=points.dtype, device=points.device)
    return (points + 1) * scale
