"""Resume after kill -9 and torchrun sharding both end with the numbers of a plain run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

BASE = ["--dataset", "synthetic", "--limit", "24", "--no-leaderboard"]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "corrbench", "run", *args]


def _result(path: Path) -> dict:
    data = json.loads(path.read_text())
    return {"summary": data["summary"], "per_class": data["per_class"], "records": data["records"]}


def test_killed_run_resumes_to_identical_numbers(tmp_path):
    runs = tmp_path / "runs"
    reference = tmp_path / "reference.json"
    subprocess.run(_cli("--method", "feature-nn", *BASE, "--no-resume", "--json", str(reference)), check=True,
                   capture_output=True)
    victim = subprocess.Popen(_cli("--method", "feature-nn", *BASE, "--runs-dir", str(runs),
                                   "--json", str(tmp_path / "never.json")),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    records = []
    while time.monotonic() < deadline and victim.poll() is None:
        records = list(runs.glob("*/*.jsonl"))
        if records and len(records[0].read_text().splitlines()) >= 5:
            break
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert records, "the run never wrote a record"
    kept = len(records[0].read_text().splitlines())
    assert 5 <= kept < 24, "kill -9 should land mid-run"
    assert not (tmp_path / "never.json").exists()
    resumed = tmp_path / "resumed.json"
    subprocess.run(_cli("--method", "feature-nn", *BASE, "--runs-dir", str(runs), "--json", str(resumed)),
                   check=True, capture_output=True)
    assert json.loads(resumed.read_text())["provenance"]["resumed_pairs"] >= 5
    assert _result(resumed) == _result(reference)


def test_changed_options_never_reuse_stale_records(tmp_path):
    runs = tmp_path / "runs"
    subprocess.run(_cli("--method", "feature-nn", *BASE, "--limit", "3", "--runs-dir", str(runs)), check=True,
                   capture_output=True)
    out = tmp_path / "other.json"
    subprocess.run(_cli("--method", "feature-nn", *BASE, "--limit", "3", "--runs-dir", str(runs),
                        "-o", "stride=8", "--json", str(out)), check=True, capture_output=True)
    assert json.loads(out.read_text())["provenance"]["resumed_pairs"] == 0
    assert len(list(runs.iterdir())) == 2


def test_torchrun_two_processes_match_single_process(tmp_path):
    single = tmp_path / "single.json"
    subprocess.run(_cli("--method", "identity", *BASE, "--no-resume", "--json", str(single)),
                   check=True, capture_output=True)
    sharded = tmp_path / "sharded.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--standalone", "-m", "corrbench", "run", "--method", "identity", *BASE,
                           "--no-resume", "--json", str(sharded)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(sharded.read_text())
    assert data["provenance"]["world_size"] == 2
    assert _result(sharded) == _result(single)


@pytest.mark.shared
def test_torchrun_two_processes_match_single_process_on_tss(tmp_path, shared_data):
    base = ["--method", "identity", "--dataset", "tss", "--root", str(shared_data / "tss"), "--no-leaderboard",
            "--no-resume", "--seed", "4"]
    single = tmp_path / "single.json"
    subprocess.run(_cli(*base, "--json", str(single)), check=True, capture_output=True)
    sharded = tmp_path / "sharded.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--standalone", "-m", "corrbench", "run", *base, "--json", str(sharded)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(sharded.read_text())
    assert data["provenance"]["world_size"] == 2 and data["summary"]["n_pairs"] == 4
    assert _result(sharded) == _result(single)


def test_each_rank_gets_its_own_device(monkeypatch):
    from corrbench.eval.distributed import rank_device

    assert rank_device("cuda") == "cuda"  # a plain process
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert rank_device("cuda") == "cuda:3"
    assert rank_device("cuda:1") == "cuda:1"  # an explicit index is the user's choice
    assert rank_device("cpu") == "cpu"


def test_batches_are_sharded_whole_so_every_pair_keeps_its_single_process_seed():
    from corrbench.eval.distributed import DistContext, shard_batches

    batches = [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert shard_batches(batches, DistContext(rank=0, world_size=2)) == [[0, 1, 2], [6, 7]]
    assert shard_batches(batches, DistContext(rank=1, world_size=2)) == [[3, 4, 5]]
