"""The official NeMF release: ``model_best.pth`` (``{'state_dict': ...}``) and ``args.pkl``.

Key mapping (official -> corrbench), every other key must match exactly:

| official | corrbench |
|---|---|
| ``feature_extraction.backbone.*`` (torchvision ResNet) | ``backbone.net.*`` (timm ResNet, same names; ``fc.*`` dropped) |
| ``corr_embedder.{i}.embedder.conv4d.{j}.*`` | ``corr_embedder.{i}.blocks.{j}.*`` |
| ``decoder.*`` (transformer aggregator) | ``aggregator.*`` |
| ``mlp_model.mlp.0.*`` (LocalDecoder) | ``field.decoder.*`` |
| ``mlp_model.cost_embedding.embedder.conv4d.0.*`` | ``field.cost_embedding.*`` |
| ``mlp_model.backbone.*`` (a second ResNet-101 never used) | ignored |

``args.pkl`` is a pickled ``argparse.Namespace``; it is read with an unpickler that builds only
that class and plain values, so a tampered file cannot run code.
"""

from __future__ import annotations

import io
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from corrbench.training.checkpoints import load_mapped_state
from corrbench.errors import CheckpointError

RENAMES = (
    ("feature_extraction.backbone.", "backbone.net."),
    ("mlp_model.cost_embedding.embedder.conv4d.0.", "field.cost_embedding."),
    ("mlp_model.mlp.0.", "field.decoder."),
    ("decoder.", "aggregator."),
)
IGNORED_PREFIXES = ("mlp_model.backbone.", "feature_extraction.backbone.fc.")
_EMBEDDER = re.compile(r"^corr_embedder\.(\d+)\.embedder\.conv4d\.")


def official_state(payload: Any) -> dict[str, torch.Tensor] | None:
    """The official state dict inside ``payload`` (or None if it is not one)."""
    state = payload.get("state_dict", payload) if isinstance(payload, dict) else None
    if isinstance(state, dict) and "mlp_model.mlp.0.fc_p.weight" in state:
        return state
    return None


def map_official_key(key: str) -> str | None:
    """corrbench name of an official key (None for keys that are dropped on purpose)."""
    if key.startswith(IGNORED_PREFIXES):
        return None
    key = _EMBEDDER.sub(r"corr_embedder.\1.blocks.", key)
    for old, new in RENAMES:
        if key.startswith(old):
            return new + key[len(old):]
    return key


def load_official(module: torch.nn.Module, payload: Any, source: str) -> None:
    """Load strictly: every model key present with the right shape, nothing unexplained left over."""
    state = official_state(payload)
    if state is None:
        raise CheckpointError(f"{source} is not an official NeMF checkpoint (no 'mlp_model.mlp.0.fc_p.weight')")
    mapped = {}
    for key, value in state.items():
        new = map_official_key(key.removeprefix("module."))
        if new is not None:
            mapped[new] = value
    load_mapped_state(module, mapped, source, what="this NeMF configuration",
                      hint="the official files fit config=paper with their args.pkl (hyperpixel, feature_proj_dim)")


class _NamespaceOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("argparse", "Namespace"):
            import argparse

            return argparse.Namespace
        raise pickle.UnpicklingError(f"args.pkl may only hold an argparse.Namespace, found {module}.{name}")


def read_official_args(path: str | Path) -> dict[str, Any]:
    """Architecture options from the official ``args.pkl`` (feature_size must be 16)."""
    path = Path(path)
    try:
        namespace = _NamespaceOnly(io.BytesIO(path.read_bytes())).load()
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as error:
        raise CheckpointError(f"cannot read official args {path}: {str(error)[:160]}") from error
    args = vars(namespace) if hasattr(namespace, "__dict__") else {}
    options: dict[str, Any] = {}
    for name in ("feature_size", "feature_proj_dim", "depth", "num_heads"):
        if name in args:
            options[name] = int(args[name])
    if "mlp_ratio" in args:
        options["mlp_ratio"] = float(args["mlp_ratio"])
    if "hyperpixel" in args:
        options["hyperpixel"] = tuple(int(v) for v in re.findall(r"\d+", str(args["hyperpixel"])))
    if options.get("feature_size", 16) != 16:
        raise CheckpointError(f"{path}: feature_size {options['feature_size']} (the official model needs 16)")
    return options
