"""The TSS kit reimplementation: against an independent reference, on the real kit samples."""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from corrbench.errors import CorrbenchError
from corrbench.tss.kit import KitPrediction, TSSGroundTruth, score_pair
from corrbench.tss.resize import cv_resize_linear_f32, cv_resize_linear_u8, matlab_imresize_bilinear

sys.path.insert(0, str(Path(__file__).parent))
import tss_reference as ref  # noqa: E402

PAIRS = ("FG3DCar/001_005", "JODS/car_01_02", "PASCAL/bike_01_02", "PASCAL/bike_01_03")


# ----------------------------------------------------------------------------- resize primitives
def test_opencv_u8_hand_computed():
    # positions -0.25 (clamped), 0.25, 0.75, 1.25 (clamped): 0, 63.75, 191.25, 255
    assert cv_resize_linear_u8(np.array([[0, 255]], np.uint8), (1, 4)).tolist() == [[0, 64, 191, 255]]


def test_opencv_u8_and_f32_follow_the_bilinear_reference():
    rng = np.random.default_rng(3)
    for shape, size in (((37, 50), (60, 23)), ((64, 80), (40, 100))):
        image = rng.integers(0, 256, size=shape).astype(np.uint8)
        exact = ref.resize(image.astype(float), size, ref.opencv_matrix)
        assert np.abs(cv_resize_linear_u8(image, size) - exact).max() <= 1.0  # fixed-point rounding
        assert np.allclose(cv_resize_linear_f32(image, size), exact, atol=1e-3)


def test_matlab_imresize_hand_computed():
    # imresize([1 2 3 4], [1 2], 'bilinear'): antialiased triangle of width 4, symmetric border
    assert np.allclose(matlab_imresize_bilinear(np.array([[1.0, 2, 3, 4]]), (1, 2)), [[1.625, 3.375]])
    rng = np.random.default_rng(4)
    image = rng.random((30, 41))
    for size in ((17, 60), (45, 20)):
        assert np.allclose(matlab_imresize_bilinear(image, size), ref.resize(image, size, ref.matlab_matrix))


# ----------------------------------------------------------------------------- real kit samples
@pytest.fixture(scope="module")
def tss(shared_data):
    from corrbench.data.tss import TSSDataset
    from corrbench.tss.convert import ground_truth_from_pair

    dataset = TSSDataset(str(shared_data / "tss"))
    return {gt.pair_id: gt for gt in (ground_truth_from_pair(dataset[i]) for i in range(len(dataset)))}


def kit_sample(shared_data, pair_id, kit):
    from corrbench.tss.folder import read_prediction_folder

    return read_prediction_folder(shared_data / "tss-kit-results" / pair_id, kit)


@pytest.mark.shared
@pytest.mark.parametrize("kit", ["cpp", "matlab"])
@pytest.mark.parametrize("pair_id", PAIRS)
def test_kit_sample_predictions_match_independent_reference(shared_data, tss, kit, pair_id):
    gt = tss[pair_id]
    pred = kit_sample(shared_data, pair_id, kit)
    assert pred.flow1.shape[:2] != gt.flow1.shape[:2]  # the samples need resizing
    rows = score_pair(gt, pred, kit)
    expected = ref.score(gt.flow1, gt.flow2, gt.mask1, gt.mask2, pred.flow1, pred.flow2, pred.mask1, pred.mask2, kit)
    for row, (iou, acc), gt_mask, gt_flow in zip(rows, expected, (gt.mask1, gt.mask2), (gt.flow1, gt.flow2)):
        n_valid = (np.abs(gt_flow) < 1e9).all(axis=-1).sum()
        # float32 / fixed-point vs float64: at most a pixel or two sits on a threshold
        assert abs(row.seg_iou - iou) <= 2.0 / gt_mask.sum()
        assert np.abs(row.acc - acc).max() <= 2.0 / n_valid
        assert row.mask_source == "prediction" and row.nan_pixels == 0
        assert 0 < row.acc[4] <= 1 and np.all(np.diff(row.acc) >= 0)


