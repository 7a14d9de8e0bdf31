"""TSS results: the kit's rows per subset, and the headline numbers the papers report.

Headline numbers (``summary``) follow the papers: per subset, the ``Average`` row (flip pairs
included); over subsets, the unweighted mean of the subset values (the "All" column of published
tables), not a mean pooled over pairs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from corrbench.tss.kit import KitRow, SubsetScores

HEADLINE_THRESHOLDS = (1, 5, 10)


@dataclass
class TSSResult:
    """Scores of one run: rows per subset plus flat summaries for leaderboards."""

    kit: str
    auto_flip: bool
    subsets: dict[str, SubsetScores] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)

    def add(self, subset: str, rows: tuple[KitRow, KitRow]) -> None:
        self.subsets.setdefault(subset, SubsetScores(subset)).rows.extend(rows)

    @staticmethod
    def _metrics(scores: SubsetScores) -> dict[str, float]:
        average, no_flip = scores.summary
        metrics = {f"tss_T{t}": float(average.acc[t - 1]) for t in HEADLINE_THRESHOLDS}
        metrics["seg_iou"] = float(average.seg_iou)
        metrics["tss_T5_wo_flip"] = float(no_flip.acc[4])
        metrics["seg_iou_wo_flip"] = float(no_flip.seg_iou)
        metrics["n_pairs"] = scores.n_pairs
        return metrics

    @property
    def per_class(self) -> dict[str, dict[str, float]]:
        """subset -> metrics of its ``Average`` / ``w/o flip`` rows."""
        return {name: self._metrics(scores) for name, scores in self.subsets.items()}

    @property
    def summary(self) -> dict[str, float]:
        """Unweighted mean over subsets of each per-subset metric; ``n_pairs`` is the total."""
        per_class = self.per_class
        if not per_class:
            return {}
        keys = [k for k in next(iter(per_class.values())) if k != "n_pairs"]
        summary = {k: float(np.mean([m[k] for m in per_class.values()])) for k in keys}
        summary["n_pairs"] = sum(m["n_pairs"] for m in per_class.values())
        return summary

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Every pair row (both directions), with the subset, as plain dicts."""
        return [dict(row.to_dict(), subset=name) for name, s in self.subsets.items() for row in s.rows]

    def write_kit_csv(self, out_dir: str | os.PathLike[str], cpp_row_names: bool = False) -> list[Path]:
        """``OUT/<subset>/scores.csv`` in the kit's format; returns the paths written."""
        from corrbench.tss.kit_csv import write_scores_csv

        written = []
        for name, scores in self.subsets.items():
            path = Path(out_dir) / name / "scores.csv"
            write_scores_csv(path, scores.rows, cpp_row_names=cpp_row_names)
            written.append(path)
        return written


def _nan_warning(result: TSSResult) -> None:
    nan = sum(r.nan_pixels for s in result.subsets.values() for r in s.rows)
    if nan:
        result.warnings.append(
            f"{nan} predicted vectors are NaN on ground-truth-valid pixels: counted wrong "
            "(the C++ kit's rule; the MATLAB kit would count them correct)"
        )


def tss_result_from_records(records: Sequence[dict[str, Any]], *, kit: str, auto_flip: bool) -> TSSResult:
    """Rebuild the kit's per-subset rows from the runner's per-pair records (fresh or resumed)."""
    result = TSSResult(kit=kit, auto_flip=auto_flip)
    for record in records:
        first, second = (KitRow.from_dict(row) for row in record["kit_rows"])
        result.add(record["category"], (first, second))
    _nan_warning(result)
    return result
