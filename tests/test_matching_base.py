"""The feature-matcher base: geometry of fields and point answers, caching and batching, resolution policies."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from corrbench.api import Pair
from corrbench.errors import UsageError
from corrbench.eval.frames import apply_frame
from corrbench.eval.protocols import get_protocol
from corrbench.eval.transfer import identity_grid
from corrbench.matching.base import FeatureMap, FeatureMatcher, MatchingOptions, sample_features
from corrbench.matching.readouts import Readout
from corrbench.matching.resolution import GridPlacement, Resolution

CELL = 4  # pixels per cell of the toy grid


class CodeMatcher(FeatureMatcher):
    """Each 4x4 cell of an image carries a code in its red channel; its feature is one-hot of the code."""

    name = "code-matcher"
    takes_weights = False

    def __init__(self, readout: str = "nn", cache_mb: int = 16, mutual: bool = False) -> None:
        super().__init__(matching=MatchingOptions(readout=Readout(readout, temperature=0.01, window=2),
                                                  mutual=mutual, cache_mb=cache_mb))
        self.calls: list[int] = []

    def feature_identity(self) -> tuple:
        return ("codes",)

    def compute_features(self, images):
        self.calls.append(len(images))
        maps = []
        for image in images:
            grid = (image.shape[0] // CELL, image.shape[1] // CELL)
            codes = image[CELL // 2:: CELL, CELL // 2:: CELL, 0].reshape(-1).astype(np.int64)
            maps.append(FeatureMap(torch.nn.functional.one_hot(torch.from_numpy(codes), 256).float(),
                                   GridPlacement.covering(image.shape[:2], grid)))
        return maps


def coded_image(rows: int, cols: int, dy: int = 0, dx: int = 0) -> np.ndarray:
    """Cell (r, c) holds code 1 + (r - dy) * cols + (c - dx) (0 = a code no other image has)."""
    image = np.zeros((rows * CELL, cols * CELL, 3), np.uint8)
    for r in range(rows):
        for c in range(cols):
            inside = 0 <= r - dy < rows and 0 <= c - dx < cols
            image[r * CELL:(r + 1) * CELL, c * CELL:(c + 1) * CELL, 0] = 1 + (r - dy) * cols + (c - dx) if inside else 0
    return image


def test_fields_and_point_answers_land_on_the_shifted_cells_in_pixels():
    rows, cols, dy, dx = 5, 6, 1, 2
    src, trg = coded_image(rows, cols), coded_image(rows, cols, dy, dx)
    kps = np.array([[1.0, 2.0], [9.3, 6.6], [13.0, 10.0]])  # cells (0, 0), (2, 1), (3, 2)
    pair = Pair("p", "toy", src, trg, kps, np.full_like(kps, np.nan))
    prediction = CodeMatcher().predict([pair], ("src_to_trg",))[0]
    field = prediction.src_to_trg
    assert field.coords.shape == (rows, cols, 2) and field.image_size == src.shape[:2]
    centres = identity_grid(src.shape[:2], (rows, cols))
    inside = np.zeros((rows, cols), bool)
    inside[: rows - dy, : cols - dx] = True
    np.testing.assert_allclose(field.coords[inside], (centres + [dx * CELL, dy * CELL])[inside], atol=1e-5)
    cells = np.floor(kps / CELL)
    np.testing.assert_allclose(prediction.points["src_to_trg"], (cells + [dx, dy] + 0.5) * CELL - 0.5, atol=1e-9)


class FixedMaps(CodeMatcher):
    """Features chosen by the test, picked by image width."""

    maps: dict[int, torch.Tensor] = {}

    def compute_features(self, images):
        return [FeatureMap(self.maps[image.shape[1]], GridPlacement.covering(image.shape[:2], (1, image.shape[1] // CELL)))
                for image in images]


def test_bilinear_readout_matches_the_sampled_feature_where_nn_matches_the_cell():
    # Query cells q0 = e1, q1 = e2; at 40 % of the way from q0 to q1 the sampled feature (0.6, 0.4)
    # is closest to r1 = (0.6, 0.8), while the cell the point falls in (q0) is closest to r0 = e1.
    FixedMaps.maps = {8: torch.tensor([[1.0, 0.0], [0.0, 1.0]]),
                      12: torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])}
    query, reference = np.zeros((4, 8, 3), np.uint8), np.zeros((4, 12, 3), np.uint8)
    pair = Pair("p", "toy", query, reference, np.array([[(0.4 + 0.5) * CELL - 0.5, 1.5]]), np.full((1, 2), np.nan))
    nn = FixedMaps("nn").predict([pair], ("src_to_trg",))[0].points["src_to_trg"][0]
    bilinear = FixedMaps("bilinear").predict([pair], ("src_to_trg",))[0].points["src_to_trg"][0]
    np.testing.assert_allclose(nn, [1.5, 1.5])
    np.testing.assert_allclose(bilinear, [5.5, 1.5])


def test_sample_features_is_bilinear_inside_and_clamped_at_the_border():
    rows, cols = 3, 4
    r, c = torch.meshgrid(torch.arange(rows, dtype=torch.float32), torch.arange(cols, dtype=torch.float32), indexing="ij")
    features = torch.stack([c, r, torch.ones_like(c)], dim=-1).reshape(-1, 3)  # feature = (col, row, 1)
    at = torch.tensor([[0.25, 1.5], [2.75, 0.0], [-1.0, 5.0]])
    sampled = sample_features(features, (rows, cols), at)
    torch.testing.assert_close(sampled, torch.tensor([[0.25, 1.5, 1.0], [2.75, 0.0, 1.0], [0.0, 2.0, 1.0]]))


def test_each_distinct_image_is_computed_once_per_batch_and_cached_across_batches():
    a, b, c = coded_image(3, 3), coded_image(3, 3, 1, 0), coded_image(3, 3, 0, 1)
    pairs = [Pair(f"p{i}", "toy", s, t) for i, (s, t) in enumerate([(a, b), (b, a), (a, c), (a.copy(), b)])]
    matcher = CodeMatcher()
    matcher.predict(pairs)
    assert matcher.calls == [3]  # a, b, c in one call, whatever their order or copies
    assert (matcher.cache.misses, matcher.cache.hits) == (3, 5)
    matcher.predict(pairs[:2])
    assert matcher.calls == [3] and matcher.cache.hits == 9
    uncached = CodeMatcher(cache_mb=0)
    uncached.predict(pairs)
    uncached.predict(pairs)
    assert uncached.calls == [3, 3] and len(uncached.cache) == 0


def test_mutual_filtering_marks_many_to_one_matches_as_no_match():
    src = coded_image(2, 3)
    trg = src.copy()
    trg[:CELL, CELL: 2 * CELL, 0] = 1  # target cell (0, 1) copies the code of (0, 0): two cells answer code 1
    pair = Pair("p", "toy", trg, src)  # queries: the target-with-duplicate's cells
    plain = CodeMatcher().predict([pair], ("src_to_trg",))[0].src_to_trg.coords
    filtered = CodeMatcher(mutual=True).predict([pair], ("src_to_trg",))[0].src_to_trg.coords
    assert np.isfinite(plain).all()
    assert np.isnan(filtered).any(axis=2).sum() == 1 and np.isnan(filtered[0, :2]).any(axis=1).sum() == 1


def test_a_padded_grid_is_resampled_to_a_field_over_the_image_alone():
    """The same image against itself through a long-side-pad placement maps every pixel to itself."""
    image_size, size, patch = (30, 50), 56, 4
    placement = Resolution("long_side_pad", size, patch).plan(image_size).placement
    assert placement.shift[0] == 0 and placement.shift[1] > 0 and not placement.covers_image
    n = placement.grid[0] * placement.grid[1]
    features = torch.eye(n)

    class Padded(CodeMatcher):
        def compute_features(self, images):
            return [FeatureMap(features, placement) for _ in images]

    image = np.zeros((*image_size, 3), np.uint8)
    field = Padded().predict([Pair("p", "toy", image, image)], ("src_to_trg",))[0].src_to_trg
    assert field.image_size == image_size and field.coords.shape[:2] == placement.field_grid()
    np.testing.assert_allclose(field.coords, identity_grid(image_size, placement.field_grid()), atol=1e-4)


def test_long_side_pad_matches_the_geoaware_protocol_frame_and_round_trips():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (375, 500, 3), dtype=np.uint8)
    pair = Pair("p", "c", image, image, np.zeros((1, 2)), np.zeros((1, 2)))
    framed = apply_frame(pair, get_protocol("geoaware", dataset="spair")).src_image
    prepared, placement = Resolution("long_side_pad", 840, 14).prepare(image)
    assert np.array_equal(prepared, framed)
    assert placement.grid == (60, 60) and placement.cell_size == pytest.approx((500 / 60, 375 / 45))
    points = torch.tensor([[0.0, 0.0], [499.0, 374.0], [123.4, 56.7]], dtype=torch.float64)
    torch.testing.assert_close(placement.to_pixels(placement.to_cells(points)), points)
    # the cell a pixel falls in, at input resolution: floor((u + 0.5) / 14) of its input pixel u
    u = (points + 0.5) * 840 / 500 - 0.5 + torch.tensor([0.0, 105.0], dtype=torch.float64)
    expected = torch.floor((u + 0.5) / 14).long()
    assert placement.containing_cell(points).tolist() == (expected[:, 1] * 60 + expected[:, 0]).tolist()
    already, again = Resolution("long_side_pad", 840, 14).prepare(framed)
    assert np.array_equal(already, framed) and again.covers_image and again.cell_size == (14.0, 14.0)


@pytest.mark.parametrize("policy, expected_input", [("square", (224, 224)), ("original", (378, 504))])
def test_square_and_original_policies_cover_the_image(policy, expected_input):
    image = np.zeros((375, 500, 3), np.uint8)
    prepared, placement = Resolution(policy, 224, 14).prepare(image)
    assert prepared.shape[:2] == expected_input and placement.covers_image
    assert placement.grid == (expected_input[0] // 14, expected_input[1] // 14)


def test_a_size_that_is_not_a_multiple_of_the_patch_is_refused_with_the_nearest_sizes():
    with pytest.raises(UsageError, match="size 850 is not a multiple of the patch size 14 \\(try 840 or 854\\)"):
        Resolution("long_side_pad", 850, 14)


def test_matching_options_are_plain_data():
    options = MatchingOptions()
    assert dataclasses.replace(options, chunk_mb=1).chunk_mb == 1 and options.readout.name == "nn"
