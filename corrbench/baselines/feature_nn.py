"""``feature-nn``: a training-free dense matcher over hand-crafted descriptors.

DAISY gradient histograms (Tola et al.) plus a little smoothed colour, computed densely with
skimage, matched by nearest neighbour with a local soft-argmax for sub-cell precision.  It needs
no weights, so it is the reference point every learned method has to beat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from corrbench.api import DIRECTIONS, CorrespondenceField, Direction, Method, Pair, Prediction
from corrbench.cache import FeatureCache, image_key
from corrbench.eval.transfer import identity_grid
from corrbench.training.config import option, typed_config


def dense_descriptors(image: np.ndarray, grid_shape: tuple[int, int], radius: int, colour_weight: float) -> torch.Tensor:
    """(h*w, D) L2-normalised descriptors at the cell centres of an (h, w) grid over ``image``."""
    from skimage.color import rgb2gray, rgb2lab
    from skimage.feature import daisy
    from skimage.filters import gaussian

    gray = rgb2gray(image)
    padded = np.pad(gray, radius, mode="reflect")
    grad = daisy(padded, step=1, radius=radius, rings=2, histograms=6, orientations=8)
    # daisy() returns descriptors centred at padded pixel (radius + i, radius + j) = image pixel (i, j).
    height, width = gray.shape
    centres = identity_grid((height, width), grid_shape)
    cols = np.clip(np.rint(centres[..., 0]).astype(int), 0, width - 1)
    rows = np.clip(np.rint(centres[..., 1]).astype(int), 0, height - 1)
    features = [grad[rows, cols].reshape(-1, grad.shape[-1])]
    if colour_weight > 0:
        lab = gaussian(rgb2lab(image), sigma=radius / 4, channel_axis=-1)
        colour = lab[rows, cols].reshape(-1, 3) / np.array([100.0, 128.0, 128.0])
        features.append(colour_weight * colour)
    stacked = torch.from_numpy(np.concatenate(features, axis=1)).float()
    return torch.nn.functional.normalize(stacked, dim=1)


def match_fields(query: torch.Tensor, reference: torch.Tensor, reference_grid: tuple[int, int],
                 temperature: float, window: float) -> torch.Tensor:
    """For each query descriptor, a soft-argmax (col, row) among reference cells within ``window``
    cells of its best match: sub-cell precision without letting far-away look-alikes vote."""
    rows, cols = reference_grid
    similarity = query @ reference.T  # (Nq, Nr)
    best = similarity.argmax(dim=1)
    best_row, best_col = best // cols, best % cols
    reach = int(window)
    offsets = torch.tensor([(dy, dx) for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1)
                            if dy * dy + dx * dx <= window * window])
    cand_row = best_row[:, None] + offsets[None, :, 0]
    cand_col = best_col[:, None] + offsets[None, :, 1]
    inside = (cand_row >= 0) & (cand_row < rows) & (cand_col >= 0) & (cand_col < cols)
    index = (cand_row.clamp(0, rows - 1) * cols + cand_col.clamp(0, cols - 1))
    logits = similarity.gather(1, index) / temperature
    weights = torch.softmax(logits.masked_fill(~inside, float("-inf")), dim=1)
    col = (weights * cand_col.float()).sum(dim=1)
    row = (weights * cand_row.float()).sum(dim=1)
    return torch.stack([col, row], dim=1)


@dataclass(frozen=True)
class FeatureNNOptions:
    """The options of ``feature-nn``, each with its type and allowed range (checked before any work)."""

    stride: int = option(4, ge=1, le=64)
    radius: int = option(12, ge=1, le=64)
    colour_weight: float = option(0.5, ge=0)
    temperature: float = option(0.02, gt=0)
    # Each query scores ~pi*window^2 candidates: 16 keeps a 500x375 image's match under ~0.3 GB,
    # while 300 asked for tens of GB and was killed by the kernel.
    window: float = option(2.0, gt=0, le=16, why="memory grows with window²")
    cache_mb: int = option(256, ge=0)


class FeatureNNMethod(Method):
    name = "feature-nn"
    version = "1"
    takes_weights = False

    def __init__(self, weights: str | None = None, device: str = "cpu", stride: int = 4, radius: int = 12,
                 colour_weight: float = 0.5, temperature: float = 0.02, window: float = 2.0,
                 cache_mb: int = 256) -> None:
        super().__init__(weights=weights, device=device)
        options = typed_config(self.name, FeatureNNOptions, dict(
            stride=stride, radius=radius, colour_weight=colour_weight, temperature=temperature, window=window,
            cache_mb=cache_mb))
        self.cache = FeatureCache(options.cache_mb * 2**20)
        self.stride = options.stride
        self.radius = options.radius
        self.colour_weight = options.colour_weight
        self.temperature = options.temperature
        self.window = options.window

    def _grid_shape(self, size: tuple[int, int]) -> tuple[int, int]:
        return max(1, round(size[0] / self.stride)), max(1, round(size[1] / self.stride))

    def _descriptors(self, image: np.ndarray, grid: tuple[int, int]) -> torch.Tensor:
        key = image_key(image, grid, self.radius, self.colour_weight)
        return self.cache.get_or_compute(
            key, lambda: dense_descriptors(image, grid, self.radius, self.colour_weight))

    def _field(self, from_image: np.ndarray, to_image: np.ndarray) -> CorrespondenceField:
        from_size, to_size = from_image.shape[:2], to_image.shape[:2]
        from_grid, to_grid = self._grid_shape(from_size), self._grid_shape(to_size)
        query = self._descriptors(from_image, from_grid)
        reference = self._descriptors(to_image, to_grid)
        matched = match_fields(query, reference, to_grid, self.temperature, self.window)
        # Grid cell (col, row) of the target grid -> target pixel, align_corners=False.
        scale = torch.tensor([to_size[1] / to_grid[1], to_size[0] / to_grid[0]])
        pixels = (matched + 0.5) * scale - 0.5
        return CorrespondenceField(pixels.reshape(*from_grid, 2).float().numpy(), from_size)

    def predict(self, pairs: Sequence[Pair], directions: Sequence[Direction] = DIRECTIONS) -> list[Prediction]:
        predictions = []
        for pair in pairs:
            prediction = Prediction()
            if "src_to_trg" in directions:
                prediction.src_to_trg = self._field(pair.src_image, pair.trg_image)
            if "trg_to_src" in directions:
                prediction.trg_to_src = self._field(pair.trg_image, pair.src_image)
            predictions.append(prediction)
        return predictions
