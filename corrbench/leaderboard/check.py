"""Keeping leaderboards honest: tables in sync, re-runnable rows reproduced, changes versioned.

``leaderboards/runs.yaml`` lists the runs that anyone can reproduce offline (every method and
baseline on the embedded benchmark, with committed seeds and checkpoints).  ``check`` fails when
(1) a Markdown table differs from what its CSV generates, (2) re-running a listed run moves a number
beyond the tolerance, or (3) against a base revision, a number changed while the method and dataset
versions stayed the same.  ``update`` re-runs listed runs and rewrites their rows.
"""

from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from corrbench.errors import LeaderboardFileError, UsageError
from corrbench.leaderboard.reported import reported_boards
from corrbench.leaderboard.tables import (COLUMNS, IDENTITY_KEY, RUN_KEY, board_folders, card_categories, index_text,
                                          leaderboard_lock, merge_rows, normalise_rows, read_rows, render_tables,
                                          reported_tables, rows_from_result, write_index, write_leaderboard)

VALUE_KEY = IDENTITY_KEY + ["metric", "alpha", "category"]
MANIFEST = "runs.yaml"


@dataclass
class ListedRun:
    method: str
    dataset: str
    split: str = "test"
    protocol: str | None = None
    seed: int = 0
    weights: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    moved: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def ok(self) -> bool:
        return not self.problems


def load_manifest(directory: str | Path) -> tuple[list[ListedRun], float]:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        return [], 1e-6
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    runs = [ListedRun(**entry) for entry in data.get("runs", [])]
    return runs, float(data.get("tolerance", 1e-6))


def run_listed(run: ListedRun, repo_root: Path) -> Any:
    """Evaluate one listed run exactly as ``corrbench run`` would (no resume, no side effects)."""
    import corrbench
    from corrbench.eval.runner import evaluate

    weights = str(repo_root / run.weights) if run.weights else None
    method = corrbench.load_method(run.method, weights=weights, **run.options)
    dataset = corrbench.load_dataset(run.dataset, split=run.split)
    return evaluate(method, dataset, protocol=run.protocol, seed=run.seed)


def table_sync_problems(directory: str | Path) -> list[str]:
    """Tables that differ from what their CSV and ``reported.yaml`` generate, and bad ``reported.yaml`` files."""
    problems = []
    folders = board_folders(directory)
    for folder in folders:
        frame = read_rows(directory, folder.name)
        expected = render_tables(frame, None)
        try:
            reported = reported_tables(directory, folder.name, frame)
        except LeaderboardFileError as error:
            problems.append(str(error))
            reported = None  # its tables cannot be checked until the file is fixed
        present = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.md")}
        for name in sorted(set(expected) | set(reported or {}) | set(present)):
            is_reported = "__reported-" in name
            if is_reported and reported is None:
                continue
            wanted = (reported or {}).get(name) if is_reported else expected.get(name)
            if name not in present:
                problems.append(f"{folder.name}/{name} is missing (run `corrbench leaderboard render`)")
            elif wanted is None:
                source = "reported.yaml" if is_reported else "results.csv"
                problems.append(f"{folder.name}/{name} has no rows in {source} (run `corrbench leaderboard render`)")
            elif not (wanted == present[name] if is_reported else _same_table(wanted, present[name])):
                problems.append(f"{folder.name}/{name} is out of sync with "
                                f"{'reported.yaml and ' if is_reported else ''}results.csv "
                                "(run `corrbench leaderboard render`)")
    index = Path(directory) / "README.md"
    if folders and (not index.is_file() or index.read_text(encoding="utf-8") != index_text(directory)):
        problems.append("README.md (the index) is out of date (run `corrbench leaderboard render`)")
    return problems


def _same_table(generated: str, on_disk: str) -> bool:
    # Category order comes from the dataset card at write time; compare row sets, not column order.
    return _table_cells(generated) == _table_cells(on_disk)


