"""What a loader checks in the files it reads, against the benchmark's own facts.

An annotation can be cut, re-encoded or swapped for another file and still parse; the numbers
computed from it are then wrong with no sign.  The helpers here turn each such problem into one
line that names the file and the line or key, says what is wrong and what to do.

Two kinds of failure, decided by where the problem is found:

* :class:`BadRecord` — one row of a pair list is unusable (bad class id, text in a keypoint cell).
  The loader raises it in strict mode or skips the pair and counts it (``strict=False``).
* :class:`AnnotationError` — the whole list is wrong (not UTF-8, short, header only), or a pair
  already counted in ``len(dataset)`` turns out bad when it is loaded (its JSON, its image).
  Dropping either silently would change the denominator of every score, so these always stop.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from corrbench.errors import DatasetNotFound

#: Slack (pixels) around an image for keypoints and box corners.  Coordinates are 0-based pixel
#: centres, so the image spans [0, W-1]; the official PF and SPair files are MATLAB / VOC exports
#: whose 1-based values reach W (SPair boxes end at x2 = W in the real files).  One pixel on each
#: side admits both conventions; an image of the wrong size misses by far more than that.
MARGIN = 1.0


class AnnotationError(DatasetNotFound):
    """An annotation or image contradicts the benchmark: bad value, wrong size, short list."""


class BadRecord(Exception):
    """One pair-list row is unusable; the loader makes it a strict error or a counted skip."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def redownload(dataset: str) -> str:
    """What to do about a damaged file: ``--force`` because a plain download keeps what is there."""
    return f"download it again: `corrbench download {dataset} --force`"


def read_text(path: Path, dataset: str, what: str) -> str:
    """The file as UTF-8 text; a byte that is not UTF-8 is an error naming its line."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise AnnotationError(
            f"{dataset}: {what} {path} line {line} is not UTF-8 text (byte 0x{raw[error.start]:02x}); "
            f"the file is corrupt, {redownload(dataset)}"
        ) from None


def int_cell(value: Any) -> int | None:
    """An integer cell (``3`` or ``3.0``), or None for anything else (``abc``, empty, ``2.5``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if math.isfinite(number) and number.is_integer() else None


def number(value: Any) -> float | None:
    """A finite number (int, float or numeric text), or None; booleans and None are not numbers."""
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(value) if isinstance(value, (int, float, np.number)) else float(str(value).strip())
    except ValueError:
        return None
    return result if math.isfinite(result) else None


def first_outside(points: np.ndarray, width: int, height: int) -> int | None:
    """Index of the first (x, y) outside the image widened by :data:`MARGIN`, else None."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    bad = (
        (points[:, 0] < -MARGIN) | (points[:, 0] > width - 1 + MARGIN)
        | (points[:, 1] < -MARGIN) | (points[:, 1] > height - 1 + MARGIN)
    )
    hits = np.flatnonzero(bad)
    return int(hits[0]) if len(hits) else None


def check_points_inside(
    points: np.ndarray, image_hw: tuple[int, int], where: str, image: Path, dataset: str
) -> None:
    """Keypoints must lie on their image: a 1x1 or swapped image changes every threshold."""
    height, width = image_hw
    index = first_outside(points, width, height)
    if index is not None:
        x, y = np.asarray(points, dtype=np.float64).reshape(-1, 2)[index]
        raise AnnotationError(
            f"{dataset}: keypoint {index + 1} ({x:.1f}, {y:.1f}) of {where} lies outside image {image} "
            f"({width}x{height}); the image is the wrong file or corrupt, {redownload(dataset)}"
        )


def box_problem(box: Iterable[float], width: int | None = None, height: int | None = None) -> str | None:
    """Why ``[x1, y1, x2, y2]`` is not a usable box (non-finite, empty, off the image), or None."""
    values = [number(v) for v in box]
    if len(values) != 4 or any(v is None for v in values):
        return "is not 4 finite numbers"
    x1, y1, x2, y2 = values  # type: ignore[misc]
    if not (x2 > x1 and y2 > y1):
        return f"[{x1:g}, {y1:g}, {x2:g}, {y2:g}] has zero or negative area (a PCK threshold of 0)"
    if width is not None and height is not None and first_outside(np.array([[x1, y1], [x2, y2]]), width, height) is not None:
        return f"[{x1:g}, {y1:g}, {x2:g}, {y2:g}] lies outside the {width}x{height} image"
    return None


def count_problem(
    dataset: str, listed: int, expected: int | None, source: Path, label: str, subset: bool
) -> AnnotationError | None:
    """A list with fewer pairs than the benchmark is cut short; more is not the official list.

    ``subset=True`` (an explicit loader option) accepts fewer pairs; nothing accepts more.
    """
    if expected is None or listed == expected or (subset and listed < expected):
        return None
    if listed > expected:
        return AnnotationError(
            f"{dataset}: pair list {source} lists {listed} pairs but {label} has {expected} (dataset card); "
            f"it is not the official list, {redownload(dataset)}"
        )
    found = "no pairs (header only)" if listed == 0 else f"only {listed} pairs"
    return AnnotationError(
        f"{dataset}: pair list {source} lists {found} but {label} has {expected} (dataset card); the file "
        f"is cut short, {redownload(dataset)} (or pass -d subset=true, subset=True in Python, to evaluate on part of it, not comparable)"
    )
