"""A disk cache of generated pairs, content-addressed by the generator itself.

Rendering the embedded benchmark costs ~45 ms a pair, paid again by every run.  Pairs are stored
under ``$CORRBENCH_CACHE/pairs/<key>/<pair_id>.npz`` where ``key`` hashes the generator's source
files, its inputs (card, seed, split) and the versions of the libraries whose output it depends
on: a changed generator, card or photo library gets a fresh folder and re-renders, never a stale
pair.  Files are compressed (~250 kB a pair, ~5 ms to read back), written atomically; an unreadable
file is rendered again and replaced.  ``CORRBENCH_NO_PAIR_CACHE=1`` turns the cache off.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from corrbench.api import Pair
from corrbench.io import atomic_write_bytes

ARRAYS = ("src_image", "trg_image", "src_kps", "trg_kps", "kps_visible", "src_bbox", "trg_bbox", "src_mask",
          "trg_mask", "flow_src_to_trg", "flow_trg_to_src")
DISABLE_ENV = "CORRBENCH_NO_PAIR_CACHE"


def generator_key(sources: Iterable[str | os.PathLike[str]], *inputs: Any) -> str:
    """sha256 over the generator's source files and its inputs (JSON-encoded), 16 hex digits."""
    digest = hashlib.sha256()
    for source in sorted(str(s) for s in sources):
        digest.update(Path(source).read_bytes())
    digest.update(json.dumps(inputs, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def _encode(pair: Pair) -> bytes:
    arrays = {name: getattr(pair, name) for name in ARRAYS if getattr(pair, name) is not None}
    header = {"pair_id": pair.pair_id, "category": pair.category, "meta": pair.meta}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)
    return buffer.getvalue()


def _decode(path: Path) -> Pair:
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(bytes(data["header"]).decode())
        arrays = {name: data[name] for name in ARRAYS if name in data.files}
    return Pair(pair_id=header["pair_id"], category=header["category"], meta=header["meta"], **arrays)


class PairStore:
    """``get(pair_id, render)``: the stored pair, or ``render()`` stored for next time."""

    def __init__(self, root: Path, key: str) -> None:
        self.folder = root / "pairs" / key
        self.enabled = os.environ.get(DISABLE_ENV, "") not in ("1", "true")
        self.hits = 0

    def get(self, pair_id: str, render: Callable[[], Pair]) -> Pair:
        if not self.enabled:
            return render()
        path = self.folder / f"{pair_id}.npz"
        if path.is_file():
            try:
                pair = _decode(path)
                self.hits += 1
                return pair
            except Exception:  # torn or foreign file: render again and replace it
                pass
        pair = render()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, _encode(pair))
        except OSError:  # a read-only or full cache must not stop a run
            pass
        return pair
