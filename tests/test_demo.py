"""``corrbench demo``: the listed runs, evaluated as the leaderboard does, one table and pictures."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from corrbench.cli import main as cli_main
from corrbench.leaderboard.demo import run_demo
from corrbench.errors import UsageError

REPO = Path(__file__).resolve().parents[1]


def manifest(folder: Path, runs: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "runs.yaml").write_text("tolerance: 1.0e-4\nruns:\n" + runs)
    return folder


BASELINES = ("  - {method: identity, dataset: synthetic, split: test, seed: 0}\n"
             "  - {method: all-foreground, dataset: synthetic, split: test, seed: 0}\n")


def committed(method: str) -> float:
    rows = pd.read_csv(REPO / "leaderboards" / "synthetic" / "results.csv")
    row = rows[(rows.method == method) & (rows.metric == "pck") & (rows.alpha == 0.1) & (rows.category == "mean")]
    return float(row.value.iloc[0])


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_demo_reproduces_the_committed_rows_and_draws_the_pictures(tmp_path, jobs):
    runs = manifest(tmp_path / "lb", BASELINES)
    report = run_demo(runs, tmp_path / "out", repo_root=REPO, jobs=jobs, log=lambda line: None)
    assert [r.method for r in report.results] == ["identity", "all-foreground"]  # listed order, whatever the jobs
    for result in report.results:
        assert result.summary["pck@0.1"] == pytest.approx(committed(result.method), abs=1e-6)  # the CSV keeps 6 decimals
        assert json.loads((tmp_path / "out" / f"{result.method}.json").read_text())["summary"]["pck@0.1"] == \
            pytest.approx(result.summary["pck@0.1"])
    names = {p.name for p in report.files}
    assert {"pck_curve__test__synthetic.png", "pck_classes__test__synthetic.png"} <= names
    assert any(n.startswith("transfer__") for n in names)
    table = (tmp_path / "out" / "leaderboard" / "synthetic" / "test__synthetic__pck@0.1.md").read_text()
    assert "| identity |" in table and "| all-foreground |" in table


def test_the_cli_prints_one_table_and_leaves_the_committed_leaderboard_alone(tmp_path, capsys):
    runs = manifest(tmp_path / "lb", BASELINES)
    before = (REPO / "leaderboards" / "synthetic" / "results.csv").read_bytes()
    assert cli_main.main(["demo", "--runs-dir", str(runs), "--out", str(tmp_path / "o"), "--repo-root", str(REPO),
                          "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "PCK@0.1 (%), synthetic test:" in out and "| identity |" in out and "2 methods in" in out
    assert "foreground mask IoU" in out  # all-foreground predicts masks
    assert (REPO / "leaderboards" / "synthetic" / "results.csv").read_bytes() == before


def test_missing_manifest_or_checkpoint_fails_before_any_work(tmp_path):
    with pytest.raises(UsageError, match="no runs on 'synthetic' listed"):
        run_demo(tmp_path / "nothing", tmp_path / "o", log=lambda line: None)
    runs = manifest(tmp_path / "lb", "  - {method: sfnet, dataset: synthetic, weights: missing/sfnet.pth}\n")
    with pytest.raises(UsageError, match="committed checkpoint .*missing/sfnet.pth not found"):
        run_demo(runs, tmp_path / "o2", repo_root=tmp_path, log=lambda line: None)
    assert not (tmp_path / "o2").exists()


def test_methods_that_are_not_installed_are_skipped_and_said(tmp_path):
    runs = manifest(tmp_path / "lb", "  - {method: identity, dataset: synthetic}\n  - {method: not-installed, dataset: synthetic}\n")
    report = run_demo(runs, tmp_path / "o", repo_root=REPO, jobs=1, log=lambda line: None)
    assert report.skipped == ["not-installed"] and [r.method for r in report.results] == ["identity"]
