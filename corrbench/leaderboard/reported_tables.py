"""Tables of published numbers beside corrbench's own runs under the same protocol preset.

One table per (split, preset, α): a table never mixes presets, so every number in it was measured
the same way, and entries whose protocol is unknown get a table of their own that says so.  A
reported value sits in the column of the averaging its paper used (mean over classes, over pairs,
or pooled over keypoints); reproduced runs fill every column, with their bootstrap intervals.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from corrbench.leaderboard.reported import UNKNOWN_PROTOCOL, ReportedBoard, ReportedEntry
from corrbench.leaderboard.tables import ALL_PAIRS, MEAN, cell, normalise_rows, table_name, table_runs

#: Column header of each averaging, in table order.
SUMMARY_COLUMNS = {"mean-over-classes": "mean of classes", "mean-over-pairs": "all pairs",
                   "all-keypoints": "all keypoints", "unknown": "averaging unknown"}
#: Presets scored as dense flow (the TSS kit): PCK@α is the kit's accuracy at t = 100·α percent.
FLOW_PRESETS = ("tss_official/tss",)
UNKNOWN_SLUG = "unknown-protocol"


def reported_label(alpha: float) -> str:
    return f"reported-pck@{alpha:g}"


def _published(value: float) -> str:
    """A published percent with its own decimals, at least one (87 -> 87.0, 87.35 stays 87.35)."""
    return f"{value:.1f}" if round(value, 1) == value else f"{value:.10g}"


def _text(value: str) -> str:
    return value.replace("|", "\\|") or "–"


def _source(source: str) -> str:
    return f"<{source}>" if source.startswith(("http://", "https://")) else f"`{source}`"


def _reproduced_cells(protocol: Any, alpha: float) -> tuple[dict[str, tuple[str, float]], tuple[str, float] | None]:
    """Where a run's numbers for this preset and α live in the CSV: {column: (metric, alpha)}, per-class metric.

    None when the preset does not score this α (no run can stand beside the reported numbers).
    """
    if protocol.name in FLOW_PRESETS:
        threshold = 100 * alpha
        from corrbench.tss.result import HEADLINE_THRESHOLDS

        if abs(threshold - round(threshold)) > 1e-9 or round(threshold) not in HEADLINE_THRESHOLDS:
            return {}, None
        metric = (f"tss_T{round(threshold)}", math.nan)
        return {"mean of classes": metric}, metric
    if not any(math.isclose(alpha, a) for a in protocol.alphas):
        return {}, None
    pck = ("pck", alpha)
    return {"mean of classes": pck, "all pairs": pck, "all keypoints": ("pck_kpt", alpha)}, pck


def _select(frame: pd.DataFrame, metric: tuple[str, float]) -> pd.DataFrame:
    name, alpha = metric
    rows = frame[frame["metric"] == name]
    if math.isnan(alpha):
        return rows[rows["alpha"].isna()]
    return rows[(rows["alpha"] - alpha).abs() < 1e-9]


def render_reported(board: ReportedBoard, frame: pd.DataFrame, categories: list[str] | None = None
                    ) -> dict[str, str]:
    """Markdown text per file name for every (split, preset, α) of ``board``'s entries."""
    frame = normalise_rows(frame) if not frame.empty else frame
    groups: dict[tuple[str, str, float], list[ReportedEntry]] = {}
    for entry in board.entries:
        groups.setdefault((entry.split, entry.preset, entry.alpha), []).append(entry)
    tables = {}
    for (split, preset, alpha), entries in sorted(groups.items(), key=lambda item: (
            item[0][0], item[0][1] == UNKNOWN_PROTOCOL, item[0][1], item[0][2])):
        slug = UNKNOWN_SLUG if preset == UNKNOWN_PROTOCOL else preset
        tables[table_name(split, slug, reported_label(alpha))] = _table(
            board.benchmark, split, preset, alpha, entries, frame, categories)
    return tables


