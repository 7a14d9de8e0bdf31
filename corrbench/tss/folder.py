"""Prediction folders in the TSS kit layout: ``<subset>/<pair>/{flow1,flow2}.flo, mask{1,2}.png``.

``flow1`` maps image1 -> image2 and ``flow2`` image2 -> image1 (displacements, 1e10 = unknown);
masks are 8-bit PNGs with foreground 255.  Reading mirrors the kit: an unreadable or missing file
is *absent* (the kit then scores 0 or estimates masks), but here it is also reported, so that
nobody mistakes a typo for a bad method.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from corrbench.errors import CorrbenchError
from corrbench.tss.flo import FloError, read_flo, write_flo
from corrbench.tss.kit import Kit, KitPrediction

FILES = ("flow1.flo", "flow2.flo", "mask1.png", "mask2.png")


def read_kit_mask(path: str | os.PathLike[str], kit: Kit = "cpp") -> np.ndarray:
    """The 8-bit levels a kit flavour sees in a mask PNG.

    C++ (``imread(..., IMREAD_GRAYSCALE)``): palette and colour images become grey levels.
    MATLAB (``imread``): a palette image gives its *indices* (so a {0,1} palette mask is nearly
    black after ``im2double``, exactly the kit's pitfall); 1-bit images give 0/255 levels.
    Colour images are converted to grey for MATLAB too (the MATLAB tool would fail on them).
    """
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        if image.mode == "P" and kit == "matlab":
            return np.asarray(image, dtype=np.uint8)
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            levels = np.asarray(image, dtype=np.int64)
            return (levels >> 8).clip(0, 255).astype(np.uint8)
        return np.asarray(image.convert("L"), dtype=np.uint8)


@dataclass
class FolderReport:
    """What was absent or unreadable when reading a predictions folder."""

    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def read_prediction_folder(folder: str | os.PathLike[str], kit: Kit = "cpp",
                           report: FolderReport | None = None) -> KitPrediction:
    """Read one pair folder; absent or broken files become ``None`` and go to ``report``."""
    folder = Path(folder)
    values: dict[str, np.ndarray | None] = {}
    for name in FILES:
        path = folder / name
        key = name.split(".")[0]
        values[key] = None
        if not path.is_file():
            if report is not None:
                report.missing.append(str(path))
            continue
        try:
            values[key] = read_flo(path) if name.endswith(".flo") else read_kit_mask(path, kit)
        except (FloError, OSError, ValueError) as error:
            if report is not None:
                report.unreadable.append(f"{path}: {error}")
    return KitPrediction(**values)


def write_prediction_folder(folder: str | os.PathLike[str], prediction: KitPrediction) -> None:
    """Write what ``prediction`` holds (flows as .flo, masks as 0/255 8-bit PNG) atomically."""
    from PIL import Image

    from corrbench.io import atomic_write

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for index, flow in ((1, prediction.flow1), (2, prediction.flow2)):
        if flow is not None:
            write_flo(folder / f"flow{index}.flo", flow)
    for index, mask in ((1, prediction.mask1), (2, prediction.mask2)):
        if mask is not None:
            levels = np.asarray(mask)
            if levels.dtype == bool:
                levels = levels.astype(np.uint8) * 255
            with atomic_write(folder / f"mask{index}.png", "wb") as handle:
                Image.fromarray(levels.astype(np.uint8), mode="L").save(handle, format="PNG")


def find_subset_folder(predictions: Path, subset: str, single_subset_root: bool) -> Path | None:
    """Where a subset's pair folders live: ``DIR/<subset>``, or ``DIR`` itself when the GT root
    is a single subset folder and DIR holds pair folders directly (like the kit's resultsDir)."""
    candidate = predictions / subset
    if candidate.is_dir():
        return candidate
    if single_subset_root:
        return predictions
    return None


def check_predictions_dir(path: str | os.PathLike[str]) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        raise CorrbenchError(f"predictions folder not found: {folder}")
    return folder
