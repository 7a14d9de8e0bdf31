"""corrbench objects <-> the kit's arrays.

* Ground truth: a TSS :class:`~corrbench.api.Pair` (absolute float64 coordinates) back to the
  kit's float32 displacements, bit for bit.
* Predictions: each :class:`~corrbench.api.CorrespondenceField` is resampled at the ground
  truth's pixel centres (bilinear on its ``align_corners=False`` grid, edge cells replicated, NaN
  where a used cell is NaN) and written as displacements AT GT RESOLUTION.  Why not at the
  field's own resolution: the kit would then resize it with its own grid convention (0-based
  or 1-based, neither of them the half-pixel one of the contract), shifting every vector by up
  to half a cell and making the C++ and MATLAB tools disagree.  At GT size neither tool resizes,
  so both score exactly the field the method returned.
* Masks: probabilities resized bilinearly to GT size and thresholded at 0.5
  (:func:`corrbench.metrics.masks.binarize`), written as 0/255 8-bit levels.
"""

from __future__ import annotations

import numpy as np

from corrbench.api import CorrespondenceField, Pair, Prediction
from corrbench.errors import CorrbenchError
from corrbench.tss.flo import UNKNOWN_FLOW
from corrbench.metrics.masks import binarize
from corrbench.tss.kit import KitPrediction, TSSGroundTruth


def ground_truth_from_pair(pair: Pair) -> TSSGroundTruth:
    """The kit's view of a TSS pair (``meta`` as set by :class:`corrbench.data.tss.TSSDataset`)."""
    if pair.flow_src_to_trg is None or pair.flow_trg_to_src is None or pair.src_mask is None or pair.trg_mask is None:
        raise CorrbenchError(f"pair {pair.pair_id} has no dense ground truth (flows and masks); is it a TSS pair?")
    return TSSGroundTruth(
        pair_id=pair.pair_id,
        flow1=displacement(pair.flow_src_to_trg),
        flow2=displacement(pair.flow_trg_to_src),
        mask1=np.asarray(pair.src_mask, dtype=bool),
        mask2=np.asarray(pair.trg_mask, dtype=bool),
        flip=int(pair.meta.get("flip", 0)),
        name1=str(pair.meta.get("image1", "")),
        name2=str(pair.meta.get("image2", "")),
    )


def displacement(coords: np.ndarray) -> np.ndarray:
    """Absolute coordinates at full resolution -> float32 displacements, NaN -> 1e10."""
    height, width = coords.shape[:2]
    flow = np.asarray(coords, dtype=np.float64).copy()
    flow[..., 0] -= np.arange(width)[None, :]
    flow[..., 1] -= np.arange(height)[:, None]
    flow[np.isnan(flow).any(axis=-1)] = UNKNOWN_FLOW
    return flow.astype(np.float32)


def _axis_taps(n_cells: int, n_pixels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells and weights of each pixel centre on an align_corners=False grid (edges replicated)."""
    pos = (np.arange(n_pixels) + 0.5) * n_cells / n_pixels - 0.5
    pos = np.clip(pos, 0, n_cells - 1)
    left = np.minimum(np.floor(pos).astype(np.int64), n_cells - 1)
    frac = pos - left
    right = np.minimum(left + 1, n_cells - 1)
    return left, right, frac


def sample_field(field: CorrespondenceField, size: tuple[int, int]) -> np.ndarray:
    """The field's absolute coordinates at every pixel centre of an image of ``size`` (H, W)."""
    if tuple(field.image_size) != tuple(size):
        raise CorrbenchError(
            f"prediction field covers an image of size {field.image_size}, but the image is {tuple(size)}"
        )
    coords = np.asarray(field.coords, dtype=np.float64)
    h, w = coords.shape[:2]
    if (h, w) == tuple(size):
        return coords
    x0, x1, fx = _axis_taps(w, size[1])
    y0, y1, fy = _axis_taps(h, size[0])

    def lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
        # a weight of exactly zero must not let a NaN neighbour in
        return np.where(t == 0, a, np.where(t == 1, b, a * (1 - t) + b * t))

    rows = lerp(coords[:, x0], coords[:, x1], fx[None, :, None])
    return lerp(rows[y0], rows[y1], fy[:, None, None])


def kit_prediction(prediction: Prediction, pair: Pair) -> KitPrediction:
    """What corrbench writes (and scores) for one pair: flows and masks at GT size."""
    flows = []
    for field, size in ((prediction.src_to_trg, pair.src_size), (prediction.trg_to_src, pair.trg_size)):
        flows.append(None if field is None else displacement(sample_field(field, size)))
    masks = []
    for mask, size in ((prediction.src_mask, pair.src_size), (prediction.trg_mask, pair.trg_size)):
        masks.append(None if mask is None else binarize(mask, size).astype(np.uint8) * 255)
    return KitPrediction(flow1=flows[0], flow2=flows[1], mask1=masks[0], mask2=masks[1])
