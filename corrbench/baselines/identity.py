"""``identity``: every point keeps its relative position in the image (the floor of the table)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from corrbench.api import DIRECTIONS, CorrespondenceField, Direction, Method, Pair, Prediction
from corrbench.eval.transfer import identity_grid


def relative_position_field(from_size: tuple[int, int], to_size: tuple[int, int]) -> CorrespondenceField:
    """Field over an image of ``from_size`` mapping each pixel to the same relative spot of ``to_size``."""
    grid = identity_grid(from_size).astype(np.float64)
    scale = np.array([to_size[1] / from_size[1], to_size[0] / from_size[0]])
    coords = (grid + 0.5) * scale - 0.5
    return CorrespondenceField(coords.astype(np.float32), from_size)


class IdentityMethod(Method):
    name = "identity"
    version = "1"
    takes_weights = False

    def predict(self, pairs: Sequence[Pair], directions: Sequence[Direction] = DIRECTIONS) -> list[Prediction]:
        predictions = []
        for pair in pairs:
            prediction = Prediction()
            if "src_to_trg" in directions:
                prediction.src_to_trg = relative_position_field(pair.src_size, pair.trg_size)
            if "trg_to_src" in directions:
                prediction.trg_to_src = relative_position_field(pair.trg_size, pair.src_size)
            predictions.append(prediction)
        return predictions


class AllForegroundMethod(IdentityMethod):
    """``identity`` fields plus masks that call every pixel foreground: the floor for mask IoU."""

    name = "all-foreground"
    version = "1"

    def predict(self, pairs: Sequence[Pair], directions: Sequence[Direction] = DIRECTIONS) -> list[Prediction]:
        predictions = super().predict(pairs, directions)
        for pair, prediction in zip(pairs, predictions):
            prediction.src_mask = np.ones(pair.src_size, dtype=np.float32)
            prediction.trg_mask = np.ones(pair.trg_size, dtype=np.float32)
        return predictions
