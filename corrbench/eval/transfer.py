"""Mapping points through correspondence fields: the one place where keypoints meet fields.

Every method returns fields in the same convention (``api.CorrespondenceField``), and every
evaluation maps query points through them here, by bilinear sampling, so methods cannot
disagree on half-pixel offsets.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from corrbench.api import CorrespondenceField

#: (M, 2) int64 pixel (x, y) -> (M, 2) field values there (see :func:`transfer_points_at`).
PixelLookup = Callable[[np.ndarray], np.ndarray]


def pixel_to_grid(points: np.ndarray, image_size: tuple[int, int], grid_shape: tuple[int, int]) -> np.ndarray:
    """Pixel (x, y) of an image of size (H, W) -> fractional cell index (col, row) of an (h, w) grid."""
    height, width = image_size
    rows, cols = grid_shape
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    gx = (points[:, 0] + 0.5) * cols / width - 0.5
    gy = (points[:, 1] + 0.5) * rows / height - 0.5
    return np.stack([gx, gy], axis=1)


Corners = tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]


def bilinear_corners(grid_points: np.ndarray, rows: int, cols: int) -> Corners:
    """The four (row index, column index, weight) read by a border-clamped bilinear sample at
    fractional (col, row) positions of an (rows, cols) grid; weights are (N, 1)."""
    gx = np.clip(grid_points[:, 0], 0.0, cols - 1.0)
    gy = np.clip(grid_points[:, 1], 0.0, rows - 1.0)
    x0 = np.floor(gx).astype(np.int64)
    y0 = np.floor(gy).astype(np.int64)
    x1 = np.minimum(x0 + 1, cols - 1)
    y1 = np.minimum(y0 + 1, rows - 1)
    wx = (gx - x0)[:, None]
    wy = (gy - y0)[:, None]
    return ((y0, x0, (1 - wx) * (1 - wy)), (y0, x1, wx * (1 - wy)), (y1, x0, (1 - wx) * wy), (y1, x1, wx * wy))


def blend_corners(corners: Corners, corner_values: Sequence[np.ndarray]) -> np.ndarray:
    """Weighted sum of the four corners' values (N, C) in float64; a NaN corner of zero weight is ignored."""
    out = np.zeros((len(corners[0][0]), corner_values[0].shape[1]), dtype=np.float64)
    for (_, _, weight), values in zip(corners, corner_values):
        contribution = values.astype(np.float64) * weight
        # A NaN corner with zero weight does not poison the sample.
        contribution[np.broadcast_to(weight == 0, contribution.shape)] = 0.0
        out += contribution
    return out


def sample_bilinear(values: np.ndarray, grid_points: np.ndarray) -> np.ndarray:
    """Bilinear sample of ``values`` (h, w, C) at fractional (col, row) positions, border-clamped.

    A sample touching a NaN cell with non-zero weight is NaN: "no match" must not be averaged
    into a plausible-looking position.
    """
    corners = bilinear_corners(grid_points, values.shape[0], values.shape[1])
    return blend_corners(corners, [values[ys, xs] for ys, xs, _ in corners])


def transfer_points(field: CorrespondenceField, points: np.ndarray) -> np.ndarray:
    """Map (N, 2) points of the field's grid image to the other image (NaN where unmatched)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(points) == 0:
        return np.zeros((0, 2), dtype=np.float64)
    grid = pixel_to_grid(points, field.image_size, field.coords.shape[:2])
    return sample_bilinear(field.coords, grid)


def transfer_points_at(lookup: PixelLookup, image_size: tuple[int, int], points: np.ndarray) -> np.ndarray:
    """:func:`transfer_points` through a full-resolution field over an (H, W) image that is never built.

    ``lookup(xy)`` returns the field at integer pixels ``xy`` ((M, 2) int64, x then y), (M, 2),
    stored as float32 as a :class:`CorrespondenceField` would store them; only the pixels the
    bilinear read touches are asked for, so a method answering a few keypoints skips the dense
    field and still gives the same numbers.  Non-finite points map to NaN.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(points) == 0:
        return np.zeros((0, 2), dtype=np.float64)
    height, width = image_size
    finite = np.isfinite(points).all(axis=1)
    grid = pixel_to_grid(np.where(finite[:, None], points, 0.0), image_size, image_size)
    corners = bilinear_corners(grid, height, width)
    flat = np.concatenate([ys * width + xs for ys, xs, _ in corners])
    pixels, inverse = np.unique(flat, return_inverse=True)
    values = np.asarray(lookup(np.stack([pixels % width, pixels // width], axis=1)), dtype=np.float32)
    if values.shape != (len(pixels), 2):
        raise ValueError(f"field lookup returned shape {values.shape} for {len(pixels)} pixels; expected ({len(pixels)}, 2)")
    out = blend_corners(corners, np.split(values[inverse.reshape(-1)], 4))
    out[~finite] = np.nan
    return out


def identity_grid(image_size: tuple[int, int], grid_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Pixel coordinates of the cell centres of an (h, w) grid over an image of size (H, W)."""
    height, width = image_size
    rows, cols = grid_shape or image_size
    xs = (np.arange(cols) + 0.5) * width / cols - 0.5
    ys = (np.arange(rows) + 0.5) * height / rows - 0.5
    grid_x, grid_y = np.meshgrid(xs, ys)
    return np.stack([grid_x, grid_y], axis=-1).astype(np.float32)


def normalized_to_pixels(grid: np.ndarray, image_size: tuple[int, int], align_corners: bool = False) -> np.ndarray:
    """Convert ``grid_sample``-style coordinates in [-1, 1] to pixel (x, y) of an image (H, W).

    Methods written against ``torch.nn.functional.grid_sample`` use this to hand back a field in
    the contract's pixel convention; ``align_corners`` must match how the method built its grid.
    """
    height, width = image_size
    grid = np.asarray(grid, dtype=np.float64)
    if align_corners:
        x = (grid[..., 0] + 1) * (width - 1) / 2
        y = (grid[..., 1] + 1) * (height - 1) / 2
    else:
        x = ((grid[..., 0] + 1) * width - 1) / 2
        y = ((grid[..., 1] + 1) * height - 1) / 2
    return np.stack([x, y], axis=-1).astype(np.float32)


def pixels_to_normalized(points: np.ndarray, image_size: tuple[int, int], align_corners: bool = False) -> np.ndarray:
    """Inverse of :func:`normalized_to_pixels`."""
    height, width = image_size
    points = np.asarray(points, dtype=np.float64)
    if align_corners:
        x = points[..., 0] * 2 / (width - 1) - 1
        y = points[..., 1] * 2 / (height - 1) - 1
    else:
        x = (points[..., 0] * 2 + 1) / width - 1
        y = (points[..., 1] * 2 + 1) / height - 1
    return np.stack([x, y], axis=-1)
