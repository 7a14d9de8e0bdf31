"""Training: the shared loop (``loop``), the learned-method base (``learned``), checkpoints, method
configurations and pretrained backbones.

The names a plugin needs are re-exported here (``from corrbench.training import TrainableMethod``),
loaded on first use so that importing a sibling module (e.g. ``corrbench.training.checkpoints``)
does not import the loop and torch with it.
"""

from __future__ import annotations

from typing import Any

_LOOP_NAMES = ("CHECKPOINT_FORMAT", "WEIGHTS_FILE", "TrainConfig", "TrainableMethod", "TrainSummary",
               "Validation", "checkpoint_options", "make_optimizer", "payload_options", "train")

_LEARNED_NAMES = ("IMAGENET_MEAN", "IMAGENET_STD", "LearnedMethod", "OfficialWeights", "Preprocessing", "Preset",
                  "seeded")

__all__ = [*_LOOP_NAMES, *_LEARNED_NAMES]


def __getattr__(name: str) -> Any:
    if name in _LOOP_NAMES:
        from corrbench.training import loop

        return getattr(loop, name)
    if name in _LEARNED_NAMES:
        from corrbench.training import learned

        return getattr(learned, name)
    raise AttributeError(f"module 'corrbench.training' has no attribute {name!r}")
