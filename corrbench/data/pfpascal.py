"""PF-PASCAL (Ham et al., Proposal Flow) from the official ``PF-dataset-PASCAL`` folder.

Layout: ``JPEGImages/<id>.jpg``, ``Annotations/<class>/<id>.mat`` (``kps`` N×2 with NaN rows for
invisible points, ``bbox`` [x1, y1, x2, y2]) and the pair lists that the official zip lacks,
``{train,val,test}_pairs_pf_pascal.csv`` (CNNGeometric names; NCNet/DHPF/MaCoSNet names are
accepted too).  Test lists carry the co-visible keypoints as ``;``-packed ``XA;YA;XB;YB`` cells;
lists without them (train/val) take keypoints from the ``.mat`` files, keeping the rows visible
in both images, as DenseMatching does.  ``class`` is 1..20 in VOC order.

When ``Annotations/`` exists every pair's two ``.mat`` files must be there (strict mode); without
the folder, test pairs still load from the csv but carry no boxes (``dhpf_bbox`` then refuses).

Checks (see :mod:`corrbench.data.checks`): a row with a bad class id, flip flag or keypoint cell
is a strict error or, with ``strict=False``, a counted skip; the list must hold the card's number
of pairs (``subset=True`` accepts fewer).  The annotations carry no image size, so a loaded pair's
keypoints and boxes must lie on its images (one pixel of slack): a wrong or 1x1 image stops.

Coordinates are kept exactly as stored (the official files are MATLAB exports whose base no
source states); every reference evaluator uses them as 0-based pixels and rescales them
multiplicatively, so corrbench does the same (spec datasets.md §2.3).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from corrbench.api import Pair
from corrbench.data.base import CardDataset, csv_line, first_existing, parse_packed, read_csv, read_image
from corrbench.data.checks import AnnotationError, BadRecord, box_problem, check_points_inside, int_cell, redownload
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
        self,
        root: str | None = None,
        split: str = "test",
        strict: bool = True,
        apply_flip: bool = False,
        subset: bool = False,
    ) -> None:
        self.apply_flip = bool(apply_flip)
        super().__init__(root=root, split=split, strict=strict, subset=subset)

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
            raise AnnotationError(
                f"pfpascal: pair list {path} line 1 lacks columns {sorted(needed - set(table.columns))}; "
                f"it is corrupt or not a PF-PASCAL pair list, {redownload(self.name)}"
            )
        has_kps = all(column in table.columns for column in PACKED)
        annotations = self.base / "Annotations"
        if not has_kps and not annotations.is_dir():
            raise DatasetNotFound(
                f"pfpascal: {path} has no keypoint columns and {annotations} is missing; run `corrbench download pfpascal`"
            )
        self.pair_list_path, self.listed = path, len(table)
        records = []
        for row, item in enumerate(table.to_dict("records")):
            try:
                record = self._record(path, row, item, has_kps)
            except BadRecord as bad:
                self.bad_row(bad)
                continue
            ok = self.require_file(record["src"], "image") and self.require_file(record["trg"], "image")
            if ok and annotations.is_dir():
                for side in ("src", "trg"):
                    mat = annotations / record["category"] / (Path(record[side].name).stem + ".mat")
                    record[f"{side}_mat"] = mat
                    ok = ok and self.require_file(mat, "annotation")
            if ok:
                records.append(record)
        return records

    def _record(self, path: Path, row: int, item: dict[str, Any], has_kps: bool) -> dict[str, Any]:
        """One csv row as a record; an unusable row is a :class:`BadRecord` naming its line."""
        where = f"{path} line {csv_line(row)}"
        class_id = int_cell(item["class"])
        if class_id is None or not 1 <= class_id <= len(self.categories):
            raise BadRecord(
                "bad class id",
                f"pfpascal: {where}: class {str(item['class'])[:20]!r} is not an id 1..{len(self.categories)}; "
                f"the file is corrupt, {redownload(self.name)}",
            )
        flip = int_cell(item.get("flip", 0))
        if flip not in (0, 1):
            raise BadRecord(
                "bad flip flag",
                f"pfpascal: {where}: flip {str(item.get('flip'))[:20]!r} is not 0 or 1; the file is corrupt, "
                f"{redownload(self.name)}",
            )
        category = self.categories[class_id - 1]
        src_name, trg_name = Path(str(item["source_image"])).name, Path(str(item["target_image"])).name
        record: dict[str, Any] = {
            "pair_id": f"{row:04d}-{Path(src_name).stem}-{Path(trg_name).stem}",
            "category": category,
            "class_id": class_id - 1,
            "src": self.base / "JPEGImages" / src_name,
            "trg": self.base / "JPEGImages" / trg_name,
            "flip": flip,
            "where": where,
        }
        if has_kps:
            xa, ya, xb, yb = (parse_packed(item[c], path, row, self.name, c) for c in PACKED)
            if not len(xa) == len(ya) == len(xb) == len(yb):
                raise BadRecord(
                    "bad keypoint",
                    f"pfpascal: {where} has unequal XA/YA/XB/YB lengths; the file is corrupt, {redownload(self.name)}",
                )
            record["src_kps"] = np.stack([xa, ya], axis=1)
            record["trg_kps"] = np.stack([xb, yb], axis=1)
        return record

    def _read_mat(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        from scipy.io import loadmat

        if not path.is_file():
            raise DatasetNotFound(f"pfpascal: annotation {path} is missing; run `corrbench download pfpascal`")
        try:
            data = loadmat(str(path))
            kps = np.asarray(data["kps"], dtype=np.float64).reshape(-1, 2)
            bbox = np.asarray(data["bbox"], dtype=np.float64).reshape(-1)[:4]
        except Exception as error:  # scipy raises several unrelated types for a bad file
            detail = str(error).splitlines()[0] if str(error) else ""
            raise AnnotationError(
                f"pfpascal: cannot read annotation {path} ({type(error).__name__}: {detail}); "
                f"the file is corrupt, {redownload(self.name)}"
            ) from error
        for key, wrong in (("bbox", bbox.shape != (4,)), ("kps", bool(np.isinf(kps).any()))):
            if wrong:
                what = "has not 4 values" if key == "bbox" else "holds an infinite value"
                raise AnnotationError(
                    f"pfpascal: annotation {path} key '{key}' {what}; the file is corrupt, {redownload(self.name)}"
                )
        return kps, bbox

    def _check_on_images(self, record, src_image, trg_image, src_kps, trg_kps, src_bbox, trg_bbox) -> None:
        """No image size is annotated: keypoints and boxes must lie on the images read."""
        for side, image, kps, box in (("src", src_image, src_kps, src_bbox), ("trg", trg_image, trg_kps, trg_bbox)):
            where = record["where"] if "src_kps" in record else str(record[f"{side}_mat"])
            check_points_inside(kps, image.shape[:2], where, record[side], self.name)
            if box is None:
                continue
            problem = box_problem(box, image.shape[1], image.shape[0])
            if problem is not None:
                raise AnnotationError(
                    f"pfpascal: bbox {problem} in {record[f'{side}_mat']} (image {record[side]}); the image or the "
                    f"annotation is the wrong file or corrupt, {redownload(self.name)}"
                )

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
        self._check_on_images(record, src_image, trg_image, src_kps, trg_kps, src_bbox, trg_bbox)
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
