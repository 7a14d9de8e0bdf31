"""Human-readable tables of a result (rich), shared by `corrbench run` and friends."""

from __future__ import annotations

import math
from typing import Any


def console():
    """A rich console; wide when output is not a terminal, so tables are not squeezed in logs."""
    import sys

    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=160)


def _pct(value: Any, interval: Any = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{100 * float(value):.1f}"
    if interval:
        text += f" ± {100 * (interval[1] - interval[0]) / 2:.1f}"  # half the 95 % interval's width
    return text


def headline_metrics(result: Any) -> list[str]:
    """The metric columns worth printing: PCK at each alpha, else every non-count metric."""
    from corrbench.metrics.names import parse_key

    metrics = {name: parse_key(name) for name in result.summary}
    names = [n for n, m in metrics.items() if m.name == "pck" and m.averaging == "class_mean"]
    names += [n for n, m in metrics.items() if m.is_score and m.alpha is None]
    return names


def per_class_table(result: Any):
    """A rich Table: one row per category, the mean over classes (and over all pairs for PCK)."""
    from rich.table import Table

    metric_names = headline_metrics(result)
    table = Table(title=f"{result.method} on {result.dataset}/{result.split} — protocol {result.protocol.name}"
                        " (per image, %; ± half the 95 % bootstrap interval)")
    table.add_column("category")
    for name in metric_names:
        table.add_column(name, justify="right")
    table.add_column("pairs", justify="right")
    has_kps = "n_kps" in result.summary
    if has_kps:
        table.add_column("kps", justify="right")
    class_ci = getattr(result, "class_ci", None) or {}
    for category, metrics in result.per_class.items():
        counts = [str(metrics.get("n_pairs", metrics.get("n_mask_images", "")))]
        counts += [str(metrics.get("n_kps", ""))] if has_kps else []
        intervals = class_ci.get(category, {})
        table.add_row(category, *[_pct(metrics.get(n), intervals.get(n)) for n in metric_names], *counts)
    summary = result.summary
    table.add_section()
    counts = [str(summary.get("n_pairs", ""))] + ([str(summary.get("n_kps", ""))] if has_kps else [])
    ci = getattr(result, "summary_ci", None) or {}
    table.add_row("mean (classes)", *[_pct(summary.get(n), ci.get(n)) for n in metric_names], *counts)
    if has_kps:
        from corrbench.metrics.names import MetricId, parse_key

        for label, family, averaging in (("all pairs", "pck", "all_pairs"), ("pooled kps", "pck_kpt", "pooled_keypoints")):
            cells = []
            for n in metric_names:
                metric = parse_key(n)
                same_alpha = MetricId(family, metric.alpha, averaging).key if metric.name == "pck" else None
                cells.append(_pct(summary.get(same_alpha), ci.get(same_alpha)) if same_alpha else "")
            table.add_row(label, *cells, "", "")
    return table


def bucket_tables(result: Any) -> list:
    from rich.table import Table

    tables = []
    for key, groups in (result.buckets or {}).items():
        table = Table(title=f"{key} (PCK@{result.protocol.bucket_alpha:g} per image, %)")
        table.add_column("value")
        table.add_column("pck", justify="right")
        for value in sorted(groups, key=str):
            table.add_row(str(value), _pct(groups[value]))
        tables.append(table)
    return tables


def notes(result: Any) -> list[str]:
    summary = result.summary
    lines = []
    if summary.get("n_nonfinite"):
        lines.append(f"{summary['n_nonfinite']} keypoint prediction(s) were NaN/inf and count as wrong.")
    if summary.get("n_empty_gt"):
        lines.append(f"{summary['n_empty_gt']} image(s) have an empty ground-truth mask "
                     f"(Jaccard rule: {result.protocol.jaccard_empty_gt}).")
    if summary.get("n_pairs_without_kps"):
        lines.append(f"{summary['n_pairs_without_kps']} pair(s) had no visible keypoint and are not in per-image means.")
    return lines
