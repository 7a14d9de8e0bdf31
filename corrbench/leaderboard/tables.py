"""Leaderboards: a long-format CSV per dataset as the source of truth, Markdown tables generated from it.

Layout: ``<dir>/<dataset>/results.csv`` and one ``<split>__<protocol>__<metric>.md`` per
(split, protocol, metric@alpha): rows = runs (method with its options and seed, weights),
columns = categories + mean.  Rows of different protocols never share a table.

A row is keyed by the whole run identity (:data:`RUN_KEY`): a run with other options, another seed,
other weights or another method/dataset version gets its own row and never replaces another one.
Every update is read-merge-write under a lock file, each file written atomically, and the tables are
always regenerated from the merged CSV, so concurrent runs neither lose rows nor desynchronise tables.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any, Iterable, Iterator

import pandas as pd

from corrbench.io import atomic_write_text
from corrbench.metrics.names import MetricId, parse_key

COLUMNS = [
    "method", "method_version", "weights", "options", "seed", "dataset", "dataset_options", "dataset_version", "split",
    "protocol", "protocol_version", "metric", "alpha", "category", "value", "ci_low", "ci_high", "n_pairs", "n_kps",
    "provenance",
]
#: One run whatever the code versions: what a listed (re-runnable) run is matched by.
IDENTITY_KEY = ["method", "weights", "options", "seed", "dataset", "dataset_options", "split", "protocol"]
#: The rows of one run: replaced only by a run with all of these equal.
RUN_KEY = IDENTITY_KEY + ["method_version", "dataset_version", "protocol_version"]
MEAN = "mean"
ALL_PAIRS = "all-pairs"
NO_OPTIONS = "{}"
LOCK_NAME = ".corrbench.lock"
LOCK_TIMEOUT_S = 600


@contextlib.contextmanager
def leaderboard_lock(directory: str | Path) -> Iterator[None]:
    """Exclusive lock of a leaderboard folder (a lock file beside the datasets' folders)."""
    from filelock import FileLock, Timeout

    from corrbench.errors import CorrbenchError

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / LOCK_NAME))
    try:
        with lock.acquire(timeout=LOCK_TIMEOUT_S):
            yield
    except Timeout:
        raise CorrbenchError(f"leaderboard {folder} is locked by another process for over {LOCK_TIMEOUT_S} s "
                             f"({folder / LOCK_NAME}); wait for it to finish, or remove the file if no "
                             "corrbench process is running") from None


def run_label(method: str, options: str = NO_OPTIONS, seed: int = 0, dataset_options: str = NO_OPTIONS) -> str:
    """Table label of a run: the method, plus its options, seed and dataset options when not the defaults."""
    from corrbench.eval.identity import options_label

    extras = [options_label(options)] if options not in ("", NO_OPTIONS) else []
    if int(seed) != 0:
        extras.append(f"seed={int(seed)}")
    if dataset_options not in ("", NO_OPTIONS):
        extras.append(f"data: {options_label(dataset_options)}")
    return f"{method} [{', '.join(extras)}]" if extras else method


def run_options(identity: dict[str, Any]) -> dict[str, Any]:
    """The ``options`` cell of a run: the method's options, plus ``precision`` when it is not fp32
    (a bf16 run is another run, and its label says so)."""
    options = dict(identity.get("options", {}) or {})
    if identity.get("precision", "fp32") != "fp32":
        options["precision"] = identity["precision"]
    return options


