"""Learning-rate schedules of the papers' recipes, stepped once per epoch, as closed forms.

The rate of epoch ``e`` (0-based) is a function of ``e`` and the config alone, so a resumed run
sets exactly the rate an uninterrupted one would, with no scheduler state to save; the values
are those of torch's ``StepLR``, ``MultiStepLR`` and ``CosineAnnealingLR`` stepped after every
epoch (``tests/test_train_schedule.py`` checks them against torch).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import TYPE_CHECKING

from corrbench.errors import UsageError

if TYPE_CHECKING:
    from corrbench.training.loop import TrainConfig

SCHEDULERS = ("step", "multistep", "cosine")


def check_schedule(config: "TrainConfig") -> None:
    """One-line errors for a schedule that cannot run, before any work."""
    name = config.scheduler
    if name is None:
        return
    if name not in SCHEDULERS:
        raise UsageError(f"unknown scheduler '{name}'; choose {', '.join(SCHEDULERS)} or none")
    if name == "step" and config.step_size < 1:
        raise UsageError(f"scheduler step needs step_size >= 1, got {config.step_size}")
    if name == "multistep" and (not config.milestones or any(int(m) < 1 for m in config.milestones)):
        raise UsageError(f"scheduler multistep needs milestones (epochs >= 1), got {list(config.milestones)}")
    if name in ("step", "multistep") and not config.gamma > 0:
        raise UsageError(f"scheduler {name} needs gamma > 0, got {config.gamma}")
    if name == "cosine" and (config.cosine_epochs is not None and config.cosine_epochs < 1):
        raise UsageError(f"scheduler cosine needs cosine_epochs >= 1, got {config.cosine_epochs}")


def lr_at(config: "TrainConfig", epoch: int) -> float:
    """The learning rate of 0-based ``epoch`` under ``config``'s schedule."""
    base = float(config.lr)
    if config.scheduler is None:
        return base
    if config.scheduler == "step":
        return base * config.gamma ** (epoch // config.step_size)
    if config.scheduler == "multistep":
        return base * config.gamma ** bisect_right(sorted(int(m) for m in config.milestones), epoch)
    if config.scheduler == "cosine":
        period = config.cosine_epochs or config.epochs
        return config.min_lr + (base - config.min_lr) * (1 + math.cos(math.pi * epoch / period)) / 2
    raise UsageError(f"unknown scheduler '{config.scheduler}'; choose {', '.join(SCHEDULERS)} or none")


def set_lr(optimizer, config: "TrainConfig", epoch: int) -> float:
    """Give every parameter group the rate of ``epoch``; returns it."""
    rate = lr_at(config, epoch)
    for group in optimizer.param_groups:
        group["lr"] = rate
    return rate
