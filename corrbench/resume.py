"""Per-pair records on disk, so a killed run (even ``kill -9``) continues where it stopped.

Records are appended one JSON line at a time and fsync'ed; a torn last line from a crash is
ignored.  The file name is a hash of everything that can change a record (method, its version,
options and weights content; dataset, split, version and root; protocol; seed), so a changed run
never reuses stale records.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from corrbench.io import file_digest
from corrbench.protocols import Protocol


def default_runs_dir() -> Path:
    base = os.environ.get("CORRBENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "corrbench")
    return Path(base) / "runs"


def run_key(*, method: Any, options: dict[str, Any], dataset: Any, protocol: Protocol, seed: int) -> str:
    identity = {
        "method": method.name,
        "method_version": method.version,
        "options": options,
        "weights": file_digest(getattr(method, "weights", None)) or getattr(method, "weights", None),
        "weights_tag": method.weights_tag(),
        "dataset": dataset.name,
        "dataset_version": dataset.version,
        "split": dataset.split,
        "root": str(Path(dataset.root).resolve()) if getattr(dataset, "root", None) else None,
        "protocol": protocol.to_dict(),
        "seed": seed,
    }
    blob = json.dumps(identity, sort_keys=True, default=str).encode()
    return f"{method.name}-{dataset.name}-{dataset.split}-{hashlib.sha256(blob).hexdigest()[:16]}"


class RecordStore:
    """Append-only JSONL of per-pair records in ``<runs_dir>/<key>/<shard>.jsonl``."""

    def __init__(self, runs_dir: str | os.PathLike[str], key: str, shard: str = "0") -> None:
        self.folder = Path(runs_dir) / key
        self.path = self.folder / f"{shard}.jsonl"

    def load(self) -> dict[str, dict[str, Any]]:
        """Every complete record of every shard of this run, by pair id."""
        records: dict[str, dict[str, Any]] = {}
        if not self.folder.is_dir():
            return records
        for path in sorted(self.folder.glob("*.jsonl")):
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    if not line.endswith("\n"):
                        break  # torn write of a killed run: recomputed
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        break
                    records[record["pair_id"]] = record
        return records

    def append(self, record: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=float) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def clear(self) -> None:
        if self.folder.is_dir():
            for path in self.folder.glob("*.jsonl"):
                path.unlink()
