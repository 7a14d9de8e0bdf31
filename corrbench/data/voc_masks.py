"""``voc-masks``: PASCAL VOC 2012 segmentation images with their foreground masks, for training.

SFNet trains on single images and their binary foreground masks (its release ships them as
pre-made ``VOC2012_seg_img.npy``/``VOC2012_seg_msk.npy``, "excluding images that overlap with the
test split in the PF-PASCAL", README); RTN's first stage warps single PASCAL images.  This loader
reads the official ``VOCtrainval_11-May-2012.tar`` layout, as torchvision's ``VOCSegmentation``
does: ``VOCdevkit/VOC2012/{JPEGImages, SegmentationClass, SegmentationObject,
ImageSets/Segmentation/{train,val,trainval}.txt}``.

* Foreground = pixels of the 20 classes (indices 1..20 of the palette PNG); the void/boundary
  index 255 is background unless ``void_as_foreground=true`` (how SFNet's arrays encode it is
  not visible in its release).
* **PF-PASCAL test exclusion** (on by default): PF-PASCAL images are VOC images under their VOC id
  (``PF-dataset-PASCAL/JPEGImages/2009_002432.jpg``), so every id that appears in the 299
  PF-PASCAL test pairs (506 images) is dropped.  The list is the same ``test_pairs.csv`` the
  ``pfpascal`` card fetches (``corrbench download voc-masks`` puts a verified copy in the root);
  ``exclude_list=PATH`` names another copy; the dropped ids are in :attr:`excluded` and the provenance.
* Each item is a :class:`~corrbench.api.Pair` whose source and target are the same image with
  ``meta['single_image'] = True`` (methods that train on single images use it once), the mask on
  both sides, the mask's box, no keypoints, and the class with the most pixels as ``category``.
  There are no correspondences, so the dataset cannot be evaluated (``task = "training"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from corrbench.api import Pair
from corrbench.data.base import CardDataset, open_image, read_csv, read_image
from corrbench.data.checks import AnnotationError, redownload
from corrbench.errors import DatasetNotFound

EXCLUSION_FILE = "pfpascal_test_pairs.csv"
VOID = 255


class VOCMasksDataset(CardDataset):
    name: ClassVar[str] = "voc-masks"
    folder: ClassVar[str] = "VOCdevkit/VOC2012"
    markers: ClassVar[tuple[str, ...]] = ("JPEGImages", "ImageSets/Segmentation")
    task: ClassVar[str] = "training"

    def __init__(self, root: str | None = None, split: str = "train", strict: bool = True, subset: bool = False,
                 exclude_pfpascal_test: bool = True, exclude_list: str | None = None,
                 void_as_foreground: bool = False) -> None:
        self.exclude_pfpascal_test = bool(exclude_pfpascal_test)
        self.exclude_list = exclude_list
        self.void_as_foreground = bool(void_as_foreground)
        self.excluded: list[str] = []
        self._root_arg = root
        super().__init__(root=root, split=split, strict=strict, subset=subset)

    # --- the PF-PASCAL test images ----------------------------------------------------------------
    def exclusion_path(self) -> Path:
        from corrbench.data.base import dataset_root

        if self.exclude_list:
            path = Path(self.exclude_list).expanduser()
            if not path.is_file():
                raise DatasetNotFound(f"voc-masks: exclude_list {path} is not a file")
            return path
        root = dataset_root(self.name, self._root_arg)
        for candidate in (root / EXCLUSION_FILE, self.base / EXCLUSION_FILE):
            if candidate.is_file():
                return candidate
        raise DatasetNotFound(
            f"voc-masks: the PF-PASCAL test list {root / EXCLUSION_FILE} is missing (its images must not be trained on); "
            "run `corrbench download voc-masks`, or pass -d exclude_list=PATH (a PF-PASCAL test_pairs.csv), or "
            "-d exclude_pfpascal_test=false (then report no PF-PASCAL test numbers)")

    def pfpascal_test_ids(self) -> set[str]:
        """VOC ids of the images in the PF-PASCAL test pairs (checked against the card's counts)."""
        path = self.exclusion_path()
        table = read_csv(path, self.name)
        if not {"source_image", "target_image"} <= set(table.columns):
            raise AnnotationError(f"voc-masks: {path} has no source_image/target_image columns; it is not a "
                                  "PF-PASCAL pair list")
        ids = {Path(str(name)).stem for column in ("source_image", "target_image") for name in table[column]}
        expected = self.card.extra.get("pfpascal_test") or {}
        if (expected.get("pairs"), expected.get("images")) != (len(table), len(ids)):
            raise AnnotationError(
                f"voc-masks: {path} lists {len(table)} pairs of {len(ids)} images, the PF-PASCAL test split has "
                f"{expected.get('pairs')} of {expected.get('images')}; pass the test list (test_pairs.csv)")
        return ids

    # --- index and load ---------------------------------------------------------------------------
    def _index(self) -> list[dict[str, Any]]:
        listing = self.base / "ImageSets" / "Segmentation" / f"{self.split}.txt"
        if not listing.is_file():
            raise DatasetNotFound(f"voc-masks: image list {listing} is missing; {redownload(self.name)}")
        ids = [line.strip() for line in listing.read_text(encoding="utf-8").splitlines() if line.strip()]
        self.pair_list_path, self.listed = listing, len(ids)
        if self.exclude_pfpascal_test:
            test = self.pfpascal_test_ids()
            self.excluded = sorted(i for i in ids if i in test)
            ids = [i for i in ids if i not in test]
        records = []
        for image_id in ids:
            image = self.base / "JPEGImages" / f"{image_id}.jpg"
            mask = self.base / "SegmentationClass" / f"{image_id}.png"
            if not mask.is_file():
                mask = self.base / "SegmentationObject" / f"{image_id}.png"
            if self.require_file(image, "image") and self.require_file(mask, "mask"):
                records.append({"pair_id": image_id, "image": image, "mask": mask})
        return records

    def _labels(self, path: Path) -> np.ndarray:
        """The PNG's palette indices (class ids, 255 = void)."""
        image = open_image(path, self.name, "mask")
        with image:
            if image.mode not in ("P", "L"):
                raise AnnotationError(f"voc-masks: mask {path} is a {image.mode} image, not a palette PNG of class "
                                      f"indices; {redownload(self.name)}")
            return np.asarray(image)

    def _load(self, record: dict[str, Any]) -> Pair:
        image = read_image(record["image"], self.name)
        labels = self._labels(record["mask"])
        if labels.shape != image.shape[:2]:
            raise AnnotationError(f"voc-masks: mask {record['mask']} is {labels.shape[1]}x{labels.shape[0]}, its image "
                                  f"{image.shape[1]}x{image.shape[0]}; {redownload(self.name)}")
        classes = (labels >= 1) & (labels <= len(self.categories))
        foreground = classes | (labels == VOID) if self.void_as_foreground else classes
        counts = np.bincount(labels[classes].ravel(), minlength=len(self.categories) + 1)[1 : len(self.categories) + 1]
        category = self.categories[int(counts.argmax())] if counts.any() else "background"
        box = None
        if foreground.any():
            ys, xs = np.nonzero(foreground)
            box = np.array([xs.min(), ys.min(), xs.max(), ys.max()], dtype=np.float64)
        present = [self.categories[i] for i in np.flatnonzero(counts)]
        return Pair(record["pair_id"], category, image, image, src_bbox=box, trg_bbox=box,
                    src_mask=foreground, trg_mask=foreground, meta={"single_image": True, "classes": present})

    def provenance(self) -> dict[str, Any]:
        info = super().provenance()
        info["pfpascal_test_excluded"] = len(self.excluded) if self.exclude_pfpascal_test else "off"
        return info
