"""Data-parallel training under ``torchrun``: one process per GPU (nccl) or CPU (gloo).

Each global batch of the shuffled pair order is split over the ranks as ``DistributedSampler``
splits a dataset (rank ``r`` takes ``batch[r::world]``), every rank weights its loss by its share
of the batch, and the gradients are **summed** over the ranks: the update is the one of a single
process on the whole batch, whatever the world size or an uneven last batch.  The sum is done by
hand rather than by ``DistributedDataParallel`` because methods compute their losses through
their own sub-modules (``module.embed``, ``module.match`` ...), not ``module.forward``, and
because a rank may get no pair of a short last batch.  Buffers (BatchNorm statistics) are
broadcast from rank 0 after each update, as DDP does before each forward, so every rank holds the
same model and rank 0's checkpoint resumes all of them.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from corrbench.eval.distributed import DistContext, finish, init_from_env

#: Gradients are summed in flat buckets of about this many bytes (fewer, larger messages).
BUCKET_BYTES = 32 * 2**20


def join(device: str) -> DistContext:
    """This process's place in a torchrun job (a single process outside torchrun)."""
    return init_from_env(device)


def leave(context: DistContext) -> None:
    finish(context)


def _comm_device(context: DistContext, like: torch.Tensor | None = None) -> torch.device:
    import torch.distributed as dist

    if dist.get_backend() == "nccl":
        return like.device if like is not None and like.is_cuda else torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def shard(batch: Sequence[int], context: DistContext) -> list[int]:
    """This rank's pairs of one global batch (``DistributedSampler``'s strided split)."""
    return list(batch[context.rank :: context.world_size])


def micro_batches(indices: Sequence[int], accumulate: int) -> list[list[int]]:
    """``indices`` cut into ``accumulate`` contiguous parts as even as possible (some may be empty)."""
    count = len(indices)
    bounds = [round(count * part / accumulate) for part in range(accumulate + 1)]
    return [list(indices[bounds[part] : bounds[part + 1]]) for part in range(accumulate)]


def sum_gradients(parameters: Sequence[torch.nn.Parameter], context: DistContext) -> None:
    """Sum every parameter's gradient over the ranks, in place.

    A parameter that no rank gave a gradient keeps ``grad = None`` (so optimisers skip it exactly
    as in one process); one that some rank did not reach gets zeros there before the sum.
    """
    if not context.enabled or not parameters:
        return
    import torch.distributed as dist

    device = _comm_device(context, parameters[0])
    present = torch.tensor([p.grad is not None for p in parameters], dtype=torch.uint8, device=device)
    dist.all_reduce(present, op=dist.ReduceOp.MAX)
    chosen = [p for p, flag in zip(parameters, present.tolist()) if flag]
    for parameter in chosen:
        if parameter.grad is None:
            parameter.grad = torch.zeros_like(parameter)
    for bucket in _buckets([p.grad for p in chosen]):
        flat = torch.cat([g.reshape(-1) for g in bucket]).to(device)
        dist.all_reduce(flat)
        offset = 0
        for grad in bucket:
            grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
            offset += grad.numel()


def _buckets(tensors: list[torch.Tensor]) -> list[list[torch.Tensor]]:
    """Consecutive tensors of one dtype and device, about ``BUCKET_BYTES`` each."""
    buckets: list[list[torch.Tensor]] = []
    size = 0
    for tensor in tensors:
        fresh = not buckets or size >= BUCKET_BYTES or (
            buckets[-1][-1].dtype != tensor.dtype or buckets[-1][-1].device != tensor.device)
        if fresh:
            buckets.append([])
            size = 0
        buckets[-1].append(tensor)
        size += tensor.numel() * tensor.element_size()
    return buckets


def sum_value(value: float, context: DistContext) -> float:
    """``value`` summed over the ranks (float64)."""
    if not context.enabled:
        return value
    import torch.distributed as dist

    total = torch.tensor([value], dtype=torch.float64, device=_comm_device(context))
    dist.all_reduce(total)
    return float(total.item())


def any_rank(flag: bool, context: DistContext) -> bool:
    """True on every rank when it is true on any (so that all ranks stop together)."""
    if not context.enabled:
        return flag
    import torch.distributed as dist

    value = torch.tensor([1 if flag else 0], dtype=torch.int32, device=_comm_device(context))
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def broadcast_state(module: torch.nn.Module, context: DistContext, buffers_only: bool = False) -> None:
    """Rank 0's parameters (unless ``buffers_only``) and buffers on every rank."""
    if not context.enabled:
        return
    import torch.distributed as dist

    tensors = [] if buffers_only else [p.data for p in module.parameters()]
    tensors += [b for b in module.buffers()]
    for tensor in tensors:
        moved = tensor.to(_comm_device(context, tensor))
        dist.broadcast(moved, src=0)
        if moved is not tensor:
            tensor.copy_(moved)


def gather(item: Any, context: DistContext) -> list[Any]:
    """Every rank's ``item``, in rank order (a single process: ``[item]``)."""
    if not context.enabled:
        return [item]
    import torch.distributed as dist

    items: list[Any] = [None] * context.world_size
    dist.all_gather_object(items, item)
    return items


def barrier(context: DistContext) -> None:
    if context.enabled:
        import torch.distributed as dist

        dist.barrier()
