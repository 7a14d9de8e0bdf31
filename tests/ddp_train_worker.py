"""Train ``OffsetNet`` in one process or as one rank of ``torchrun`` (gloo on CPU), job after job.

``python tests/ddp_train_worker.py JOBS_JSON``: a list of jobs ``{"out": DIR, "config": {...},
"method": {...}, "stop_after_steps": N}``, run in order in the same process group (one launch of
torchrun pays the start-up once).  ``stop_after_steps`` makes the time budget run out after N
updates (a clock that jumps), the way a budget stop interrupts a real run mid-epoch.  Rank 0 writes
``DIR/summary.json`` (losses, final parameters, validations) per job.  Used by
``tests/test_train_distributed.py``.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from corrbench.eval.distributed import env_world  # noqa: E402
from corrbench.training import TrainConfig, Validation, train  # noqa: E402
from corrbench.training import run as run_module  # noqa: E402
from tests.train_toys import OffsetNet, offset_pairs  # noqa: E402


class JumpingClock:
    """``time.monotonic`` that stays at 0 for the run's start and N budget checks, then jumps an hour."""

    def __init__(self, calm_calls: int) -> None:
        self.calls, self.calm = 0, calm_calls

    def monotonic(self) -> float:
        self.calls += 1
        return 0.0 if self.calls <= self.calm else 3600.0 * self.calls


def run_job(job: dict) -> None:
    settings = dict(job["config"])
    pairs = int(settings.pop("pairs", 12))
    validate = settings.pop("validate", None)
    if validate is not None:
        settings["validation"] = Validation(dataset="offset-val", protocol="synthetic", **validate)
    stop = job.get("stop_after_steps")
    if stop is not None:
        settings["max_minutes"] = 1.0
        run_module.time = types.SimpleNamespace(monotonic=JumpingClock(stop).monotonic)
    method = OffsetNet(**job.get("method", {}))
    val_data = offset_pairs(6, seed=1) if validate is not None else None
    try:
        summary = train(method, offset_pairs(pairs), TrainConfig(**settings), job["out"], val_data=val_data)
    finally:
        run_module.time = __import__("time")
    if env_world()[0] == 0:
        params = [p.detach().double().flatten().tolist() for p in method.module.state_dict().values()]
        record = {"losses": summary.losses, "steps": summary.steps, "params": params, "best": summary.best,
                  "validations": summary.validations, "world_size": summary.world_size,
                  "stopped_by_budget": summary.stopped_by_budget, "epochs_done": summary.epochs_done}
        (Path(job["out"]) / "summary.json").write_text(json.dumps(record))


def main(jobs_json: str) -> None:
    torch.set_num_threads(1)
    world = env_world()[1]
    if world > 1:  # one process group for every job (train() then neither creates nor destroys it)
        import torch.distributed as dist

        dist.init_process_group("gloo")
    try:
        for job in json.loads(jobs_json):
            run_job(job)
    finally:
        if world > 1:
            import torch.distributed as dist

            dist.barrier()
            dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
