"""TSS loader (Taniai, Sinha, Sato, CVPR 2016), read from the official archive layout.

``root`` is the ``TSS_CVPR2016`` folder (subsets FG3DCar, JODS, PASCAL) or one subset folder.
Each pair folder is one :class:`~corrbench.api.Pair` (the kit's unit), in sorted order:
``src`` = image1, ``trg`` = image2, both ground-truth flows as ABSOLUTE coordinates in float64
(``flow_src_to_trg[y, x] = (x + u, y + v)``, NaN where the .flo holds 1e10; float64 so the kit's
displacements are recovered bit for bit), both masks as bool, and ``meta`` with the subset, the
pair folder, ``flip`` (flip_gt.txt) and the original file names (pair.txt).

Masks come in two encodings in the real files: 8-bit grey {0, 255} (FG3DCar, PASCAL) and palette
images with indices {0, 1} (JODS); foreground is a nonzero grey level or palette index.
Every pair folder must be complete: a missing or unreadable file raises an error naming it.
The pair folders found are compared with the card's ``pairs_per_subset`` (400 in all): more is an
error; fewer is a warning recorded in :meth:`TSSDataset.provenance` (``subset=True`` accepts it
quietly).  It is not an error, unlike the other loaders' short lists, because the kit workflow
(``corrbench evaluate``/``run`` on a subset of the real pairs) has no way yet to say ``subset``.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from corrbench.api import Dataset, Pair
from corrbench.data.base import open_image
from corrbench.data.checks import AnnotationError
from corrbench.errors import DatasetNotFound
from corrbench.tss.flo import FloError, read_flo, valid_flow_mask

REQUIRED_FILES = ("image1.png", "image2.png", "flow1.flo", "flow2.flo", "mask1.png", "mask2.png",
                  "flip_gt.txt", "pair.txt")


@dataclass(frozen=True)
class PairFolder:
    subset: str
    path: Path

    @property
    def pair_id(self) -> str:
        return f"{self.subset}/{self.path.name}"


def _card():
    from corrbench.data.cards import load_card

    return load_card("tss")


def find_pair_folders(root: str | os.PathLike[str], subsets: tuple[str, ...]) -> list[PairFolder]:
    """Pair folders under a TSS root or a single subset folder, subsets in card order."""
    root_path = Path(root)
    if not root_path.is_dir():
        raise DatasetNotFound(f"TSS not found at {root_path}; run `corrbench download tss`")
    if root_path.name in subsets and not any((root_path / s).is_dir() for s in subsets):
        chosen = [(root_path.name, root_path)]
    else:
        chosen = [(s, root_path / s) for s in subsets if (root_path / s).is_dir()]
        if not chosen:
            raise DatasetNotFound(
                f"TSS not found at {root_path}: no {', '.join(subsets)} folder; "
                "run `corrbench download tss` or pass the TSS_CVPR2016 folder"
            )
    folders = []
    for subset, path in chosen:
        for child in sorted(path.iterdir(), key=lambda p: p.name):
            if child.is_dir():
                folders.append(PairFolder(subset, child))
    return folders


def _read_mask(path: Path) -> np.ndarray:
    from PIL import UnidentifiedImageError

    image = open_image(path, "tss", "mask")  # refuses decompression bombs
    try:
        with image:
            image.load()
            if image.mode == "P":
                return np.asarray(image) > 0  # palette index 1 = foreground (JODS)
            return np.asarray(image.convert("L")) > 0
    except (OSError, UnidentifiedImageError, ValueError) as error:
        raise DatasetNotFound(f"corrupt TSS mask {path}: {error}") from None


def _read_image(path: Path) -> np.ndarray:
    from PIL import UnidentifiedImageError

    image = open_image(path, "tss", "image")
    try:
        with image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as error:
        raise DatasetNotFound(f"corrupt TSS image {path}: {error}") from None


def _read_flow(path: Path) -> np.ndarray:
    try:
        return read_flo(path)
    except FloError as error:
        raise DatasetNotFound(str(error)) from None


def read_flip(path: Path) -> int:
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    if text not in ("0", "1"):
        raise DatasetNotFound(f"corrupt TSS flip file {path}: expected 0 or 1, got {text[:20]!r}")
    return int(text)


def read_pair_names(path: Path) -> tuple[str, str]:
    lines = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    lines = [line for line in lines if line]
    if len(lines) < 2 or lines[0].replace(" ", "") != "Image1,Image2" or lines[1].count(",") != 1:
        raise DatasetNotFound(f"corrupt TSS pair file {path}: expected 'Image1,Image2' and one line of names")
    first, second = lines[1].split(",")
    return first.strip(), second.strip()


def absolute_flow(flow: np.ndarray) -> np.ndarray:
    """Displacements (1e10 = unknown) -> absolute float64 coordinates, NaN = unknown."""
    height, width = flow.shape[:2]
    coords = flow.astype(np.float64)
    coords[..., 0] += np.arange(width)[None, :]
    coords[..., 1] += np.arange(height)[:, None]
    coords[~valid_flow_mask(flow)] = np.nan
    return coords


class TSSDataset(Dataset):
    """The 400 TSS pairs (or those of one subset folder), one Pair per pair folder."""

    name: ClassVar[str] = "tss"
    task: ClassVar[str] = "flow"
    default_protocol: ClassVar[str] = "tss_official"

    def __init__(self, root: str | None = None, split: str = "test", subset: bool = False) -> None:
        card = _card()
        self.subset = bool(subset)
        super().__init__(root=root, split=split)
        if root is None:
            root = os.environ.get("CORRBENCH_TSS_ROOT") or str(Path("data") / "TSS_CVPR2016")
        self.root = str(root)
        self.version = card.version
        self._categories = list(card.categories)
        self.default_protocol = card.default_protocol
        self.folders = find_pair_folders(self.root, card.categories)
        for folder in self.folders:
            for name in REQUIRED_FILES:
                if not (folder.path / name).is_file():
                    raise DatasetNotFound(
                        f"TSS pair {folder.pair_id} is incomplete: {folder.path / name} is missing; "
                        "re-extract TSS_CVPR2016.zip"
                    )
        self.expected = self._expected_counts(card)
        self.short = {s: (n, self.count(s)) for s, n in self.expected.items() if self.count(s) < n}
        if self.short and not self.subset:
            found = ", ".join(f"{got} of {s}'s {n}" for s, (n, got) in self.short.items())
            warnings.warn(
                f"tss: {self.root} holds {found} pair folders (dataset card); scores are not comparable with "
                "published ones; re-extract TSS_CVPR2016.zip (or pass -d subset=true, subset=True in Python, to use part of it)",
                stacklevel=2,
            )

    def count(self, subset: str) -> int:
        return sum(folder.subset == subset for folder in self.folders)

    def _expected_counts(self, card) -> dict[str, int]:
        """Pairs per subset the root should hold: every subset, or the one subset folder given."""
        per_subset = {str(k): int(v) for k, v in (card.extra.get("pairs_per_subset") or {}).items()}
        root = Path(self.root)
        single = root.name in per_subset and not any((root / s).is_dir() for s in per_subset)
        expected = {root.name: per_subset[root.name]} if single else per_subset
        for name, count in expected.items():
            if self.count(name) > count:
                raise AnnotationError(
                    f"tss: {root} holds {self.count(name)} {name} pair folders but TSS has {count} (dataset card); "
                    "it is not the official TSS_CVPR2016 folder, re-extract TSS_CVPR2016.zip"
                )
        return expected

    def provenance(self) -> dict[str, Any]:
        info = super().provenance()
        info["n_pairs"] = len(self)
        info["expected_pairs"] = sum(self.expected.values())
        if self.subset or self.short:
            info["subset"] = True
        return info

    @property
    def categories(self) -> list[str]:
        return list(self._categories)

    @property
    def subsets(self) -> list[str]:
        """Subsets present under this root, in card order."""
        present = {f.subset for f in self.folders}
        return [s for s in self._categories if s in present]

    def __len__(self) -> int:
        return len(self.folders)

    def pair_ids(self) -> list[str]:
        return [f.pair_id for f in self.folders]

    def __getitem__(self, index: int) -> Pair:
        folder = self.folders[index]
        d = folder.path
        flow1, flow2 = _read_flow(d / "flow1.flo"), _read_flow(d / "flow2.flo")
        mask1, mask2 = _read_mask(d / "mask1.png"), _read_mask(d / "mask2.png")
        image1, image2 = _read_image(d / "image1.png"), _read_image(d / "image2.png")
        for label, image, flow, mask in (("1", image1, flow1, mask1), ("2", image2, flow2, mask2)):
            if not (image.shape[:2] == flow.shape[:2] == mask.shape):
                raise DatasetNotFound(
                    f"TSS pair {folder.pair_id}: image{label} {image.shape[:2]}, flow{label} "
                    f"{flow.shape[:2]} and mask{label} {mask.shape} differ in size"
                )
        name1, name2 = read_pair_names(d / "pair.txt")
        return Pair(
            pair_id=folder.pair_id,
            category=folder.subset,
            src_image=image1,
            trg_image=image2,
            src_mask=mask1,
            trg_mask=mask2,
            flow_src_to_trg=absolute_flow(flow1),
            flow_trg_to_src=absolute_flow(flow2),
            meta={"subset": folder.subset, "pair_dir": folder.path.name, "path": str(d),
                  "flip": read_flip(d / "flip_gt.txt"), "image1": name1, "image2": name2},
        )
