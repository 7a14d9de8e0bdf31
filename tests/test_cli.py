"""The command line as a user meets it: one-line errors, nothing written on failure, JSON layout."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from corrbench.cli.main import main


def _run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corrbench", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--method", "idenity", "--dataset", "synthetic"], "unknown method 'idenity'. Did you mean 'identity'?"),
        (["--method", "identity", "--dataset", "synthetc"], "unknown dataset 'synthetc'. Did you mean 'synthetic'?"),
        (["--method", "identity", "--dataset", "synthetic", "-o", "stride=2"], "bad option for method 'identity'"),
        (["--method", "identity", "--dataset", "synthetic", "--protocol", "synthetik"],
         "unknown protocol 'synthetik'"),
        (["--method", "identity", "--dataset", "synthetic", "--split", "dev"], "has no split 'dev'"),
    ],
)
def test_errors_are_one_line_nonzero_and_write_nothing(tmp_path, args, message):
    out = tmp_path / "result.json"
    board = tmp_path / "boards"
    done = _run("run", *args, "--json", str(out), "--leaderboard", str(board), "--runs-dir", str(tmp_path / "r"))
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("corrbench: error: ") and message in lines[0], done.stderr
    assert not out.exists() and not board.exists() and not (tmp_path / "r").exists()


def test_run_writes_json_with_the_documented_keys_and_limit_skips_leaderboard(tmp_path, capsys):
    out = tmp_path / "r.json"
    code = main(["run", "--method", "identity", "--dataset", "synthetic", "--limit", "12", "--json", str(out),
                 "--leaderboard", str(tmp_path / "boards"), "--runs-dir", str(tmp_path / "runs")])
    assert code == 0
    data = json.loads(out.read_text())
    assert {"method", "dataset", "split", "protocol", "provenance", "summary", "per_class"} <= set(data)
    assert data["protocol"]["name"] == "synthetic" and data["summary"]["n_pairs"] == 12
    for key in ("corrbench_version", "git_sha", "torch_version", "device", "date", "method_version",
                "dataset_version"):
        assert key in data["provenance"]
    assert 0.0 <= data["summary"]["pck@0.1"] <= 1.0
    assert not (tmp_path / "boards").exists()
    printed = capsys.readouterr().out
    assert "mean (classes)" in printed and "pck@0.1" in printed


def test_full_run_updates_the_leaderboard(tmp_path):
    code = main(["run", "--method", "identity", "--dataset", "synthetic", "--leaderboard", str(tmp_path / "b"),
                 "--no-resume"])
    assert code == 0
    assert (tmp_path / "b" / "synthetic" / "results.csv").is_file()
    assert (tmp_path / "b" / "synthetic" / "test__synthetic__pck@0.1.md").is_file()
