"""The embedded ``synthetic`` benchmark: exact, deterministic ground truth."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy.ndimage import binary_closing, binary_dilation

import corrbench
from corrbench.api import Pair
from corrbench.data.cards import load_card
from corrbench.data import render, shapes
from corrbench.data.synthetic import SyntheticDataset
from corrbench.data.warps import Affine, ThinPlateSpline, Warp
from corrbench.errors import UsageError

CARD = load_card("synthetic")


@pytest.fixture(scope="module")
def test_pairs() -> list[Pair]:
    dataset = SyntheticDataset(split="test")
    return [dataset[i] for i in range(len(dataset))]


def bilinear(field: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Sample an (H, W, C) array at (N, 2) xy; NaN unless all four neighbours are finite."""
    h, w = field.shape[:2]
    x, y = points[:, 0], points[:, 1]
    x0 = np.clip(np.floor(x).astype(int), 0, w - 2)
    y0 = np.clip(np.floor(y).astype(int), 0, h - 2)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    out = (field[y0, x0] * (1 - fx) * (1 - fy) + field[y0, x0 + 1] * fx * (1 - fy)
           + field[y0 + 1, x0] * (1 - fx) * fy + field[y0 + 1, x0 + 1] * fx * fy)
    outside = (x < 0) | (x > w - 1) | (y < 0) | (y > h - 1)
    out[outside] = np.nan
    return out


# --- card, splits, construction ------------------------------------------------------------

def test_categories_and_version_come_from_the_card():
    dataset = SyntheticDataset(split="val", size=1)
    assert dataset.categories == list(CARD.categories)
    assert len(dataset.categories) >= 5
    assert dataset.version == CARD.version == SyntheticDataset.version
    assert dataset.default_protocol == "synthetic"
    assert set(CARD.categories) <= set(shapes.BUILDERS)


def test_split_sizes_follow_the_card_and_pair_ids_are_unique():
    for split in CARD.splits:
        dataset = SyntheticDataset(split=split)
        assert len(dataset) == CARD.extra["split_sizes"][split]
        ids = dataset.pair_ids()
        assert len(set(ids)) == len(ids) and ids[7] == f"{split}-0007"


def test_background_photos_are_disjoint_between_splits():
    photos = [set(CARD.extra["backgrounds"][split]) for split in CARD.splits]
    assert all(len(a & b) == 0 for i, a in enumerate(photos) for b in photos[i + 1:])


def test_test_split_has_equal_pairs_per_category(test_pairs):
    counts = Counter(pair.category for pair in test_pairs)
    assert set(counts) == set(CARD.categories)
    assert len(set(counts.values())) == 1


def test_registry_options_and_errors():
    dataset = corrbench.load_dataset("synthetic", split="val", size=3, seed=2)
    assert len(dataset) == 3 and dataset[2].pair_id == "val-0002"
    with pytest.raises(UsageError):
        SyntheticDataset(split="holdout")
    from_text = SyntheticDataset(split="val", size="3", seed="2")  # as the command line passes them
    assert len(from_text) == 3
    np.testing.assert_array_equal(from_text[1].src_image, dataset[1].src_image)
    for bad in ({"seed": -1}, {"size": "many"}, {"seed": 1.5}):
        with pytest.raises(UsageError):
            SyntheticDataset(**bad)
    with pytest.raises(IndexError):
        dataset[3]


# --- determinism -----------------------------------------------------------------------------

def _arrays(pair: Pair) -> list[np.ndarray]:
    return [pair.src_image, pair.trg_image, pair.src_kps, pair.trg_kps, pair.kps_visible,
            pair.src_mask, pair.trg_mask, pair.flow_src_to_trg, pair.flow_trg_to_src]


def test_same_seed_same_pair_regardless_of_order_and_size():
    first = SyntheticDataset(split="test", seed=3)[5]
    other = SyntheticDataset(split="test", seed=3, size=6)
    other[0], other[4]  # reading other pairs first must not change pair 5
    second = other[5]
    for a, b in zip(_arrays(first), _arrays(second)):
        np.testing.assert_array_equal(a, b)
    assert first.meta == second.meta


def test_different_seed_or_split_gives_a_different_pair():
    base = SyntheticDataset(split="test", seed=0)[5]
    for other in (SyntheticDataset(split="test", seed=1)[5], SyntheticDataset(split="val")[5]):
        assert base.category == other.category  # pairs cycle through categories
        assert base.src_image.shape != other.src_image.shape or not np.array_equal(
            base.src_image, other.src_image)
        assert not np.allclose(base.src_kps, other.src_kps)


# --- images, keypoints, boxes ----------------------------------------------------------------

