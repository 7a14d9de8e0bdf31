"""Pretrained backbones (torchvision / timm) through corrbench's weights cache, with one honest error.

``pretrained=true`` fetches the backbone's file through :mod:`corrbench.weights` (the registry's
checksum, ``$CORRBENCH_CACHE``, ``CORRBENCH_MIRROR``) instead of torchvision's or timm's own
caches, then builds the model without weights and loads the file.  Any failure to get the file is
one line naming the weights and what to do instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, TypeVar

from corrbench.errors import CheckpointError, CorrbenchError

Built = TypeVar("Built")


def build_pretrained(build: Callable[[], Built], what: str, pretrained: bool,
                     advice: str = "use pretrained=false") -> Built:
    """``build()``; with ``pretrained`` its failure (weights not obtainable) becomes a one-line error.

    Without ``pretrained`` nothing is downloaded, so any failure is a real bug and propagates as is.
    """
    if not pretrained:
        return build()
    try:
        return build()
    except CheckpointError:
        raise
    except Exception as error:  # offline, proxy, broken cache: one line for the user
        reason = (str(error).strip().splitlines() or [""])[0][:160]
        raise CheckpointError(f"cannot get pretrained {what} weights ({type(error).__name__}: {reason}); "
                              f"connect to the internet once, set CORRBENCH_MIRROR, or {advice}") from error


def backbone_file(tag: str, advice: str) -> Path:
    """The cached, verified file of backbone ``tag`` (e.g. ``torchvision:resnet101``)."""
    from corrbench.weights.backbones import timm_entry
    from corrbench.weights.registry import all_entries
    from corrbench.weights.store import fetch_entry

    library, name = tag.split(":", 1)
    entry = all_entries().get(tag) if library != "timm" else timm_entry(name)
    if entry is None:
        raise CheckpointError(f"no weights entry '{tag}' (see `corrbench weights`); {advice}")
    try:
        return fetch_entry(entry)
    except CorrbenchError as error:
        raise CheckpointError(f"cannot get pretrained {tag} weights: {error}; or {advice}") from error


def torchvision_model(name: str, pretrained: bool, advice: str = "use pretrained=false"):
    """``torchvision.models.<name>`` with its ImageNet ``IMAGENET1K_V1`` weights (through the cache) or random init."""
    import torch
    import torchvision

    model = getattr(torchvision.models, name)(weights=None)
    if pretrained:
        path = backbone_file(f"torchvision:{name}", advice)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model


def timm_model(name: str, pretrained: bool, advice: str = "use pretrained=false", **kwargs: Any):
    """``timm.create_model(name, **kwargs)`` with its pretrained weights (through the cache) or random init."""
    import timm

    if not pretrained:
        return timm.create_model(name, pretrained=False, **kwargs)
    path = backbone_file(f"timm:{name}", advice)
    return build_pretrained(
        lambda: timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": str(path)}, **kwargs),
        f"timm {name}", True, advice)