@pytest.mark.shared
@pytest.mark.parametrize("kit", ["cpp", "matlab"])
def test_ground_truth_as_prediction_scores_one(shared_data, tss, tmp_path, kit):
    from corrbench.tss.evaluate import evaluate_folder

    for pair_id in PAIRS:
        folder = tmp_path / "pred" / pair_id
        folder.mkdir(parents=True)
        for name in ("flow1.flo", "flow2.flo", "mask1.png", "mask2.png"):
            shutil.copy(shared_data / "tss" / pair_id / name, folder / name)  # JODS masks: palette {0,1}
    result = evaluate_folder(shared_data / "tss", tmp_path / "pred", kit=kit)
    if kit == "matlab":  # MATLAB reads palette INDICES: {0, 1}/255 < 0.5, i.e. an empty mask
        jods = result.subsets.pop("JODS")
        assert [r.seg_iou for r in jods.rows] == [0.0, 0.0] and all(np.all(r.acc == 1) for r in jods.rows)
    for scores in result.subsets.values():
        for row in scores.rows:
            assert row.seg_iou == 1.0 and np.all(row.acc == 1.0)
    assert result.warnings == []


@pytest.mark.shared
def test_cpp_and_matlab_differ_only_where_the_spec_says(shared_data, tss):
    rng = np.random.default_rng(5)
    for gt in tss.values():
        # At GT resolution with 0/255 masks nothing is resized: both tools agree exactly.
        noisy = KitPrediction(gt.flow1 + rng.normal(0, 10, gt.flow1.shape).astype(np.float32),
                              gt.flow2 + rng.normal(0, 10, gt.flow2.shape).astype(np.float32),
                              gt.mask1.astype(np.uint8) * 255, gt.mask2.astype(np.uint8) * 255)
        for a, b in zip(score_pair(gt, noisy, "cpp"), score_pair(gt, noisy, "matlab")):
            assert a.seg_iou == b.seg_iou and np.array_equal(a.acc, b.acc)
    # Resized samples: 1- vs 0-based grids agree when both images are scaled alike (FG3DCar,
    # 800x600 -> 512x384 for both); they disagree when the factors differ (JODS heights 212->319, 240->361).
    def gap(pair_id):
        rows = {kit: score_pair(tss[pair_id], kit_sample(shared_data, pair_id, kit), kit) for kit in ("cpp", "matlab")}
        return max(np.abs(a.acc - b.acc).max() for a, b in zip(rows["cpp"], rows["matlab"]))

    assert gap("FG3DCar/001_005") < 1e-4
    assert gap("JODS/car_01_02") > 1e-3


@pytest.mark.shared
@pytest.mark.parametrize("kit", ["cpp", "matlab"])
def test_auto_flip_restores_inverted_masks(shared_data, tss, kit):
    gt = tss["PASCAL/bike_01_02"]
    pred = kit_sample(shared_data, gt.pair_id, kit)
    plain = score_pair(gt, pred, kit)
    inverted = KitPrediction(pred.flow1, pred.flow2, 255 - pred.mask1, 255 - pred.mask2)
    low = score_pair(gt, inverted, kit)
    flipped = score_pair(gt, inverted, kit, auto_flip=True)
    assert all(l.seg_iou < p.seg_iou - 0.2 for l, p in zip(low, plain))
    for f, p in zip(flipped, plain):  # resizing commutes with inversion up to boundary pixels
        assert f.seg_iou == pytest.approx(p.seg_iou, abs=2e-3)
        assert np.array_equal(f.acc, p.acc)
    assert [r.seg_iou for r in score_pair(gt, pred, kit, auto_flip=True)] == [r.seg_iou for r in plain]


