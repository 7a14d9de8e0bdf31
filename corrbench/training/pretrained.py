"""Pretrained backbones (torchvision / timm) with one honest error when their weights cannot be fetched.

Every method can build its backbone with ImageNet weights when the user asks (``pretrained=true``);
offline, behind a proxy or with a broken cache, torchvision and timm fail with long tracebacks.
Methods build through :func:`build_pretrained` so that the user reads one line naming the
weights and what to do instead.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from corrbench.errors import CheckpointError

Built = TypeVar("Built")


def build_pretrained(build: Callable[[], Built], what: str, pretrained: bool,
                     advice: str = "use pretrained=false") -> Built:
    """``build()``; with ``pretrained`` its failure (weights not downloadable) becomes a one-line error.

    Without ``pretrained`` nothing is downloaded, so any failure is a real bug and propagates as is.
    """
    if not pretrained:
        return build()
    try:
        return build()
    except Exception as error:  # offline, proxy, broken cache: one line for the user
        raise CheckpointError(f"cannot get pretrained {what} weights ({type(error).__name__}); "
                              f"connect to the internet once, or {advice}") from error


def torchvision_model(name: str, pretrained: bool, advice: str = "use pretrained=false"):
    """``torchvision.models.<name>`` with ImageNet ``IMAGENET1K_V1`` weights or random init."""
    import torchvision

    constructor = getattr(torchvision.models, name)
    return build_pretrained(lambda: constructor(weights="IMAGENET1K_V1" if pretrained else None),
                            f"torchvision {name} IMAGENET1K_V1", pretrained, advice)
