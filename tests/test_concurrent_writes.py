"""Nothing is lost when two processes write at once or a process is killed mid-write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import corrbench
from corrbench.baselines.identity import IdentityMethod
from corrbench.leaderboard.tables import read_rows
from corrbench.leaderboard.check import table_sync_problems
from tests.helpers import ListDataset, make_pair

REPO = Path(__file__).resolve().parents[1]
UPDATES_PER_PROCESS = 6

WRITER = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    import corrbench
    from corrbench.baselines.identity import IdentityMethod
    from corrbench.leaderboard.tables import update_leaderboard
    from tests.helpers import ListDataset, make_pair

    board, first_seed, count, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    data = ListDataset([make_pair(f"p{i}", "ab"[i % 2], seed=i) for i in range(4)])
    results = [corrbench.evaluate(IdentityMethod(), data, seed=first_seed + k) for k in range(count)]
    (start.parent / f"ready-{first_seed}").touch()
    while not start.exists():  # both processes write at the same moment
        time.sleep(0.005)
    for result in results:
        update_leaderboard(board, result)
''')


def test_two_processes_updating_one_leaderboard_keep_every_run(tmp_path):
    board, start = tmp_path / "board", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(board), str(first), str(UPDATES_PER_PROCESS),
                                 str(start)], env=env, cwd=REPO, stderr=subprocess.PIPE, text=True)
               for first in (100, 200)]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready-*"))) < 2 and time.monotonic() < deadline:
        assert all(w.poll() is None for w in writers), "a writer died before writing"
        time.sleep(0.05)
    start.touch()
    for writer in writers:
        _, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err[-2000:]
    seeds = set(read_rows(board, "list")["seed"])
    assert seeds == {100 + k for k in range(UPDATES_PER_PROCESS)} | {200 + k for k in range(UPDATES_PER_PROCESS)}
    assert table_sync_problems(board) == []


RECORD_WRITER = textwrap.dedent('''
    import os, sys, time
    from pathlib import Path
    import corrbench
    from corrbench.baselines.identity import IdentityMethod
    from corrbench.eval import records
    from tests.helpers import ListDataset, make_pair

    runs, ready, tear_at = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    real_write, written = os.write, []

    def tearing_write(fd, data):
        written.append(data)
        if len(written) == tear_at:  # half a line reaches the disk, then the process is killed
            real_write(fd, data[: len(data) // 2])
            os.fsync(fd)
            ready.touch()
            time.sleep(600)
        return real_write(fd, data)

    records.os.write = tearing_write
    data = ListDataset([make_pair(f"p{i}", "ab"[i % 2], seed=i) for i in range(8)])
    corrbench.evaluate(IdentityMethod(), data, runs_dir=runs)
''')


def test_a_record_torn_by_a_kill_is_cut_off_and_the_resumed_run_is_exact(tmp_path):
    runs, ready = tmp_path / "runs", tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    writer = subprocess.Popen([sys.executable, "-c", RECORD_WRITER, str(runs), str(ready), "4"], env=env, cwd=REPO,
                              stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not ready.exists() and writer.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ready.exists(), writer.stderr.read().decode()[-2000:]
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    (shard,) = runs.glob("*/0.jsonl")
    assert not shard.read_bytes().endswith(b"\n")  # really torn mid-line

    data = ListDataset([make_pair(f"p{i}", "ab"[i % 2], seed=i) for i in range(8)])
    with pytest.warns(UserWarning, match="1 damaged record line"):
        resumed = corrbench.evaluate(IdentityMethod(), data, runs_dir=str(runs))
    assert resumed.provenance["resumed_pairs"] == 3
    reference = corrbench.evaluate(IdentityMethod(), data)
    assert resumed.records == reference.records and resumed.summary == reference.summary
    lines = shard.read_text().splitlines()
    assert [json.loads(line)["pair_id"] for line in lines] == [f"p{i}" for i in range(8)]  # nothing glued
    again = corrbench.evaluate(IdentityMethod(), data, runs_dir=str(runs))
    assert again.provenance["resumed_pairs"] == 8
