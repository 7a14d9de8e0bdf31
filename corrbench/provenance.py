"""Where a number came from: versions, code revision, device, date."""

from __future__ import annotations

import datetime as _dt
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import corrbench


@lru_cache(maxsize=1)
def git_sha() -> str:
    """Commit of the corrbench checkout (with ``-dirty`` if modified), or 'unknown' when installed."""
    root = Path(corrbench.__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


def run_provenance(method: Any, dataset: Any, **extra: Any) -> dict[str, Any]:
    import torch

    return {
        "corrbench_version": corrbench.__version__,
        "git_sha": git_sha(),
        "torch_version": torch.__version__,
        "device": str(getattr(method, "device", "cpu")),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **method.provenance(),
        **dataset.provenance(),
        **extra,
    }
