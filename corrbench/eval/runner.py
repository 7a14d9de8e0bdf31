"""The one evaluation loop behind ``corrbench.evaluate()``, ``corrbench run``, TSS scoring and ``show``.

For each batch of pairs: seed, frame each pair under the protocol, hand the method a blinded copy
(:mod:`corrbench.eval.blinding`), check its answers (:mod:`corrbench.eval.validation`), score them
against the loader's untouched pair with the task's scorer (:mod:`corrbench.eval.tasks`), keep a
per-pair record on disk (resume), and, under torchrun, shard batches over ranks and gather the
records on every rank.  Entry points only parse, call :func:`evaluate`, print and write.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Sequence

import numpy as np

from corrbench.api import Dataset, Method, Pair, Prediction
from corrbench.eval.result import EvaluationResult
from corrbench.eval.tasks import Task, task_for
from corrbench.eval.validation import call_predict
from corrbench.eval.protocols import Protocol, get_protocol

RecordCallback = Callable[[dict[str, Any]], None]
Progress = Callable[[int, int], None]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    import torch

    torch.manual_seed(seed)


def resolve_protocol(dataset: Dataset, protocol: "str | Protocol | None") -> Protocol:
    """The named (or default) protocol for ``dataset``; a preset meant for other datasets is refused."""
    if dataset.task == "training":
        from corrbench.errors import UsageError

        raise UsageError(f"dataset '{dataset.name}' holds training images without correspondences; it cannot be "
                         "evaluated (train with it, evaluate on a benchmark such as pfpascal)")
    name = protocol or dataset.default_protocol
    return get_protocol(name, dataset=dataset.name, any_dataset=name == dataset.default_protocol)


def method_batch_size(method: Method, batch_size: int | None) -> int:
    return max(1, int(batch_size or getattr(method, "batch_size", 1) or 1))


def predict_scored(method: Method, task: Task, pairs: Sequence[Pair],
                   precision: str = "fp32") -> list[tuple[Pair, Prediction]]:
    """Frame, blind, ask, check: (the scoring pair in the protocol's frame, the checked answer) per pair."""
    from corrbench.eval.precision import autocast

    framed = [task.frame(pair) for pair in pairs]
    views = [task.method_view(pair) for pair in framed]
    with autocast(str(getattr(method, "device", "cpu")), precision):
        predictions = call_predict(method, views, task.directions) if views else []
    for view, prediction in zip(views, predictions):
        task.check(method, view, prediction)
    return list(zip(framed, predictions))


def predict_pair(method: Method, dataset: Dataset, index: int, protocol: "str | Protocol | None" = None,
                 seed: int = 0) -> tuple[Pair, Prediction, Protocol]:
    """One pair as :func:`evaluate` would predict it (same seed, blinding, checks), for ``corrbench show``:
    dense fields are asked for too, since the picture draws them."""
    protocol = resolve_protocol(dataset, protocol)
    task = task_for(dataset, protocol, fields=True)
    seed_everything(seed + int(index))
    (framed, prediction), = predict_scored(method, task, [dataset[int(index)]])
    return framed, prediction, protocol


def _progress_callback(progress: "bool | Progress", total: int, label: str):
    from contextlib import nullcontext

    from corrbench.progress import progress_bar

    if callable(progress):
        done = [0]

        def advance(n: int) -> None:
            done[0] += n
            progress(done[0], total)

        return nullcontext(advance)
    return progress_bar(total, label, enabled=bool(progress))


def evaluate(
    method: Method,
    dataset: Dataset,
    protocol: "str | Protocol | None" = None,
    limit: int | None = None,
    *,
    batch_size: int | None = None,
    seed: int = 0,
    progress: "bool | Progress" = False,
    runs_dir: str | None = None,
    resume: bool = True,
    distributed: bool = True,
    on_record: RecordCallback | None = None,
    kit: str = "cpp",
    auto_flip: bool = False,
    save_predictions: str | None = None,
    precision: str = "fp32",
    workers: int = 0,
) -> EvaluationResult:
    """Score ``method`` on ``dataset`` under ``protocol`` (None: the dataset's default).

    * ``runs_dir``: keep per-pair records there, and (``resume=True``) reuse those of an earlier,
      identical run (same :class:`~corrbench.eval.identity.RunIdentity`), e.g. after a kill.
    * ``distributed``: under torchrun (``WORLD_SIZE`` > 1), shard over ranks and gather; every
      rank returns the full result.  Build the method on :func:`corrbench.eval.distributed.rank_device`.
    * ``kit``, ``auto_flip``, ``save_predictions``: dense-flow (TSS) scoring rules and kit-layout output.
    * ``precision``: ``fp32``, or ``bf16``/``fp16`` autocast around ``predict`` (part of the run's identity).
    * ``workers``: read and decode pairs ahead of the method in that many DataLoader worker processes
      (:mod:`corrbench.eval.loading`); the records are those of ``workers=0``.
    """
    from corrbench.eval.distributed import DistContext, finish, gather_all, init_from_env, shard_batches
    from corrbench.eval.identity import RunIdentity
    from corrbench.eval.loading import load_batches
    from corrbench.eval.records import RecordStore
    from corrbench.provenance import run_provenance

    protocol = resolve_protocol(dataset, protocol)
    task = task_for(dataset, protocol, kit=kit, auto_flip=auto_flip, save_predictions=save_predictions)
    batch = method_batch_size(method, batch_size)
    from corrbench.eval.precision import check_precision

    identity = RunIdentity.of(method, dataset, protocol, seed=seed, batch_size=batch, task_options=task.options,
                              precision=check_precision(precision))
    context = init_from_env(str(getattr(method, "device", "cpu"))) if distributed else DistContext()

    order = list(range(len(dataset)))
    if limit is not None:
        order = order[: max(0, int(limit))]
    batches = [order[start : start + batch] for start in range(0, len(order), batch)]
    mine = shard_batches(batches, context)

    store = None
    done: dict[str, dict[str, Any]] = {}
    if runs_dir is not None:
        store = RecordStore(runs_dir, identity.key(), shard=str(context.rank))
        if resume and task.reuses_records:
            done = store.load()
        elif store.path.exists():
            store.path.unlink()  # this rank starts its shard over

    # Resumed pairs are not loaded again (a real loader reads ids without decoding images).
    ids = dataset.pair_ids() if done else None
    indexed: list[tuple[int, dict[str, Any], bool]] = []
    seed_everything(seed)
    total = sum(len(b) for b in mine)
    with _progress_callback(progress if context.is_main else False, total,
                            f"{method.name} on {dataset.name}") as advance:
        reused_of = [{i: done[str(ids[i])] for i in indices if ids is not None and str(ids[i]) in done}
                     for indices in mine]
        pending_of = [[i for i in indices if i not in reused] for indices, reused in zip(mine, reused_of)]
        loaded = load_batches(dataset, [p for p in pending_of if p], workers)
        for indices, reused, pending in zip(mine, reused_of, pending_of):
            # Seeding by the batch's first index: a pair's answer is the same whatever the sharding or resume.
            seed_everything(seed + indices[0])
            new: dict[int, dict[str, Any]] = {}
            pairs = next(loaded) if pending else []
            for index, (framed, prediction) in zip(pending, predict_scored(method, task, pairs, precision)):
                record = task.score(method, framed, prediction)
                new[index] = record
                if store is not None:
                    store.append(record)
                if on_record is not None:
                    on_record(record)
            for index in indices:
                indexed.append((index, reused[index] if index in reused else new[index], index in reused))
            advance(len(indices))

    gathered = sorted(gather_all(indexed, context), key=lambda item: item[0])
    finish(context)
    records = [record for _, record, _ in gathered]
    assembled = task.assemble(records, list(dataset.categories))
    provenance = run_provenance(method, dataset, seed=seed, limit=limit, world_size=context.world_size,
                                resumed_pairs=sum(1 for _, _, reused in gathered if reused),
                                batch_size=batch, **task.options)
    return EvaluationResult(
        method=method.name, dataset=dataset.name, split=dataset.split, protocol=protocol,
        provenance=provenance, categories=list(dataset.categories), records=records,
        summary=assembled.summary, per_class=assembled.per_class, buckets=assembled.buckets,
        identity=identity.to_dict(), warnings=assembled.warnings, summary_ci=assembled.summary_ci,
        class_ci=assembled.class_ci,
    )