def test_images_are_uint8_rgb_non_square_and_of_varying_size(test_pairs):
    sizes = set()
    for pair in test_pairs:
        for image in (pair.src_image, pair.trg_image):
            h, w = image.shape[:2]
            assert image.dtype == np.uint8 and image.shape[2] == 3
            assert render.HEIGHT_RANGE[0] <= h <= render.HEIGHT_RANGE[1] and h != w
            assert render.WIDTH_RANGE[0] <= w <= render.WIDTH_RANGE[1] + 1
            sizes.add((h, w))
    assert len(sizes) > 50


def test_the_two_images_of_a_pair_use_different_backgrounds(test_pairs):
    for pair in test_pairs:
        assert pair.meta["src"]["background"] != pair.meta["trg"]["background"]
    used = {pair.meta[side]["background"] for pair in test_pairs for side in ("src", "trg")}
    assert used == set(CARD.extra["backgrounds"]["test"])


def test_visibility_boxes_and_masks_agree_with_keypoints(test_pairs):
    cut_off_pairs = 0
    for pair in test_pairs:
        assert pair.kps_visible.sum() >= 4
        cut_off_pairs += int(not pair.kps_visible.all())
        for side, mask, box in (("src", pair.src_mask, pair.src_bbox),
                                ("trg", pair.trg_mask, pair.trg_bbox)):
            kps = pair.kps(side)
            h, w = mask.shape
            inside = ((kps[:, 0] >= 0) & (kps[:, 0] <= w - 1)
                      & (kps[:, 1] >= 0) & (kps[:, 1] <= h - 1))
            assert not (pair.kps_visible & ~inside).any()
            shown = np.rint(kps[inside]).astype(int)
            assert mask[shown[:, 1], shown[:, 0]].all(), "keypoint off its object"
            rows, cols = np.nonzero(mask)
            np.testing.assert_array_equal(box, [cols.min(), rows.min(), cols.max(), rows.max()])
        # a keypoint is invisible only because it left one of the images
        src_in = render.inside_image(pair.src_kps, pair.src_size)
        trg_in = render.inside_image(pair.trg_kps, pair.trg_size)
        np.testing.assert_array_equal(pair.kps_visible, src_in & trg_in)
    assert 0 < cut_off_pairs < len(test_pairs) // 3


def test_identity_baseline_is_hard_but_not_hopeless(test_pairs):
    """PCK@0.1 (source-box threshold) of 'a keypoint keeps its relative image position'."""
    correct = total = 0
    for pair in test_pairs:
        (hs, ws), (ht, wt) = pair.src_size, pair.trg_size
        predicted = pair.trg_kps * [ws / wt, hs / ht]
        x1, y1, x2, y2 = pair.src_bbox
        error = np.linalg.norm(predicted - pair.src_kps, axis=1)[pair.kps_visible]
        correct += int((error <= 0.1 * max(x2 - x1, y2 - y1)).sum())
        total += len(error)
    assert 0.05 < correct / total < 0.4


# --- dense ground truth ----------------------------------------------------------------------

@pytest.mark.parametrize("direction", ["src_to_trg", "trg_to_src"])
def test_keypoints_map_through_the_flow_onto_the_other_keypoints(test_pairs, direction):
    checked = visible = 0
    for pair in test_pairs:
        if direction == "src_to_trg":
            flow, query, answer = pair.flow_src_to_trg, pair.src_kps, pair.trg_kps
        else:
            flow, query, answer = pair.flow_trg_to_src, pair.trg_kps, pair.src_kps
        mapped = bilinear(flow, query[pair.kps_visible])
        ok = np.isfinite(mapped).all(1)
        error = np.linalg.norm(mapped[ok] - answer[pair.kps_visible][ok], axis=1)
        assert (error < 0.5).all(), f"{pair.pair_id}: {error.max():.3f} px"
        checked += int(ok.sum())
        visible += int(pair.kps_visible.sum())
    assert checked >= 0.9 * visible  # keypoints sit inside objects, so their pixels are valid


def test_flow_is_nan_off_the_object_and_lands_inside_the_other_image(test_pairs):
    for pair in test_pairs[:30]:
        for flow, mask, (h, w) in ((pair.flow_src_to_trg, pair.src_mask, pair.trg_size),
                                   (pair.flow_trg_to_src, pair.trg_mask, pair.src_size)):
            valid = np.isfinite(flow).all(-1)
            assert not (valid & ~mask).any()
            assert valid.sum() > 0.8 * mask.sum()
            points = flow[valid]
            assert (points >= -0.5).all() and (points[:, 0] <= w - 0.5).all()
            assert (points[:, 1] <= h - 0.5).all()


def test_flow_round_trip_is_the_identity_on_the_mask(test_pairs):
    for pair in test_pairs[:30]:
        rows, cols = np.nonzero(np.isfinite(pair.flow_src_to_trg).all(-1))
        back = bilinear(pair.flow_trg_to_src, pair.flow_src_to_trg[rows, cols])
        ok = np.isfinite(back).all(1)
        assert ok.mean() > 0.8
        error = np.linalg.norm(back[ok] - np.stack([cols, rows], 1)[ok], axis=1)
        assert np.median(error) < 0.02 and error.max() < 0.25, pair.pair_id


