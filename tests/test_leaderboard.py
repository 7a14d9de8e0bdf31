"""Leaderboard CSV rows, replacement of a run's rows, generated Markdown."""

from __future__ import annotations

import pandas as pd

import corrbench
from corrbench.baselines.identity import IdentityMethod
from corrbench.leaderboard.tables import read_rows, render_tables, update_leaderboard
from tests.helpers import ListDataset, OracleMethod, make_pair


def _data():
    return ListDataset([make_pair(f"p{i}", "ab"[i % 2], seed=i) for i in range(4)])


def test_update_writes_csv_and_tables_and_replaces_same_run(tmp_path):
    data = _data()
    update_leaderboard(tmp_path, corrbench.evaluate(IdentityMethod(), data))
    update_leaderboard(tmp_path, corrbench.evaluate(OracleMethod().knowing(data), data))
    update_leaderboard(tmp_path, corrbench.evaluate(OracleMethod().knowing(data), data))  # same run again: replaced
    frame = read_rows(tmp_path, "list")
    oracle = frame[(frame.method == "oracle") & (frame.metric == "pck") & (frame.alpha == 0.1)]
    assert sorted(oracle.category) == ["a", "all-pairs", "b", "mean"]
    assert (oracle.value == 1.0).all()
    table = (tmp_path / "list" / "test__synthetic__pck@0.1.md").read_text()
    assert "| method | weights | a | b | mean | all-pairs |" in table
    assert "| oracle | none | 100.0 ± 0.0 | 100.0 ± 0.0 | 100.0 ± 0.0 | 100.0 ± 0.0 |" in table  # per class too
    assert table.count("| identity |") == 1 and table.count("| oracle |") == 1


def test_protocols_never_share_a_table():
    rows = pd.DataFrame([
        {"method": "m", "weights": "w", "dataset": "d", "split": "test", "protocol": p, "metric": "pck",
         "alpha": 0.1, "category": "mean", "value": 0.5}
        for p in ("one", "two/d")
    ])
    tables = render_tables(rows)
    assert sorted(tables) == ["test__one__pck@0.1.md", "test__two_d__pck@0.1.md"]
