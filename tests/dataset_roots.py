"""Builders of temporary dataset roots in the official layouts.

Annotation files are the REAL ones from ``../shared/data`` (copied into ``tmp_path`` only);
images are stand-ins generated here, sized to contain every keypoint of that image and marked
with a white 3x3 dot at each rounded keypoint so tests can check that coordinates land on the
right pixel of the right image.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

GREY = 90


def packed(cell) -> np.ndarray:
    return np.array([float(v) for v in str(cell).split(";")])


def stand_in(path: Path, width: int, height: int, dots: np.ndarray | None = None, seed: int = 0) -> None:
    """A plausible-looking image: smooth colour gradient, white dots at ``dots`` (x, y)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 60 // max(width, 1), yy * 60 // max(height, 1), np.full_like(xx, 30)], axis=2)
    image = (GREY + base + rng.integers(0, 8, size=(height, width, 1))).clip(0, 200).astype(np.uint8)
    for x, y in np.rint(np.asarray(dots if dots is not None else np.zeros((0, 2)))).astype(int):
        image[max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, quality=95) if path.suffix == ".jpg" else Image.fromarray(image).save(path)


def points_per_image(table: pd.DataFrame, key=lambda rel: Path(rel).name) -> dict[str, np.ndarray]:
    """Every keypoint the csv gives for each image (as source or target)."""
    found: dict[str, list[np.ndarray]] = defaultdict(list)
    for row in table.itertuples(index=False):
        found[key(row.source_image)].append(np.stack([packed(row.XA), packed(row.YA)], 1))
        found[key(row.target_image)].append(np.stack([packed(row.XB), packed(row.YB)], 1))
    return {name: np.concatenate(parts) for name, parts in found.items()}


def draw_images(folder: Path, points: dict[str, np.ndarray], min_size=(300, 225)) -> dict[str, tuple[int, int]]:
    sizes = {}
    for index, (name, kps) in enumerate(sorted(points.items())):
        width = max(min_size[0], int(np.ceil(kps[:, 0].max())) + 2)
        height = max(min_size[1], int(np.ceil(kps[:, 1].max())) + 2)
        stand_in(folder / name, width, height, kps, seed=index)
        sizes[name] = (width, height)
    return sizes


def build_pfpascal(root: Path, shared: Path) -> Path:
    """``root/PF-dataset-PASCAL`` with the real csvs; test images drawn, others empty placeholders."""
    base = root / "PF-dataset-PASCAL"
    images = base / "JPEGImages"
    images.mkdir(parents=True)
    src = shared / "pf-pascal"
    shutil.copyfile(src / "test_pairs.csv", base / "test_pairs.csv")
    shutil.copyfile(src / "val_pairs.csv", base / "val_pairs.csv")
    shutil.copyfile(src / "train_pairs.csv", base / "train_pairs.csv")
    test = pd.read_csv(src / "test_pairs.csv")
    test_points = points_per_image(test)
    draw_images(images, test_points)
    categories = _voc()
    for row in test.itertuples(index=False):
        for column in (row.source_image, row.target_image):
            name = Path(column).name
            kps = test_points[name]
            mat = base / "Annotations" / categories[int(row[2]) - 1] / (Path(name).stem + ".mat")
            if not mat.exists():  # stand-in annotation: the image's points and their box
                write_mat(mat, kps, [*kps.min(0).round(), *kps.max(0).round()])
    for split in ("test", "val", "train"):
        table = pd.read_csv(base / f"{split}_pairs.csv")
        for row in table.itertuples(index=False):
            for column in (row.source_image, row.target_image):
                name = Path(column).name
                placeholder = images / name
                if not placeholder.exists():
                    placeholder.touch()  # indexing only checks existence; loading it must fail loudly
                mat = base / "Annotations" / categories[int(row[2]) - 1] / (Path(name).stem + ".mat")
                if not mat.exists():
                    mat.parent.mkdir(parents=True, exist_ok=True)
                    mat.touch()
    return base