def rows_from_result(result: Any) -> list[dict[str, Any]]:
    """Long-format rows of an evaluation result (per class, mean over classes, all pairs, buckets)."""
    from corrbench.eval.identity import options_text

    prov = result.provenance
    identity = getattr(result, "identity", None) or {}
    base = {
        "method": result.method,
        "method_version": str(prov.get("method_version", "")),
        "weights": str(prov.get("weights", "none")),
        "options": options_text(run_options(identity)),
        "seed": int(identity.get("seed", prov.get("seed", 0)) or 0),
        "dataset": result.dataset,
        "dataset_options": options_text(identity.get("dataset_options", {})),
        "dataset_version": str(prov.get("dataset_version", "")),
        "split": result.split,
        "protocol": result.protocol.name,
        "protocol_version": str(getattr(result.protocol, "version", "1")),
        "provenance": f"corrbench {prov.get('corrbench_version')}; torch {prov.get('torch_version')}; "
                      f"seed {prov.get('seed')}",
    }
    rows: list[dict[str, Any]] = []

    intervals = getattr(result, "summary_ci", None) or {}
    class_intervals = getattr(result, "class_ci", None) or {}

    def add(metric: MetricId, category: str, value: float, n_pairs: int, n_kps: int | None,
            interval: list[float] | None = None) -> None:
        low, high = (round(float(v), 6) for v in interval) if interval else (None, None)
        rows.append({**base, "metric": metric.name, "alpha": metric.alpha, "category": category,
                     "value": round(float(value), 6), "ci_low": low, "ci_high": high,
                     "n_pairs": n_pairs, "n_kps": n_kps})

    n_pairs_total = int(result.summary.get("n_pairs", 0))
    n_kps_total = result.summary.get("n_kps")
    for category, metrics in result.per_class.items():
        for name, value in metrics.items():
            metric = parse_key(name)
            if metric.is_score:
                add(metric, category, value, int(metrics.get("n_pairs", 0)), metrics.get("n_kps"),
                    class_intervals.get(category, {}).get(name))
    for name, value in result.summary.items():
        metric = parse_key(name)
        if metric.is_score:
            column = ALL_PAIRS if metric.averaging == "all_pairs" else MEAN
            add(metric, column, value, n_pairs_total, n_kps_total, intervals.get(name))
    protocol_alpha = getattr(result.protocol, "bucket_alpha", None)
    for key, groups in (result.buckets or {}).items():
        for bucket, value in groups.items():
            add(MetricId("pck", protocol_alpha), f"{key}={bucket}", value, 0, None)
    return rows


def csv_path(directory: str | Path, dataset: str) -> Path:
    return Path(directory) / dataset / "results.csv"


def read_rows(directory: str | Path, dataset: str) -> pd.DataFrame:
    path = csv_path(directory, dataset)
    if not path.is_file():
        return pd.DataFrame(columns=COLUMNS)
    return normalise_rows(pd.read_csv(path, dtype={"method_version": str, "dataset_version": str,
                                                   "weights": str, "options": str, "dataset_options": str,
                                                   "protocol_version": str}))


def normalise_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in the current column layout (older CSVs lack ``options`` and ``seed``)."""
    frame = frame.copy()
    for column in ("method_version", "dataset_version"):
        if column not in frame:
            frame[column] = ""
    if "protocol_version" not in frame:  # written before presets were versioned: all were version 1
        frame["protocol_version"] = "1"
    frame["protocol_version"] = frame["protocol_version"].astype(str)
    if "options" not in frame:  # a CSV written before runs were keyed by options and seed
        frame["options"] = NO_OPTIONS
    if "seed" not in frame:
        provenance = frame["provenance"] if "provenance" in frame else pd.Series("", index=frame.index)
        frame["seed"] = provenance.astype(str).str.extract(r"seed (-?\d+)")[0].fillna("0")
    if "dataset_options" not in frame:
        frame["dataset_options"] = NO_OPTIONS
    for column in ("options", "dataset_options"):
        frame[column] = frame[column].fillna(NO_OPTIONS).replace("", NO_OPTIONS)
    frame["seed"] = frame["seed"].astype(int)
    for column in ("ci_low", "ci_high"):
        if column not in frame:
            frame[column] = float("nan")
    return frame[[c for c in COLUMNS if c in frame]]


def merge_rows(existing: pd.DataFrame, new_rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Replace every row of the same run (all of :data:`RUN_KEY` equal) by ``new_rows``."""
    new = pd.DataFrame(list(new_rows), columns=COLUMNS)
    if existing.empty:
        merged = new
    elif new.empty:
        merged = existing
    else:
        keys = new[RUN_KEY].drop_duplicates()
        marker = existing.merge(keys, on=RUN_KEY, how="left", indicator=True)["_merge"] == "both"
        merged = pd.concat([existing[~marker.to_numpy()], new], ignore_index=True)
    return merged.sort_values(["split", "protocol", "metric", "alpha", "method", "weights", "options", "seed",
                               "method_version", "category"], kind="stable").reset_index(drop=True)