def _table(dataset: str, split: str, preset: str, alpha: float, entries: list[ReportedEntry],
           frame: pd.DataFrame, categories: list[str] | None) -> str:
    known = preset != UNKNOWN_PROTOCOL
    protocol, places, per_class_metric = None, {}, None
    runs: list[tuple[str, str, pd.DataFrame]] = []
    if known:
        from corrbench.eval.protocols import get_protocol

        protocol = get_protocol(preset)
        places, per_class_metric = _reproduced_cells(protocol, alpha)
        if per_class_metric is not None and not frame.empty:
            under = frame[(frame["split"] == split) & (frame["protocol"] == preset)]
            wanted = {metric for metric in places.values()}
            under = pd.concat([_select(under, metric) for metric in wanted]) if len(under) else under
            runs = table_runs(under) if len(under) else []

    def run_cells(rows: pd.DataFrame, column: str) -> str:
        category = {"mean of classes": MEAN, "all pairs": ALL_PAIRS, "all keypoints": MEAN}[column]
        return cell(_select(rows, places[column]), category)

    present_classes = {c for e in entries for c in e.per_class}
    if runs:
        present_classes |= set(_select(pd.concat([rows for _, _, rows in runs]), per_class_metric)["category"])
    # The card's classes in its order, then any other class (never the summaries or ``key=value`` buckets).
    classes = [c for c in (categories or []) if c in present_classes]
    classes += sorted(c for c in present_classes - {MEAN, ALL_PAIRS, *classes} if "=" not in c)
    used = {SUMMARY_COLUMNS[e.averaging] for e in entries} | (set(places) if runs else set())
    summary = [header for header in SUMMARY_COLUMNS.values() if header in used]

    title = (f"# {dataset} — reported and reproduced PCK@{alpha:g} ({split}, protocol `{preset}`)" if known else
             f"# {dataset} — reported PCK@{alpha:g} ({split}), UNKNOWN PROTOCOL: no corrbench preset reproduces "
             "these papers' protocols; do not rank them against each other or against corrbench runs")
    lines = [title, "",
             "Generated from `reported.yaml` and `results.csv` by `corrbench leaderboard`; do not edit. Values in "
             "percent. *reported* rows are numbers as published (not re-run here; the notes say where each comes "
             "from, *secondary* = quoted by another paper); each sits in the column of the averaging its paper "
             "used, and a per-class cell only where the paper gives one."]
    if known:
        lines[-1] += (" *reproduced* rows are corrbench runs under the same preset, ± half the width of their 95 % "
                      "bootstrap interval.")
        lines += ["", f"Preset `{preset}`: {protocol.description}"]
        if per_class_metric is None:
            lines += ["", f"corrbench's preset `{preset}` does not score α = {alpha:g}, so no run can stand "
                          "beside these numbers."]
        elif not runs:
            lines += ["", f"No corrbench run under this preset yet: `corrbench run --method M --dataset {dataset} "
                          f"--protocol {preset}` adds one."]
    else:
        lines[-1] += (" The protocols behind these numbers are unknown or match no corrbench preset, so they "
                      "may follow different conventions (threshold, resolution, direction, averaging).")
    columns = [*classes, *summary]
    lines += ["", "| row | method | weights / backbone | " + " | ".join(columns) + " | note |",
              "|---|---|---|" + "---:|" * len(columns) + "---|"]
    notes = []
    for entry in entries:
        notes.append(entry)
        values = {c: _published(v) for c, v in entry.per_class.items()}
        values[SUMMARY_COLUMNS[entry.averaging]] = _published(entry.value)
        kind = "reported (secondary)" if entry.secondary else "reported"
        lines.append(f"| {kind} | {_text(entry.method)} | {_text(entry.backbone)} | "
                     + "".join(f"{values.get(c, '–')} | " for c in columns) + f"[{len(notes)}] |")
    for label, weights, rows in runs:
        cells = [cell(_select(rows, per_class_metric), c) for c in classes]
        cells += [run_cells(rows, c) if c in places else "–" for c in summary]
        lines.append(f"| reproduced | {_text(label)} | {_text(weights)} | " + "".join(f"{c} | " for c in cells)
                     + "corrbench |")
    lines += ["", "Notes:", ""]
    for number, entry in enumerate(notes, 1):
        text = (f"{number}. {entry.paper}, {entry.table}; source: {_source(entry.source)}. "
                f"Normalisation: {entry.normalisation}; averaging: {entry.averaging}.")
        if entry.excerpt:
            text += f" Excerpt: “{entry.excerpt}”"
        lines.append(text)
    return "\n".join(lines) + "\n"