def write_mat(path: Path, kps: np.ndarray, bbox) -> None:
    from scipy.io import savemat

    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(str(path), {"kps": np.asarray(kps, dtype=np.float64), "bbox": np.asarray(bbox, dtype=np.float64)[None]})


def _voc() -> list[str]:
    from corrbench.data.cards import load_card

    return list(load_card("pfpascal").categories)


def build_pfwillow(root: Path, shared: Path, standard: bool = False) -> Path:
    """``root/PF-dataset`` with MaCoSNet's real list (or, with ``standard``, the same pairs and
    their reverses rewritten in CNNGeometric's 2 + 40 column layout) and drawn images."""
    base = root / "PF-dataset"
    base.mkdir(parents=True)
    table = pd.read_csv(shared / "pf-willow" / "test_pairs.csv")
    points = points_per_image(table, key=lambda rel: str(Path(*Path(rel).parts[1:])))
    for index, (rel, kps) in enumerate(sorted(points.items())):
        width = max(300, int(np.ceil(kps[:, 0].max())) + 2)
        height = max(225, int(np.ceil(kps[:, 1].max())) + 2)
        stand_in(base / rel, width, height, kps, seed=index)
    if not standard:
        shutil.copyfile(shared / "pf-willow" / "test_pairs.csv", base / "test_pairs_macosnet450.csv")
        return base
    rows = []
    for row in table.itertuples(index=False):
        a = [*packed(row.XA), *packed(row.YA)]
        b = [*packed(row.XB), *packed(row.YB)]
        rows.append([row.source_image, row.target_image, *a, *b])
        rows.append([row.target_image, row.source_image, *b, *a])
    header = ["imageA", "imageB"] + [f"{s}{c}{i}" for s in "AB" for c in "XY" for i in range(1, 11)]
    pd.DataFrame(rows, columns=header).to_csv(base / "test_pairs_pf.csv", index=False)
    return base


def build_spair(root: Path, shared: Path, masks: bool = True) -> Path:
    """``root/SPair-71k`` with the real annotation subset, drawn JPEGs at the annotated sizes and
    palette segmentation masks filling each box."""
    base = root / "SPair-71k"
    shutil.copytree(shared / "spair-71k", base, ignore=shutil.ignore_patterns("README.md"))
    for index, path in enumerate(sorted((base / "ImageAnnotation").glob("*/*.json"))):
        data = json.loads(path.read_text())
        kps = np.array([v for v in data["kps"].values() if v is not None], dtype=np.float64).reshape(-1, 2)
        kps = kps.clip(0, [data["image_width"] - 1, data["image_height"] - 1])
        category = path.parent.name
        stand_in(base / "JPEGImages" / category / data["filename"], data["image_width"], data["image_height"], kps, seed=index)
        if masks:
            x1, y1, x2, y2 = data["bndbox"]
            index_map = np.zeros((data["image_height"], data["image_width"]), np.uint8)
            index_map[y1:y2, x1:x2] = 1
            mask = Image.fromarray(index_map, mode="P")
            mask.putpalette([0, 0, 0, 128, 0, 0] + [0] * 762)
            (base / "Segmentation" / category).mkdir(parents=True, exist_ok=True)
            mask.save(base / "Segmentation" / category / (Path(data["filename"]).stem + ".png"))
    return base


