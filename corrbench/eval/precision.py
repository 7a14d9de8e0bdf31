"""Mixed precision for inference: ``fp32`` (default), ``bf16`` or ``fp16`` autocast around ``predict``.

Lower precision changes numbers, so it is part of a run's identity (records, JSON, leaderboard
rows: a non-fp32 run is labelled ``[precision=bf16]`` and never replaces an fp32 row).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from corrbench.errors import UsageError

PRECISIONS = ("fp32", "bf16", "fp16")


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise UsageError(f"precision '{precision}' is not one of {', '.join(PRECISIONS)}")
    return precision


@contextlib.contextmanager
def autocast(device: str, precision: str) -> Iterator[None]:
    """torch.autocast on ``device``'s type with the precision's dtype; nothing for fp32."""
    if check_precision(precision) == "fp32":
        yield
        return
    import torch

    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    with torch.autocast(device_type=str(device).split(":", 1)[0], dtype=dtype):
        yield