def _format_percent(value: float, span: float | None = None) -> str:
    """``45.1``, or ``45.1 ± 1.8`` (half the 95 % interval's width) where an interval is known."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{100 * value:.1f}"
    if span is not None and not (isinstance(span, float) and math.isnan(span)):
        text += f" ± {100 * span / 2:.1f}"
    return text


VERSION_COLUMNS = ["method_version", "dataset_version", "protocol_version"]
_RUN_COLUMNS = ["method", "weights", "options", "seed", *VERSION_COLUMNS, "dataset_options"]


def table_runs(group: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """(label, weights, rows) per run in ``group``, sorted; versions of one run say which is which."""
    runs = group.sort_values(_RUN_COLUMNS)[_RUN_COLUMNS].drop_duplicates()
    run_labels = [run_label(m, o, sd, do) for m, _, o, sd, _, _, _, do in runs.itertuples(index=False)]
    seen = list(zip(run_labels, runs["weights"]))
    clashing = {cell for cell in seen if seen.count(cell) > 1}
    out = []
    for run_name, run in zip(run_labels, runs.itertuples(index=False)):
        method, weights, options, seed, version, data_version, protocol_version, data_options = run
        rows = group[(group["method"] == method) & (group["weights"] == weights) & (group["options"] == options)
                     & (group["dataset_options"] == data_options)
                     & (group["seed"] == seed) & (group["method_version"] == version)
                     & (group["dataset_version"] == data_version)
                     & (group["protocol_version"] == protocol_version)]
        if (run_name, weights) in clashing:  # versions of one run: say which is which
            same_cell = [r for label, r in zip(run_labels, runs.itertuples(index=False))
                         if (label, r[1]) == (run_name, weights)]
            parts = [f"{prefix}{value}" for i, (prefix, value) in enumerate(
                (("v", version), ("data v", data_version), ("protocol v", protocol_version)))
                if len({r[4 + i] for r in same_cell}) > 1]
            run_name = f"{run_name} ({', '.join(parts)})"
        out.append((run_name, weights, rows))
    return out


def cell(rows: pd.DataFrame, category: str) -> str:
    """The value of ``category`` in one run's rows, in percent with its ± where an interval is known."""
    found = rows[rows["category"] == category]
    if found.empty:
        return _format_percent(float("nan"))
    value, low, high = (pd.to_numeric(found[c], errors="coerce").iloc[0] for c in ("value", "ci_low", "ci_high"))
    return _format_percent(float(value), float(high - low))


def render_tables(frame: pd.DataFrame, categories: list[str] | None = None) -> dict[str, str]:
    """Markdown text per table file name; values shown in percent with one decimal."""
    tables: dict[str, str] = {}
    if frame.empty:
        return tables
    frame = normalise_rows(frame)
    for (split, protocol, metric, alpha), group in frame.groupby(
        ["split", "protocol", "metric", "alpha"], dropna=False, sort=True
    ):
        label = metric if pd.isna(alpha) else f"{metric}@{alpha:g}"
        present = list(dict.fromkeys(group["category"]))
        classes = [c for c in (categories or []) if c in present]
        classes += sorted(c for c in present if c not in classes and c not in (MEAN, ALL_PAIRS))
        columns = classes + [c for c in (MEAN, ALL_PAIRS) if c in present]
        lines = [
            f"# {group['dataset'].iloc[0]} — {label} ({split}, protocol `{protocol}`)",
            "",
            "Generated from `results.csv` by `corrbench leaderboard`; do not edit. Values in percent; "
            "± is half the width of the 95 % bootstrap interval (pairs resampled: a class's own pairs "
            "for a class, by class for the mean, all pairs for all-pairs).",
            "",
            "| method | weights | " + " | ".join(columns) + " |",
            "|---|---|" + "---:|" * len(columns),
        ]
        for run_name, weights, rows in table_runs(group):
            lines.append(f"| {run_name} | {weights} | " + " | ".join(cell(rows, c) for c in columns) + " |")
        tables[table_name(split, protocol, label)] = "\n".join(lines) + "\n"
    return tables


def table_name(split: str, protocol: str, label: str) -> str:
    """``<split>__<protocol>__<label>.md`` (a ``/`` in a preset name becomes ``_``)."""
    return f"{split}__{str(protocol).replace('/', '_')}__{label}.md"


