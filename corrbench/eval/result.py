"""The outcome of one run: per-pair records, their aggregates, and what produced them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from corrbench.eval.protocols import Protocol
from corrbench.metrics.bootstrap import LEVEL, RESAMPLES

#: How ``summary_ci`` and ``class_ci`` are computed (written beside them in every JSON).
CI_SETTINGS = {"method": "percentile bootstrap over pairs; stratified by class for the mean over classes; "
                         "a class's own pairs for its per-class interval",
               "resamples": RESAMPLES, "level": LEVEL, "seed": 0}


@dataclass
class EvaluationResult:
    """Per-pair records plus their aggregates; serialises to the CLI's ``--json`` layout."""

    method: str
    dataset: str
    split: str
    protocol: Protocol
    provenance: dict[str, Any]
    categories: list[str]
    records: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, float] = field(default_factory=dict)
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    buckets: dict[str, dict[str, float]] = field(default_factory=dict)
    identity: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: ``{summary key: [low, high]}``: 95 % percentile-bootstrap intervals (see corrbench.metrics.bootstrap).
    summary_ci: dict[str, list[float]] = field(default_factory=dict)
    #: ``{class: {per-class key: [low, high]}}``: the same, resampling only that class's pairs.
    class_ci: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def to_dict(self, include_records: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "method": self.method,
            "dataset": self.dataset,
            "split": self.split,
            "protocol": self.protocol.to_dict(),
            "identity": self.identity,
            "provenance": self.provenance,
            "summary": self.summary,
            "summary_ci": self.summary_ci,
            "class_ci": self.class_ci,
            "ci": CI_SETTINGS if self.summary_ci else {},
            "per_class": self.per_class,
            "buckets": self.buckets,
            "warnings": self.warnings,
        }
        if include_records:
            data["records"] = self.records
        return data
