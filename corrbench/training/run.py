"""One training run of :func:`corrbench.training.loop.train`: epochs, updates, validation, checkpoints.

Resume is exact: every epoch reseeds torch from (seed, epoch, rank) and reshuffles the pairs from
(seed, epoch), the learning rate is a closed form of the epoch (:mod:`corrbench.training.schedule`),
and a checkpoint written mid-epoch (a time budget, ``save_every_steps``) records the batches done
and each rank's RNG, so a killed run continues with the very updates it would have made.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from corrbench.api import Dataset
from corrbench.errors import UsageError
from corrbench.eval.precision import autocast
from corrbench.training import ddp
from corrbench.training.checkpoints import load_checkpoint, save_checkpoint
from corrbench.training.loop import (WEIGHTS_FILE, TrainableMethod, TrainConfig, TrainSummary, _epoch_order,
                                     check_resume_config, check_train_config, make_optimizer, plain_config,
                                     remove_stale_temporaries)
from corrbench.training.schedule import set_lr
from corrbench.training.selection import BEST_FILE, load_validation_data, score, write_log


@dataclass
class Progress:
    """Where a run stands; what ``last.pth`` records besides the model and optimiser."""

    epoch: int = 0  # the epoch to run next (or the one in progress, when batches_done > 0)
    step: int = 0  # optimiser updates so far
    batches_done: int = 0  # of ``epoch``, when a checkpoint was written mid-epoch
    losses: list[float] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # validations
    best: dict[str, Any] | None = None
    rng: dict[str, Any] | None = None  # this rank's RNG at batches_done


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """Rank 0 keeps the single-process seed; other ranks draw their own augmentations."""
    return seed * 100_003 + epoch + rank * 1_000_000_007


class TrainingRun:
    def __init__(self, method: TrainableMethod, dataset: Dataset, config: TrainConfig, out: Path, *,
                 progress: bool = False, val_data: Dataset | None = None) -> None:
        check_train_config(config)
        self.method, self.dataset, self.config, self.out = method, dataset, config, out
        self.show_progress = progress
        self.context = ddp.join(str(getattr(method, "device", "cpu")))
        self.device = str(getattr(method, "device", "cpu"))
        self.validation = config.validation
        self.val_data = val_data if val_data is not None or self.validation is None else load_validation_data(
            self.validation)
        self.parameters = method.trainable_parameters()
        self.optimizer = make_optimizer(self.parameters, config)
        self.scaler = torch.amp.GradScaler(self.device.split(":")[0]) if config.precision == "fp16" else None
        self.state = Progress()

    # --- checkpoints ------------------------------------------------------------------------------
    def restore(self, path: Path) -> None:
        payload = load_checkpoint(path)
        check_resume_config(payload.get("config"), self.config, path)
        self.method.load_corrbench_checkpoint(payload, source=str(path))
        self.optimizer.load_state_dict(payload["optimizer"])
        if self.scaler is not None and payload.get("scaler"):
            self.scaler.load_state_dict(payload["scaler"])
        state = Progress(epoch=int(payload["epoch"]), step=int(payload["step"]),
                         batches_done=int(payload.get("batches_done", 0)), losses=list(payload["losses"]),
                         history=list(payload.get("validation_history", [])), best=payload.get("best"))
        if state.batches_done:
            saved_by = int(payload.get("world_size", 1))
            if saved_by != self.context.world_size:
                raise UsageError(f"{path} was saved mid-epoch by {saved_by} process(es); resume it with {saved_by} "
                                 "(or from an epoch checkpoint, or start over with --no-resume)")
            ranks = payload.get("rng_ranks")
            state.rng = ranks[self.context.rank] if ranks else payload.get("rng")
        self.state = state

    def save(self, partial: bool) -> None:
        """``last.pth`` (resumable) and ``weights.pth`` (inference), by rank 0, atomically."""
        state = self.state
        rngs = ddp.gather(_get_rng(), self.context) if partial else None
        if self.context.is_main:
            payload = {**self.method.checkpoint_payload(), "optimizer": self.optimizer.state_dict(),
                       "epoch": state.epoch, "batches_done": state.batches_done if partial else 0,
                       "rng": rngs[0] if partial else None, "step": state.step, "losses": state.losses,
                       "partial_epoch": partial, "config": plain_config(self.config),
                       "world_size": self.context.world_size, "lr": self.optimizer.param_groups[0]["lr"],
                       "validation_history": state.history, "best": state.best}
            if partial and self.context.enabled:
                payload["rng_ranks"] = rngs
            if self.scaler is not None:
                payload["scaler"] = self.scaler.state_dict()
            save_checkpoint(payload, self.out / "last.pth")
            save_checkpoint(self.method.checkpoint_payload(), self.out / WEIGHTS_FILE)
        ddp.barrier(self.context)

    # --- validation -------------------------------------------------------------------------------
    def validate(self, epochs_done: float) -> None:
        validation, state = self.validation, self.state
        info = score(self.method, self.val_data, validation, self.config.precision)
        entry = {"epoch": round(epochs_done, 4), "step": state.step, "value": info["value"], "n_pairs": info["n_pairs"]}
        state.history.append(entry)
        improved = validation.better(info["value"], state.best["value"] if state.best else None)
        if improved:
            state.best = {**entry, "metric": validation.metric, "mode": validation.mode, "dataset": validation.dataset,
                          "split": validation.split, "protocol": info["protocol"]}
        if self.context.is_main:
            if improved:
                save_checkpoint({**self.method.checkpoint_payload(), "validation": state.best}, self.out / BEST_FILE)
            write_log(self.out, validation, state.history, state.best)
        ddp.barrier(self.context)

    # --- one update -------------------------------------------------------------------------------
    def update(self, batch: list[int], loaded: dict[int, Any] | None = None) -> float:
        """One optimiser step on the global ``batch``: this rank's share, in micro-batches, summed over ranks.

        ``loaded`` holds pairs already read by the prefetching threads (index -> pair)."""
        config, optimizer, scaler = self.config, self.optimizer, self.scaler
        optimizer.zero_grad(set_to_none=True)
        total, loss_sum = len(batch), 0.0
        for part in ddp.micro_batches(ddp.shard(batch, self.context), config.accumulate):
            if not part:
                continue
            pairs = [loaded[i] if loaded and i in loaded else self.dataset[i] for i in part]
            with autocast(self.device, config.precision):
                loss, _logs = self.method.training_loss(pairs, self.state.step)
            # The loss is a mean over the part's pairs: weighted by its share, the summed gradients
            # are those of the mean over the whole batch.
            weighted = loss.float() * (len(part) / total)
            (scaler.scale(weighted) if scaler is not None else weighted).backward()
            loss_sum += float(weighted.detach())
        ddp.sum_gradients(self.parameters, self.context)
        if scaler is not None and config.grad_clip:
            scaler.unscale_(optimizer)
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.parameters, config.grad_clip)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        ddp.broadcast_state(self.method.module, self.context, buffers_only=True)
        return ddp.sum_value(loss_sum, self.context)

    # --- the run ----------------------------------------------------------------------------------
    def run(self, resume: bool) -> TrainSummary:
        from corrbench.progress import progress_bar

        config, context, state, method = self.config, self.context, self.state, self.method
        last = self.out / "last.pth"
        if context.is_main:
            remove_stale_temporaries(self.out)
        if resume and last.is_file():
            self.restore(last)
            state = self.state
        ddp.broadcast_state(method.module, context)
        if self.validation is not None:  # a wrong metric, protocol or dataset fails now, not after an epoch
            from dataclasses import replace

            score(method, self.val_data, replace(self.validation, limit=1), config.precision)
        method.prepare_training(self.dataset, config)
        began = time.monotonic()
        stopped = partial = False
        start_epoch = state.epoch
        validation = self.validation
        for epoch in range(start_epoch, config.epochs):
            torch.manual_seed(epoch_seed(config.seed, epoch, context.rank))
            set_lr(self.optimizer, config, epoch)
            order = _epoch_order(len(self.dataset), epoch, config)
            batches = [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]
            first = state.batches_done if epoch == start_epoch else 0
            if first:  # resuming mid-epoch: the same order, the RNG where it stopped, the rest of the batches
                _set_rng(state.rng)
            state.epoch, state.batches_done = epoch, first
            method.module.train()
            label = f"epoch {epoch + 1}/{config.epochs}"
            with progress_bar(len(batches) - first, label, enabled=self.show_progress and context.is_main) as advance:
                ahead = Prefetch(self.dataset, config.workers, [ddp.shard(b, context) for b in batches[first:]])
                for position, batch in enumerate(batches[first:]):
                    state.losses.append(self.update(batch, ahead.pairs(position)))
                    state.step += 1
                    state.batches_done += 1
                    advance(1)
                    if validation is not None and validation.every_steps and state.step % validation.every_steps == 0:
                        self.validate(epoch + state.batches_done / len(batches))
                    if config.max_minutes is not None:
                        stopped = ddp.any_rank(time.monotonic() - began > 60 * config.max_minutes, context)
                    if stopped:
                        break
                    if (config.save_every_steps and state.step % config.save_every_steps == 0
                            and state.batches_done < len(batches)):
                        self.save(partial=True)
            ahead.close()
            method.module.eval()
            # A budget stop mid-epoch records where it stopped (epoch, batches done, RNG) so resume is exact.
            partial = stopped and state.batches_done < len(batches)
            if not partial:
                state.epoch, state.batches_done = epoch + 1, 0
                if validation is not None and not validation.every_steps and (
                        (epoch + 1) % validation.every == 0 or epoch + 1 == config.epochs):
                    self.validate(float(epoch + 1))
            self.save(partial)
            if stopped:
                break
        ddp.leave(context)
        return TrainSummary(epochs_done=state.epoch, steps=state.step, seconds=time.monotonic() - began,
                            last_loss=state.losses[-1] if state.losses else float("nan"), losses=state.losses,
                            checkpoint=str(last), stopped_by_budget=stopped, best=state.best,
                            validations=state.history, world_size=context.world_size)


class Prefetch:
    """Reads the pairs of the next updates in threads while the current one trains.

    Loading (JPEG decoding, resizing) runs in the main process otherwise and can dominate a GPU
    step; a loader's ``dataset[i]`` is a deterministic function of ``i``, so reading ahead changes
    no number.  ``workers=0``: no threads, pairs are read when needed.
    """

    LOOKAHEAD = 2  # updates read ahead

    def __init__(self, dataset: Dataset, workers: int, shares: list[list[int]]) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.dataset, self.shares = dataset, shares
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="corrbench-load") if workers > 0 else None
        self.futures: dict[int, dict[int, Any]] = {}

    def _submit(self, position: int) -> None:
        if self.pool is not None and position < len(self.shares) and position not in self.futures:
            self.futures[position] = {i: self.pool.submit(self.dataset.__getitem__, i) for i in set(self.shares[position])}

    def pairs(self, position: int) -> dict[int, Any] | None:
        """The pairs of update ``position`` (None without threads); schedules the next ones."""
        if self.pool is None:
            return None
        for ahead in range(position, position + self.LOOKAHEAD + 1):
            self._submit(ahead)
        return {i: future.result() for i, future in self.futures.pop(position).items()}

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


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
