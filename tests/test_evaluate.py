"""The evaluation loop: field transfer, point answers, frames, resume hooks."""

from __future__ import annotations

import numpy as np
import pytest

import corrbench
from corrbench.api import Prediction
from corrbench.baselines.identity import IdentityMethod
from corrbench.eval.keypoints import snap_queries, transfer_queries
from corrbench.eval.frames import apply_frame
from corrbench.eval.protocols import Protocol
from tests.helpers import ConstantFieldMethod, ListDataset, OracleMethod, make_pair


def _dataset(n=6):
    return ListDataset([make_pair(f"p{i}", "ab"[i % 2], seed=i) for i in range(n)])


def test_oracle_scores_one_and_offset_oracle_scores_by_threshold():
    data = _dataset()
    assert corrbench.evaluate(OracleMethod().knowing(data), data).summary["pck@0.1"] == 1.0
    # The source box of make_pair is 62 wide: offset 7 fails at 0.1 (6.2) and passes at 0.15 (9.3).
    result = corrbench.evaluate(OracleMethod(offset=(7.0, 0.0)).knowing(data), data)
    assert result.summary["pck@0.1"] == 0.0 and result.summary["pck@0.15"] == 1.0


def test_fields_are_read_by_the_framework_for_the_protocol_direction():
    data = _dataset(2)
    proto_t2s = Protocol("t", direction="trg_to_src", threshold="image", alphas=(0.1,))
    result = corrbench.evaluate(ConstantFieldMethod(point=(3.0, 4.0)), data, protocol=proto_t2s)
    pair = data[0]
    expected = np.mean(np.linalg.norm(pair.src_kps - [3, 4], axis=1) <= 0.1 * 80)
    assert result.records[0]["correct"]["0.1"] / result.records[0]["n_kps"] == pytest.approx(expected)


def test_identity_is_exact_when_target_is_a_resized_source():
    pair = make_pair(src_hw=(40, 60), trg_hw=(80, 120))
    pair.trg_kps = (pair.src_kps + 0.5) * 2 - 0.5
    result = corrbench.evaluate(IdentityMethod(), ListDataset([pair]),
                                protocol=Protocol("x", threshold="image", alphas=(0.001,)))
    assert result.summary["pck@0.001"] == 1.0


def test_square_frame_rescales_keypoints_boxes_and_images():
    pair = make_pair(src_hw=(60, 80), trg_hw=(90, 70))
    framed = apply_frame(pair, Protocol("c", frame="square", frame_size=32, threshold="frame"))
    assert framed.src_image.shape == (32, 32, 3) and framed.trg_image.shape == (32, 32, 3)
    np.testing.assert_allclose(framed.src_kps, pair.src_kps * [32 / 80, 32 / 60])
    np.testing.assert_allclose(framed.trg_bbox, pair.trg_bbox * np.array([32 / 70, 32 / 90] * 2))


def test_long_side_pad_frame_is_isotropic_and_centred():
    pair = make_pair(src_hw=(60, 120), trg_hw=(90, 70))
    framed = apply_frame(pair, Protocol("g", frame="long_side_pad", frame_size=240))
    assert framed.src_image.shape[:2] == (240, 240)
    np.testing.assert_allclose(framed.src_kps, pair.src_kps * 2 + [0, 60])
    assert framed.src_image[:60].max() == 0  # padding above the image


def test_query_rounding_modes():
    points = np.array([[1.4, 2.6], [-3.0, 100.0]])
    np.testing.assert_array_equal(snap_queries(points.copy(), (50, 50), "round"), [[1, 3], [0, 49]])
    np.testing.assert_array_equal(snap_queries(np.array([[1.7, 2.9]]), (50, 50), "trunc"), [[1, 2]])
    field = IdentityMethod().predict([make_pair(src_hw=(50, 50), trg_hw=(50, 50))])[0].trg_to_src
    out = transfer_queries(field, np.array([[1.4, 2.6]]), "round_offset")
    np.testing.assert_allclose(out, [[1.4, 2.6]], atol=1e-5)


def test_resume_reuses_done_records_and_reports_new_ones(tmp_path):
    data = _dataset(4)
    first = corrbench.evaluate(IdentityMethod(), data, runs_dir=str(tmp_path))
    (records,) = tmp_path.glob("*/0.jsonl")
    records.write_text("".join(records.read_text().splitlines(keepends=True)[:2]))  # as if killed after p1
    seen = []
    again = corrbench.evaluate(IdentityMethod(), data, runs_dir=str(tmp_path), on_record=seen.append)
    assert [r["pair_id"] for r in seen] == ["p2", "p3"]
    assert again.provenance["resumed_pairs"] == 2
    assert again.summary == first.summary


def test_method_without_needed_direction_fails_clearly():
    class Half(IdentityMethod):
        def predict(self, pairs, directions=()):
            return [Prediction() for _ in pairs]

    with pytest.raises(corrbench.errors.MethodError, match="no trg_to_src answer"):
        corrbench.evaluate(Half(), _dataset(1))
