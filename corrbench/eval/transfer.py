"""Mapping points through correspondence fields: the one place where keypoints meet fields.

Every method returns fields in the same convention (``api.CorrespondenceField``), and every
evaluation maps query points through them here, by bilinear sampling, so methods cannot
disagree on half-pixel offsets.
"""

from __future__ import annotations

import numpy as np

from corrbench.api import CorrespondenceField


def pixel_to_grid(points: np.ndarray, image_size: tuple[int, int], grid_shape: tuple[int, int]) -> np.ndarray:
    """Pixel (x, y) of an image of size (H, W) -> fractional cell index (col, row) of an (h, w) grid."""
    height, width = image_size
    rows, cols = grid_shape
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    gx = (points[:, 0] + 0.5) * cols / width - 0.5
    gy = (points[:, 1] + 0.5) * rows / height - 0.5
    return np.stack([gx, gy], axis=1)


def sample_bilinear(values: np.ndarray, grid_points: np.ndarray) -> np.ndarray:
    """Bilinear sample of ``values`` (h, w, C) at fractional (col, row) positions, border-clamped.

    A sample touching a NaN cell with non-zero weight is NaN: "no match" must not be averaged
    into a plausible-looking position.
    """
    rows, cols = values.shape[:2]
    gx = np.clip(grid_points[:, 0], 0.0, cols - 1.0)
    gy = np.clip(grid_points[:, 1], 0.0, rows - 1.0)
    x0 = np.floor(gx).astype(np.int64)
    y0 = np.floor(gy).astype(np.int64)
    x1 = np.minimum(x0 + 1, cols - 1)
    y1 = np.minimum(y0 + 1, rows - 1)
    wx = (gx - x0)[:, None]
    wy = (gy - y0)[:, None]
    corners = (
        (values[y0, x0], (1 - wx) * (1 - wy)),
        (values[y0, x1], wx * (1 - wy)),
        (values[y1, x0], (1 - wx) * wy),
        (values[y1, x1], wx * wy),
    )
    out = np.zeros((len(gx), values.shape[2]), dtype=np.float64)
    for corner, weight in corners:
        contribution = corner.astype(np.float64) * weight
        # A NaN corner with zero weight does not poison the sample.
        contribution[np.broadcast_to(weight == 0, contribution.shape)] = 0.0
        out += contribution
    return out


def transfer_points(field: CorrespondenceField, points: np.ndarray) -> np.ndarray:
    """Map (N, 2) points of the field's grid image to the other image (NaN where unmatched)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(points) == 0:
        return np.zeros((0, 2), dtype=np.float64)
    grid = pixel_to_grid(points, field.image_size, field.coords.shape[:2])
    return sample_bilinear(field.coords, grid)


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
