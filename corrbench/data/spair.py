"""SPair-71k (Min et al. 2019) from the official ``SPair-71k`` folder.

Pairs come from ``Layout/<large|small>/<split>.txt`` (one ``<id>-<src>-<trg>:<category>`` per
line; blank lines are ignored rather than dropping the last line as some loaders do); each line
names ``PairAnnotation/<split>/<line>.json``, which holds the co-visible keypoints (index-aligned
with ``kps_ids``), both boxes (``[x1, y1, x2, y2]``), image sizes as ``[W, H, C]`` and the
difficulty fields.  Images are ``JPEGImages/<category>/<name>``; foreground masks, when asked for,
are ``Segmentation/<category>/<stem>.png`` (any non-zero index is foreground; unverified
encoding, see the card).  Splits are ``trn``, ``val`` and ``test``.

Checks (see :mod:`corrbench.data.checks`): a layout file must be UTF-8 and hold the card's number
of pairs (``Layout/large``; ``subset=True`` accepts fewer); a malformed line is a strict error or,
with ``strict=False``, a counted skip.  A pair's JSON is checked key by key when it is loaded
(finite keypoints inside the image, boxes of positive area, ``[W, H, C]`` sizes, difficulty codes
in range) and any problem stops: the pair is already counted in ``len(dataset)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from corrbench.api import Pair
from corrbench.data.base import CardDataset, check_size, read_image, read_json, read_mask
from corrbench.data.checks import (
    AnnotationError,
    BadRecord,
    box_problem,
    first_outside,
    int_cell,
    number,
    read_text,
    redownload,
)
from corrbench.errors import DatasetNotFound, UsageError

DIFFICULTY = ("viewpoint_variation", "scale_variation", "truncation", "occlusion")
#: Allowed codes (spec datasets.md §4.4): viewpoint and scale 0-2, truncation and occlusion
#: 0-3 (= source flag + 2 * target flag), mirror 0/1.
CODES = {"viewpoint_variation": 2, "scale_variation": 2, "truncation": 3, "occlusion": 3, "mirror": 1}
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
        subset: bool = False,
    ) -> None:
        if layout not in LAYOUTS:
            raise UsageError(f"spair: unknown layout '{layout}'; choose large or small")
        self.layout = layout
        self.masks = bool(masks)
        super().__init__(root=root, split=split, strict=strict, subset=subset)

    def count_variant(self) -> str:
        """Counted per layout; only ``large`` has published counts (``small`` is not checked)."""
        return self.layout

    def count_label(self) -> str:
        return f"SPair-71k Layout/{self.layout} {self.split}"

    def _index(self) -> list[dict[str, Any]]:
        listing = self.base / "Layout" / self.layout / f"{self.split}.txt"
        if not listing.is_file():
            raise DatasetNotFound(f"spair: pair list {listing} is missing; run `corrbench download spair`")
        records = []
        lines = [(n, raw.strip()) for n, raw in enumerate(read_text(listing, self.name, "pair list").splitlines(), 1)]
        lines = [(n, line) for n, line in lines if line]
        self.pair_list_path, self.listed = listing, len(lines)
        for number_, line in lines:
            name, sep, category = line.rpartition(":")
            parts = name.split("-")
            if not sep or len(parts) != 3 or category not in self.categories:
                self.bad_row(BadRecord(
                    "bad layout line",
                    f"spair: {listing} line {number_} is not '<id>-<src>-<trg>:<category>': {line[:60]!r}; "
                    f"the file is corrupt, {redownload(self.name)}",
                ))
                continue
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
        fields = parse_pair_annotation(data, path, self.name)
        src_kps, trg_kps, kps_ids = fields["src_kps"], fields["trg_kps"], fields["kps_ids"]
        src_bbox, trg_bbox = fields["src_bndbox"], fields["trg_bndbox"]
        src_size, trg_size = fields["src_imsize"], fields["trg_imsize"]
        meta = {key: fields[key] for key in CODES}
        names, category = (fields["src_imname"], fields["trg_imname"]), fields["category"]
        if category != record["category"] or names != (record["src"].name, record["trg"].name):
            raise AnnotationError(
                f"spair: annotation {path} keys 'category'/'src_imname'/'trg_imname' disagree with its layout line "
                f"{record['pair_id']!r}; the file is corrupt, {redownload(self.name)}"
            )
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
                "src_imsize": src_size,  # (W, H, C) as in the file
                "trg_imsize": trg_size,
                "src_pose": fields["src_pose"],
                "trg_pose": fields["trg_pose"],
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


def parse_pair_annotation(data: Any, path: Path, dataset: str = "spair") -> dict[str, Any]:
    """The fields of a ``PairAnnotation`` JSON, each checked; a problem names its key.

    Why so strict: ``null`` or ``NaN`` keypoints become NaN and silently count as wrong, a box of
    zero area gives a PCK threshold of 0, and a one-value size cannot be compared with the image.
    """

    def bad(key: str, what: str) -> AnnotationError:
        return AnnotationError(f"{dataset}: annotation {path} key '{key}' {what}; the file is corrupt, {redownload(dataset)}")

    if not isinstance(data, dict):
        raise AnnotationError(f"{dataset}: annotation {path} is not a JSON object; the file is corrupt, {redownload(dataset)}")
    for key in ("src_kps", "trg_kps", "kps_ids", "src_bndbox", "trg_bndbox", "src_imsize", "trg_imsize",
                "src_imname", "trg_imname", "category", *DIFFICULTY):
        if key not in data:
            raise bad(key, "is missing")
    out: dict[str, Any] = {}
    for side in ("src", "trg"):
        key = f"{side}_imsize"
        size = data[key]
        values = [int_cell(v) if not isinstance(v, str) else None for v in size] if isinstance(size, list) else []
        if len(values) != 3 or any(v is None or v <= 0 for v in values):
            raise bad(key, f"is {json.dumps(size)[:40]}, not [width, height, depth] of positive integers")
        out[key] = tuple(values)
    for side in ("src", "trg"):
        width, height = out[f"{side}_imsize"][:2]
        key = f"{side}_kps"
        points = data[key] if isinstance(data[key], list) else None
        if points is None:
            raise bad(key, "is not a list of [x, y]")
        coords = []
        for index, point in enumerate(points):
            xy = [number(v) for v in point] if isinstance(point, list) else []
            if len(xy) != 2 or None in xy:
                raise bad(key, f"entry {index} is {json.dumps(point)[:40]}, not a finite [x, y]")
            coords.append(xy)
        kps = np.array(coords, dtype=np.float64).reshape(-1, 2)
        outside = first_outside(kps, width, height)
        if outside is not None:
            raise bad(key, f"entry {outside} {kps[outside].tolist()} lies outside the {width}x{height} image")
        out[key] = kps
        key = f"{side}_bndbox"
        box = data[key] if isinstance(data[key], list) else []
        problem = box_problem(box, width, height)
        if problem is not None:
            raise bad(key, problem)
        out[key] = np.array([number(v) for v in box], dtype=np.float64)
    ids = [int_cell(k) for k in data["kps_ids"]] if isinstance(data["kps_ids"], list) else None
    if ids is None or None in ids:
        raise bad("kps_ids", "is not a list of keypoint ids")
    out["kps_ids"] = ids
    if not len(out["src_kps"]) == len(out["trg_kps"]) == len(ids):
        raise bad("kps_ids", f"has {len(ids)} ids for {len(out['src_kps'])} src_kps and {len(out['trg_kps'])} trg_kps")
    for key, top in CODES.items():
        code = int_cell(data.get(key, 0))
        if code is None or not 0 <= code <= top:
            raise bad(key, f"is {json.dumps(data.get(key))[:20]}, not a code 0..{top}")
        out[key] = code
    for key in ("src_imname", "trg_imname", "category"):
        out[key] = str(data[key])
    out["src_pose"], out["trg_pose"] = data.get("src_pose"), data.get("trg_pose")
    return out
