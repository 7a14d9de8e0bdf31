"""`leaderboard check`: out-of-sync tables, moved numbers (with a readable diff), version rule."""

from __future__ import annotations

import subprocess

import pandas as pd
import pytest

import corrbench
from corrbench.leaderboard import check as lb
from corrbench.baselines.identity import IdentityMethod
from corrbench.cli.main import main
from corrbench.leaderboard.tables import csv_path, update_leaderboard
from tests.helpers import ListDataset, OracleMethod, make_pair


def _data():
    return ListDataset([make_pair(f"p{i}", "ab"[i % 2], seed=i) for i in range(4)])


@pytest.fixture
def board(tmp_path, monkeypatch):
    """A leaderboard with one listed run (identity on an in-memory dataset)."""
    directory = tmp_path / "leaderboards"
    update_leaderboard(directory, corrbench.evaluate(IdentityMethod(), _data()))
    (directory / "runs.yaml").write_text("tolerance: 1.0e-6\nruns:\n  - {method: identity, dataset: list}\n")
    monkeypatch.setattr(lb, "run_listed", lambda run, root: corrbench.evaluate(IdentityMethod(), _data()))
    return directory


def test_clean_board_passes(board):
    assert lb.check(board).ok


def test_markdown_edited_by_hand_is_out_of_sync(board):
    table = next(board.glob("list/*pck@0.1.md"))
    table.write_text(table.read_text().replace("| identity | none |", "| identity | none | 99.9 |", 1))
    report = lb.check(board, rerun=False)
    assert any("out of sync" in p for p in report.problems)


def test_deliberate_metric_change_fails_with_a_diff_table(board, monkeypatch, capsys):
    # Simulate a change of the metric: the re-run now scores perfectly.
    class Changed(OracleMethod):
        name = "identity"
        version = "1"

    monkeypatch.setattr(lb, "run_listed", lambda run, root: corrbench.evaluate(Changed().knowing(_data()), _data()))
    assert main(["leaderboard", "check", "--dir", str(board)]) == 1
    out = capsys.readouterr().out
    assert "values that moved" in out and "value_committed" in out
    assert "WITHOUT a method/dataset version bump" in out
    assert "| 0.0" not in out  # rich table, not a Markdown dump
    assert "1.000000" in out  # the new value is shown next to the committed one


def test_value_changed_since_base_revision_without_version_bump(board, tmp_path):
    repo = tmp_path
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
                   check=True)
    path = csv_path(board, "list")
    frame = pd.read_csv(path, dtype=str)
    frame.loc[0, "value"] = "0.123"
    frame.to_csv(path, index=False)
    lb.render_all(board)
    report = lb.check(board, rerun=False, base="HEAD", repo_root=repo)
    assert any("same method and dataset versions" in p for p in report.problems)


def test_update_replaces_the_rows_of_a_retrained_checkpoint(tmp_path):
    def rows(tag: str, value: float) -> list[dict]:
        return [{"method": "m", "method_version": "1", "weights": tag, "dataset": "d", "dataset_version": "1",
                 "split": "test", "protocol": "p", "metric": "pck", "alpha": 0.1, "category": "mean",
                 "value": value, "n_pairs": 1, "n_kps": 1, "provenance": ""}]

    existing = pd.DataFrame(rows("m.pth@aaaa", 0.1) + rows("other.pth@aaaa", 0.2) + rows("none", 0.3))
    kept = lb.drop_superseded(existing, rows("m.pth@bbbb", 0.4))
    assert sorted(kept["weights"]) == ["none", "other.pth@aaaa"]
    assert len(lb.drop_superseded(existing, rows("m.pth@aaaa", 0.4))) == 3  # same checkpoint: merge_rows replaces
