"""Metric identities as small objects: what a summary key like ``pck_kpt@0.1`` means.

Summaries stay flat JSON dicts (``{"pck@0.1": 0.45, ...}``); code that needs to know what a key
measures — leaderboard rows, printed tables — asks :func:`parse_key` instead of re-splitting
strings in several places.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Averaging = Literal["class_mean", "all_pairs", "pooled_keypoints", "subset_mean", "count"]

#: summary prefix -> (metric family, averaging) for keypoint metrics with an alpha.
_PCK_PREFIXES: dict[str, tuple[str, Averaging]] = {
    "pck": ("pck", "class_mean"),
    "pck_pairs": ("pck", "all_pairs"),
    "pck_kpt": ("pck_kpt", "pooled_keypoints"),
}
SCORE_PREFIXES = ("mask_", "seg_", "tss_")


@dataclass(frozen=True)
class MetricId:
    """One metric: its family (``pck``, ``pck_kpt``, ``mask_iou``, ``tss_T5`` ...), α, averaging."""

    name: str
    alpha: float | None = None
    averaging: Averaging = "class_mean"

    @property
    def key(self) -> str:
        """The summary key this metric is stored under."""
        if self.alpha is None:
            return self.name
        prefix = "pck_pairs" if (self.name, self.averaging) == ("pck", "all_pairs") else self.name
        return f"{prefix}@{self.alpha:g}"

    @property
    def label(self) -> str:
        """Name with α as leaderboards print it (``pck@0.1``), averaging left to the column."""
        return self.name if self.alpha is None else f"{self.name}@{self.alpha:g}"

    @property
    def is_score(self) -> bool:
        """A value between 0 and 1 that belongs in a table (not a count)."""
        return self.averaging != "count"


def parse_key(key: str) -> MetricId:
    """The identity of a summary or per-class key (counts such as ``n_pairs`` come back as ``count``)."""
    if "@" in key:
        prefix, alpha_text = key.split("@", 1)
        try:
            alpha = float(alpha_text)
        except ValueError:
            return MetricId(key, None, "count")
        if prefix in _PCK_PREFIXES:
            name, averaging = _PCK_PREFIXES[prefix]
            return MetricId(name, alpha, averaging)
        return MetricId(prefix, alpha, "class_mean")
    if key.startswith(SCORE_PREFIXES):
        return MetricId(key, None, "class_mean")
    return MetricId(key, None, "count")
