"""Published numbers beside reproduced ones: ``leaderboards/<dataset>/reported.yaml``, read and checked.

A reported number is only worth a row when a reader can find it in its paper and knows under
which convention it was measured, so every entry names its paper, table and source, its α, how
the distances were normalised and averaged, and the corrbench protocol preset that reproduces the
paper's protocol (or says ``unknown protocol``).  Values are percent, as published.  Nothing here
is computed: this module only reads and validates; :mod:`corrbench.leaderboard.reported_tables`
renders the tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from corrbench.errors import CorrbenchError, LeaderboardFileError

REPORTED_NAME = "reported.yaml"
UNKNOWN_PROTOCOL = "unknown protocol"
NORMALISATIONS = ("image", "bbox", "unknown")
#: How a paper averaged: pooled over all keypoints, per image then over all pairs, or per class then over classes.
AVERAGINGS = ("all-keypoints", "mean-over-pairs", "mean-over-classes", "unknown")
REQUIRED = ("method", "paper", "table", "source", "alpha", "normalisation", "averaging", "value", "preset")
OPTIONAL = ("secondary", "backbone", "excerpt", "split", "per_class", "notes")
#: Preset thresholds that a declared normalisation contradicts (a keypoint extent is a box, not the image).
CONTRADICTS = {"image": ("bbox", "kps_extent"), "bbox": ("image", "frame")}


@dataclass(frozen=True)
class ReportedEntry:
    """One published number (percent) and where it comes from."""

    method: str
    paper: str
    table: str
    source: str
    alpha: float
    normalisation: str
    averaging: str
    value: float
    preset: str  # the full preset name (``sfnet/pfpascal``) or UNKNOWN_PROTOCOL
    secondary: bool = False  # quoted by another paper, not the method's own
    backbone: str = ""
    excerpt: str = ""
    split: str = "test"
    per_class: dict[str, float] = field(default_factory=dict)

    @property
    def known_protocol(self) -> bool:
        return self.preset != UNKNOWN_PROTOCOL


@dataclass(frozen=True)
class ReportedBoard:
    path: Path
    benchmark: str
    entries: tuple[ReportedEntry, ...]


def reported_path(directory: str | Path, dataset: str) -> Path:
    return Path(directory) / dataset / REPORTED_NAME


def find_reported(directory: str | Path, dataset: str) -> ReportedBoard | None:
    """The dataset's reported numbers, or None when it has no ``reported.yaml``."""
    path = reported_path(directory, dataset)
    return load_reported(path, dataset) if path.is_file() else None


