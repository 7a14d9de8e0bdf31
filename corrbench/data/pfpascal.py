"""PF-PASCAL (Ham et al., Proposal Flow) from the official ``PF-dataset-PASCAL`` folder.

Layout: ``JPEGImages/<id>.jpg``, ``Annotations/<class>/<id>.mat`` (``kps`` N×2 with NaN rows for
invisible points, ``bbox`` [x1, y1, x2, y2]) and the pair lists that the official zip lacks,
``{train,val,test}_pairs_pf_pascal.csv`` (CNNGeometric names; NCNet/DHPF/MaCoSNet names are
accepted too).  Test lists carry the co-visible keypoints as ``;``-packed ``XA;YA;XB;YB`` cells;
lists without them (train/val) take keypoints from the ``.mat`` files, keeping the rows visible
in both images, as DenseMatching does.  ``class`` is 1..20 in VOC order.

When ``Annotations/`` exists every pair's two ``.mat`` files must be there (strict mode); without
the folder, test pairs still load from the csv but carry no boxes (``dhpf_bbox`` then refuses).

Coordinates are kept exactly as stored (the official files are MATLAB exports whose base no
source states); every reference evaluator uses them as 0-based pixels and rescales them
multiplicatively, so corrbench does the same (spec datasets.md §2.3).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from corrbench.api import Pair
from corrbench.data.base import CardDataset, first_existing, parse_packed, read_csv, read_image
from corrbench.errors import DatasetNotFound

PAIR_LISTS = {
    "train": ("train_pairs_pf_pascal.csv", "train_pairs.csv", "trn_pairs.csv", "train.csv"),
    "val": ("val_pairs_pf_pascal.csv", "val_pairs.csv", "eval.csv"),
    "test": ("test_pairs_pf_pascal.csv", "test_pairs.csv", "test.csv"),
}
PACKED = ("XA", "YA", "XB", "YB")


def mirror_x(points: np.ndarray, width: int) -> np.ndarray:
    """Horizontal mirror of 0-based pixel-centre coordinates: x -> W - 1 - x."""
    out = np.array(points, dtype=np.float64, copy=True)
    out[:, 0] = width - 1 - out[:, 0]
    return out


class PFPascalDataset(CardDataset):
    """PF-PASCAL pairs; ``apply_flip`` mirrors both images of train rows whose ``flip`` is 1."""

    name: ClassVar[str] = "pfpascal"
    folder: ClassVar[str] = "PF-dataset-PASCAL"
    markers: ClassVar[tuple[str, ...]] = ("JPEGImages",)

    def __init__(
        self, root: str | None = None, split: str = "test", strict: bool = True, apply_flip: bool = False
    ) -> None:
        self.apply_flip = bool(apply_flip)
        super().__init__(root=root, split=split, strict=strict)

    def _pair_list(self) -> Path:
        found = first_existing(self.base, PAIR_LISTS[self.split])
        if found is None:
            names = " or ".join(PAIR_LISTS[self.split][:2])
            note = self.card.extra.get("pair_list_notes", {}).get(self.split, "")
            raise DatasetNotFound(
                f"pfpascal: pair list {self.base / PAIR_LISTS[self.split][0]} not found (also tried {names});"
                f" run `corrbench download pfpascal`{'. ' + note if note else ''}"
            )
        return found

    def _index(self) -> list[dict[str, Any]]:
        path = self._pair_list()
        table = read_csv(path, self.name)
        needed = {"source_image", "target_image", "class"}
        if not needed <= set(table.columns):
            raise DatasetNotFound(f"pfpascal: pair list {path} lacks columns {sorted(needed - set(table.columns))}")
        has_kps = all(column in table.columns for column in PACKED)
        annotations = self.base / "Annotations"
        if not has_kps and not annotations.is_dir():
            raise DatasetNotFound(
                f"pfpascal: {path} has no keypoint columns and {annotations} is missing; run `corrbench download pfpascal`"
            )
        records = []
        for row, item in enumerate(table.to_dict("records")):
            class_id = int(item["class"]) - 1
            if not 0 <= class_id < len(self.categories):
                raise DatasetNotFound(f"pfpascal: class {item['class']} outside 1..20 in {path} row {row + 2}")
            category = self.categories[class_id]
            src_name, trg_name = Path(str(item["source_image"])).name, Path(str(item["target_image"])).name
            record: dict[str, Any] = {
                "pair_id": f"{row:04d}-{Path(src_name).stem}-{Path(trg_name).stem}",
                "category": category,
                "class_id": class_id,
                "src": self.base / "JPEGImages" / src_name,
                "trg": self.base / "JPEGImages" / trg_name,
                "flip": int(item.get("flip", 0)),
            }
            if has_kps:
                xa, ya, xb, yb = (parse_packed(item[c], path, row, self.name) for c in PACKED)
                if not len(xa) == len(ya) == len(xb) == len(yb):
                    raise DatasetNotFound(f"pfpascal: {path} row {row + 2} has unequal XA/YA/XB/YB lengths")
                record["src_kps"] = np.stack([xa, ya], axis=1)
                record["trg_kps"] = np.stack([xb, yb], axis=1)
            ok = self.require_file(record["src"], "image") and self.require_file(record["trg"], "image")
            if ok and annotations.is_dir():
                for side in ("src", "trg"):
                    mat = annotations / category / (Path(record[side].name).stem + ".mat")
                    record[f"{side}_mat"] = mat
                    ok = ok and self.require_file(mat, "annotation")
            if ok:
                records.append(record)
        return records

    def _read_mat(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        from scipy.io import loadmat

        if not path.is_file():
            raise DatasetNotFound(f"pfpascal: annotation {path} is missing; run `corrbench download pfpascal`")
        try:
            data = loadmat(str(path))
            kps = np.asarray(data["kps"], dtype=np.float64).reshape(-1, 2)
            bbox = np.asarray(data["bbox"], dtype=np.float64).reshape(-1)[:4]
        except Exception as error:  # scipy raises several unrelated types for a bad file
            raise DatasetNotFound(
                f"pfpascal: cannot read annotation {path} ({type(error).__name__}: {error}); "
                "the file is corrupt, run `corrbench download pfpascal` again"
            ) from error
        if bbox.shape != (4,):
            raise DatasetNotFound(f"pfpascal: annotation {path} has no 4-value bbox; the file is corrupt")
        return kps, bbox

    def _load(self, record: dict[str, Any]) -> Pair:
        src_image = read_image(record["src"], self.name)
        trg_image = read_image(record["trg"], self.name)
        src_bbox = trg_bbox = None
        source = "csv"
        if "src_mat" in record:
            src_all, src_bbox = self._read_mat(record["src_mat"])
            trg_all, trg_bbox = self._read_mat(record["trg_mat"])
        if "src_kps" in record:
            src_kps, trg_kps = record["src_kps"], record["trg_kps"]
        else:
            source = "mat"
            if len(src_all) != len(trg_all):
                raise DatasetNotFound(
                    f"pfpascal: {record['src_mat']} and {record['trg_mat']} list different keypoint counts"
                )
            both = ~np.isnan(src_all).any(axis=1) & ~np.isnan(trg_all).any(axis=1)
            src_kps, trg_kps = src_all[both], trg_all[both]
        if self.apply_flip and record["flip"]:
            src_image, trg_image = src_image[:, ::-1].copy(), trg_image[:, ::-1].copy()
            src_kps, trg_kps = mirror_x(src_kps, src_image.shape[1]), mirror_x(trg_kps, trg_image.shape[1])
            if src_bbox is not None:
                src_bbox = _mirror_box(src_bbox, src_image.shape[1])
                trg_bbox = _mirror_box(trg_bbox, trg_image.shape[1])
        return Pair(
            pair_id=record["pair_id"],
            category=record["category"],
            src_image=src_image,
            trg_image=trg_image,
            src_kps=src_kps,
            trg_kps=trg_kps,
            src_bbox=src_bbox,
            trg_bbox=trg_bbox,
            meta={
                "class_id": record["class_id"],
                "flip": record["flip"],
                "flipped": bool(self.apply_flip and record["flip"]),
                "keypoint_source": source,
                "src_name": record["src"].name,
                "trg_name": record["trg"].name,
            },
        )


def _mirror_box(box: np.ndarray, width: int) -> np.ndarray:
    x1, y1, x2, y2 = box
    return np.array([width - 1 - x2, y1, width - 1 - x1, y2], dtype=np.float64)