def card_categories(dataset: str) -> list[str] | None:
    """The classes of ``dataset`` in its card's order (None without a card: tables go alphabetical)."""
    from corrbench.errors import CorrbenchError

    try:
        from corrbench.data.cards import load_card

        return list(load_card(dataset).categories)
    except CorrbenchError:
        return None


def board_folders(directory: str | Path) -> list[Path]:
    """Every dataset folder of a leaderboard: one with runs (``results.csv``) or published numbers."""
    from corrbench.leaderboard.reported import REPORTED_NAME

    root = Path(directory)
    return sorted({p.parent for p in (*root.glob("*/results.csv"), *root.glob(f"*/{REPORTED_NAME}"))})


def reported_tables(directory: str | Path, dataset: str, frame: pd.DataFrame) -> dict[str, str]:
    """Tables of ``<dataset>/reported.yaml`` beside the runs of ``frame`` ({} without one).

    Classes come from the dataset card whoever writes, so these tables are the same text every time.
    """
    from corrbench.leaderboard.reported import find_reported
    from corrbench.leaderboard.reported_tables import render_reported

    board = find_reported(directory, dataset)
    return render_reported(board, frame, card_categories(dataset)) if board else {}


def write_leaderboard(directory: str | Path, dataset: str, frame: pd.DataFrame,
                      categories: list[str] | None = None) -> list[Path]:
    """Write the CSV and regenerate every Markdown table of ``dataset`` (each write atomic).

    A bad ``reported.yaml`` stops it before anything is written.
    """
    folder = Path(directory) / dataset
    tables = {**render_tables(frame, categories), **reported_tables(directory, dataset, frame)}
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if not frame.empty or csv_path(directory, dataset).is_file():  # a folder of published numbers only has no CSV
        atomic_write_text(csv_path(directory, dataset), frame[COLUMNS].to_csv(index=False, lineterminator="\n"))
        written.append(csv_path(directory, dataset))
    for stale in folder.glob("*.md"):
        if stale.name not in tables:
            stale.unlink()
    for name, text in tables.items():
        atomic_write_text(folder / name, text)
        written.append(folder / name)
    return written


def update_leaderboard(directory: str | Path, result: Any) -> list[Path]:
    """Put a run's rows into its dataset's leaderboard, replacing only that same run's previous rows.

    Read, merge and write happen under the folder's lock: two processes updating one leaderboard
    at once keep both runs.
    """
    rows = rows_from_result(result)
    with leaderboard_lock(directory):
        frame = merge_rows(read_rows(directory, result.dataset), rows)
        written = write_leaderboard(directory, result.dataset, frame, list(result.categories))
        return written + [write_index(directory)]


def index_text(directory: str | Path) -> str:
    """``leaderboards/README.md``: every dataset's tables, by split and protocol."""
    lines = ["# Leaderboards", "",
             "Generated by `corrbench leaderboard`; do not edit. Each dataset folder holds `results.csv` "
             "(long format, the source of truth) and one Markdown table per split, protocol and metric "
             "(values in percent). Re-runnable rows are listed in `runs.yaml` and checked in CI. A folder's "
             "`reported.yaml` (published numbers with their citations, written by hand) adds one table per split, "
             "preset and α that puts them beside the runs under the same preset.", ""]
    for folder in board_folders(directory):
        dataset = folder.name
        lines += [f"## {dataset}", ""]
        if (folder / "reported.yaml").is_file():
            lines.append(f"- published numbers: [reported.yaml]({dataset}/reported.yaml)")
        for table in sorted(folder.glob("*.md")):
            split, protocol, metric = table.stem.split("__")
            if metric.startswith("reported-"):
                unknown = protocol == "unknown-protocol"
                metric = (f"reported {metric.removeprefix('reported-')}, unknown protocol" if unknown
                          else f"reported and reproduced {metric.removeprefix('reported-')}")
            lines.append(f"- [{metric}]({dataset}/{table.name}) — split `{split}`, protocol `{protocol}`")
        for picture in sorted(folder.glob("*.png")):
            lines.append(f"- picture: [{picture.stem}]({dataset}/{picture.name})")
        lines.append("")
    return "\n".join(lines)


def write_index(directory: str | Path) -> Path:
    path = Path(directory) / "README.md"
    atomic_write_text(path, index_text(directory))
    return path
