"""``feature-nn``: a training-free dense matcher over hand-crafted descriptors.

DAISY gradient histograms (Tola et al.) plus a little smoothed colour, computed densely with
skimage, matched by nearest neighbour with a local soft-argmax for sub-cell precision.  It needs
no weights, so it is the reference point every learned method has to beat.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from corrbench.api import DIRECTIONS, CorrespondenceField, Direction, Method, Pair, Prediction
from corrbench.cache import FeatureCache, image_key
from corrbench.transfer import identity_grid


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


def match_fields(query: torch.Tensor, reference: torch.Tensor, reference_positions: torch.Tensor,
                 temperature: float, window: float) -> torch.Tensor:
    """For each query descriptor, a soft-argmax position among reference descriptors near the best match."""
    similarity = query @ reference.T  # (Nq, Nr)
    best = similarity.argmax(dim=1)
    best_positions = reference_positions[best]  # (Nq, 2) in reference grid cells
    distance = torch.cdist(best_positions, reference_positions)  # (Nq, Nr)
    logits = similarity / temperature
    logits = logits.masked_fill(distance > window, float("-inf"))
    weights = torch.softmax(logits, dim=1)
    return weights @ reference_positions


class FeatureNNMethod(Method):
    name = "feature-nn"
    version = "1"

    def __init__(self, weights: str | None = None, device: str = "cpu", stride: int = 4, radius: int = 12,
                 colour_weight: float = 0.5, temperature: float = 0.02, window: float = 2.0,
                 cache_mb: int = 256) -> None:
        super().__init__(weights=weights, device=device)
        self.cache = FeatureCache(int(cache_mb) * 2**20)
        self.stride = int(stride)
        self.radius = int(radius)
        self.colour_weight = float(colour_weight)
        self.temperature = float(temperature)
        self.window = float(window)

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
        cells = torch.from_numpy(identity_grid(to_grid, to_grid).reshape(-1, 2)).float()
        matched = match_fields(query, reference, cells, self.temperature, self.window)
        # Grid cell (col, row) of the target grid -> target pixel, align_corners=False.
        scale = torch.tensor([to_size[1] / to_grid[1], to_size[0] / to_grid[0]])
        pixels = (matched + 0.5) * scale - 0.5
        return CorrespondenceField(pixels.reshape(*from_grid, 2).numpy(), from_size)

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
