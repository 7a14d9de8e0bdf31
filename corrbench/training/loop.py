"""A small generic training loop shared by every trainable method.

Methods own their model and loss; this module owns everything around it that users expect to
behave the same for every method: seeding, shuffling, optimiser, a per-epoch learning-rate
schedule, gradient accumulation, mixed precision, data-parallel training under torchrun, a time
budget, a rich progress bar, validation with best-checkpoint selection, checkpoints written
atomically, and exact resume (the run itself is :mod:`corrbench.training.run`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from corrbench.api import Dataset, Method, Pair
from corrbench.training.checkpoints import load_checkpoint, save_checkpoint
from corrbench.errors import CheckpointError, UsageError
from corrbench.training.selection import Validation

CHECKPOINT_FORMAT = "corrbench-checkpoint/1"
WEIGHTS_FILE = "weights.pth"


@dataclass
class TrainConfig:
    """Knobs of a training run; a method's ``default_train_config()`` sets the paper's values.

    ``batch_size`` is the number of pairs per optimiser update whatever the number of processes
    (torchrun) and of micro-batches per update (``accumulate``): one recipe on one GPU or many.
    The schedule (``scheduler``: None, ``step``, ``multistep`` or ``cosine``) is stepped per epoch.
    ``dataset``/``split``/``dataset_options`` name the recipe's training data, ``method_options``
    the method options it needs (e.g. RTN's stage), ``validation`` its model selection, and
    ``recipe`` says where the recipe comes from and how it differs from the official one.
    """

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
    # --- learning-rate schedule, per epoch (corrbench.training.schedule) ---------------------------
    scheduler: str | None = None
    step_size: int = 1  # step: x gamma every step_size epochs
    milestones: tuple[int, ...] = ()  # multistep: x gamma at each of these epochs
    gamma: float = 0.1
    min_lr: float = 0.0  # cosine: the floor
    cosine_epochs: int | None = None  # cosine: the period (None = epochs)
    # --- how an update runs -----------------------------------------------------------------------
    accumulate: int = 1  # micro-batches per update (same update, less memory)
    precision: str = "fp32"  # fp32 | bf16 | fp16 (autocast; fp16 with a GradScaler)
    save_every_steps: int | None = None  # also checkpoint mid-epoch (exact resume after a kill)
    workers: int = 0  # threads reading the next updates' pairs ahead (0: read when needed)
    # --- the recipe's data and model selection ----------------------------------------------------
    dataset: str | None = None
    split: str = "train"
    dataset_options: dict[str, Any] = field(default_factory=dict)
    method_options: dict[str, Any] = field(default_factory=dict)
    validation: Validation | None = None
    recipe: str = ""


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

    def recipe_names(self) -> tuple[str, ...]:
        """Named training recipes besides the default one (see ``LearnedMethod``)."""
        return ()

    def train_recipe(self, name: str | None = None) -> TrainConfig:
        if name is not None:
            raise UsageError(f"method '{self.name}' has no training recipe '{name}' (only its default one)")
        return self.default_train_config()

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
    best: dict[str, Any] | None = None  # the best validation (metric, value, epoch, step, ...)
    validations: list[dict[str, Any]] = field(default_factory=list)
    world_size: int = 1


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
    val_data: Dataset | None = None,
) -> TrainSummary:
    """Train ``method`` on ``dataset``; ``out_dir/last.pth`` always holds the latest epoch.

    ``last.pth`` carries the optimiser state for resuming; ``weights.pth`` beside it holds only
    what inference needs (options + state dict): the file to share or commit.  With
    ``config.validation``, ``best.pth`` holds the best validated model and ``validation.json`` the
    history (``val_data`` overrides the dataset the validation names, e.g. for another root).
    Under torchrun every rank calls this; rank 0 writes the files.
    """
    from corrbench.training.run import TrainingRun

    if not isinstance(method, TrainableMethod):
        raise UsageError(f"method '{method.name}' cannot be trained (it has no training loss)")
    return TrainingRun(method, dataset, config, Path(out_dir), progress=progress, val_data=val_data).run(resume)


#: Settings a resumed run may change: how long it goes on, how often it saves, how an update is
#: split into micro-batches, how many threads read ahead, and the recipe's prose.  Anything else
#: changes what it learns.
RESUMABLE_CHANGES = ("epochs", "max_minutes", "save_every_steps", "accumulate", "workers", "recipe")


def check_resume_config(stored: dict[str, Any] | None, config: TrainConfig, path: Path) -> None:
    """Refuse to resume with other hyper-parameters than the checkpoint was trained with."""
    if not stored:
        return
    now = _plain(asdict(config))
    changed = [f"{key} {stored[key]!r} -> {now[key]!r}" for key in sorted(now)
               if key in stored and key not in RESUMABLE_CHANGES and stored[key] != now[key]]
    if (config.scheduler == "cosine" and config.cosine_epochs is None and "epochs" in stored
            and stored["epochs"] != now["epochs"]):
        changed.append(f"epochs {stored['epochs']!r} -> {now['epochs']!r} (the cosine period; set cosine_epochs)")
    if changed:
        raise UsageError(f"{path} was trained with other settings ({'; '.join(changed)}); resume with the "
                         "checkpoint's settings, or start over with --no-resume (only epochs, max_minutes, "
                         "save_every_steps, accumulate and workers may change on resume)")


def check_train_config(config: TrainConfig) -> None:
    """One-line errors for settings that cannot run, before any work."""
    from corrbench.eval.precision import check_precision
    from corrbench.training.schedule import check_schedule

    check_schedule(config)
    check_precision(config.precision)
    for name in ("epochs", "batch_size", "accumulate"):
        if int(getattr(config, name)) < 1:
            raise UsageError(f"training {name} must be >= 1, got {getattr(config, name)}")
    if config.workers < 0:
        raise UsageError(f"training workers must be >= 0, got {config.workers}")
    if config.save_every_steps is not None and config.save_every_steps < 1:
        raise UsageError(f"training save_every_steps must be >= 1, got {config.save_every_steps}")
    if config.validation is not None:
        config.validation.check()


def remove_stale_temporaries(out: Path) -> None:
    """A kill during an atomic save leaves ``.last.pth.*.tmp`` behind: remove such leftovers."""
    for name in ("last.pth", WEIGHTS_FILE, "best.pth"):
        for stale in out.glob(f".{name}.*.tmp"):
            stale.unlink(missing_ok=True)


def _plain(value: Any) -> Any:
    """Config as plain containers (weights_only checkpoints hold no custom classes)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def plain_config(config: TrainConfig) -> dict[str, Any]:
    return _plain(asdict(config))
