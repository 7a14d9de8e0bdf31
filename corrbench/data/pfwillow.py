"""PF-WILLOW (Ham et al., Proposal Flow) from the official ``PF-dataset`` folder.

Images are ``PF-dataset/<subclass>/<name>.png`` for ten sub-classes such as ``car(G)``; every
image has 10 keypoints, all visible, and there is no box: PCK uses the keypoint extent.

Two pair lists exist and give numbers that are NOT comparable:

* ``standard`` (default): CNNGeometric's ``test_pairs_pf.csv`` (900 pairs, both orders), two path
  columns then 40 numbers: 10 source x, 10 source y, 10 target x, 10 target y (read by position;
  DHPF/CATs' ``test_pairs.csv`` repack has the same layout).
* ``macosnet450``: MaCoSNet's 450-row list (each unordered pair once) with a ``class`` column and
  ``;``-packed ``XA;YA;XB;YB`` cells.  It must be asked for explicitly.

Checks (see :mod:`corrbench.data.checks`): a row with text or a non-finite value in a keypoint
cell, a bad class id or an unknown sub-class is a strict error or, with ``strict=False``, a
counted skip; the list must hold the card's number of pairs for its kind (900 or 450;
``subset=True`` accepts fewer).  No image size is annotated, so a loaded pair's keypoints must lie
on its images (one pixel of slack): a wrong or 1x1 image stops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from corrbench.api import Pair
from corrbench.data.base import CardDataset, csv_line, first_existing, parse_packed, read_csv, read_image
from corrbench.data.checks import AnnotationError, BadRecord, check_points_inside, int_cell, number, redownload
from corrbench.errors import DatasetNotFound, UsageError

PAIR_LISTS = {
    "standard": ("test_pairs_pf.csv", "test_pairs.csv"),
    "macosnet450": ("test_pairs_macosnet450.csv", "test.csv"),
}
N_KPS = 10


class PFWillowDataset(CardDataset):
    name: ClassVar[str] = "pfwillow"
    folder: ClassVar[str] = "PF-dataset"
    markers: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        root: str | None = None,
        split: str = "test",
        strict: bool = True,
        pair_list: str = "standard",
        subset: bool = False,
    ) -> None:
        if pair_list not in PAIR_LISTS:
            raise UsageError(f"pfwillow: unknown pair_list '{pair_list}'; choose {' or '.join(PAIR_LISTS)}")
        self.pair_list = pair_list
        super().__init__(root=root, split=split, strict=strict, subset=subset)

    def count_variant(self) -> str:
        """The two lists are different benchmarks: the card counts each (900 and 450)."""
        return self.pair_list

    def count_label(self) -> str:
        return f"PF-WILLOW ({self.pair_list} list) {self.split}"

    def _find_base(self, root: Path) -> Path:
        # Identify the folder by any of its sub-class folders.
        for candidate in (root / self.folder, root):
            if candidate.is_dir() and any((candidate / c).is_dir() for c in self.categories):
                return candidate
        from corrbench.data.base import _fix

        raise DatasetNotFound(f"PF-WILLOW not found at {root}; {_fix(self.name)} (or pass --root)")

    def _index(self) -> list[dict[str, Any]]:
        path = first_existing(self.base, PAIR_LISTS[self.pair_list])
        if path is None:
            hint = ""
            if self.pair_list == "standard" and first_existing(self.base, PAIR_LISTS["macosnet450"]):
                hint = " (only MaCoSNet's 450-pair list is there: pass -d pair_list=macosnet450 (pair_list='macosnet450' in Python) to use it)"
            raise DatasetNotFound(
                f"pfwillow: pair list {self.base / PAIR_LISTS[self.pair_list][0]} not found{hint}; "
                "run `corrbench download pfwillow`"
            )
        table = read_csv(path, self.name)
        packed = {"XA", "YA", "XB", "YB"} <= set(table.columns)
        if packed and self.pair_list != "macosnet450":
            raise UsageError(
                f"pfwillow: {path} is MaCoSNet's 450-pair list, not the standard 900-pair one; "
                "pass -d pair_list=macosnet450 (pair_list='macosnet450' in Python) to use it (its numbers are not comparable)"
            )
        if not packed and self.pair_list == "macosnet450":
            raise UsageError(f"pfwillow: {path} is not MaCoSNet's 450-pair list (no XA/YA/XB/YB columns)")
        if not packed and table.shape[1] != 2 + 4 * N_KPS:
            raise AnnotationError(
                f"pfwillow: {path} line 1 has {table.shape[1]} columns, expected 2 paths + {4 * N_KPS} numbers; "
                f"the file is corrupt or not a PF-WILLOW pair list, {redownload(self.name)}"
            )
        self.pair_list_path, self.listed = path, len(table)
        records = []
        for row in range(len(table)):
            try:
                record = self._record(table, path, row, packed)
            except BadRecord as bad:
                self.bad_row(bad)
                continue
            if self.require_file(record["src"], "image") and self.require_file(record["trg"], "image"):
                records.append(record)
        return records

    def _record(self, table, path: Path, row: int, packed: bool) -> dict[str, Any]:
        """One csv row as a record; an unusable row is a :class:`BadRecord` naming its line."""
        where = f"{path} line {csv_line(row)}"
        src_rel, trg_rel = str(table.iat[row, 0]), str(table.iat[row, 1])
        if packed:
            xa, ya, xb, yb = (parse_packed(table.at[row, c], path, row, self.name, c) for c in ("XA", "YA", "XB", "YB"))
        else:
            values = []
            for column in range(2, 2 + 4 * N_KPS):
                value = number(table.iat[row, column])
                if value is None:
                    raise BadRecord(
                        "bad keypoint",
                        f"pfwillow: {where} column {table.columns[column]}: {str(table.iat[row, column])[:20]!r} is "
                        f"not a finite coordinate; the file is corrupt, {redownload(self.name)}",
                    )
                values.append(value)
            xa, ya, xb, yb = np.array(values, dtype=np.float64).reshape(4, N_KPS)
        src_kps, trg_kps = np.stack([xa, ya], axis=1), np.stack([xb, yb], axis=1)
        if len(src_kps) != N_KPS or len(trg_kps) != N_KPS:
            raise BadRecord(
                "bad keypoint",
                f"pfwillow: {where} does not hold {N_KPS} keypoints per image; the file is corrupt, {redownload(self.name)}",
            )
        parts = Path(src_rel).parts
        category = parts[1] if len(parts) > 2 else parts[0]
        if category not in self.categories or Path(trg_rel).parts[-2:-1] != (category,):
            raise BadRecord(
                "unknown sub-class",
                f"pfwillow: {where} has an unknown or mixed sub-class ({src_rel}, {trg_rel}); the file is corrupt, "
                f"{redownload(self.name)}",
            )
        if packed and int_cell(table.at[row, "class"]) != self.categories.index(category) + 1:
            raise BadRecord(
                "bad class id",
                f"pfwillow: {where}: class {str(table.at[row, 'class'])[:20]!r} disagrees with folder {category} "
                f"(id {self.categories.index(category) + 1}); the file is corrupt, {redownload(self.name)}",
            )
        return {
            "pair_id": f"{row:04d}-{Path(src_rel).stem}-{Path(trg_rel).stem}",
            "category": category,
            # Paths are relative to the folder holding PF-dataset/: drop the first component.
            "src": self.base.joinpath(*Path(src_rel).parts[-2:]),
            "trg": self.base.joinpath(*Path(trg_rel).parts[-2:]),
            "src_kps": src_kps,
            "trg_kps": trg_kps,
            "where": where,
        }

    def _load(self, record: dict[str, Any]) -> Pair:
        images = {side: read_image(record[side], self.name) for side in ("src", "trg")}
        for side in ("src", "trg"):  # no image size is annotated: the points must lie on the image
            check_points_inside(record[f"{side}_kps"], images[side].shape[:2], record["where"], record[side], self.name)
        return Pair(
            pair_id=record["pair_id"],
            category=record["category"],
            src_image=images["src"],
            trg_image=images["trg"],
            src_kps=record["src_kps"],
            trg_kps=record["trg_kps"],
            meta={
                "class_id": self.categories.index(record["category"]),
                "pair_list": self.pair_list,
                "src_name": record["src"].name,
                "trg_name": record["trg"].name,
            },
        )

    def provenance(self) -> dict[str, Any]:
        info = super().provenance()
        info["pair_list"] = self.pair_list
        return info
