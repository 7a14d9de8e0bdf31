"""Image preprocessing exactly as the official evaluation (PIL resize, zero pad, ImageNet norm)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from corrbench.training.learned import Preprocessing

#: PIL bilinear resize of the uint8 image, one cell of black padding, ImageNet statistics.
SFNET_INPUT = Preprocessing(size_option="feature_size", resize="pil-bilinear+pad-one-cell")


def pil_resize(image: np.ndarray, size: int) -> np.ndarray:
    """PIL bilinear resize of a uint8 image to size x size (PIL antialiases when shrinking)."""
    pil = Image.fromarray(np.ascontiguousarray(image))
    return np.asarray(pil.resize((size, size), Image.BILINEAR))


def to_normalized_tensor(image: np.ndarray, preprocessing: Preprocessing = SFNET_INPUT) -> torch.Tensor:
    """uint8 (H, W, 3) -> (3, H, W) float, ImageNet-normalised."""
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0
    return preprocessing.normalize(tensor)


def eval_input(image: np.ndarray, feature_size: int, stride: int,
               preprocessing: Preprocessing = SFNET_INPUT) -> torch.Tensor:
    """The official test input: resize to ((f-2)*stride)², pad ``stride`` px of black on each
    side (one feature cell, so the grid's border cells cover padding), then normalise."""
    if image.ndim == 2:  # greyscale: the official code would crash; RGB changes nothing else
        image = np.repeat(image[..., None], 3, axis=2)
    resized = pil_resize(image[..., :3], (feature_size - 2) * stride)
    padded = np.pad(resized, ((stride, stride), (stride, stride), (0, 0)))
    return to_normalized_tensor(padded, preprocessing)