def test_target_mask_is_where_the_source_flow_lands(test_pairs):
    """Discretisation only moves the boundary by a pixel: IoU is high, every miss is marginal."""
    near = np.ones((3, 3), bool)
    intersection = union = 0
    for pair in test_pairs[:30]:
        hits = np.zeros(pair.trg_size, bool)
        xy = np.rint(pair.flow_src_to_trg[np.isfinite(pair.flow_src_to_trg).all(-1)]).astype(int)
        hits[xy[:, 1], xy[:, 0]] = True
        # only target pixels whose source point lies in the source image can be hit
        reachable = pair.trg_mask & np.isfinite(pair.flow_trg_to_src).all(-1)
        assert (hits & binary_dilation(reachable, near)).sum() >= 0.995 * hits.sum()
        assert (reachable & binary_dilation(hits, near)).sum() >= 0.995 * reachable.sum()
        filled = binary_closing(hits, near) | hits  # a zoomed-in target leaves 1-px gaps
        iou = (filled & reachable).sum() / (filled | reachable).sum()
        assert iou > 0.9, f"{pair.pair_id}: IoU {iou:.3f}"
        intersection += (filled & reachable).sum()
        union += (filled | reachable).sum()
    assert intersection / union > 0.95


# --- geometry --------------------------------------------------------------------------------

def test_thin_plate_spline_interpolates_and_its_jacobian_matches_finite_differences():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (9, 2))
    dst = src + rng.normal(0, 5, src.shape)
    tps = ThinPlateSpline.fit(src, dst)
    np.testing.assert_allclose(tps(src), dst, atol=1e-8)
    points = rng.uniform(-10, 110, (50, 2))
    eps = 1e-5
    numeric = np.stack([(tps(points + [eps, 0]) - tps(points - [eps, 0])) / (2 * eps),
                        (tps(points + [0, eps]) - tps(points - [0, eps])) / (2 * eps)], axis=-1)
    np.testing.assert_allclose(tps.jacobian(points), numeric, atol=1e-5)


@pytest.mark.parametrize("seed", range(5))
def test_warp_inverse_converges_below_a_thousandth_of_a_pixel(seed):
    rng = np.random.default_rng(seed)
    asset = shapes.category_asset("horse")
    controls, displaced = render._sample_tps(rng, asset)
    affine = Affine.from_params(25.0, 0.7, 1.1, 0.1, (128.0, 128.0), (110.0, 100.0))
    warp = Warp.build(controls, displaced, affine)
    canonical = rng.uniform(0, shapes.CANVAS, (2000, 2))
    pixels = warp.forward(canonical)
    found, residual = warp.inverse(pixels)
    assert residual.max() < 1e-3
    assert np.abs(warp.forward(found) - pixels).max() < 1e-3
    np.testing.assert_allclose(found, canonical, atol=1e-2)
    guess = warp.inverse_guess_on_box(60, 40, 160, 150)
    check = np.stack(np.meshgrid(np.arange(60, 160), np.arange(40, 150)), -1).reshape(-1, 2)
    exact, _ = warp.inverse(check.astype(float))
    # the interpolated guess decides which pixels get an exact inverse: it must be far closer
    # than the margin around the mask that is inverted exactly
    assert np.abs(guess.reshape(-1, 2) - exact).max() < shapes.NEAR_MARGIN / 5
    grid = np.stack(np.meshgrid(*[np.linspace(0, shapes.CANVAS, 33)] * 2), -1).reshape(-1, 2)
    assert warp.min_jacobian_det(grid) > 0.3  # the random spline does not fold the canvas


def test_rendered_pairs_report_a_converged_inverse(test_pairs):
    for pair in test_pairs:
        assert pair.meta["src"]["inverse_residual_px"] < 1e-3
        assert pair.meta["trg"]["inverse_residual_px"] < 1e-3


def test_canonical_keypoints_lie_inside_their_masks_and_are_spread_out():
    for name in CARD.categories:
        asset = shapes.category_asset(name)
        assert 8 <= len(asset.keypoints) <= 12
        cols, rows = np.rint(asset.keypoints).astype(int).T
        assert asset.mask[rows, cols].all()
        gaps = np.linalg.norm(asset.keypoints[:, None] - asset.keypoints[None], axis=-1)
        assert gaps[np.triu_indices(len(gaps), 1)].min() > 15


def test_preview_writes_a_png(tmp_path, test_pairs):
    from corrbench.data.preview import render_preview

    path = render_preview(test_pairs[:2], tmp_path / "preview.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
