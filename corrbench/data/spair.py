"""SPair-71k (Min et al. 2019) from the official ``SPair-71k`` folder.

Pairs come from ``Layout/<large|small>/<split>.txt`` (one ``<id>-<src>-<trg>:<category>`` per
line; blank lines are ignored rather than dropping the last line as some loaders do); each line
names ``PairAnnotation/<split>/<line>.json``, which holds the co-visible keypoints (index-aligned
with ``kps_ids``), both boxes (``[x1, y1, x2, y2]``), image sizes as ``[W, H, C]`` and the
difficulty fields.  Images are ``JPEGImages/<category>/<name>``; foreground masks, when asked for,
are ``Segmentation/<category>/<stem>.png`` (any non-zero index is foreground; unverified
encoding, see the card).  Splits are ``trn``, ``val`` and ``test``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from corrbench.api import Pair
from corrbench.data.base import CardDataset, check_size, read_image, read_json, read_mask
from corrbench.errors import DatasetNotFound, UsageError

DIFFICULTY = ("viewpoint_variation", "scale_variation", "truncation", "occlusion")
LAYOUTS = ("large", "small")


class SPairDataset(CardDataset):
    name: ClassVar[str] = "spair"
    folder: ClassVar[str] = "SPair-71k"
    markers: ClassVar[tuple[str, ...]] = ("PairAnnotation", "Layout")

    def __init__(
        self,
        root: str | None = None,
        split: str = "test",
        strict: bool = True,
        layout: str = "large",
        masks: bool = False,
    ) -> None:
        if layout not in LAYOUTS:
            raise UsageError(f"spair: unknown layout '{layout}'; choose large or small")
        self.layout = layout
        self.masks = bool(masks)
        super().__init__(root=root, split=split, strict=strict)

    def _index(self) -> list[dict[str, Any]]:
        listing = self.base / "Layout" / self.layout / f"{self.split}.txt"
        if not listing.is_file():
            raise DatasetNotFound(f"spair: pair list {listing} is missing; run `corrbench download spair`")
        records = []
        for number, raw in enumerate(listing.read_text(encoding="utf-8").splitlines(), start=1):
            line = raw.strip()
            if not line:
                continue
            name, sep, category = line.rpartition(":")
            parts = name.split("-")
            if not sep or len(parts) != 3 or category not in self.categories:
                raise DatasetNotFound(f"spair: {listing} line {number} is not '<id>-<src>-<trg>:<category>': {line!r}")
            record = {
                "pair_id": line,
                "category": category,
                "annotation": self.base / "PairAnnotation" / self.split / f"{line}.json",
                "src": self.base / "JPEGImages" / category / f"{parts[1]}.jpg",
                "trg": self.base / "JPEGImages" / category / f"{parts[2]}.jpg",
            }
            if all(self.require_file(record[k], w) for k, w in (("annotation", "annotation"), ("src", "image"), ("trg", "image"))):
                records.append(record)
        return records

    def _load(self, record: dict[str, Any]) -> Pair:
        path: Path = record["annotation"]
        data = read_json(path, self.name)
        try:
            src_kps = np.asarray(data["src_kps"], dtype=np.float64).reshape(-1, 2)
            trg_kps = np.asarray(data["trg_kps"], dtype=np.float64).reshape(-1, 2)
            kps_ids = [int(k) for k in data["kps_ids"]]
            src_bbox = np.asarray(data["src_bndbox"], dtype=np.float64).reshape(4)
            trg_bbox = np.asarray(data["trg_bndbox"], dtype=np.float64).reshape(4)
            src_size, trg_size = list(data["src_imsize"]), list(data["trg_imsize"])
            meta = {key: int(data[key]) for key in DIFFICULTY}
            meta["mirror"] = int(data.get("mirror", 0))
            names = (str(data["src_imname"]), str(data["trg_imname"]))
            category = str(data["category"])
        except (KeyError, TypeError, ValueError) as error:
            raise DatasetNotFound(
                f"spair: annotation {path} is malformed ({type(error).__name__}: {error}); "
                "run `corrbench download spair` again"
            ) from error
        if len(src_kps) != len(trg_kps) or len(kps_ids) != len(src_kps):
            raise DatasetNotFound(f"spair: annotation {path} has unequal src_kps/trg_kps/kps_ids lengths")
        if category != record["category"] or names != (record["src"].name, record["trg"].name):
            raise DatasetNotFound(f"spair: annotation {path} disagrees with its layout line (category or image names)")
        src_image = read_image(record["src"], self.name)
        trg_image = read_image(record["trg"], self.name)
        check_size(src_image, src_size, record["src"], self.name)
        check_size(trg_image, trg_size, record["trg"], self.name)
        src_mask = trg_mask = None
        if self.masks:
            seg = self.base / "Segmentation" / category
            src_mask = read_mask(seg / f"{record['src'].stem}.png", self.name)
            trg_mask = read_mask(seg / f"{record['trg'].stem}.png", self.name)
        meta.update(
            {
                "kps_ids": kps_ids,
                "src_imsize": tuple(int(v) for v in src_size),  # (W, H, C) as in the file
                "trg_imsize": tuple(int(v) for v in trg_size),
                "src_pose": data.get("src_pose"),
                "trg_pose": data.get("trg_pose"),
                "class_id": self.categories.index(category),
                "src_name": names[0],
                "trg_name": names[1],
                "layout": self.layout,
            }
        )
        return Pair(
            pair_id=record["pair_id"],
            category=category,
            src_image=src_image,
            trg_image=trg_image,
            src_kps=src_kps,
            trg_kps=trg_kps,
            src_bbox=src_bbox,
            trg_bbox=trg_bbox,
            src_mask=src_mask,
            trg_mask=trg_mask,
            meta=meta,
        )