def _table_cells(text: str) -> dict[tuple[str, str], dict[str, str]]:
    lines = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    if not lines:
        return {}
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[1:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[(cells[0], cells[1])] = dict(zip(header[2:], cells[2:]))
    return rows


def compare_values(committed: pd.DataFrame, fresh: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """Rows whose value moved beyond ``tolerance`` (or appeared/disappeared), as a diff table."""
    versions = ["method_version", "dataset_version", "protocol_version"]
    left = normalise_rows(committed)[VALUE_KEY + ["value", *versions]]
    right = normalise_rows(fresh)[VALUE_KEY + ["value", *versions]]
    merged = left.merge(right, on=VALUE_KEY, how="outer", suffixes=("_committed", "_now"))
    delta = (merged["value_now"] - merged["value_committed"]).abs()
    moved = merged[(delta > tolerance) | merged["value_now"].isna() | merged["value_committed"].isna()]
    return moved.assign(delta=moved["value_now"] - moved["value_committed"])


def check(directory: str | Path = "leaderboards", *, rerun: bool = True, base: str | None = None,
          repo_root: str | Path = ".") -> CheckReport:
    report = CheckReport(problems=table_sync_problems(directory))
    runs, tolerance = load_manifest(directory)
    moved_parts = []
    if rerun:
        for run in runs:
            result = run_listed(run, Path(repo_root))
            fresh = pd.DataFrame(rows_from_result(result), columns=COLUMNS)
            committed = read_rows(directory, run.dataset)
            key = fresh[IDENTITY_KEY].drop_duplicates()
            committed = committed.merge(key, on=IDENTITY_KEY, how="inner")
            moved = compare_values(committed, fresh, tolerance)
            if not moved.empty:
                bumped = any((moved[f"{v}_committed"] != moved[f"{v}_now"]).any()
                             for v in ("method_version", "dataset_version", "protocol_version"))
                hint = ("a method, dataset or protocol version was bumped: run `corrbench leaderboard update`" if bumped else
                        "numbers changed WITHOUT a method/dataset version bump: a regression, or bump the "
                        "version and run `corrbench leaderboard update`")
                report.problems.append(f"{run.method} on {run.dataset}/{run.split}: {len(moved)} value(s) moved; {hint}")
                moved_parts.append(moved)
    if base:
        for csv in sorted(Path(directory).glob("*/results.csv")):
            old = _csv_at_revision(base, csv, Path(repo_root))
            if old is None:
                continue
            now = read_rows(directory, csv.parent.name)
            moved = compare_values(old, now, 0.0)
            same_version = moved[(moved["method_version_committed"] == moved["method_version_now"])
                                 & (moved["dataset_version_committed"] == moved["dataset_version_now"])
                                 & (moved["protocol_version_committed"] == moved["protocol_version_now"])]
            if not same_version.empty:
                report.problems.append(
                    f"{csv.parent.name}: {len(same_version)} committed value(s) differ from {base} with the same "
                    "method and dataset versions; bump the version that changed them")
                moved_parts.append(same_version)
    if moved_parts:
        report.moved = pd.concat(moved_parts, ignore_index=True)
    return report


def _csv_at_revision(revision: str, path: Path, repo_root: Path) -> pd.DataFrame | None:
    relative = path.resolve().relative_to(repo_root.resolve())
    shown = subprocess.run(["git", "-C", str(repo_root), "show", f"{revision}:{relative.as_posix()}"],
                           capture_output=True, text=True)
    if shown.returncode != 0:
        return None
    return normalise_rows(pd.read_csv(io.StringIO(shown.stdout), dtype={
        "method_version": str, "dataset_version": str, "weights": str, "options": str}))


def update(directory: str | Path = "leaderboards", *, methods: list[str] | None = None,
           repo_root: str | Path = ".") -> list[str]:
    """Re-run listed runs (optionally only some methods) and rewrite their rows and tables."""
    runs, _ = load_manifest(directory)
    if not runs:
        raise UsageError(f"no {MANIFEST} in {directory}: nothing to update")
    _, bad = reported_boards(directory)
    if bad:  # found before minutes of re-running, not when the first table is written
        raise LeaderboardFileError(bad[0])
    done = []
    for run in runs:
        if methods and run.method not in methods:
            continue
        result = run_listed(run, Path(repo_root))
        fresh = rows_from_result(result)
        with leaderboard_lock(directory):
            frame = merge_rows(drop_superseded(read_rows(directory, run.dataset), fresh), fresh)
            write_leaderboard(directory, run.dataset, frame, list(result.categories))
            write_index(directory)
        done.append(f"{run.method} on {run.dataset}/{run.split}: pck@0.1 = {result.summary.get('pck@0.1', float('nan')):.4f}")
    return done


def drop_superseded(existing: pd.DataFrame, fresh_rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Without the rows of earlier versions of the same listed run.

    A listed run is re-run by ``update`` with the current code and checkpoint: rows of the same
    run under an older method or dataset version, or of an earlier content of the same checkpoint
    file (a weights tag is ``<file>@<content hash>``; the old file no longer exists), could never
    be reproduced again.  Runs with other options or seeds are other runs and stay.
    """
    if existing.empty or not fresh_rows:
        return existing
    existing = normalise_rows(existing)
    fresh = normalise_rows(pd.DataFrame(fresh_rows))
    keep = pd.Series(True, index=existing.index)
    stem = existing["weights"].astype(str).str.split("@", n=1).str[0]
    for run in fresh[RUN_KEY].astype(str).drop_duplicates().itertuples(index=False):
        fields = dict(zip(RUN_KEY, run))
        same_run = stem == fields["weights"].split("@", 1)[0]
        for key in IDENTITY_KEY:
            if key != "weights":
                same_run &= existing[key].astype(str) == fields[key]
        identical = pd.Series(True, index=existing.index)
        for key in RUN_KEY:
            identical &= existing[key].astype(str) == fields[key]
        keep &= ~(same_run & ~identical)  # identical rows are replaced by merge_rows
    return existing[keep.to_numpy()]


def render_all(directory: str | Path = "leaderboards") -> list[str]:
    """Regenerate every Markdown table from its CSV and ``reported.yaml`` (after a hand edit or merge)."""
    written = []
    with leaderboard_lock(directory):
        for folder in board_folders(directory):
            dataset = folder.name
            write_leaderboard(directory, dataset, read_rows(directory, dataset), card_categories(dataset))
            written.append(dataset)
        write_index(directory)
    return written

