"""``voc-masks``: VOC 2012 segmentation images and foreground masks, PF-PASCAL test images excluded.

Read from a generated stand-in tree in the official layout; the exclusion list is the real
PF-PASCAL ``test_pairs.csv`` from ../shared.
"""

from __future__ import annotations

import configparser
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from corrbench.data.cards import load_card
from corrbench.data.voc_masks import VOCMasksDataset
from corrbench.errors import CorrbenchError, DatasetNotFound, UsageError
from dataset_roots import build_voc

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.shared


@pytest.fixture()
def voc(tmp_path, shared_data) -> Path:
    build_voc(tmp_path, shared_data)
    return tmp_path


def _test_ids(shared: Path) -> set[str]:
    table = pd.read_csv(shared / "pf-pascal" / "test_pairs.csv")
    return {Path(n).stem for c in ("source_image", "target_image") for n in table[c]}


def test_items_are_single_images_with_their_class_pixels_as_foreground(voc):
    data = VOCMasksDataset(root=str(voc), split="train", subset=True)
    item = data[0]
    labels = np.asarray(Image.open(voc / "VOCdevkit/VOC2012/SegmentationClass" / f"{item.pair_id}.png"))
    assert item.meta["single_image"] and item.src_image is item.trg_image
    np.testing.assert_array_equal(item.src_mask, (labels >= 1) & (labels <= 20))
    assert not item.src_mask[labels == 255].any() and item.src_mask.sum() > 100
    assert item.category == data.categories[int(np.bincount(labels[(labels >= 1) & (labels <= 20)]).argmax()) - 1]
    assert len(item.meta["classes"]) == 2 and len(item.src_kps) == 0
    ys, xs = np.nonzero(item.src_mask)
    np.testing.assert_array_equal(item.src_bbox, [xs.min(), ys.min(), xs.max(), ys.max()])
    with_void = VOCMasksDataset(root=str(voc), split="train", subset=True, void_as_foreground=True)[0]
    np.testing.assert_array_equal(with_void.src_mask, labels > 0)


def test_pfpascal_test_images_are_excluded_and_recorded(voc, shared_data):
    test_ids = _test_ids(shared_data)
    for split, listed in (("train", 4), ("val", 3), ("trainval", 7)):
        data = VOCMasksDataset(root=str(voc), split=split, subset=True)
        kept = data.pair_ids()
        assert data.listed == listed and len(kept) == listed - len(data.excluded)
        assert not set(kept) & test_ids and set(data.excluded) <= test_ids and len(data.excluded) >= 2
        assert data.provenance()["pfpascal_test_excluded"] == len(data.excluded)
    everything = VOCMasksDataset(root=str(voc), split="train", subset=True, exclude_pfpascal_test=False)
    assert len(everything) == 4 and everything.provenance()["pfpascal_test_excluded"] == "off"


def test_the_exclusion_needs_the_real_test_list(voc, shared_data, tmp_path):
    (voc / "pfpascal_test_pairs.csv").unlink()
    with pytest.raises(DatasetNotFound, match=r"PF-PASCAL test list .* is missing.*corrbench download voc-masks"):
        VOCMasksDataset(root=str(voc), split="train", subset=True)
    train_list = str(shared_data / "pf-pascal" / "train_pairs.csv")
    with pytest.raises(CorrbenchError, match="lists 2940 pairs of 1001 images, the PF-PASCAL test split has 299 of 506"):
        VOCMasksDataset(root=str(voc), split="train", subset=True, exclude_list=train_list)
    own = VOCMasksDataset(root=str(voc), split="train", subset=True,
                          exclude_list=str(shared_data / "pf-pascal" / "test_pairs.csv"))
    assert len(own) == 2


def test_root_layouts_counts_and_bad_masks(voc):
    inner = VOCMasksDataset(root=str(voc / "VOCdevkit" / "VOC2012"), split="val", subset=True,
                            exclude_list=str(voc / "pfpascal_test_pairs.csv"))
    assert len(inner) == 1
    with pytest.raises(CorrbenchError, match="lists only 4 pairs but PASCAL VOC 2012 foreground masks train has 1464"):
        VOCMasksDataset(root=str(voc), split="train")
    with pytest.raises(UsageError, match="has no split 'test'"):
        VOCMasksDataset(root=str(voc), split="test")
    data = VOCMasksDataset(root=str(voc), split="train", subset=True)
    mask = voc / "VOCdevkit/VOC2012/SegmentationClass" / f"{data.pair_ids()[0]}.png"
    Image.new("RGB", (80, 60)).save(mask)
    with pytest.raises(CorrbenchError, match="is a RGB image, not a palette PNG"):
        data[0]
    Image.new("P", (10, 10)).save(mask)
    with pytest.raises(CorrbenchError, match=r"mask .* is 10x10, its image 80x68"):
        data[0]


def test_it_trains_but_cannot_be_evaluated(voc):
    import corrbench

    data = VOCMasksDataset(root=str(voc), split="train", subset=True)
    with pytest.raises(UsageError, match="holds training images without correspondences"):
        corrbench.evaluate(corrbench.load_method("identity"), data)


def test_declared_as_an_entry_point_with_a_card_that_fetches_the_voc_tar_and_the_test_list():
    setup = configparser.ConfigParser()
    setup.read(REPO / "setup.cfg")
    entries = dict(line.split(" = ") for line in setup["options.entry_points"]["corrbench.datasets"].strip().splitlines())
    assert entries["voc-masks"] == "corrbench.data.voc_masks:VOCMasksDataset"
    card = load_card("voc-masks")
    names = {source.filename: source for source in card.download}
    assert set(names) == {"VOCtrainval_11-May-2012.tar", "pfpascal_test_pairs.csv"}
    same = next(s for s in load_card("pfpascal").download if s.filename == "PF-dataset-PASCAL/test_pairs.csv")
    assert (names["pfpascal_test_pairs.csv"].url, names["pfpascal_test_pairs.csv"].sha256) == (same.url, same.sha256)
    assert card.categories == load_card("pfpascal").categories


def test_download_through_the_mirror_then_load(tmp_path, shared_data, monkeypatch, capsys):
    from corrbench.cli import main as cli_main

    staging = tmp_path / "staging"
    build_voc(staging, shared_data)
    mirror = tmp_path / "mirror" / "datasets" / "voc-masks"
    mirror.mkdir(parents=True)
    with tarfile.open(mirror / "VOCtrainval_11-May-2012.tar", "w") as archive:
        archive.add(staging / "VOCdevkit", arcname="VOCdevkit")
    (mirror / "pfpascal_test_pairs.csv").write_bytes((shared_data / "pf-pascal" / "test_pairs.csv").read_bytes())
    monkeypatch.setenv("CORRBENCH_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("CORRBENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ("corrbench.cli.download_cmd",))
    assert cli_main.main(["download", "voc-masks", "--no-progress"]) == 0
    assert "voc-masks ready at" in capsys.readouterr().out
    data = VOCMasksDataset(split="trainval", subset=True)  # root: $CORRBENCH_DATA/voc-masks
    assert len(data) == 7 - len(data.excluded) and data[0].src_mask.any()
