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
    if not _looks_like_torch_file(path):
        raise CheckpointError(f"cannot read checkpoint {path}: it is {'empty' if path.stat().st_size == 0 else 'not a torch file'} "
                              "(damaged or wrong file): download or save it again")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"refusing {path}: it contains pickled code or objects that weights_only loading does not "
            f"allow ({str(error).splitlines()[0][:160]}); re-save it as a plain state_dict"
        ) from error
    except Exception as error:  # torch raises many types on a corrupt file (IndexError, KeyError, ...)
        first = str(error).splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"cannot read checkpoint {path} ({first}); it is damaged or not a torch "
                              "checkpoint: download or save it again") from error


def _looks_like_torch_file(path: Path) -> bool:
    """``torch.save`` writes a zip archive (or, before torch 1.6, a pickle starting with 0x80)."""
    import zipfile

    with open(path, "rb") as handle:
        head = handle.read(2)
    return bool(head) and (head[:1] == b"\x80" or zipfile.is_zipfile(path))


def save_checkpoint(obj: Any, path: str | Path) -> None:
    """``torch.save`` through a temporary file, so a crash never leaves a truncated checkpoint."""
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_mapped_state(module: Any, mapped: dict[str, Any], source: str, *, own_prefixes: tuple[str, ...] = (),
                      what: str = "this model", hint: str = "") -> None:
    """Load an official state dict already renamed to our keys, strictly by name and shape.

    Official checkpoints are mapped key by key, so a silent partial load would hide a wrong mapping
    or configuration: every key of ours (those under ``own_prefixes``, or all) must be present with
    its shape, and nothing mapped may be left over. Only BatchNorm's ``num_batches_tracked``
    counters may be missing (older files lack them).
    """
    own = {key: value for key, value in module.state_dict().items()
           if not own_prefixes or key.startswith(own_prefixes)}
    missing = sorted(key for key in own if key not in mapped and not key.endswith("num_batches_tracked"))
    unexpected = sorted(key for key in mapped if key not in own)
    advice = f"; {hint}" if hint else ""
    if missing or unexpected:
        raise CheckpointError(f"{source} does not fit {what}: {len(missing)} missing key(s) (e.g. {missing[:2]}), "
                              f"{len(unexpected)} unexpected (e.g. {unexpected[:2]}){advice}")
    for key, value in mapped.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise CheckpointError(f"{source}: '{key}' has shape {tuple(value.shape)}, the model expects "
                                  f"{tuple(own[key].shape)}{advice}")
    module.load_state_dict(mapped, strict=False)
