"""What every benchmark loader shares: root lookup, strict mode, skip reports, file readers.

Loaders read the official download layouts, so the failure modes are the same everywhere: a
root that was never downloaded, a missing or truncated image, an annotation that does not parse.
Each becomes a one-line :class:`~corrbench.errors.DatasetNotFound` naming the file and the fix.
A loader never drops a pair silently: in strict mode (the default) the first problem is an
error; with ``strict=False`` the pair is skipped and counted in :meth:`CardDataset.skip_report`.
Problems with a whole list, and with a pair found only when it is loaded, always stop (see
:mod:`corrbench.data.checks`).  The number of pairs listed is compared with the card's
``expected_pairs``: a short list is an error unless the loader was asked for ``subset=True``.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar, Iterable

import numpy as np

from corrbench.api import Dataset
from corrbench.data.cards import DatasetCard, load_card
from corrbench.data.checks import AnnotationError, BadRecord, count_problem, number, read_text, redownload
from corrbench.errors import DatasetNotFound

DATA_ENV = "CORRBENCH_DATA"


def data_home() -> Path:
    """Folder holding one sub-folder per dataset: ``$CORRBENCH_DATA`` or the user cache."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "corrbench"


def dataset_root(name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The root of dataset ``name``: ``root`` if given, else ``data_home()/name``."""
    return Path(root).expanduser() if root else data_home() / name


def _fix(name: str) -> str:
    return f"run `corrbench download {name}`"


class CardField:
    """A class attribute read lazily from the dataset card (no file is read at import)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __get__(self, obj: Any, owner: type) -> Any:
        return getattr(load_card(owner.name), self.key)


class CardDataset(Dataset):
    """Base of the card-described loaders (PF-PASCAL, PF-WILLOW, SPair-71k, Internet).

    Subclasses set ``name`` (the card and entry-point name) and ``folder`` (the top folder of
    the official archive, e.g. ``SPair-71k``), implement :meth:`_index` returning one record per
    pair, and :meth:`_load` turning a record into a :class:`~corrbench.api.Pair`.  ``root`` may
    point at the folder that contains ``folder`` or at ``folder`` itself.
    """

    version = CardField("version")  # type: ignore[assignment]
    splits = CardField("splits")  # type: ignore[assignment]
    default_protocol = CardField("default_protocol")  # type: ignore[assignment]
    folder: ClassVar[str] = ""
    #: Names (relative to the official folder) whose presence identifies it.
    markers: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, root: str | None = None, split: str = "test", strict: bool = True, subset: bool = False
    ) -> None:
        super().__init__(root=root, split=split)
        self.strict = bool(strict)
        self.subset = bool(subset)
        self.skipped: Counter[str] = Counter()
        #: Pairs the list holds, skipped ones included (what the card's count is compared with).
        self.listed = 0
        self.pair_list_path: Path | None = None
        self.base = self._find_base(dataset_root(self.name, root))
        self.records: list[dict[str, Any]] = self._index()
        self._check_count()
        if self.skipped:
            warnings.warn(self.skip_message(), stacklevel=2)

    # --- card facts ---------------------------------------------------------------
    @property
    def card(self) -> DatasetCard:
        return load_card(self.name)

    @property
    def categories(self) -> list[str]:
        return list(self.card.categories)

    # --- root lookup ------------------------------------------------------------------
    def _find_base(self, root: Path) -> Path:
        label = self.card.extra.get("title", self.name)
        for candidate in (root / self.folder, root):
            if candidate.is_dir() and all((candidate / marker).exists() for marker in self.markers):
                return candidate
        raise DatasetNotFound(f"{label} not found at {root}; {_fix(self.name)} (or pass --root)")

    # --- strictness -------------------------------------------------------------------
    def problem(self, reason: str, message: str) -> None:
        """Raise ``message`` in strict mode; otherwise count the skipped pair under ``reason``."""
        if self.strict:
            raise DatasetNotFound(message)
        self.skipped[reason] += 1

    def require_file(self, path: Path, what: str) -> bool:
        """True if ``path`` is a file; otherwise a strict error (or a counted skip)."""
        if path.is_file():
            return True
        self.problem(f"missing {what}", f"{self.name}: {what} {path} is missing; {_fix(self.name)}")
        return False

    def bad_row(self, bad: BadRecord) -> None:
        """A pair-list row that cannot be used: strict error, or a skip counted under its reason."""
        if self.strict:
            raise AnnotationError(bad.message)
        self.skipped[bad.reason] += 1

    # --- expected size ------------------------------------------------------------------
    def count_variant(self) -> str | None:
        """The card key the counts are listed under when one benchmark has several lists (e.g. a layout)."""
        return None

    def expected_pairs(self) -> int | None:
        """The card's pair count for this split (None where no count is known)."""
        counts = self.card.extra.get("expected_pairs") or {}
        variant = self.count_variant()
        if variant is not None:
            counts = counts.get(variant) or {}
        value = counts.get(self.split)
        return int(value) if value is not None else None

    def count_label(self) -> str:
        return f"{self.card.extra.get('title', self.name)} {self.split}"

    def _check_count(self) -> None:
        if self.pair_list_path is None:
            return
        error = count_problem(
            self.name, self.listed, self.expected_pairs(), self.pair_list_path, self.count_label(), self.subset
        )
        if error is not None:
            raise error

    def skip_report(self) -> dict[str, int]:
        return dict(self.skipped)

    def skip_message(self) -> str:
        total = sum(self.skipped.values())
        parts = ", ".join(f"{count} {reason}" for reason, count in sorted(self.skipped.items()))
        return f"{self.name}/{self.split}: skipped {total} pair(s) ({parts}); strict=True makes this an error"

    def provenance(self) -> dict[str, Any]:
        info = super().provenance()
        info["n_pairs"] = len(self)
        if self.expected_pairs() is not None:
            info["expected_pairs"] = self.expected_pairs()
        if self.subset:
            info["subset"] = True
        if self.skipped:
            info["skipped"] = self.skip_report()
        return info

    # --- sequence protocol ---------------------------------------------------------
    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int):
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        return self._load(self.records[index])

    def pair_ids(self) -> list[str]:
        return [str(record["pair_id"]) for record in self.records]

    def _index(self) -> list[dict[str, Any]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _load(self, record: dict[str, Any]):  # pragma: no cover - abstract
        raise NotImplementedError


# --- readers: one-line errors naming the file --------------------------------------------
def _corrupt(dataset: str, what: str, path: Path, error: Exception) -> DatasetNotFound:
    detail = str(error).splitlines()[0] if str(error) else type(error).__name__
    return AnnotationError(f"{dataset}: cannot read {what} {path} ({detail}); the file is corrupt, {redownload(dataset)}")


def _missing(dataset: str, what: str, path: Path) -> DatasetNotFound:
    return DatasetNotFound(f"{dataset}: {what} {path} is missing; {_fix(dataset)}")


def open_image(path: Path, dataset: str, what: str = "image"):
    """``PIL.Image.open`` that refuses a header claiming more pixels than PIL's safety limit.

    PIL raises ``DecompressionBombError`` (not an ``OSError``) past twice its limit and only warns
    below that; no benchmark image comes near either, so both are a corrupt file here.
    """
    from PIL import Image

    if not path.is_file():
        raise _missing(dataset, what, path)
    try:
        image = Image.open(path)
    except Image.DecompressionBombError as error:
        pixels = re.search(r"\((\d+) pixels\)", str(error))
        raise _too_large(dataset, what, path, f"{pixels.group(1)} pixels" if pixels else "too many pixels") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise _corrupt(dataset, what, path, error) from error
    limit = Image.MAX_IMAGE_PIXELS
    if limit and image.width * image.height > limit:
        image.close()
        raise _too_large(dataset, what, path, f"{image.width}x{image.height} pixels")
    return image


def _too_large(dataset: str, what: str, path: Path, claim: str) -> AnnotationError:
    return AnnotationError(
        f"{dataset}: {what} {path} claims {claim}, more than PIL will decode (a corrupt header or a "
        f"decompression bomb); {redownload(dataset)}"
    )


#: Decoded images of this process, by file identity: SPair-71k's 12,234 test pairs share ~1,800 images.
_DECODED = None


def read_image(path: Path, dataset: str) -> np.ndarray:
    """RGB uint8 ``(H, W, 3)``; truncated or unreadable files are errors, never padded.

    Each distinct file (path, size, mtime) is decoded once per process (a bounded LRU); callers get
    their own copy, so nothing one pair does to its image reaches another.
    """
    global _DECODED
    from corrbench.cache import FeatureCache

    if _DECODED is None:
        _DECODED = FeatureCache(max_bytes=int(os.environ.get("CORRBENCH_IMAGE_CACHE_MB", "512")) * 2**20)
    try:
        stat = os.stat(path)
        key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    except OSError:
        return _decode_image(path, dataset)  # missing: let the decoder say so, with the loader's words
    return _DECODED.get_or_compute(key, lambda: _decode_image(path, dataset)).copy()


def _decode_image(path: Path, dataset: str) -> np.ndarray:
    image = open_image(path, dataset)
    try:
        with image:
            image.load()
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as error:
        raise _corrupt(dataset, "image", path, error) from error


def read_mask(path: Path, dataset: str) -> np.ndarray:
    """Boolean foreground mask: any non-zero value (palette *index*, grey level or channel)."""
    image = open_image(path, dataset, "mask")
    try:
        with image:
            image.load()
            if image.mode in ("RGB", "RGBA", "LA"):
                channels = np.asarray(image.convert("RGB"))
                return channels.any(axis=2)
            return np.asarray(image) > 0  # '1', 'L', 'P' (indices, not colours), 'I', 'I;16'
    except (OSError, ValueError, SyntaxError) as error:
        raise _corrupt(dataset, "mask", path, error) from error


def read_json(path: Path, dataset: str) -> Any:
    if not path.is_file():
        raise _missing(dataset, "annotation", path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _corrupt(dataset, "annotation", path, error) from error


def read_csv(path: Path, dataset: str):
    """The pair list as a table; decoded here first so a bad byte is reported by line."""
    import io

    import pandas as pd

    if not path.is_file():
        raise _missing(dataset, "pair list", path)
    text = read_text(path, dataset, "pair list")
    try:
        # keep_default_na=False: 'n/a' or an empty cell stays text, so errors quote the file as it is
        return pd.read_csv(io.StringIO(text), keep_default_na=False)
    except (OSError, ValueError) as error:
        raise _corrupt(dataset, "pair list", path, error) from error


def csv_line(row: int) -> int:
    """File line of table row ``row`` (line 1 is the header)."""
    return row + 2


def parse_packed(cell: Any, path: Path, row: int, dataset: str, column: str) -> np.ndarray:
    """A ``;``-packed float cell of the PF csvs (``XA``…``YB``); a bad value is a :class:`BadRecord`."""
    values = []
    for text in str(cell).split(";"):
        value = number(text)
        if value is None:
            raise BadRecord(
                "bad keypoint",
                f"{dataset}: {path} line {csv_line(row)} column {column}: {text.strip()[:20]!r} is not a finite "
                f"coordinate; the file is corrupt, {redownload(dataset)}",
            )
        values.append(value)
    return np.array(values, dtype=np.float64)


def check_size(image: np.ndarray, expected_wh: Iterable[int], path: Path, dataset: str) -> None:
    """An image whose size disagrees with its annotation is the wrong file."""
    width, height = (int(v) for v in list(expected_wh)[:2])
    if image.shape[:2] != (height, width):
        raise AnnotationError(
            f"{dataset}: image {path} is {image.shape[1]}x{image.shape[0]} but its annotation says "
            f"{width}x{height}; the file is wrong or corrupt, {redownload(dataset)}"
        )


def first_existing(folder: Path, names: Iterable[str]) -> Path | None:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    return None
