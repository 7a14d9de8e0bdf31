"""Pictures: a run's worst pairs on one sheet (`corrbench show --run`), per-class bars with intervals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import corrbench
from corrbench.cli.main import main
from corrbench.errors import UsageError
from corrbench.leaderboard.gallery import PANEL_PX, worst_records
from corrbench.leaderboard.plots import class_bars
from corrbench.leaderboard.tables import read_rows, update_leaderboard
from corrbench.metrics.pck import PCKMetric
from tests.helpers import ListDataset, make_pair


def record(pair_id, correct, n_kps=10, error=None, nonfinite=0):
    out = {"pair_id": pair_id, "category": "a", "n_kps": n_kps, "n_nonfinite": nonfinite,
           "correct": {"0.05": 0, "0.1": correct}}
    if error is not None:
        out["mean_norm_error"] = error
    return out


def test_worst_pairs_are_lowest_pck_then_most_nonfinite_then_largest_error():
    records = [record("a", 1, error=0.5), record("b", 1, error=0.9), record("c", 1, error=0.2, nonfinite=3),
               record("d", 0, n_kps=5, error=0.4), record("e", 5, error=2.0), record("f", 1),  # f: an older record
               record("g", 0, n_kps=0), record("h", 0, n_kps=5, error=0.3)]
    # By hand: PCK 0 first (d: error 0.4 before h: 0.3); at PCK 0.1, c has NaN/inf answers, then errors
    # b 0.9 > a 0.5, then f without a recorded error; e (PCK 0.5) last; g has no keypoint to draw.
    assert [r["pair_id"] for r in worst_records(records, 0.1, 100)] == ["d", "h", "c", "b", "a", "f", "e"]
    assert [r["pair_id"] for r in worst_records(records, 0.1, 2)] == ["d", "h"]
    with pytest.raises(UsageError, match="--worst must be at least 1, got 0"):
        worst_records(records, 0.1, 0)
    with pytest.raises(UsageError, match="no PCK at α = 0.2"):
        worst_records(records, 0.2, 1)


def test_records_carry_the_mean_normalised_error_of_their_finite_answers():
    reference = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [5.0, 5.0]])
    predicted = reference + [[3.0, 4.0], [0.0, 0.0], [np.nan, 1.0], [6.0, 8.0]]  # errors 5, 0, NaN, 10
    made = PCKMetric(alphas=(0.1,)).make_record(predicted, reference, 20.0, "a")
    assert made["mean_norm_error"] == pytest.approx((5 + 0 + 10) / 3 / 20) and made["n_nonfinite"] == 1
    nothing = PCKMetric(alphas=(0.1,)).make_record(np.full((2, 2), np.nan), reference[:2], 20.0, "a")
    assert nothing["mean_norm_error"] is None


def test_show_run_draws_the_worst_pairs_again_on_one_sheet(tmp_path, capsys):
    run = tmp_path / "run.json"
    assert main(["run", "--method", "feature-nn", "--dataset", "synthetic", "--limit", "7", "--no-resume",
                 "--no-leaderboard", "--json", str(run)]) == 0
    records = json.loads(run.read_text())["records"]
    capsys.readouterr()
    out = tmp_path / "sheet.png"
    assert main(["show", "--run", str(run), "--worst", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    expected = [r["pair_id"] for r in worst_records(records, 0.1, 3)]
    assert f"(3 pairs: {', '.join(expected)})" in printed.out
    assert "warning" not in printed.err  # predicted again, every pair scored what the run recorded
    with Image.open(out) as sheet:  # 3 panels, 2 to a row: 2 x 2 panels of PANEL_PX pixels
        assert sheet.size == (2 * PANEL_PX[0], 2 * PANEL_PX[1])
    one = tmp_path / "one.png"
    assert main(["show", "--run", str(run), "--worst", "1", "--out", str(one)]) == 0
    with Image.open(one) as sheet:
        assert sheet.size == PANEL_PX
    assert f"(1 pairs: {expected[0]})" in capsys.readouterr().out


def test_show_run_refuses_another_checkpoint(tmp_path, capsys):
    run = tmp_path / "run.json"
    data = corrbench.evaluate(corrbench.load_method("identity"), corrbench.load_dataset("synthetic"), limit=2).to_dict()
    data["identity"]["weights_sha256"] = "0" * 64  # as if the run had used a checkpoint
    run.write_text(json.dumps(data, default=float))
    other = tmp_path / "other.pth"
    other.write_bytes(b"not the run's checkpoint")
    assert main(["show", "--run", str(run), "--out", str(tmp_path / "x.png")]) == 2
    assert "pass that file with --weights" in capsys.readouterr().err
    assert main(["show", "--run", str(run), "--weights", str(other), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not the run's checkpoint" in err
    assert not (tmp_path / "x.png").exists()


def test_class_bars_show_each_runs_per_class_values_and_intervals(tmp_path):
    data = ListDataset([make_pair(f"p{i}", "ab"[i % 2], seed=i) for i in range(8)])
    results = {name: corrbench.evaluate(corrbench.load_method(name), data) for name in ("identity", "feature-nn")}
    for result in results.values():
        update_leaderboard(tmp_path, result)
    (chart,) = class_bars(read_rows(tmp_path, "list"), "list")
    assert chart.classes == ["a", "b", "mean"] and [name for name, *_ in chart.runs] == ["feature-nn", "identity"]
    for name, values, low, high in chart.runs:
        result = results[name]
        assert values == pytest.approx([100 * result.per_class[c]["pck@0.1"] for c in "ab"]
                                       + [100 * result.summary["pck@0.1"]], abs=1e-3)
        assert low[:2] == pytest.approx([100 * result.class_ci[c]["pck@0.1"][0] for c in "ab"], abs=1e-3)
        assert high[2] == pytest.approx(100 * result.summary_ci["pck@0.1"][1], abs=1e-3)
    out = tmp_path / "pictures"
    assert main(["plot", "--leaderboard", str(tmp_path), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["pck_classes__test__synthetic.png", "pck_curve__test__synthetic.png"]
