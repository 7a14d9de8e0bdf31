"""Safe checkpoint loading and atomic saving, shared by every plugin.

Checkpoints are loaded with ``torch.load(weights_only=True)``: a file that carries pickled code
is refused with a clear message and never executed.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from corrbench.errors import CheckpointError
from corrbench.io import atomic_write_bytes


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> Any:
    """Load a checkpoint safely (tensors, containers and plain values only)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"refusing {path}: it contains pickled code or objects that weights_only loading does not "
            f"allow ({str(error).splitlines()[0][:160]}); re-save it as a plain state_dict"
        ) from error
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {str(error).splitlines()[0][:200]}") from error


def save_checkpoint(obj: Any, path: str | Path) -> None:
    """``torch.save`` through a temporary file, so a crash never leaves a truncated checkpoint."""
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())
