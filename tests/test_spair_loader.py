"""SPair-71k loader on the real annotation subset with stand-in images and masks.

The sample's layout files are cut down (20 test and 4 val pairs), so every load here says ``subset=True``.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from corrbench.data.spair import DIFFICULTY, SPairDataset
from corrbench.errors import DatasetNotFound
from dataset_roots import build_spair

pytestmark = pytest.mark.shared


@pytest.fixture()
def root(shared_data, tmp_path):
    build_spair(tmp_path, shared_data)
    return tmp_path


def image_annotation(root, category, name):
    return json.loads((root / "SPair-71k" / "ImageAnnotation" / category / name.replace(".jpg", ".json")).read_text())


def test_counts_per_split_and_category(root):
    test = SPairDataset(root=str(root), subset=True, split="test")
    assert len(test) == 20
    assert Counter(r["category"] for r in test.records) == {
        c: 2 for c in ("aeroplane", "bicycle", "bottle", "bus", "car", "cat", "dog", "horse", "train", "tvmonitor")
    }
    val = SPairDataset(root=str(root), subset=True, split="val")
    assert len(val) == 4 and {r["category"] for r in val.records} == {"aeroplane"}
    assert test.splits == ("trn", "val", "test") and len(test.categories) == 18


def test_pairs_match_the_image_annotations(root):
    seen = 0
    for split in ("test", "val"):
        for pair in SPairDataset(root=str(root), subset=True, split=split):
            src = image_annotation(root, pair.category, pair.meta["src_name"])
            trg = image_annotation(root, pair.category, pair.meta["trg_name"])
            assert pair.pair_id.split(":")[0].split("-")[1:] == [src["filename"][:-4], trg["filename"][:-4]]
            # kps_ids are exactly the ids visible in both images, and coordinates match them
            both = [int(k) for k in src["kps"] if src["kps"][k] is not None and trg["kps"][k] is not None]
            assert pair.meta["kps_ids"] == sorted(both)
            np.testing.assert_array_equal(pair.src_kps, [src["kps"][str(k)] for k in pair.meta["kps_ids"]])
            np.testing.assert_array_equal(pair.trg_kps, [trg["kps"][str(k)] for k in pair.meta["kps_ids"]])
            np.testing.assert_array_equal(pair.src_bbox, src["bndbox"])
            np.testing.assert_array_equal(pair.trg_bbox, trg["bndbox"])
            # *_imsize is (W, H, C): the (H, W) image shape is its reverse
            assert pair.src_image.shape == (src["image_height"], src["image_width"], 3)
            assert pair.meta["src_imsize"][:2] == (src["image_width"], src["image_height"])
            # truncation / occlusion = source flag + 2 * target flag
            assert pair.meta["truncation"] == src["truncated"] + 2 * trg["truncated"]
            assert pair.meta["occlusion"] == src["occluded"] + 2 * trg["occluded"]
            assert pair.meta["mirror"] == 0 and set(DIFFICULTY) <= set(pair.meta)
            seen += 1
    assert seen == 24


def test_difficulty_flags_of_known_pairs(root):
    pairs = {p.pair_id.split("-")[0]: p for p in SPairDataset(root=str(root), subset=True, split="test")}
    assert (pairs["003752"].meta["viewpoint_variation"], pairs["003752"].meta["truncation"]) == (2, 3)
    assert (pairs["011997"].meta["truncation"], pairs["011997"].meta["occlusion"]) == (1, 3)
    assert pairs["007600"].meta["scale_variation"] == 2
    assert [pairs["005012"].meta[k] for k in DIFFICULTY] == [0, 0, 0, 0]
    # reversing a pair swaps the source/target truncation and occlusion codes 1 <-> 2
    assert (pairs["001312"].meta["truncation"], pairs["001312"].meta["occlusion"]) == (2, 1)
    assert (pairs["001337"].meta["truncation"], pairs["001337"].meta["occlusion"]) == (1, 2)
    assert pairs["001312"].meta["viewpoint_variation"] == pairs["001337"].meta["viewpoint_variation"]
    lengths = [len(p.src_kps) for p in pairs.values()]
    assert min(lengths) >= 2 and max(lengths) <= 13


def test_palette_masks_read_by_index(root):
    pair = SPairDataset(root=str(root), subset=True, split="test", masks=True)[0]
    x1, y1, x2, y2 = pair.src_bbox.astype(int)
    assert pair.src_mask.dtype == bool and pair.src_mask.shape == pair.src_image.shape[:2]
    assert pair.src_mask.sum() == (x2 - x1) * (y2 - y1) and pair.src_mask[y1, x1] and not pair.src_mask[: max(y1, 1) - 1].any()


def test_layout_without_trailing_newline_keeps_last_pair_and_ignores_blank_lines(root):
    listing = root / "SPair-71k" / "Layout" / "large" / "test.txt"
    lines = listing.read_text().splitlines()
    listing.write_text("\n\n".join(lines))  # blank lines, no final newline
    data = SPairDataset(root=str(root), subset=True, split="test")
    assert data.pair_ids() == lines


def test_errors_name_the_file(root, tmp_path_factory):
    base = root / "SPair-71k"
    with pytest.raises(DatasetNotFound, match=r"SPair-71k not found at .*run `corrbench download spair`"):
        SPairDataset(root=str(tmp_path_factory.mktemp("empty")))
    data = SPairDataset(root=str(root), subset=True, split="test")
    record = data.records[0]
    record["annotation"].write_text('{"pair_id": 1, "src_kps": [[1, 2]')
    with pytest.raises(DatasetNotFound, match=r"cannot read annotation .*000001-2008_002719-2008_004100:aeroplane.json"):
        data[0]
    # a truncated JPEG is an error, never a silently padded image
    raw = data.records[2]["src"].read_bytes()
    data.records[2]["src"].write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetNotFound, match=r"cannot read image .*2011_000505.jpg"):
        data[2]
    # an image of the wrong size is the wrong file
    Image.new("RGB", (10, 10)).save(data.records[4]["src"])
    with pytest.raises(DatasetNotFound, match=r"is 10x10 but its annotation says"):
        data[4]
    shutil.rmtree(base / "JPEGImages" / "tvmonitor")
    with pytest.raises(DatasetNotFound, match=r"image .*tvmonitor/2008_000023.jpg is missing"):
        SPairDataset(root=str(root), subset=True, split="test")
    with pytest.warns(UserWarning, match="skipped 2 pair"):
        lenient = SPairDataset(root=str(root), subset=True, split="test", strict=False)
    assert len(lenient) == 18 and lenient.skip_report() == {"missing image": 2}
