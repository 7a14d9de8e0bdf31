"""Per-pair records on disk, so a killed run (even ``kill -9``) continues where it stopped.

Records are appended one JSON line at a time and fsync'ed, one file per shard of a run, in a
folder named by the run's identity (:mod:`corrbench.eval.identity`), so a changed run never
reuses stale records.  A line torn by a kill is cut off when the store is opened, so the next
record starts on a fresh line and nothing after it is lost.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any


def default_runs_dir() -> Path:
    from corrbench.io import cache_root

    return cache_root() / "runs"


def read_records(path: Path, repair: bool) -> tuple[list[dict[str, Any]], int]:
    """Complete records of one JSONL file and the number of damaged lines skipped.

    With ``repair``, a torn tail (a last line without its newline, from a killed writer) is cut
    off the file so that appending continues on a line boundary.
    """
    data = path.read_bytes()
    records: list[dict[str, Any]] = []
    damaged = 0
    end_of_good = 0
    position = 0
    for raw in data.splitlines(keepends=True):
        position += len(raw)
        if not raw.endswith(b"\n"):
            damaged += 1  # torn last line: recomputed
            break
        try:
            record = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            damaged += 1
            end_of_good = position
            continue
        end_of_good = position
        if isinstance(record, dict) and "pair_id" in record:
            records.append(record)
        else:
            damaged += 1
    if repair and end_of_good < len(data):
        with open(path, "r+b") as handle:
            handle.truncate(end_of_good)
            handle.flush()
            os.fsync(handle.fileno())
    return records, damaged


class RecordStore:
    """Append-only JSONL of per-pair records in ``<runs_dir>/<key>/<shard>.jsonl``."""

    def __init__(self, runs_dir: str | os.PathLike[str], key: str, shard: str = "0") -> None:
        self.folder = Path(runs_dir) / key
        self.path = self.folder / f"{shard}.jsonl"

    def load(self) -> dict[str, dict[str, Any]]:
        """Every complete record of every shard of this run, by pair id; repairs this shard's file."""
        records: dict[str, dict[str, Any]] = {}
        if not self.folder.is_dir():
            return records
        damaged = 0
        for path in sorted(self.folder.glob("*.jsonl")):
            found, bad = read_records(path, repair=path == self.path)
            damaged += bad
            for record in found:
                records[str(record["pair_id"])] = record
        if damaged:
            warnings.warn(f"{damaged} damaged record line(s) in {self.folder} were skipped; those pairs "
                          "are recomputed", stacklevel=2)
        return records

    def append(self, record: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(record, default=float) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def clear(self) -> None:
        if self.folder.is_dir():
            for path in self.folder.glob("*.jsonl"):
                path.unlink()
