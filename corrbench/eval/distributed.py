"""Sharding a run over ``torchrun`` processes (gloo on CPU, nccl on GPUs) and gathering records.

Pairs are cut into the batches a single process would form, and batch ``b`` goes to rank
``b mod world``: every pair is predicted in the same batch, under the same seed, as in one
process, so the gathered records (put back in dataset order) equal a single-process run's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    created_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def env_world() -> tuple[int, int, int]:
    """(rank, world size, local rank) as torchrun sets them; (0, 1, 0) for a plain process."""
    return (int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")),
            int(os.environ.get("LOCAL_RANK", "0")))


def rank_device(device: str) -> str:
    """The device this rank should use: plain ``cuda`` means ``cuda:LOCAL_RANK`` under torchrun."""
    _, world, local_rank = env_world()
    if world > 1 and str(device) == "cuda":
        return f"cuda:{local_rank}"
    return str(device)


def init_from_env(device: str = "cpu") -> DistContext:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1), else a single process."""
    _, world, local_rank = env_world()
    if world <= 1:
        return DistContext()
    import torch.distributed as dist

    created = False
    if not dist.is_initialized():
        cuda = str(device).startswith("cuda")
        if cuda:
            import torch

            torch.cuda.set_device(local_rank if str(device) == "cuda" else torch.device(device))
        dist.init_process_group(backend="nccl" if cuda else "gloo")
        created = True
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank,
                       created_group=created)


def shard_batches(batches: Sequence[Sequence[int]], context: DistContext) -> list[Sequence[int]]:
    return list(batches[context.rank :: context.world_size])


def gather_all(items: list[Any], context: DistContext) -> list[Any]:
    """Every rank's items on every rank (a single process: its own)."""
    if not context.enabled:
        return items
    import torch.distributed as dist

    gathered: list[Any] = [None] * context.world_size
    dist.all_gather_object(gathered, items)
    return [item for part in gathered for item in part]


def finish(context: DistContext) -> None:
    """Leave the process group if this run created it."""
    if context.enabled and context.created_group:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
