"""Sharding a run over ``torchrun`` processes (gloo on CPU, nccl on GPUs) and gathering records.

Each rank evaluates pairs ``rank, rank + world, ...``; rank 0 gathers every record and puts them
back in dataset order, so aggregates equal a single-process run's exactly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_from_env(device: str = "cpu") -> DistContext:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1), else a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        dist.init_process_group(backend=backend)
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size())


def shard_indices(n: int, context: DistContext) -> list[int]:
    return list(range(context.rank, n, context.world_size))


def gather_records(records: list[dict[str, Any]], context: DistContext) -> list[dict[str, Any]] | None:
    """All ranks' records on rank 0 (None elsewhere)."""
    if not context.enabled:
        return records
    import torch.distributed as dist

    gathered: list[Any] | None = [None] * context.world_size if context.is_main else None
    dist.gather_object(records, gathered, dst=0)
    if not context.is_main:
        return None
    return [record for part in gathered for record in part]  # type: ignore[union-attr]


def finish(context: DistContext) -> None:
    if context.enabled:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
