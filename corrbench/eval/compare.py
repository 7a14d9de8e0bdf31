"""``corrbench compare``: is B better than A?  The paired difference of two runs on the same pairs.

Both results must come from the same benchmark under the same protocol (dataset, its version,
split, protocol and its version); the comparison uses the pairs both runs scored, with the paired
bootstrap and permutation test of :mod:`corrbench.metrics.bootstrap`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corrbench.errors import UsageError
from corrbench.metrics.bootstrap import PairedDifference, paired_comparison

#: Fields that must agree for two results to be comparable, with where they live in the JSON.
SAME = (("dataset", ("dataset",)), ("dataset version", ("identity", "dataset_version")),
        ("split", ("split",)), ("protocol", ("protocol", "name")), ("protocol version", ("protocol", "version")),
        ("dataset options", ("identity", "dataset_options")))


@dataclass
class Comparison:
    a: str
    b: str
    n_shared: int
    overall: list[PairedDifference]
    per_class: dict[str, list[PairedDifference]] = field(default_factory=dict)


def _load(result: Any) -> dict[str, Any]:
    if isinstance(result, (str, Path)):
        try:
            return json.loads(Path(result).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise UsageError(f"cannot read result {result} ({error}); pass the --json file of a run") from None
    return result.to_dict() if hasattr(result, "to_dict") else dict(result)


def _field(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        data = data.get(key, {}) if isinstance(data, dict) else {}
    return data if data != {} else None


def _label(data: dict[str, Any]) -> str:
    identity = data.get("identity", {})
    weights = identity.get("weights") or data.get("provenance", {}).get("weights", "none")
    return f"{data.get('method')} ({weights})"


def compare(a: Any, b: Any, *, seed: int = 0) -> Comparison:
    """B minus A per summary metric and per class (results, their dicts, or --json paths)."""
    first, second = _load(a), _load(b)
    for what, path in SAME:
        if _field(first, path) != _field(second, path):
            raise UsageError(f"the results differ in {what} ({_field(first, path)!r} vs {_field(second, path)!r}); "
                             "only runs on the same benchmark under the same protocol can be compared")
    records_a, records_b = first.get("records"), second.get("records")
    if not records_a or not records_b:
        raise UsageError("a result without per-pair records cannot be compared; write it with `corrbench run --json`")
    if "n_kps" not in records_a[0] or "n_kps" not in records_b[0]:
        raise UsageError("compare works on keypoint (PCK) results; these records hold no keypoint scores")
    alphas = [float(a) for a in first["protocol"]["alphas"]]
    shared = {r["pair_id"] for r in records_a} & {r["pair_id"] for r in records_b}
    if not shared:
        raise UsageError("the two results share no pair id")
    overall = paired_comparison(records_a, records_b, alphas, seed=seed)
    classes = list(dict.fromkeys(r["category"] for r in records_a if r["pair_id"] in shared))
    per_class = {c: [d for d in paired_comparison(records_a, records_b, alphas, seed=seed, classes=[c])
                     if d.metric.startswith("pck_pairs@")] for c in classes}
    return Comparison(a=_label(first), b=_label(second), n_shared=len(shared), overall=overall, per_class=per_class)
