"""PF-WILLOW loader on the real MaCoSNet list (and the same pairs in the standard layout)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from corrbench.data.pfwillow import PFWillowDataset
from corrbench.errors import DatasetNotFound, UsageError
from dataset_roots import build_pfwillow

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def roots(shared_data, tmp_path_factory):
    mc = tmp_path_factory.mktemp("willow_mc")
    build_pfwillow(mc, shared_data)
    std = tmp_path_factory.mktemp("willow_std")
    build_pfwillow(std, shared_data, standard=True)
    return mc, std


def test_macosnet_list_needs_explicit_opt_in(roots):
    mc, _ = roots
    with pytest.raises(DatasetNotFound, match="pair_list='macosnet450'"):
        PFWillowDataset(root=str(mc))
    (mc / "PF-dataset" / "test_pairs_macosnet450.csv").rename(mc / "PF-dataset" / "test_pairs_pf.csv")
    try:
        with pytest.raises(UsageError, match="450-pair list, not the standard 900-pair one"):
            PFWillowDataset(root=str(mc))
    finally:
        (mc / "PF-dataset" / "test_pairs_pf.csv").rename(mc / "PF-dataset" / "test_pairs_macosnet450.csv")


def test_macosnet450_counts_keypoints_and_pixels(roots):
    data = PFWillowDataset(root=str(roots[0]), pair_list="macosnet450")
    assert len(data) == 450
    pairs = list(data)
    assert Counter(p.category for p in pairs) == {c: 45 for c in data.categories}
    assert len(data.categories) == 10
    images = set()
    for pair in pairs:
        assert pair.src_kps.shape == (10, 2) == pair.trg_kps.shape and pair.kps_visible.all()
        assert pair.src_bbox is None
        images.update((pair.meta["src_name"], pair.meta["trg_name"]))
        for side in ("src", "trg"):
            cols, rows = np.rint(pair.kps(side)).astype(int).T
            assert (pair.image(side)[rows, cols].min(axis=1) > 180).all()
    assert len({(p.category, n) for p in pairs for n in (p.meta["src_name"], p.meta["trg_name"])}) == 100
    values = np.concatenate([np.concatenate([p.src_kps, p.trg_kps]) for p in pairs])
    assert values.min() == pytest.approx(12.4852941176) and values.max() == pytest.approx(288.357142857)


def test_standard_layout_reads_2_plus_40_columns(roots):
    mc = PFWillowDataset(root=str(roots[0]), pair_list="macosnet450")
    std = PFWillowDataset(root=str(roots[1]))
    assert len(std) == 900 and Counter(r["category"] for r in std.records) == {c: 90 for c in std.categories}
    forward, backward = std[0], std[1]
    np.testing.assert_allclose(forward.src_kps, mc[0].src_kps)
    np.testing.assert_allclose(forward.trg_kps, mc[0].trg_kps)
    np.testing.assert_allclose(backward.src_kps, mc[0].trg_kps)
    assert forward.src_image.shape == mc[0].src_image.shape


def test_missing_root(tmp_path):
    with pytest.raises(DatasetNotFound, match=r"PF-WILLOW not found at .*; run `corrbench download pfwillow`"):
        PFWillowDataset(root=str(tmp_path))
