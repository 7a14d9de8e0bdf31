"""The official SFNet checkpoint (``weights/best_checkpoint.pt`` of cvlab-yonsei/SFNet).

It is a dict ``{'state_dict1': adap_layer_feat3.state_dict(), 'state_dict2':
adap_layer_feat4.state_dict()}``; the backbone is not in it (ImageNet ResNet-101).  Our
adaptation layers use the same inner names, so the mapping is a prefix per sub-dict.  Unlike the
official ``strict=False`` load, every key must be present except ``num_batches_tracked``.
"""

from __future__ import annotations

from typing import Any

import torch

from corrbench.errors import CheckpointError

OFFICIAL_PREFIXES = {"state_dict1": "adap3.", "state_dict2": "adap4."}


def is_official(payload: Any) -> bool:
    return isinstance(payload, dict) and set(OFFICIAL_PREFIXES) <= set(payload)


def map_official_state(payload: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Official sub-dicts -> our ``adap3.*`` / ``adap4.*`` keys."""
    mapped: dict[str, torch.Tensor] = {}
    for part, prefix in OFFICIAL_PREFIXES.items():
        state = payload[part]
        if not isinstance(state, dict):
            raise CheckpointError(f"official SFNet checkpoint: '{part}' is not a state dict")
        for key, value in state.items():
            mapped[prefix + key.removeprefix("module.")] = value
    return mapped


def load_official(module: torch.nn.Module, payload: dict[str, Any], source: str) -> None:
    """Load the adaptation layers strictly (shapes and names), tolerating missing BN counters."""
    mapped = map_official_state(payload)
    own = {key: value for key, value in module.state_dict().items() if key.startswith(("adap3.", "adap4."))}
    unexpected = sorted(set(mapped) - set(own))
    missing = sorted(key for key in set(own) - set(mapped) if not key.endswith("num_batches_tracked"))
    if unexpected or missing:
        raise CheckpointError(f"{source} does not fit SFNet's adaptation layers: missing {missing[:2]}, "
                              f"unexpected {unexpected[:2]} (the official file fits backbone=resnet101, "
                              "levels=[3, 4], kernels=[5, 3])")
    for key, value in mapped.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise CheckpointError(f"{source}: '{key}' has shape {tuple(value.shape)}, the model expects "
                                  f"{tuple(own[key].shape)} (the official file fits the paper configuration)")
    module.load_state_dict(mapped, strict=False)