def build_voc(root: Path, shared: Path, train: int = 4, val: int = 3, excluded: int = 2) -> Path:
    """``root/VOCdevkit/VOC2012`` in the official VOC 2012 segmentation layout, plus the real PF-PASCAL
    test list at ``root/pfpascal_test_pairs.csv`` (where ``corrbench download voc-masks`` puts it).

    Each list holds ``excluded`` ids of real PF-PASCAL test images (sorted, from ../shared) and ids no
    PF-PASCAL test pair uses.  Image ``i`` is a JPEG with a class-``(i % 20) + 1`` ellipse (a 2-pixel void
    border, index 255) and a small square of the next class; masks are palette PNGs of class indices.
    """
    base = root / "VOCdevkit" / "VOC2012"
    root.mkdir(parents=True, exist_ok=True)
    test = pd.read_csv(shared / "pf-pascal" / "test_pairs.csv")
    test_ids = sorted({Path(n).stem for c in ("source_image", "target_image") for n in test[c]})
    shutil.copyfile(shared / "pf-pascal" / "test_pairs.csv", root / "pfpascal_test_pairs.csv")
    lists = {"train": [*test_ids[:excluded], *(f"2012_9{i:05d}" for i in range(train - excluded))],
             "val": [*test_ids[excluded : 2 * excluded], *(f"2012_8{i:05d}" for i in range(val - excluded))]}
    lists["trainval"] = lists["train"] + lists["val"]
    (base / "ImageSets" / "Segmentation").mkdir(parents=True, exist_ok=True)
    for split, ids in lists.items():
        (base / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
    palette = [0, 0, 0] + [(37 * k) % 256 for k in range(3 * 255)]
    for index, image_id in enumerate(lists["trainval"]):
        height, width = 60 + 4 * index, 80
        yy, xx = np.mgrid[:height, :width]
        ellipse = ((yy - height / 2) / (height / 3)) ** 2 + ((xx - width / 2.5) / (width / 4)) ** 2
        labels = np.zeros((height, width), np.uint8)
        labels[ellipse <= 1.3] = 255  # the void band around the object
        labels[ellipse <= 1.0] = index % 20 + 1
        labels[4:12, width - 14 : width - 6] = (index + 1) % 20 + 1
        stand_in(base / "JPEGImages" / f"{image_id}.jpg", width, height, seed=index)
        mask = Image.fromarray(labels, mode="P")
        mask.putpalette(palette)
        (base / "SegmentationClass").mkdir(parents=True, exist_ok=True)
        mask.save(base / "SegmentationClass" / f"{image_id}.png")
    return base


def build_pfpascal_trainval(root: Path, shared: Path, rows: dict[str, int] | None = None, keypoints: int = 8) -> Path:
    """``root/PF-dataset-PASCAL`` with the first rows of the REAL train and val lists and their images
    drawn; ``.mat`` files give every image of a class the same ``keypoints`` template (a few rows NaN, so the
    loader keeps the co-visible ones) and the box of its points.  Load it with ``subset=True``."""
    rows = rows or {"train": 8, "val": 4}
    base = root / "PF-dataset-PASCAL"
    categories = _voc()
    rng = np.random.default_rng(0)
    for split, count in rows.items():
        table = pd.read_csv(shared / "pf-pascal" / f"{split}_pairs.csv").head(count)
        base.mkdir(parents=True, exist_ok=True)
        table.to_csv(base / f"{split}_pairs.csv", index=False)
        for row in table.itertuples(index=False):
            category = categories[int(row[2]) - 1]
            for column in (row.source_image, row.target_image):
                name = Path(column).name
                image, mat = base / "JPEGImages" / name, base / "Annotations" / category / (Path(name).stem + ".mat")
                if image.exists():
                    continue
                width, height = int(rng.integers(200, 320)), int(rng.integers(160, 260))
                kps = np.stack([rng.uniform(10, width - 10, keypoints), rng.uniform(10, height - 10, keypoints)], 1)
                stand_in(image, width, height, kps, seed=int(rng.integers(1 << 30)))
                shown = kps.copy()
                shown[rng.random(keypoints) < 0.2] = np.nan
                box = [*np.nanmin(shown, 0).round(), *np.nanmax(shown, 0).round()]
                write_mat(mat, shown, box)
    return base


def add_spair_trn(base: Path) -> Path:
    """A stand-in ``trn`` split for a ``build_spair`` root: the sample's test pairs under the trn names
    (the real trn split is not in ../shared).  Load it with ``subset=True``."""
    layout = base / "Layout" / "large"
    (layout / "trn.txt").write_text((layout / "test.txt").read_text())
    shutil.copytree(base / "PairAnnotation" / "test", base / "PairAnnotation" / "trn")
    return base
