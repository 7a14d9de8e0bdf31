"""`corrbench run` picks the evaluator by task: masks for co-segmentation, the TSS kit for dense flow."""

from __future__ import annotations

import json
import shutil

import pytest

from corrbench.cli.main import main
from test_internet_loader import build as build_internet


def test_coseg_run_scores_source_masks_once_per_image(tmp_path):
    truth = build_internet(tmp_path / "internet")
    out = tmp_path / "r.json"
    code = main(["run", "--method", "all-foreground", "--dataset", "internet", "--root", str(tmp_path / "internet"),
                 "--json", str(out), "--no-leaderboard", "--no-resume"])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["protocol"]["name"] == "coseg/internet"
    assert data["summary"]["n_mask_images"] == len(truth)
    assert data["summary"]["n_empty_gt"] == 3  # one outlier per class, Jaccard skipped there
    horse = [m for key, m in truth.items() if key.startswith("Horse")]
    expected_iou = sum(m.mean() for m in horse if m.any()) / sum(m.any() for m in horse)
    assert data["per_class"]["Horse"]["mask_iou"] == pytest.approx(expected_iou, rel=1e-6)
    expected_precision = sum(m.mean() for m in horse) / len(horse)  # all-foreground: P = fg fraction
    assert data["per_class"]["Horse"]["mask_precision"] == pytest.approx(expected_precision, rel=1e-6)


def test_identity_has_no_masks_for_coseg(tmp_path, capsys):
    build_internet(tmp_path / "internet")
    code = main(["run", "--method", "identity", "--dataset", "internet", "--root", str(tmp_path / "internet"),
                 "--no-leaderboard", "--no-resume"])
    assert code != 0
    assert "no source mask" in capsys.readouterr().err


def test_tss_run_saves_kit_layout_that_rescoring_reproduces(shared_data, tmp_path):
    root = tmp_path / "tss"
    shutil.copytree(shared_data / "tss", root)
    saved, first, second = tmp_path / "pred", tmp_path / "run.json", tmp_path / "kit"
    assert main(["run", "--method", "identity", "--dataset", "tss", "--root", str(root), "--save-predictions",
                 str(saved), "--json", str(first), "--no-leaderboard"]) == 0
    assert sorted(p.name for p in (saved / "PASCAL" / "bike_01_02").iterdir()) == ["flow1.flo", "flow2.flo"]
    assert main(["evaluate", "--dataset", "tss", "--root", str(root), "--predictions", str(saved),
                 "--kit-csv", str(second)]) == 0
    run = json.loads(first.read_text())
    assert run["protocol"]["name"] == "tss_official/tss" and run["summary"]["n_pairs"] == 4
    header = (second / "JODS" / "scores.csv").read_text().splitlines()[0]
    assert header.startswith("Row,Src,Ref,SegIUR,Flip,T1,") and header.endswith(",T50")
    jods_t5 = [line for line in (second / "JODS" / "scores.csv").read_text().splitlines() if line.startswith("Average")]
    assert float(jods_t5[0].split(",")[9]) == pytest.approx(run["per_class"]["JODS"]["tss_T5"], abs=1e-6)
