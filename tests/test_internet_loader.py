"""Internet (Object Discovery) loader on a stand-in root in the official layout.

No real Internet files exist offline, so images and masks are generated here, in the mask
encodings met in the wild: 8-bit grey 0/255, palette indices 0/1, 3-channel, and empty outliers.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from corrbench.data.internet import InternetDataset
from corrbench.errors import DatasetNotFound
from dataset_roots import stand_in

N = 5


def write_mask(path: Path, mask: np.ndarray, encoding: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if encoding == "grey":
        Image.fromarray(mask.astype(np.uint8) * 255, mode="L").save(path)
    elif encoding == "palette":
        image = Image.fromarray(mask.astype(np.uint8), mode="P")
        image.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
        image.save(path)
    else:
        rgb = np.zeros(mask.shape + (3,), np.uint8)
        rgb[mask, 0] = 200  # foreground only in the red channel
        Image.fromarray(rgb).save(path)


def build(root: Path) -> dict[str, np.ndarray]:
    truth = {}
    encodings = ("grey", "palette", "rgb")
    for c, category in enumerate(("Airplane", "Car", "Horse")):
        folder = root / "ObjectDiscovery-data" / "Data" / f"{category}100"
        for k in range(N):
            width, height = 320 + 8 * k, 240 + 4 * c
            name = f"{category.lower()}{k:04d}"
            stand_in(folder / f"{name}.jpg", width, height, seed=k)
            mask = np.zeros((height, width), bool)
            if k != N - 1:  # the last image of each class is an outlier with an empty mask
                mask[20 + k : 120 + k, 30 : 200 + c] = True
            write_mask(folder / "GroundTruth" / f"{name}.png", mask, encodings[(c + k) % 3])
            truth[f"{category}/{name}"] = mask
    return truth


@pytest.fixture()
def root(tmp_path):
    truth = build(tmp_path)
    return tmp_path, truth


def test_cyclic_pairs_within_each_class(root):
    path, truth = root
    data = InternetDataset(root=str(path))
    assert data.task == "coseg" and data.categories == ["Airplane", "Car", "Horse"]
    assert len(data) == 3 * N
    pairs = list(data)
    assert Counter(p.category for p in pairs) == {"Airplane": N, "Car": N, "Horse": N}
    for category in data.categories:
        mine = [p for p in pairs if p.category == category]
        sources = [p.meta["src_name"] for p in mine]
        assert sources == sorted(sources) and len(set(sources)) == N  # every image is a source once
        assert Counter(p.meta["trg_name"] for p in mine) == Counter(sources)
        assert mine[-1].meta["trg_name"] == mine[0].meta["src_name"]  # the cycle closes
    for pair in pairs:
        assert pair.src_kps.shape == (0, 2) and pair.src_mask.shape == pair.src_image.shape[:2]
        np.testing.assert_array_equal(pair.src_mask, truth[f"{pair.category}/{Path(pair.meta['src_name']).stem}"])
        np.testing.assert_array_equal(pair.trg_mask, truth[f"{pair.category}/{Path(pair.meta['trg_name']).stem}"])
    assert sum(p.meta["src_mask_empty"] for p in pairs) == 3
    assert InternetDataset(root=str(path), pairing="all").__len__() == 3 * N * (N - 1)


def test_missing_mask_and_bad_mask(root):
    path, _ = root
    mask = path / "ObjectDiscovery-data" / "Data" / "Car100" / "GroundTruth" / "car0002.png"
    mask.unlink()
    with pytest.raises(DatasetNotFound, match=r"mask .*car0002.png is missing"):
        InternetDataset(root=str(path))
    with pytest.warns(UserWarning, match="skipped 1 pair"):
        lenient = InternetDataset(root=str(path), strict=False)
    assert lenient.images_per_class["Car"] == N - 1 and lenient.skip_report() == {"missing mask": 1}
    Image.new("L", (7, 7)).save(mask)
    data = InternetDataset(root=str(path))
    index = next(i for i, r in enumerate(data.records) if r["src_mask"] == mask)
    with pytest.raises(DatasetNotFound, match=r"mask .*car0002.png is 7x7 but its image is"):
        data[index]


def test_missing_root(tmp_path):
    with pytest.raises(DatasetNotFound, match=r"Internet \(Object Discovery\) not found at .*corrbench download internet"):
        InternetDataset(root=str(tmp_path / "none"))