# ----------------------------------------------------------------------------- synthetic rules
def synthetic(width=40, height=30):
    """GT: left half foreground (flow 0); predictions consistent only on the right half."""
    gt_flow = np.zeros((height, width, 2), np.float32)
    gt_flow[:, width // 2:] = 1e10
    mask = np.zeros((height, width), bool)
    mask[:, : width // 2] = True
    gt = TSSGroundTruth("S/p", gt_flow, gt_flow.copy(), mask, mask.copy(), 0, "a", "b")
    flow1 = np.zeros((height, width, 2), np.float32)
    flow2 = np.zeros((height, width, 2), np.float32)
    flow2[:, : width // 2, 0] = 25
    return gt, flow1, flow2


def lr_reference(f1, f2, threshold=20):
    h1, w1 = f1.shape[:2]
    h2, w2 = f2.shape[:2]
    mask = np.zeros((h1, w1), bool)
    for y in range(h1):
        for x in range(w1):
            tx, ty = x + f1[y, x, 0], y + f1[y, x, 1]
            if 0 <= tx <= w2 - 1 and 0 <= ty <= h2 - 1:  # integer landing points in these tests
                back = f2[int(ty), int(tx)]
                mask[y, x] = np.hypot(f1[y, x, 0] + back[0], f1[y, x, 1] + back[1]) < threshold
    return mask


@pytest.mark.parametrize("kit", ["cpp", "matlab"])
def test_masks_from_flow_consistency_when_masks_are_missing(kit):
    from corrbench.tss import lr_consistency

    rng = np.random.default_rng(6)
    f1 = rng.integers(-8, 9, size=(25, 30, 2)).astype(np.float32)
    f2 = rng.integers(-8, 9, size=(22, 27, 2)).astype(np.float32)
    f2[5:12, 3:20] = -f1[5:12, 3:20]  # a consistent block
    estimate = lr_consistency.masks_cpp if kit == "cpp" else lr_consistency.masks_matlab
    m1, m2 = estimate(f1, f2, 20.0)
    assert np.array_equal(m1, lr_reference(f1, f2)) and np.array_equal(m2, lr_reference(f2, f1))
    gt, flow1, flow2 = synthetic()
    rows = score_pair(gt, KitPrediction(flow1, flow2), kit)
    assert [r.mask_source for r in rows] == ["flows", "flows"]
    assert [r.seg_iou for r in rows] == [0.0, 0.0]  # estimated foreground = right half


def test_auto_flip_of_flow_derived_masks_is_matlab_only():
    gt, flow1, flow2 = synthetic()
    pred = KitPrediction(flow1, flow2)
    assert [r.seg_iou for r in score_pair(gt, pred, "matlab", auto_flip=True)] == [1.0, 1.0]
    assert [r.seg_iou for r in score_pair(gt, pred, "cpp", auto_flip=True)] == [0.0, 0.0]


@pytest.mark.parametrize("kit", ["cpp", "matlab"])
def test_nan_predictions_count_as_wrong(kit):
    gt, flow1, _ = synthetic()
    flow2 = np.zeros_like(flow1)
    flow1[:10, :5] = np.nan  # 50 of the 600 GT-valid pixels
    row1, row2 = score_pair(gt, KitPrediction(flow1, flow2, gt.mask1 * np.uint8(255), gt.mask2 * np.uint8(255)), kit)
    assert row1.nan_pixels == 50 and np.allclose(row1.acc, 1 - 50 / 600)
    assert np.all(row2.acc == 1.0)


@pytest.mark.parametrize("kit", ["cpp", "matlab"])
def test_one_missing_flow_drops_both_and_missing_masks_give_zero(kit):
    gt, flow1, _ = synthetic()
    rows = score_pair(gt, KitPrediction(flow1=flow1, mask1=gt.mask1 * np.uint8(255),
                                        mask2=gt.mask2 * np.uint8(255)), kit)
    assert all(np.all(r.acc == 0) for r in rows) and [r.seg_iou for r in rows] == [1.0, 1.0]
    rows = score_pair(gt, KitPrediction(flow1=flow1), kit)
    assert [r.seg_iou for r in rows] == [0.0, 0.0] and rows[0].mask_source == "absent"


def test_threshold_uses_the_max_side_of_the_image_flow_points_into():
    h1, w1, h2, w2 = 10, 20, 30, 15  # image2 max side 30 (1->2), image1 max side 20 (2->1)
    f1 = np.zeros((h1, w1, 2), np.float32)
    f2 = np.zeros((h2, w2, 2), np.float32)
    gt = TSSGroundTruth("S/p", f1, f2, np.ones((h1, w1), bool), np.ones((h2, w2), bool))
    p1, p2 = f1.copy(), f2.copy()
    p1[..., 0] = 3.0  # 3 px = 10% of 30 -> correct from T10 on (== counts as correct)
    p2[..., 0] = 3.0  # 3 px = 15% of 20 -> correct from T15 on
    row1, row2 = score_pair(gt, KitPrediction(p1, p2, np.full((h1, w1), 255, np.uint8), np.full((h2, w2), 255, np.uint8)))
    assert np.flatnonzero(row1.acc == 1)[0] + 1 == 10 and np.all(row1.acc[:9] == 0)
    assert np.flatnonzero(row2.acc == 1)[0] + 1 == 15 and np.all(row2.acc[:14] == 0)


# ----------------------------------------------------------------------------- CSV and CLI
def run_cli(*argv):
    from corrbench.cli import evaluate_cmd

    parser = argparse.ArgumentParser()
    evaluate_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["evaluate", *map(str, argv)])
    return args.handler(args)


@pytest.mark.shared
def test_evaluate_cli_writes_the_kits_csv(shared_data, tmp_path, capsys):
    root, preds = tmp_path / "TSS", tmp_path / "results"
    for pair_id in PAIRS:  # a private copy, as a user would have it
        shutil.copytree(shared_data / "tss" / pair_id, root / pair_id)
        shutil.copytree(shared_data / "tss-kit-results" / pair_id, preds / pair_id)
    assert run_cli("--dataset", "tss", "--root", root, "--predictions", preds, "--kit-csv", tmp_path / "out") == 0
    printed = capsys.readouterr().out
    assert "bike_01_03_2to1" in printed and "w/o flip" in printed and "All (mean of 3 subsets)" in printed
    number = r"-?\d+\.\d{6}"
    for subset, pairs in (("FG3DCar", ["001_005"]), ("JODS", ["car_01_02"]), ("PASCAL", ["bike_01_02", "bike_01_03"])):
        text = (tmp_path / "out" / subset / "scores.csv").read_text()
        lines = text.split("\n")
        assert lines[0] == "Row,Src,Ref,SegIUR,Flip," + ",".join(f"T{t}" for t in range(1, 51))
        assert text.endswith("\n") and lines[-1] == ""
        body = [line.split(",") for line in lines[1:-1]]
        assert [r[0] for r in body] == [f"{p}_{d}" for p in pairs for d in ("1to2", "2to1")] + ["Average", "w/o flip"]
        assert all(len(r) == 55 and all(re.fullmatch(number, c) for c in [r[3]] + r[5:]) for r in body)
        values = np.array([[float(c) for c in [r[3]] + r[5:]] for r in body])
        flips = np.array([int(r[4]) for r in body])
        assert list(flips[-2:]) == [1, 0] and body[-1][1:3] == ["-", "-"]
        assert np.allclose(values[-2], values[:-2].mean(axis=0), atol=1e-6)
        assert np.allclose(values[-1], values[:-2][flips[:-2] == 0].mean(axis=0), atol=1e-6)
    pascal = (tmp_path / "out" / "PASCAL" / "scores.csv").read_text().split("\n")
    assert pascal[3].split(",")[:5] == ["bike_01_03_1to2", "2008_005727.jpg", "2009_001840.jpg", pascal[3].split(",")[3], "1"]
    # the subset form: ROOT = one subset folder, DIR = its results folder (the kit's resultsDir)
    assert run_cli("--dataset", "tss", "--root", root / "PASCAL", "--predictions", preds / "PASCAL",
                   "--kit-csv", tmp_path / "sub", "--cpp-row-names") == 0
    names = [line.split(",")[0] for line in (tmp_path / "sub" / "PASCAL" / "scores.csv").read_text().split("\n")[1:5]]
    assert names == ["bike_01_02_1to2"] * 2 + ["bike_01_03_1to2"] * 2
    assert (tmp_path / "sub" / "PASCAL" / "scores.csv").read_text().split("\n")[5:] == pascal[5:]


@pytest.mark.shared
def test_evaluate_cli_missing_pairs_and_bad_paths(shared_data, tmp_path):
    preds = tmp_path / "results"
    shutil.copytree(shared_data / "tss-kit-results" / "PASCAL", preds / "PASCAL")
    with pytest.raises(CorrbenchError, match="no prediction folder for 2 of 4 .*--missing") as info:
        run_cli("--dataset", "tss", "--root", shared_data / "tss", "--predictions", preds)
    assert "\n" not in str(info.value)
    from corrbench.tss.evaluate import evaluate_folder

    skipped = evaluate_folder(shared_data / "tss", preds, missing="skip")
    assert list(skipped.subsets) == ["PASCAL"]
    absent = evaluate_folder(shared_data / "tss", preds, missing="absent")
    assert all(r.seg_iou == 0 and np.all(r.acc == 0) for r in absent.subsets["JODS"].rows)
    assert absent.per_class["PASCAL"] == skipped.per_class["PASCAL"]
    with pytest.raises(CorrbenchError, match="predictions folder not found"):
        run_cli("--dataset", "tss", "--root", shared_data / "tss", "--predictions", tmp_path / "nope")
    with pytest.raises(CorrbenchError, match="TSS not found at"):
        run_cli("--dataset", "tss", "--root", tmp_path / "nope", "--predictions", preds)
    (preds / "PASCAL" / "bike_01_02" / "flow1.flo").unlink(missing_ok=True)
    (preds / "PASCAL" / "stray").mkdir()
    result = evaluate_folder(shared_data / "tss" / "PASCAL", preds)
    assert any("flow files missing" in w for w in result.warnings)
    assert any("match no TSS pair" in w for w in result.warnings)
