"""TSS loader on the real files in ../shared/data/tss (4 of the 400 pairs, so loads say subset=True)."""

from __future__ import annotations

import csv
import shutil
from collections import Counter

import numpy as np
import pytest

from corrbench.data.cards import load_card
from corrbench.data.tss import TSSDataset
from corrbench.errors import DatasetNotFound

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def dataset(shared_data):
    return TSSDataset(str(shared_data / "tss"), subset=True)


def raw_flow(path):
    data = np.fromfile(path, dtype="<f4")
    width, height = data[1:3].view("<i4")
    return data[3:].reshape(height, width, 2)


def test_pairs_sorted_with_card_categories(dataset):
    assert dataset.pair_ids() == ["FG3DCar/001_005", "JODS/car_01_02", "PASCAL/bike_01_02", "PASCAL/bike_01_03"]
    assert dataset.categories == ["FG3DCar", "JODS", "PASCAL"] == list(load_card("tss").categories)
    assert dataset.task == "flow" and dataset.version == load_card("tss").version


def test_both_directions_absolute_and_masks(dataset, shared_data):
    for index in range(len(dataset)):
        pair = dataset[index]
        folder = shared_data / "tss" / pair.pair_id
        for coords, mask, k, size in ((pair.flow_src_to_trg, pair.src_mask, 1, pair.src_size),
                                      (pair.flow_trg_to_src, pair.trg_mask, 2, pair.trg_size)):
            raw = raw_flow(folder / f"flow{k}.flo")
            assert coords.shape == raw.shape == size + (2,)
            known = (np.abs(raw) < 1e9).all(axis=-1)
            assert np.array_equal(~np.isnan(coords).any(axis=-1), known)
            assert np.array_equal(known, mask)  # invalid (1e10) region = background
            assert mask.dtype == bool and 0 < mask.mean() < 1
            ys, xs = np.nonzero(known)
            assert np.array_equal(coords[ys, xs, 0], xs + raw[ys, xs, 0].astype(np.float64))
            assert np.array_equal(coords[ys, xs, 1], ys + raw[ys, xs, 1].astype(np.float64))
        assert pair.category == pair.meta["subset"] == pair.pair_id.split("/")[0]


def test_mask_encodings_seen_in_real_files(shared_data, dataset):
    from PIL import Image

    modes = {pid.split("/")[0]: Image.open(shared_data / "tss" / pid / "mask1.png").mode for pid in dataset.pair_ids()}
    assert modes == {"FG3DCar": "L", "JODS": "P", "PASCAL": "L"}
    jods = dataset[1]
    assert set(np.unique(np.asarray(Image.open(shared_data / "tss/JODS/car_01_02/mask1.png")))) == {0, 1}
    assert jods.src_mask.sum() > 1000  # palette index 1 is foreground, not ~black


def test_flip_and_names(dataset):
    flips = {dataset[i].pair_id: dataset[i].meta["flip"] for i in range(len(dataset))}
    assert flips == {"FG3DCar/001_005": 0, "JODS/car_01_02": 0, "PASCAL/bike_01_02": 0, "PASCAL/bike_01_03": 1}
    meta = dataset[0].meta
    assert (meta["image1"], meta["image2"]) == ("Toyota_Prius_2010_01.jpg", "Toyota_Prius_2010_05.jpg")


def test_subset_root(shared_data):
    sub = TSSDataset(str(shared_data / "tss" / "PASCAL"), subset=True)
    assert sub.pair_ids() == ["PASCAL/bike_01_02", "PASCAL/bike_01_03"]


def test_card_counts_match_the_published_pair_list(shared_data):
    card = load_card("tss")
    with open(shared_data / "tss" / "pairs.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 800  # 400 pairs x 2 directions
    names = dict(zip("123", card.categories))
    pairs = Counter(names[r["category"]] for r in rows if r["flow_dir"] == "2")
    flips = Counter(names[r["category"]] for r in rows if r["flow_dir"] == "2" and r["flip"] == "1")
    assert dict(pairs) == card.extra["pairs_per_subset"]
    assert dict(flips) == card.extra["flip_pairs_per_subset"]


def test_missing_root(tmp_path):
    with pytest.raises(DatasetNotFound, match="TSS not found at .*corrbench download tss"):
        TSSDataset(str(tmp_path / "nowhere"))


def _copy_pair(shared_data, tmp_path):
    target = tmp_path / "TSS" / "PASCAL" / "bike_01_02"
    shutil.copytree(shared_data / "tss" / "PASCAL" / "bike_01_02", target)
    for path in target.iterdir():
        path.chmod(0o644)
    return target


def test_corrupt_flow_names_the_file(shared_data, tmp_path):
    folder = _copy_pair(shared_data, tmp_path)
    (folder / "flow2.flo").write_bytes((folder / "flow2.flo").read_bytes()[:1000])
    dataset = TSSDataset(str(tmp_path / "TSS"), subset=True)
    with pytest.raises(DatasetNotFound, match="flow2.flo"):
        dataset[0]


def test_corrupt_mask_and_missing_file_name_the_file(shared_data, tmp_path):
    folder = _copy_pair(shared_data, tmp_path)
    (folder / "mask1.png").write_bytes(b"not a png")
    with pytest.raises(DatasetNotFound, match="mask1.png"):
        TSSDataset(str(tmp_path / "TSS"), subset=True)[0]
    (folder / "image2.png").unlink()
    with pytest.raises(DatasetNotFound, match="image2.png is missing"):
        TSSDataset(str(tmp_path / "TSS"), subset=True)
