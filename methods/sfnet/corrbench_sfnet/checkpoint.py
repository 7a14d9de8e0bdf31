"""The official SFNet checkpoint (``weights/best_checkpoint.pt`` of cvlab-yonsei/SFNet).

It is a dict ``{'state_dict1': adap_layer_feat3.state_dict(), 'state_dict2':
adap_layer_feat4.state_dict()}``; the backbone is not in it (ImageNet ResNet-101).  Our
adaptation layers use the same inner names, so the mapping is a prefix per sub-dict.  Unlike the
official ``strict=False`` load, every key must be present except ``num_batches_tracked``.
"""

from __future__ import annotations

from typing import Any

import torch

from corrbench.training.checkpoints import load_mapped_state
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
    load_mapped_state(module, mapped, source, own_prefixes=("adap3.", "adap4."), what="SFNet's adaptation layers",
                      hint="the official file fits the paper configuration (backbone=resnet101, levels=[3, 4], "
                           "kernels=[5, 3])")
