"""The feature-matcher base: a method = per-image dense features + a named readout.

Zero-shot matchers (hand-crafted descriptors, foundation-model tokens) differ only in how they
turn one image into a feature grid.  Everything else is shared here: features are computed once
per distinct image and kept in a content-keyed :class:`~corrbench.cache.FeatureCache` (SPair-71k
reuses each image in ~13 pairs), the distinct uncached images of a batch go to the subclass in one
call (one backbone batch), similarities are formed between feature grids in memory-bounded
chunks, and the readout gives both a dense field and, optionally, direct answers for the query
keypoints (read from the cell each keypoint falls in, as GeoAware-SC does).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, Hashable, Sequence

import numpy as np
import torch

from corrbench.api import DIRECTIONS, CorrespondenceField, Direction, Method, Pair, Prediction
from corrbench.cache import FeatureCache, image_key
from corrbench.eval.transfer import identity_grid, sample_bilinear
from corrbench.matching.readouts import Readout
from corrbench.matching.resolution import GridPlacement
from corrbench.matching.similarity import match_cells, mutual


@dataclass
class FeatureMap:
    """One image's dense features: ``features`` (h*w, C) rows, row-major over ``placement.grid``."""

    features: torch.Tensor
    placement: GridPlacement


@dataclass(frozen=True)
class MatchingOptions:
    """What the base does with the features (each subclass exposes these as its own options)."""

    readout: Readout = Readout()
    mutual: bool = False  # NaN where the match is not a mutual nearest neighbour
    points: bool = True  # also answer the query keypoints directly (not only through the field)
    cache_mb: int = 512
    chunk_mb: int = 64  # one (queries x cells) similarity block; readouts hold a few of them


class FeatureMatcher(Method):
    """Base of feature + readout methods; subclasses implement :meth:`feature_identity` and
    :meth:`compute_features` and call ``super().__init__(..., matching=MatchingOptions(...))``."""

    supports_batching = True
    batch_size = 8

    def __init__(self, weights: str | None = None, device: str = "cpu",
                 matching: MatchingOptions = MatchingOptions()) -> None:
        super().__init__(weights=weights, device=device)
        self.matching = matching
        self.cache = FeatureCache(int(matching.cache_mb) * 2**20)

    # --- what a subclass supplies ----------------------------------------------------------------
    @abstractmethod
    def feature_identity(self) -> tuple[Hashable, ...]:
        """Everything besides the image that changes its features (part of the cache key)."""

    @abstractmethod
    def compute_features(self, images: list[np.ndarray]) -> list[FeatureMap]:
        """Features of these distinct, uncached images (batch them as the backbone likes), on ``self.device``."""

    # --- shared machinery ---------------------------------------------------------------------------
    @property
    def readout(self) -> Readout:
        return self.matching.readout

    @property
    def _budget(self) -> int:
        return int(self.matching.chunk_mb) * 2**20

    def features_for(self, images: Sequence[np.ndarray]) -> list[FeatureMap]:
        """One feature map per image; each distinct image computed at most once (cached across calls)."""
        identity = self.feature_identity()
        keys = [image_key(image, *identity) for image in images]
        pending: dict[Any, np.ndarray] = {}
        for key, image in zip(keys, images):
            if key not in self.cache and key not in pending:
                pending[key] = image
        computed: dict[Any, FeatureMap] = {}
        if pending:
            with torch.no_grad():
                computed = dict(zip(pending, self.compute_features(list(pending.values()))))
        return [self.cache.get_or_compute(key, lambda key=key: computed[key]) for key in keys]

    def predict(self, pairs: Sequence[Pair], directions: Sequence[Direction] = DIRECTIONS) -> list[Prediction]:
        if not pairs:
            return []
        maps = self.features_for([p.src_image for p in pairs] + [p.trg_image for p in pairs])
        predictions = []
        with torch.no_grad():
            for index, pair in enumerate(pairs):
                src, trg = maps[index], maps[len(pairs) + index]
                prediction = Prediction()
                for direction in directions:
                    query, reference = (src, trg) if direction == "src_to_trg" else (trg, src)
                    setattr(prediction, direction, self.dense_field(query, reference))
                    keypoints = pair.kps("src" if direction == "src_to_trg" else "trg")
                    if self.matching.points and np.isfinite(keypoints).all(axis=1).any():
                        prediction.points[direction] = self.point_answers(query, reference, keypoints)
                predictions.append(prediction)
        return predictions

    def dense_field(self, query: FeatureMap, reference: FeatureMap) -> CorrespondenceField:
        """The readout at every cell of the query grid, as a field over the query image."""
        placement = query.placement
        cells, best = match_cells(query.features, reference.features, reference.placement.grid, self.readout,
                                  self._budget, with_best=self.matching.mutual)
        pixels = reference.placement.to_pixels(cells)
        if best is not None:
            own = torch.arange(len(query.features), device=best.device)
            keep = mutual(best, own, query.features, reference.features, self._budget)
            pixels = pixels.masked_fill(~keep[:, None], float("nan"))
        coords = pixels.reshape(*placement.grid, 2).float().cpu().numpy()
        if placement.covers_image:
            return CorrespondenceField(coords, placement.image_size)
        # A padded input: resample the grid's answers at the cells of a grid over the image alone.
        shape = placement.field_grid()
        centres = torch.from_numpy(identity_grid(placement.image_size, shape).reshape(-1, 2).astype(np.float64))
        at = placement.to_cells(centres).numpy()
        return CorrespondenceField(sample_bilinear(coords, at).reshape(*shape, 2), placement.image_size)

    def point_answers(self, query: FeatureMap, reference: FeatureMap, keypoints: np.ndarray) -> np.ndarray:
        """(N, 2) pixels in the reference image for the query keypoints (NaN for non-finite queries)."""
        keypoints = np.asarray(keypoints, dtype=np.float64).reshape(-1, 2)
        finite = np.isfinite(keypoints).all(axis=1)
        points = torch.from_numpy(np.where(finite[:, None], keypoints, 0.0)).to(query.features.device)
        placement = query.placement
        own = placement.containing_cell(points.to(torch.float64))
        if self.readout.samples_features:
            features = sample_features(query.features, placement.grid, placement.to_cells(points.to(torch.float64)))
        else:
            features = query.features[own]
        cells, best = match_cells(features, reference.features, reference.placement.grid, self.readout, self._budget,
                                  with_best=self.matching.mutual)
        pixels = reference.placement.to_pixels(cells.to(torch.float64))
        if best is not None:
            keep = mutual(best, own, query.features, reference.features, self._budget)
            pixels = pixels.masked_fill(~keep[:, None], float("nan"))
        answers = pixels.float().cpu().numpy()
        answers[~finite] = np.nan
        return answers


def sample_features(features: torch.Tensor, grid: tuple[int, int], cells: torch.Tensor) -> torch.Tensor:
    """Features bilinearly sampled at fractional cells (col, row), border-clamped: (N, C)."""
    rows, cols = grid
    volume = features.T.reshape(1, -1, rows, cols)
    scale = cells.new_tensor([cols, rows])
    normalised = ((cells + 0.5) / scale * 2 - 1).to(features.dtype)
    sampled = torch.nn.functional.grid_sample(volume, normalised[None, None], mode="bilinear",
                                              padding_mode="border", align_corners=False)
    return sampled[0, :, 0].T