def load_reported(path: str | Path, dataset: str | None = None) -> ReportedBoard:
    """Read and check one ``reported.yaml``; ``dataset`` (its folder's name) must be its benchmark."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise LeaderboardFileError(f"{path}: cannot read it ({error})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise LeaderboardFileError(f"{path}: not valid YAML{where} ({getattr(error, 'problem', None) or error})") from None
    if not isinstance(data, dict):
        raise LeaderboardFileError(f"{path}: expected a mapping with 'benchmark' and 'reported'")
    extra = sorted(set(data) - {"benchmark", "reported"})
    if extra:
        raise LeaderboardFileError(f"{path}: unknown top-level key(s) {', '.join(map(str, extra))}; "
                                   "allowed: benchmark, reported")
    benchmark = data.get("benchmark")
    if not isinstance(benchmark, str) or not benchmark:
        raise LeaderboardFileError(f"{path}: 'benchmark' must name the dataset (e.g. benchmark: {dataset or 'pfpascal'})")
    if dataset is not None and benchmark != dataset:
        raise LeaderboardFileError(f"{path}: benchmark '{benchmark}' is not this folder's dataset '{dataset}'")
    entries = data.get("reported")
    if not isinstance(entries, list) or not entries:
        raise LeaderboardFileError(f"{path}: 'reported' must be a non-empty list of entries")
    classes = _card_classes(benchmark)
    parsed = tuple(_entry(path, i, raw, benchmark, classes) for i, raw in enumerate(entries))
    seen: dict[tuple[Any, ...], int] = {}
    for i, entry in enumerate(parsed):  # the same number twice is a copy-paste slip, and would show twice
        key = (entry.method, entry.paper, entry.table, entry.preset, entry.alpha, entry.averaging, entry.split,
               entry.backbone)
        if key in seen:
            raise LeaderboardFileError(f"{path}: entry {i + 1} ({entry.method}) repeats entry {seen[key] + 1} "
                                       "(same method, paper, table, preset, alpha, averaging, split, backbone)")
        seen[key] = i
    return ReportedBoard(path, benchmark, parsed)


def _card_classes(dataset: str) -> tuple[str, ...] | None:
    try:
        from corrbench.data.cards import load_card

        return tuple(load_card(dataset).categories)
    except CorrbenchError:  # a board of a dataset without a card: class names are not checked
        return None


def _entry(path: Path, index: int, raw: Any, benchmark: str, classes: tuple[str, ...] | None) -> ReportedEntry:
    name = raw.get("method") if isinstance(raw, dict) else None
    where = f"{path}: entry {index + 1}" + (f" ({name})" if isinstance(name, str) else "")

    def fail(message: str) -> LeaderboardFileError:
        return LeaderboardFileError(f"{where}: {message}")

    if not isinstance(raw, dict):
        raise fail("expected a mapping of method, paper, table, source, alpha, ... (see leaderboards/README.md)")
    unknown = sorted(set(map(str, raw)) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        from corrbench.registry import suggest

        raise fail(f"unknown field '{unknown[0]}'.{suggest(unknown[0], [*REQUIRED, *OPTIONAL])} "
                   f"Fields: {', '.join(REQUIRED)} (required), {', '.join(OPTIONAL)} (optional)")
    missing = [key for key in REQUIRED if key not in raw or raw[key] is None]
    if missing:
        raise fail(f"missing field(s) {', '.join(missing)}")
    for key in ("method", "paper", "table", "source", "preset", "backbone", "excerpt", "split"):
        if raw.get(key) is None:  # an optional text left empty (``backbone: null``) is as good as absent
            raw = {k: v for k, v in raw.items() if k != key}
        elif not (isinstance(raw[key], str) and raw[key].strip()):
            raise fail(f"'{key}' must be a non-empty text, got {raw[key]!r}")
    alpha = _number(raw["alpha"])
    if alpha is None or not 0 < alpha <= 1:
        raise fail(f"'alpha' must be a number in (0, 1] (PCK@alpha), got {raw['alpha']!r}")
    value = _percent(raw["value"])
    if value is None:
        raise fail(f"'value' must be a number in [0, 100] (percent, as published), got {raw['value']!r}")
    for key, allowed in (("normalisation", NORMALISATIONS), ("averaging", AVERAGINGS)):
        if raw[key] not in allowed:
            raise fail(f"'{key}' must be one of {', '.join(allowed)}, got {raw[key]!r}")
    secondary = raw.get("secondary", False)
    if not isinstance(secondary, bool):
        raise fail(f"'secondary' must be true or false, got {secondary!r}")
    preset = _preset(raw["preset"].strip(), benchmark, raw["normalisation"], fail)
    return ReportedEntry(
        method=raw["method"].strip(), paper=raw["paper"].strip(), table=raw["table"].strip(),
        source=raw["source"].strip(), alpha=alpha, normalisation=raw["normalisation"],
        averaging=raw["averaging"], value=value, preset=preset, secondary=secondary,
        backbone=str(raw.get("backbone", "")).strip(), excerpt=" ".join(str(raw.get("excerpt", "")).split()),
        split=str(raw.get("split", "test")).strip(), per_class=_per_class(raw.get("per_class"), classes, fail),
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _percent(value: Any) -> float | None:
    number = _number(value)
    return number if number is not None and 0 <= number <= 100 else None


def _preset(name: str, benchmark: str, normalisation: str, fail) -> str:
    """The full name of an existing preset for ``benchmark`` whose threshold fits the normalisation."""
    if name == UNKNOWN_PROTOCOL:
        return name
    from corrbench.eval.protocols import get_protocol

    try:
        protocol = get_protocol(name, dataset=benchmark)
    except CorrbenchError as error:
        raise fail(f"preset: {error} Or write preset: \"{UNKNOWN_PROTOCOL}\"") from None
    if protocol.threshold in CONTRADICTS.get(normalisation, ()):
        raise fail(f"normalisation '{normalisation}' contradicts preset '{protocol.name}' (its threshold is "
                   f"'{protocol.threshold}'); fix one of them, or write preset: \"{UNKNOWN_PROTOCOL}\"")
    return protocol.name


def _per_class(raw: Any, classes: tuple[str, ...] | None, fail) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw:
        raise fail("'per_class' must be a mapping of class name to percent (e.g. per_class: {aeroplane: 83.1})")
    out: dict[str, float] = {}
    for name, value in raw.items():
        if classes is not None and str(name) not in classes:
            from corrbench.registry import suggest

            raise fail(f"per_class: unknown class '{name}'.{suggest(str(name), list(classes))} "
                       f"Classes: {', '.join(classes)}")
        number = _percent(value)
        if number is None:
            raise fail(f"per_class '{name}' must be a number in [0, 100] (percent), got {value!r}")
        out[str(name)] = number
    return out


def reported_boards(directory: str | Path) -> tuple[list[ReportedBoard], list[str]]:
    """Every ``<dataset>/reported.yaml`` under ``directory`` that reads, and one problem line per one that does not."""
    boards, problems = [], []
    for path in sorted(Path(directory).glob(f"*/{REPORTED_NAME}")):
        try:
            boards.append(load_reported(path, path.parent.name))
        except LeaderboardFileError as error:
            problems.append(str(error))
    return boards, problems
