"""Training pairs as in the paper: one image and its foreground mask, two random affine views.

Per sample (official ``Pascal_Seg_Synth``): horizontal flip with p=0.5, resize to the training
size, two independent colour jitters, two affine warps ``theta = I + N(0, 0.15²)`` on all six
entries (translations too), and masks that keep only pixels visible in both views, downsampled
to the feature grid and thresholded at 0.1.  All random draws use torch's global generator, so
the training loop's seeding makes them reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from corrbench.training.learned import Preprocessing
from corrbench_sfnet.preprocess import SFNET_INPUT


@dataclass
class SyntheticBatch:
    src_images: torch.Tensor  # (N, 3, S, S) normalised
    trg_images: torch.Tensor
    src_masks: torch.Tensor  # (N, 1, f, f) binary float
    trg_masks: torch.Tensor


def random_affine(count: int, std: float) -> torch.Tensor:
    """(N, 3, 3) matrices: identity plus Gaussian noise on the top two rows."""
    theta = torch.eye(3).repeat(count, 1, 1)
    theta[:, :2, :] += torch.randn(count, 2, 3) * std
    return theta


def affine_warp(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Warp (N, C, H, W) by (N, 3, 3) affine maps (output -> input, normalised, align-corners)."""
    grid = F.affine_grid(theta[:, :2, :], list(x.shape), align_corners=True)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def _resize_pair(image: np.ndarray, mask: np.ndarray, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    pil_image = Image.fromarray(np.ascontiguousarray(image[..., :3])).resize((size, size), Image.BILINEAR)
    pil_mask = Image.fromarray((np.asarray(mask) > 0).astype(np.uint8) * 255).resize((size, size), Image.BILINEAR)
    image_t = torch.from_numpy(np.asarray(pil_image).copy()).permute(2, 0, 1).float() / 255.0
    mask_t = torch.from_numpy(np.asarray(pil_mask).copy()).float()[None] / 255.0
    return image_t, mask_t


def _jitter(image: torch.Tensor, amount: float) -> torch.Tensor:
    if amount <= 0:
        return image
    from torchvision.transforms import ColorJitter

    return ColorJitter(brightness=amount, contrast=amount, saturation=amount, hue=amount)(image)


def _to_grid_mask(mask: torch.Tensor, feature_size: int) -> torch.Tensor:
    # Official: ToPILImage (x255, truncate), PIL bilinear (antialiased) resize, then > 0.1.
    quantised = torch.floor(mask * 255.0) / 255.0
    small = F.interpolate(quantised, size=(feature_size, feature_size), mode="bilinear",
                          align_corners=False, antialias=True)
    return (small > 0.1).float()


def synthesize(images: list[np.ndarray], masks: list[np.ndarray], image_size: int, feature_size: int,
               affine_std: float = 0.15, jitter: float = 0.1,
               preprocessing: Preprocessing = SFNET_INPUT) -> SyntheticBatch:
    """One affine training pair per (image, mask)."""
    views1, views2, resized_masks = [], [], []
    for image, mask in zip(images, masks):
        image_t, mask_t = _resize_pair(image, mask, image_size)
        if torch.rand(()) < 0.5:
            image_t, mask_t = image_t.flip(-1), mask_t.flip(-1)
        views1.append(_jitter(image_t, jitter))
        views2.append(_jitter(image_t, jitter))
        resized_masks.append(mask_t)
    count = len(views1)
    theta1, theta2 = random_affine(count, affine_std), random_affine(count, affine_std)
    inverse1 = torch.linalg.inv(theta1.double()).float()
    inverse2 = torch.linalg.inv(theta2.double()).float()
    src = affine_warp(torch.stack(views1), theta1)
    trg = affine_warp(torch.stack(views2), theta2)
    mask = torch.stack(resized_masks)
    visible = affine_warp(affine_warp(mask, theta1), inverse1)  # drop what view 1 loses
    trg_mask = affine_warp(visible, theta2)
    src_mask = affine_warp(affine_warp(trg_mask, inverse2), theta1)  # visible in both views
    return SyntheticBatch(preprocessing.normalize(src), preprocessing.normalize(trg),
                          _to_grid_mask(src_mask, feature_size), _to_grid_mask(trg_mask, feature_size))
