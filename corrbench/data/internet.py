"""Internet / Object Discovery (Rubinstein, Joulin, Kopf, Liu, CVPR 2013): co-segmentation.

Layout: ``ObjectDiscovery-data/Data/<Class>100/<name>.jpg`` with the ground-truth mask
``GroundTruth/<name>.png`` beside it (any non-zero value, in any channel or palette index, is
foreground; some images are outliers whose mask is empty).  The release has no pair list, so
pairs are formed here, within a class, over the images in sorted file-name order:

* ``cyclic`` (default): image k is paired with image k+1 (the last with the first), so every
  image is the source of exactly one pair and the target of exactly one; scoring the source
  masks scores each image once (n pairs per class).
* ``all``: every ordered pair of distinct images (n·(n−1) pairs per class).

Pairs carry the images and both ground-truth masks and no keypoints (``task = "coseg"``);
metrics are per-image mask precision (fraction of correctly labelled pixels) and Jaccard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from corrbench.api import Pair
from corrbench.data.base import CardDataset, read_image, read_mask
from corrbench.errors import DatasetNotFound, UsageError

PAIRINGS = ("cyclic", "all")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class InternetDataset(CardDataset):
    name: ClassVar[str] = "internet"
    task: ClassVar[str] = "coseg"
    folder: ClassVar[str] = "ObjectDiscovery-data"
    markers: ClassVar[tuple[str, ...]] = ("Data",)

    def __init__(
        self, root: str | None = None, split: str = "test", strict: bool = True, pairing: str = "cyclic"
    ) -> None:
        if pairing not in PAIRINGS:
            raise UsageError(f"internet: unknown pairing '{pairing}'; choose cyclic or all")
        self.pairing = pairing
        self.images_per_class: dict[str, int] = {}
        super().__init__(root=root, split=split, strict=strict)

    def class_folder(self, category: str) -> Path:
        return self.base / "Data" / f"{category}{self.card.extra.get('subset_suffix', '100')}"

    def _images(self, category: str) -> list[tuple[Path, Path]]:
        folder = self.class_folder(category)
        if not folder.is_dir():
            raise DatasetNotFound(f"internet: class folder {folder} is missing; run `corrbench download internet`")
        found = []
        for image in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
            mask = folder / "GroundTruth" / f"{image.stem}.png"
            if self.require_file(mask, "mask"):
                found.append((image, mask))
        return found

    def _index(self) -> list[dict[str, Any]]:
        records = []
        for category in self.categories:
            images = self._images(category)
            self.images_per_class[category] = len(images)
            n = len(images)
            if self.pairing == "cyclic":
                links = [(k, (k + 1) % n) for k in range(n)] if n > 1 else []
            else:
                links = [(i, j) for i in range(n) for j in range(n) if i != j]
            for i, j in links:
                (src, src_mask), (trg, trg_mask) = images[i], images[j]
                records.append(
                    {
                        "pair_id": f"{category}/{src.stem}-{trg.stem}",
                        "category": category,
                        "src": src,
                        "trg": trg,
                        "src_mask": src_mask,
                        "trg_mask": trg_mask,
                    }
                )
        return records

    def _load(self, record: dict[str, Any]) -> Pair:
        images = {}
        masks = {}
        for side in ("src", "trg"):
            images[side] = read_image(record[side], self.name)
            masks[side] = read_mask(record[f"{side}_mask"], self.name)
            if masks[side].shape != images[side].shape[:2]:
                raise DatasetNotFound(
                    f"internet: mask {record[f'{side}_mask']} is {masks[side].shape[1]}x{masks[side].shape[0]} "
                    f"but its image is {images[side].shape[1]}x{images[side].shape[0]}; the file is corrupt"
                )
        return Pair(
            pair_id=record["pair_id"],
            category=record["category"],
            src_image=images["src"],
            trg_image=images["trg"],
            src_mask=masks["src"],
            trg_mask=masks["trg"],
            meta={
                "pairing": self.pairing,
                "src_name": record["src"].name,
                "trg_name": record["trg"].name,
                "src_mask_empty": not bool(masks["src"].any()),
                "trg_mask_empty": not bool(masks["trg"].any()),
            },
        )

    def provenance(self) -> dict[str, Any]:
        info = super().provenance()
        info.update({"pairing": self.pairing, "images_per_class": dict(self.images_per_class)})
        return info
