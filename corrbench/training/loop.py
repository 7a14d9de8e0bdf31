"""A small generic training loop shared by every trainable method.

Methods own their model and loss; this module owns everything around it that users expect to
behave the same for every method: seeding, shuffling, optimiser, a time budget, a rich progress
bar, checkpoints written atomically every epoch, and exact resume from the last one.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from corrbench.api import Dataset, Method, Pair
from corrbench.training.checkpoints import load_checkpoint, save_checkpoint
from corrbench.errors import CheckpointError, UsageError

CHECKPOINT_FORMAT = "corrbench-checkpoint/1"
WEIGHTS_FILE = "weights.pth"


@dataclass
class TrainConfig:
    """Knobs of a training run; a method's ``default_train_config()`` sets the paper's values."""

    epochs: int = 1
    batch_size: int = 4
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"  # adam | adamw | sgd
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9
    max_minutes: float | None = None  # stop (and checkpoint) once this wall-clock budget is spent
    pairs_per_epoch: int | None = None  # None = the whole dataset
    seed: int = 0
    grad_clip: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class TrainableMethod(Method):
    """A method that can be trained by :func:`train`.

    Subclasses expose their parameters through ``module`` (a ``torch.nn.Module``), compute a loss
    on a batch of pairs in ``training_loss``, and keep the constructor options that define the
    architecture in ``self.options`` so a checkpoint can rebuild the same model.
    """

    module: torch.nn.Module
    options: dict[str, Any]

    def default_train_config(self) -> TrainConfig:
        return TrainConfig()

    def training_loss(self, pairs: Sequence[Pair], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def prepare_training(self, dataset: Dataset, config: TrainConfig) -> None:
        """Called by :func:`train` before the first step (e.g. to draw extra images from ``dataset``)."""

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.module.parameters() if p.requires_grad]

    # --- checkpoints -------------------------------------------------------------------------
    def checkpoint_payload(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "method": self.name,
            "method_version": self.version,
            "options": dict(self.options),
            "state_dict": self.module.state_dict(),
        }

    def load_corrbench_checkpoint(self, payload: dict[str, Any], source: str = "checkpoint") -> None:
        """Load a corrbench checkpoint, refusing one of another method or architecture."""
        if payload.get("method") != self.name:
            raise CheckpointError(
                f"{source} was trained for method '{payload.get('method')}', not '{self.name}'"
            )
        arch = {k: v for k, v in payload.get("options", {}).items() if k in self.architecture_options()}
        mine = {k: v for k, v in self.options.items() if k in self.architecture_options()}
        if arch != mine:
            raise CheckpointError(
                f"{source} has architecture options {arch}, the model was built with {mine}; "
                "pass the same options (or omit them)"
            )
        missing, unexpected = self.module.load_state_dict(payload["state_dict"], strict=False)
        if missing or unexpected:
            raise CheckpointError(
                f"{source} does not fit the model: {len(missing)} missing key(s) (e.g. {missing[:2]}), "
                f"{len(unexpected)} unexpected (e.g. {unexpected[:2]})"
            )

    def architecture_options(self) -> tuple[str, ...]:
        """Option names that change the parameter shapes (checked when loading)."""
        return ()


def checkpoint_options(path: str | Path) -> dict[str, Any]:
    """Options stored in a corrbench checkpoint (to rebuild the model it was trained with)."""
    return payload_options(load_checkpoint(path))


def payload_options(payload: Any) -> dict[str, Any]:
    """Options stored in an already loaded checkpoint; ``{}`` for anything but a corrbench checkpoint."""
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        return {}
    return dict(payload.get("options", {}))


def make_optimizer(params: list[torch.nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    raise UsageError(f"unknown optimizer '{config.optimizer}'; choose adam, adamw or sgd")


@dataclass
class TrainSummary:
    epochs_done: int
    steps: int
    seconds: float
    last_loss: float
    losses: list[float]
    checkpoint: str
    stopped_by_budget: bool


def _epoch_order(n: int, epoch: int, config: TrainConfig) -> list[int]:
    rng = np.random.default_rng([config.seed, epoch])
    order = rng.permutation(n).tolist()
    if config.pairs_per_epoch:
        order = (order * (config.pairs_per_epoch // max(1, n) + 1))[: config.pairs_per_epoch]
    return order


def train(
    method: TrainableMethod,
    dataset: Dataset,
    config: TrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = True,
    progress: bool = False,
) -> TrainSummary:
    """Train ``method`` on ``dataset``; ``out_dir/last.pth`` always holds the latest epoch.

    ``last.pth`` carries the optimiser state for resuming; ``weights.pth`` beside it holds only
    what inference needs (options + state dict): the file to share or commit.
    """
    if not isinstance(method, TrainableMethod):
        raise UsageError(f"method '{method.name}' cannot be trained (it has no training loss)")
    out = Path(out_dir)
    last = out / "last.pth"
    remove_stale_temporaries(out)
    optimizer = make_optimizer(method.trainable_parameters(), config)
    start_epoch, step, losses, skip_batches, rng_state = 0, 0, [], 0, None
    if resume and last.is_file():
        state = load_checkpoint(last)
        check_resume_config(state.get("config"), config, last)
        method.load_corrbench_checkpoint(state, source=str(last))
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, step, losses = state["epoch"], state["step"], list(state["losses"])
        skip_batches, rng_state = int(state.get("batches_done", 0)), state.get("rng")
    method.prepare_training(dataset, config)
    began = time.monotonic()
    stopped = False
    from corrbench.progress import progress_bar

    epoch, partial = start_epoch, False
    for epoch in range(start_epoch, config.epochs):
        # Seeding per epoch makes a run resumed from an epoch checkpoint identical to an uninterrupted one.
        torch.manual_seed(config.seed * 100_003 + epoch)
        order = _epoch_order(len(dataset), epoch, config)
        batches = [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]
        first = 0
        if epoch == start_epoch and skip_batches:
            # Resuming a budget stop mid-epoch: the same order, the RNG where it stopped, the rest of the batches.
            first = skip_batches
            _set_rng(rng_state)
        method.module.train()
        batches_done = first
        with progress_bar(len(batches) - first, f"epoch {epoch + 1}/{config.epochs}", enabled=progress) as advance:
            for batch in batches[first:]:
                pairs = [dataset[i] for i in batch]
                loss, _logs = method.training_loss(pairs, step)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.grad_clip:
                    torch.nn.utils.clip_grad_norm_(method.trainable_parameters(), config.grad_clip)
                optimizer.step()
                losses.append(float(loss.detach()))
                step += 1
                batches_done += 1
                advance(1)
                if config.max_minutes is not None and time.monotonic() - began > 60 * config.max_minutes:
                    stopped = True
                    break
        method.module.eval()
        # A budget stop mid-epoch records where it stopped (epoch, batches done, RNG) so resume is exact.
        partial = stopped and batches_done < len(batches)
        payload = {**method.checkpoint_payload(), "optimizer": optimizer.state_dict(),
                   "epoch": epoch if partial else epoch + 1, "batches_done": batches_done if partial else 0,
                   "rng": _get_rng() if partial else None, "step": step, "losses": losses,
                   "partial_epoch": partial, "config": _plain(asdict(config))}
        save_checkpoint(payload, last)
        save_checkpoint(method.checkpoint_payload(), out / WEIGHTS_FILE)
        if stopped:
            break
    done = (epoch if partial else epoch + 1) if config.epochs > start_epoch else start_epoch
    return TrainSummary(epochs_done=done, steps=step, seconds=time.monotonic() - began,
                        last_loss=losses[-1] if losses else float("nan"), losses=losses,
                        checkpoint=str(last), stopped_by_budget=stopped)


#: Settings a resumed run may change: how long it goes on.  Anything else changes what it learns.
RESUMABLE_CHANGES = ("epochs", "max_minutes")


def check_resume_config(stored: dict[str, Any] | None, config: TrainConfig, path: Path) -> None:
    """Refuse to resume with other hyper-parameters than the checkpoint was trained with."""
    if not stored:
        return
    now = _plain(asdict(config))
    changed = [f"{key} {stored[key]!r} -> {now[key]!r}" for key in sorted(now)
               if key in stored and key not in RESUMABLE_CHANGES and stored[key] != now[key]]
    if changed:
        raise UsageError(f"{path} was trained with other settings ({'; '.join(changed)}); resume with the "
                         "checkpoint's settings, or start over with --no-resume (only epochs and "
                         "max_minutes may change on resume)")


def remove_stale_temporaries(out: Path) -> None:
    """A kill during an atomic save leaves ``.last.pth.*.tmp`` behind: remove such leftovers."""
    for name in ("last.pth", WEIGHTS_FILE):
        for stale in out.glob(f".{name}.*.tmp"):
            stale.unlink(missing_ok=True)


def _get_rng() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng(state: dict[str, Any] | None) -> None:
    if not state:
        return
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _plain(value: Any) -> Any:
    """Config as plain containers (weights_only checkpoints hold no custom classes)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
