"""DINOv2 (Oquab et al., 2023) zero-shot features as a corrbench method plugin.

Import :class:`corrbench_dinov2.method.DINOv2Method` (entry point ``dinov2``); the timm model, its
weights and the block tokens are in :mod:`.backbone`, everything else in the core's
:mod:`corrbench.matching`.
"""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "0.1.0"
