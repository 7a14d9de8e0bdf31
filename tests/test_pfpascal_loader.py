"""PF-PASCAL loader on the real pair lists with stand-in images and annotations."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from corrbench.data.pfpascal import PFPascalDataset
from corrbench.errors import DatasetNotFound
from dataset_roots import build_pfpascal, stand_in, write_mat

pytestmark = pytest.mark.shared

# Counted from the real test_pairs.csv (spec datasets.md §2.2): class -> (pairs, keypoints).
TEST_COUNTS = {
    "aeroplane": (15, 190), "bicycle": (30, 329), "bird": (10, 78), "boat": (6, 32), "bottle": (8, 64),
    "bus": (32, 177), "car": (19, 167), "cat": (27, 184), "chair": (13, 105), "cow": (3, 48),
    "diningtable": (8, 40), "dog": (24, 163), "horse": (9, 83), "motorbike": (27, 258), "person": (12, 177),
    "pottedplant": (7, 41), "sheep": (1, 5), "sofa": (13, 112), "train": (20, 99), "tvmonitor": (15, 62),
}
VAL_PAIRS = [16, 31, 11, 6, 10, 32, 19, 27, 14, 3, 7, 24, 9, 28, 13, 8, 1, 14, 20, 15]


@pytest.fixture(scope="module")
def root(shared_data, tmp_path_factory) -> Path:
    top = tmp_path_factory.mktemp("pfpascal")
    build_pfpascal(top, shared_data)
    return top


def test_test_split_counts_per_class_and_keypoints(root):
    data = PFPascalDataset(root=str(root), split="test")
    assert len(data) == 299
    pairs = list(data)
    assert Counter(p.category for p in pairs) == {c: n for c, (n, _) in TEST_COUNTS.items()}
    kps = Counter()
    for pair in pairs:
        kps[pair.category] += len(pair.src_kps)
        assert pair.src_kps.shape == pair.trg_kps.shape and pair.kps_visible.all()
        assert pair.meta["keypoint_source"] == "csv" and pair.meta["class_id"] == data.categories.index(pair.category)
    assert kps == {c: k for c, (_, k) in TEST_COUNTS.items()}
    assert sum(kps.values()) == 2414


def test_keypoints_land_on_their_pixels_in_original_coordinates(root):
    data = PFPascalDataset(root=str(root), split="test")
    for pair in data:
        for side in ("src", "trg"):
            image, kps = pair.image(side), pair.kps(side)
            cols, rows = np.rint(kps).astype(int).T
            assert (image[rows, cols].min(axis=1) > 180).all(), (pair.pair_id, side)
    first = data[0]
    assert first.pair_id == "0000-2011_001407-2010_004184" and first.category == "aeroplane"
    assert first.src_kps[0] == pytest.approx([253.631662222222, 58.1813333333333])  # raw value, no offset
    assert first.src_bbox is not None and first.src_bbox[2] > first.src_bbox[0]


def test_val_and_train_split_counts_and_flip_flags(root):
    val = PFPascalDataset(root=str(root), split="val")
    assert len(val) == 308
    counts = Counter(r["category"] for r in val.records)
    assert [counts[c] for c in val.categories] == VAL_PAIRS
    train = PFPascalDataset(root=str(root), split="train")
    assert len(train) == 2940
    assert Counter(r["flip"] for r in train.records) == {0: 1470, 1: 1470}
    assert all(r["flip"] == 0 for r in val.records)


def test_mat_keypoints_keep_rows_visible_in_both_and_flip_mirrors(root):
    train = PFPascalDataset(root=str(root), split="train", apply_flip=True)
    index = next(i for i, r in enumerate(train.records) if r["flip"] == 1)
    record = train.records[index]
    src_kps = np.array([[10.0, 20.0], [np.nan, np.nan], [100.0, 50.0], [40.0, 60.0]])
    trg_kps = np.array([[30.0, 25.0], [5.0, 5.0], [np.nan, np.nan], [70.0, 80.0]])
    for side, kps, size in (("src", src_kps, (200, 150)), ("trg", trg_kps, (180, 120))):
        stand_in(record[side], *size, kps[~np.isnan(kps).any(1)])
        write_mat(record[f"{side}_mat"], kps, [5, 6, 150, 100])
    flipped = train[index]
    plain = PFPascalDataset(root=str(root), split="train")[index]
    assert plain.src_kps.tolist() == [[10, 20], [40, 60]] and plain.trg_kps.tolist() == [[30, 25], [70, 80]]
    assert plain.meta["keypoint_source"] == "mat" and not plain.meta["flipped"]
    assert flipped.meta["flipped"]
    assert flipped.src_kps.tolist() == [[199 - 10, 20], [199 - 40, 60]]
    assert flipped.src_bbox.tolist() == [199 - 150, 6, 199 - 5, 100]
    np.testing.assert_array_equal(flipped.src_image, plain.src_image[:, ::-1])
    for pair in (plain, flipped):  # the dots follow the keypoints
        cols, rows = np.rint(pair.src_kps).astype(int).T
        assert (pair.src_image[rows, cols].min(axis=1) > 180).all()


def test_missing_root_and_pair_list_errors(tmp_path, root):
    with pytest.raises(DatasetNotFound, match=r"PF-PASCAL not found at .*; run `corrbench download pfpascal`"):
        PFPascalDataset(root=str(tmp_path / "nowhere"))
    (tmp_path / "PF-dataset-PASCAL" / "JPEGImages").mkdir(parents=True)
    with pytest.raises(DatasetNotFound, match=r"pair list .*test_pairs_pf_pascal.csv not found"):
        PFPascalDataset(root=str(tmp_path))


def test_corrupt_image_is_named(root):
    val = PFPascalDataset(root=str(root), split="val")
    with pytest.raises(DatasetNotFound) as caught:
        val[0]  # val images are empty placeholders in this root
    message = str(caught.value)
    assert "\n" not in message and "cannot read image" in message and str(val.records[0]["src"]) in message


def test_missing_image_strict_error_or_counted_skip(root):
    base = root / "PF-dataset-PASCAL"
    victim = base / "JPEGImages" / "2011_001407.jpg"  # source of the first test pair
    hidden = victim.with_suffix(".bak")
    victim.rename(hidden)
    try:
        with pytest.raises(DatasetNotFound, match="2011_001407.jpg is missing"):
            PFPascalDataset(root=str(root), split="test")
        with pytest.warns(UserWarning, match=r"skipped (\d+) pair"):
            lenient = PFPascalDataset(root=str(root), split="test", strict=False)
        dropped = 299 - len(lenient)
        assert dropped >= 1 and lenient.skip_report() == {"missing image": dropped}
        assert lenient.provenance()["skipped"] == {"missing image": dropped}
    finally:
        hidden.rename(victim)
