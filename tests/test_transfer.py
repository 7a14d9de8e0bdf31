"""Mapping points through fields: conventions, interpolation, NaN handling."""

from __future__ import annotations

import numpy as np
import pytest

from corrbench.api import CorrespondenceField
from corrbench.baselines.identity import relative_position_field
from corrbench.eval.transfer import (identity_grid, normalized_to_pixels, pixels_to_normalized, sample_bilinear,
                                transfer_points)


def test_full_resolution_identity_field_maps_points_to_themselves():
    field = CorrespondenceField(identity_grid((30, 40)), (30, 40))
    points = np.array([[0, 0], [39, 29], [12.25, 7.75]])
    np.testing.assert_allclose(transfer_points(field, points), points, atol=1e-5)


def test_low_resolution_field_of_an_affine_map_is_exact_inside():
    # Field over a 60x80 image at 15x20 cells holding the affine map (x, y) -> (2x + 1, 0.5y - 3).
    centres = identity_grid((60, 80), (15, 20)).astype(np.float64)
    coords = np.stack([2 * centres[..., 0] + 1, 0.5 * centres[..., 1] - 3], axis=-1)
    field = CorrespondenceField(coords, (60, 80))
    rng = np.random.default_rng(0)
    points = rng.uniform([2, 2], [77, 57], (50, 2))
    expected = np.stack([2 * points[:, 0] + 1, 0.5 * points[:, 1] - 3], axis=1)
    np.testing.assert_allclose(transfer_points(field, points), expected, atol=1e-4)


def test_nan_cells_poison_only_samples_that_use_them():
    values = np.zeros((2, 2, 2))
    values[1, 1] = np.nan
    out = sample_bilinear(values, np.array([[0.0, 0.0], [0.5, 0.5], [1.0, 0.0]]))
    assert np.isfinite(out[0]).all() and np.isfinite(out[2]).all()
    assert np.isnan(out[1]).all()


def test_relative_position_field_scales_between_sizes():
    field = relative_position_field((100, 200), (50, 400))
    out = transfer_points(field, np.array([[-0.5, -0.5], [199.5, 99.5], [99.5, 49.5]]))
    np.testing.assert_allclose(out[2], [199.5, 24.5], atol=1e-4)


@pytest.mark.parametrize("align", [False, True])
def test_normalized_pixel_round_trip(align):
    rng = np.random.default_rng(1)
    pts = rng.uniform(-1, 1, (10, 2))
    back = pixels_to_normalized(normalized_to_pixels(pts, (37, 53), align), (37, 53), align)
    np.testing.assert_allclose(back, pts, atol=1e-5)
    corners = normalized_to_pixels(np.array([[-1.0, -1.0], [1.0, 1.0]]), (37, 53), align)
    expected = [[0, 0], [52, 36]] if align else [[-0.5, -0.5], [52.5, 36.5]]
    np.testing.assert_allclose(corners, expected, atol=1e-5)


@pytest.mark.parametrize("mode", ["none", "round", "round_offset", "trunc"])
def test_reading_a_field_by_lookup_equals_reading_the_dense_field_bit_for_bit(mode):
    """What a point-answering method returns through transfer_queries_at scores exactly as its field."""
    from corrbench.eval.keypoints import transfer_queries, transfer_queries_at

    rng = np.random.default_rng(3)
    size = (37, 53)
    coords = rng.normal(0, 40, size + (2,)).astype(np.float32)
    field = CorrespondenceField(coords, size)
    queries = np.concatenate([rng.uniform([-3, -3], [56, 40], (60, 2)),  # inside, on and past the border
                              [[0, 0], [52, 36], [52.0, 0.5], [10, 36.999], [17.5, 20.5]]])
    asked = []

    def lookup(xy):
        asked.append(xy)
        return coords[xy[:, 1], xy[:, 0]].astype(np.float64)  # dtype as a method might hand it: stored as float32

    read = transfer_queries_at(lookup, size, queries, mode)
    assert np.array_equal(read, transfer_queries(field, queries, mode))
    (pixels,) = asked  # one call, each needed pixel once, never the whole image
    assert len(pixels) == len(np.unique(pixels, axis=0)) <= 4 * len(queries) < size[0] * size[1]


def test_lookup_reading_maps_non_finite_queries_to_nan():
    from corrbench.eval.transfer import transfer_points_at

    out = transfer_points_at(lambda xy: xy.astype(np.float32), (5, 6), np.array([[1.5, 2.0], [np.nan, 1.0]]))
    np.testing.assert_allclose(out[0], [1.5, 2.0])
    assert np.isnan(out[1]).all()
    with pytest.raises(ValueError, match="lookup returned shape"):
        transfer_points_at(lambda xy: np.zeros((1, 2)), (5, 6), np.array([[1.5, 2.0]]))
