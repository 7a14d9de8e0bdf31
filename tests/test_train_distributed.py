"""Data-parallel training under torchrun (gloo, 2 CPU processes): the single-process updates, exact resume.

The workers run ``tests/ddp_train_worker.py`` (several jobs per launch, so the start-up of two
processes is paid once).  ``OffsetNet``'s loss is a mean over pairs, so 2 processes with b pairs
each must give the loss curve and weights of 1 process with 2b pairs, up to float summation order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from corrbench.training import TrainConfig, Validation, train
from corrbench.training.checkpoints import load_checkpoint
from tests.train_toys import OffsetNet, offset_pairs

REPO = Path(__file__).resolve().parents[1]
WORKER = REPO / "tests" / "ddp_train_worker.py"
TOLERANCE = 1e-5  # float32 sums in another order (measured: about 1e-7)


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def _torchrun(jobs: list[dict], nproc: int = 2) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc), "--standalone",
            str(WORKER), json.dumps(jobs)]


def _launch(jobs: list[dict], nproc: int = 2) -> subprocess.CompletedProcess:
    done = subprocess.run(_torchrun(jobs, nproc), capture_output=True, text=True, env=_env(), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def _single(config: dict, out: Path, **method) -> dict:
    """The same job in this process (no torchrun)."""
    settings = dict(config)
    pairs = settings.pop("pairs", 12)
    validate = settings.pop("validate", None)
    if validate is not None:
        settings["validation"] = Validation(dataset="offset-val", protocol="synthetic", **validate)
    model = OffsetNet(**method)
    summary = train(model, offset_pairs(pairs), TrainConfig(**settings), out,
                    val_data=offset_pairs(6, seed=1) if validate is not None else None)
    return {"losses": summary.losses, "params": [p.detach().double().flatten().tolist()
                                                  for p in model.module.state_dict().values()],
            "validations": summary.validations, "best": summary.best}


def _max_difference(a: dict, b: dict) -> tuple[float, float]:
    """Largest relative difference of the loss curves (losses are ~1-50) and absolute one of the weights."""
    losses = float((np.abs(np.subtract(a["losses"], b["losses"])) / np.maximum(1.0, np.abs(b["losses"]))).max())
    params = max(float(np.abs(np.subtract(x, y)).max()) for x, y in zip(a["params"], b["params"]))
    return losses, params


EVEN = {"epochs": 3, "batch_size": 4, "lr": 0.2, "pairs": 12, "validate": {"every": 1}}
UNEVEN = {"epochs": 2, "batch_size": 5, "lr": 0.2, "pairs": 12, "accumulate": 2}  # last batch: 2 pairs, 1 each
NOISY = {"epochs": 3, "batch_size": 4, "lr": 0.1, "pairs": 12}


def test_two_processes_train_like_one_process_with_their_whole_batch_and_resume_exactly(tmp_path):
    jobs = [{"out": str(tmp_path / "even"), "config": EVEN},
            {"out": str(tmp_path / "uneven"), "config": UNEVEN},
            # exact resume: a budget stop mid-epoch 2 (step 5 of 9), then the rest, against an uninterrupted run
            {"out": str(tmp_path / "noisy-full"), "config": NOISY, "method": {"noise": 0.3}},
            {"out": str(tmp_path / "noisy-part"), "config": NOISY, "method": {"noise": 0.3}, "stop_after_steps": 5},
            {"out": str(tmp_path / "noisy-part"), "config": NOISY, "method": {"noise": 0.3}}]
    _launch(jobs)

    for name, config in (("even", EVEN), ("uneven", UNEVEN)):
        two, one = _summary(tmp_path / name), _single(config, tmp_path / f"{name}-single")
        assert two["world_size"] == 2 and len(two["losses"]) == len(one["losses"])
        loss_gap, param_gap = _max_difference(two, one)
        print(f"{name}: 2 processes vs 1, max relative loss difference {loss_gap:.2e}, max |weight difference| "
              f"{param_gap:.2e}")
        assert loss_gap < TOLERANCE and param_gap < TOLERANCE
    even, even_one = _summary(tmp_path / "even"), _single(EVEN, tmp_path / "even-again")
    assert [v["value"] for v in even["validations"]] == [v["value"] for v in even_one["validations"]]
    assert even["best"]["epoch"] == even_one["best"]["epoch"]
    assert load_checkpoint(tmp_path / "even" / "best.pth")["validation"]["value"] == even["best"]["value"]

    full, resumed = _summary(tmp_path / "noisy-full"), _summary(tmp_path / "noisy-part")
    assert resumed["losses"] == full["losses"] and resumed["params"] == full["params"]  # bit for bit
    state = load_checkpoint(tmp_path / "noisy-part" / "last.pth")
    assert state["world_size"] == 2 and state["step"] == 9 and not state["partial_epoch"]


def test_a_mid_epoch_checkpoint_of_two_processes_resumes_only_with_two(tmp_path):
    from corrbench.errors import UsageError

    _launch([{"out": str(tmp_path), "config": NOISY, "method": {"noise": 0.3}, "stop_after_steps": 4}])
    state = load_checkpoint(tmp_path / "last.pth")
    assert state["partial_epoch"] and state["batches_done"] == 1 and len(state["rng_ranks"]) == 2
    assert not np.array_equal(state["rng_ranks"][0]["torch"].numpy(), state["rng_ranks"][1]["torch"].numpy())
    config = {k: v for k, v in NOISY.items() if k != "pairs"}
    with pytest.raises(UsageError, match="saved mid-epoch by 2 process"):
        train(OffsetNet(noise=0.3), offset_pairs(12), TrainConfig(**config), tmp_path)


@pytest.mark.slow
def test_a_killed_torchrun_training_resumes_to_the_same_weights(tmp_path):
    """kill -9 of the whole torchrun job mid-epoch; the mid-epoch checkpoints make the rest exact."""
    config = {"epochs": 3, "batch_size": 4, "lr": 0.1, "pairs": 24, "save_every_steps": 1}
    method = {"noise": 0.3, "sleep": 0.4}
    reference = tmp_path / "reference"
    _launch([{"out": str(reference), "config": config, "method": method}])
    victim_out = tmp_path / "victim"
    victim = subprocess.Popen(_torchrun([{"out": str(victim_out), "config": config, "method": method}]),
                              env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline, step = time.monotonic() + 300, 0
    while time.monotonic() < deadline and victim.poll() is None:
        try:
            step = load_checkpoint(victim_out / "last.pth")["step"]
        except Exception:  # not written yet (or being renamed into place)
            step = 0
        if step >= 8:
            break
        time.sleep(0.1)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    assert 8 <= step < 18, f"the kill should land mid-run (step {step})"
    _launch([{"out": str(victim_out), "config": config, "method": method}])
    resumed, full = _summary(victim_out), _summary(reference)
    assert resumed["losses"] == full["losses"] and resumed["params"] == full["params"]
