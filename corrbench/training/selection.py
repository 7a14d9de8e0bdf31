"""Validation during training and best-checkpoint selection, through corrbench's own evaluator.

The papers select their released model on a validation split (SFNet and MaCoSNet: PF-PASCAL val
PCK@0.1 after every epoch; CATs, whose recipe corrbench's NeMF preset follows, the same on its
benchmark's val split).  Here the score is :func:`corrbench.eval.runner.evaluate` under a named
protocol, so a validation number means what a ``corrbench run`` number means.  Validation runs on
every rank (the evaluator shards it under torchrun) and leaves the training RNG untouched, so a
run with validation trains exactly like one without.  ``best.pth`` holds the best model so far
(inference payload + the metric and value) and ``validation.json`` the history.
"""

from __future__ import annotations

import json
import random
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from corrbench.errors import UsageError

BEST_FILE = "best.pth"
LOG_FILE = "validation.json"


@dataclass
class Validation:
    """Where and how a recipe validates: a benchmark split, a protocol and the metric to select on.

    ``every`` is in epochs; ``every_steps`` (optional) validates every that many optimiser steps
    instead.  ``limit`` scores only the first pairs (a cheaper, documented proxy); ``options`` are
    the dataset's options (``-d``).
    """

    dataset: str
    split: str = "val"
    protocol: str | None = None
    metric: str = "pck@0.1"
    mode: str = "max"  # max | min
    every: int = 1
    every_steps: int | None = None
    limit: int | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if self.mode not in ("max", "min"):
            raise UsageError(f"validation mode must be max or min, got '{self.mode}'")
        if self.every < 1 or (self.every_steps is not None and self.every_steps < 1):
            raise UsageError(f"validation every/every_steps must be >= 1, got {self.every}/{self.every_steps}")
        if self.limit is not None and self.limit < 1:
            raise UsageError(f"validation limit must be >= 1, got {self.limit}")

    def better(self, value: float, best: float | None) -> bool:
        if not np.isfinite(value):
            return False
        return best is None or (value > best if self.mode == "max" else value < best)


def load_validation_data(validation: Validation, root: str | None = None):
    """The validation dataset a recipe names (its default root unless ``root``)."""
    import corrbench

    return corrbench.load_dataset(validation.dataset, root=root, split=validation.split, **validation.options)


@contextmanager
def untouched_rng() -> Iterator[None]:
    """Everything inside may reseed (the evaluator does); the generators are restored after."""
    state = (random.getstate(), np.random.get_state(), torch.get_rng_state(),
             torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None)
    try:
        yield
    finally:
        random.setstate(state[0])
        np.random.set_state(state[1])
        torch.set_rng_state(state[2])
        if state[3] is not None:
            torch.cuda.set_rng_state_all(state[3])


def score(method, data, validation: Validation, precision: str = "fp32") -> dict[str, Any]:
    """Evaluate ``method`` on ``data`` (all ranks together) and return the metric and summary."""
    from corrbench.eval.runner import evaluate

    module = method.module
    was_training = module.training
    module.eval()
    try:
        with untouched_rng():  # no no_grad: some methods optimise at test time (NeMF)
            result = evaluate(method, data, validation.protocol, limit=validation.limit, precision=precision)
    finally:
        module.train(was_training)
    if validation.metric not in result.summary:
        known = ", ".join(sorted(k for k, v in result.summary.items() if isinstance(v, (int, float))))
        raise UsageError(f"validation metric '{validation.metric}' is not in the evaluator's summary; known: {known}")
    return {"value": float(result.summary[validation.metric]), "protocol": result.protocol.name,
            "n_pairs": int(result.summary.get("n_pairs", len(result.records)))}


def write_log(out: Path, validation: Validation, history: list[dict[str, Any]], best: dict[str, Any] | None) -> None:
    from corrbench.io import atomic_write_text

    payload = {"metric": validation.metric, "mode": validation.mode, "dataset": validation.dataset,
               "split": validation.split, "protocol": validation.protocol, "best": best, "history": history}
    atomic_write_text(out / LOG_FILE, json.dumps(payload, indent=1) + "\n")
