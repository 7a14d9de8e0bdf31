"""What makes two runs the same run: the key of per-pair records and of leaderboard rows.

A number is only comparable with another when the method (and its version), its options and
weights, the seed, the dataset (and its version and split) and the protocol are the same.  All of
them are written into every result's JSON (``identity``) and into every leaderboard row, so a run
with other options or another seed gets its own row instead of replacing someone else's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from corrbench.io import file_digest


def canonical(value: Any) -> Any:
    """JSON-safe, order-independent form of options (tuples become lists, odd objects their repr)."""
    return json.loads(json.dumps(value, sort_keys=True, default=repr))


def options_text(options: dict[str, Any]) -> str:
    """Compact, sorted JSON of options: how they are stored in a leaderboard CSV (``{}`` = none)."""
    return json.dumps(canonical(options or {}), sort_keys=True, separators=(",", ":"))


def options_label(options_json: str) -> str:
    """``stride=8, window=3`` for a table cell."""
    options = json.loads(options_json) if options_json else {}
    return ", ".join(f"{key}={json.dumps(value) if not isinstance(value, str) else value}"
                     for key, value in sorted(options.items()))


def protocol_digest(protocol: Any) -> str:
    blob = json.dumps(protocol.to_dict(), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


@dataclass(frozen=True)
class RunIdentity:
    """Everything that can change a run's records, in a stable, serialisable form."""

    method: str
    method_version: str
    distribution: str
    distribution_version: str
    weights: str  # the leaderboard tag: "none", "random-init" or "<file>@<sha256[:8]>"
    weights_sha256: str | None
    options: dict[str, Any]
    seed: int
    dataset: str
    dataset_version: str
    split: str
    dataset_root: str | None
    dataset_options: dict[str, Any]
    protocol: str
    protocol_version: str
    protocol_digest: str
    task_options: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 1
    precision: str = "fp32"

    @classmethod
    def of(cls, method: Any, dataset: Any, protocol: Any, *, seed: int, batch_size: int,
           task_options: dict[str, Any] | None = None, precision: str = "fp32") -> "RunIdentity":
        from corrbench.eval.validation import method_distribution

        dist, dist_version = method_distribution(method)
        weights = getattr(method, "weights", None)
        root = getattr(dataset, "root", None)
        return cls(
            method=method.name, method_version=str(method.version), distribution=dist,
            distribution_version=dist_version, weights=method.weights_tag(),
            weights_sha256=file_digest(weights) if weights else None,
            options=canonical(method.init_options()), seed=int(seed),
            dataset=dataset.name, dataset_version=str(dataset.version), split=dataset.split,
            dataset_root=str(Path(root).resolve()) if root else None,
            dataset_options=canonical(dataset.init_options() if hasattr(dataset, "init_options") else {}),
            protocol=protocol.name, protocol_version=str(protocol.version),
            protocol_digest=protocol_digest(protocol),
            task_options=canonical(task_options or {}), batch_size=int(batch_size), precision=precision,
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "key": self.key()}

    def key(self) -> str:
        """Folder name of this run's per-pair records: readable prefix plus a hash of the rest."""
        identity = asdict(self)
        identity.pop("distribution_version")  # reinstalling the same code must not lose records
        if identity["precision"] == "fp32":
            identity.pop("precision")  # keys of fp32 runs are those written before precision existed
        blob = json.dumps(identity, sort_keys=True, default=str).encode()
        return f"{self.method}-{self.dataset}-{self.split}-{hashlib.sha256(blob).hexdigest()[:16]}"
