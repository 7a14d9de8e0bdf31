"""Network input: PIL bicubic resize to a square, RGB kept in 0..255 (the backbone normalises)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from corrbench.training.learned import Preprocessing

#: ImageNet statistics on 0..255 values; the paper's VGG without ImageNet weights (the MatConvNet
#: checkpoint) subtracts the Caffe mean instead (``backbone.CAFFE_MEAN``).
RTN_INPUT = Preprocessing(size_option="image_size", resize="pil-bicubic", value_range=255.0)


def resize_images(images: Sequence[np.ndarray], size: int) -> torch.Tensor:
    """(B, 3, S, S) float RGB 0..255; PIL bicubic on uint8 is the closest to MATLAB's imresize."""
    from PIL import Image

    resized = [np.asarray(Image.fromarray(np.ascontiguousarray(im)).convert("RGB").resize((size, size), Image.BICUBIC))
               for im in images]
    return torch.from_numpy(np.stack(resized)).permute(0, 3, 1, 2).float()
