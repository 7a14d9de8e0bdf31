"""Small fake pairs (no dataset needed) and a tiny configuration for fast tests."""

from __future__ import annotations

import numpy as np

from corrbench.api import Pair


def blob_image(height: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A striped ellipse on a noisy background, and its mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    cy, cx = rng.uniform(0.35, 0.65) * height, rng.uniform(0.35, 0.65) * width
    mask = ((yy - cy) / (0.3 * height)) ** 2 + ((xx - cx) / (0.3 * width)) ** 2 <= 1
    image = rng.integers(0, 60, (height, width, 3)).astype(np.uint8)
    stripes = (np.sin(xx / 3.0) * 80 + 150).astype(np.uint8)
    image[mask] = np.stack([stripes, 255 - stripes, np.full_like(stripes, 120)], -1)[mask]
    return image, mask


def blob_pair(pair_id: str = "p0", src_hw=(50, 64), trg_hw=(58, 46), seed: int = 0, category: str = "blob") -> Pair:
    src, src_mask = blob_image(*src_hw, seed)
    trg, trg_mask = blob_image(*trg_hw, seed + 1000)
    rng = np.random.default_rng(seed)
    kps_s = rng.uniform(5, min(src_hw) - 5, (4, 2))
    kps_t = rng.uniform(5, min(trg_hw) - 5, (4, 2))
    return Pair(pair_id, category, src, trg, kps_s, kps_t, src_mask=src_mask, trg_mask=trg_mask)


#: Embedded architecture at 64² input (4x4 grid) with every loss on.
TINY = {"config": "embedded", "image_size": 64, "regressor_kernels": [3, 1], "widths": [8, 8, 16, 16],
        "lambdas": [1.0, 1e-3, 1e-3, 1.0, 1.0, 1.0], "warmup_steps": 0}
