"""``feature-nn``: a training-free dense matcher over hand-crafted descriptors.

DAISY gradient histograms (Tola et al.) plus a little smoothed colour, computed densely with
skimage, matched by nearest neighbour with a local soft-argmax for sub-cell precision.  It needs
no weights, so it is the reference point every learned method has to beat.  A feature matcher
(:class:`corrbench.matching.base.FeatureMatcher`): only the descriptors are its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from corrbench.eval.transfer import identity_grid
from corrbench.matching.base import FeatureMap, FeatureMatcher, MatchingOptions
from corrbench.matching.readouts import Readout
from corrbench.matching.resolution import GridPlacement
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
    # One (queries x cells) similarity block: 1 GB holds a whole ~1000x1000 px image at stride 4 in
    # one block, as before the matcher base (smaller blocks change the last bits of a few matches).
    chunk_mb: int = option(1024, ge=1, why="one similarity block; the readout holds a few")


class FeatureNNMethod(FeatureMatcher):
    """DAISY + colour features on a stride-``stride`` grid, read out by a disc-window soft-argmax
    (softmax over the cells within ``window`` of the best match only)."""

    name = "feature-nn"
    version = "1"
    takes_weights = False
    # Descriptors are computed image by image on the CPU: batching buys nothing (and batch 1 keeps the
    # run identity, hence the per-pair records of earlier runs, as they were).
    supports_batching = False
    batch_size = 1

    def __init__(self, weights: str | None = None, device: str = "cpu", stride: int = 4, radius: int = 12,
                 colour_weight: float = 0.5, temperature: float = 0.02, window: float = 2.0,
                 cache_mb: int = 256, chunk_mb: int = 1024) -> None:
        options = typed_config(self.name, FeatureNNOptions, dict(
            stride=stride, radius=radius, colour_weight=colour_weight, temperature=temperature, window=window,
            cache_mb=cache_mb, chunk_mb=chunk_mb))
        readout = Readout("window_softargmax", temperature=options.temperature, window=options.window,
                          window_shape="disc", window_outside="exclude")
        super().__init__(weights=weights, device=device, matching=MatchingOptions(
            readout=readout, points=False, cache_mb=options.cache_mb, chunk_mb=options.chunk_mb))
        self.stride = options.stride
        self.radius = options.radius
        self.colour_weight = options.colour_weight
        self.temperature = options.temperature
        self.window = options.window

    def _grid_shape(self, size: tuple[int, int]) -> tuple[int, int]:
        return max(1, round(size[0] / self.stride)), max(1, round(size[1] / self.stride))

    def feature_identity(self) -> tuple:
        return ("daisy", self.stride, self.radius, self.colour_weight)

    def compute_features(self, images: list[np.ndarray]) -> list[FeatureMap]:
        maps = []
        for image in images:
            size = image.shape[:2]
            grid = self._grid_shape(size)
            descriptors = dense_descriptors(image, grid, self.radius, self.colour_weight).to(self.device)
            maps.append(FeatureMap(descriptors, GridPlacement.covering(size, grid)))
        return maps
