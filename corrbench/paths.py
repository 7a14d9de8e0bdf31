"""Where corrbench keeps what it can recompute or re-download: one cache root for everything."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "CORRBENCH_CACHE"


def cache_root() -> Path:
    """``$CORRBENCH_CACHE``, else ``$XDG_CACHE_HOME/corrbench``, else ``~/.cache/corrbench``.

    Holds ``weights/`` (official checkpoints, backbones), ``runs/`` (per-pair records for resume)
    and ``pairs/`` (rendered embedded-benchmark pairs).
    """
    value = os.environ.get(CACHE_ENV, "").strip()
    if value:
        return Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "corrbench"
