"""Bootstrap intervals and paired comparisons against a hand computation and known cases."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import corrbench
from corrbench.metrics.bootstrap import class_generator, class_intervals, paired_comparison, pck_intervals
from tests.helpers import ListDataset, make_pair


def _records(correct, classes="ab", n_kps=10):
    return [{"pair_id": f"p{i}", "category": classes[i % len(classes)], "n_kps": n_kps,
             "correct": {"0.1": int(c)}} for i, c in enumerate(correct)]


def test_intervals_equal_a_hand_computed_bootstrap():
    correct = [3, 7, 10, 0, 5, 5, 8, 2]
    records = _records(correct)
    got = pck_intervals(records, (0.1,), resamples=200, seed=7)
    # The same draws by hand: per class (stratified) first, then all pairs, from one generator.
    rng = np.random.default_rng(7)
    per_image = np.array(correct) / 10
    classes = np.array([i % 2 for i in range(len(correct))])
    draws = [np.flatnonzero(classes == c)[rng.integers(0, 4, (200, 4))] for c in (0, 1)]
    class_mean = np.mean([per_image[d].mean(axis=1) for d in draws], axis=0)
    flat = rng.integers(0, 8, (200, 8))
    all_pairs = per_image[flat].mean(axis=1)
    pooled = np.array(correct)[flat].sum(axis=1) / 80
    for key, values in (("pck@0.1", class_mean), ("pck_pairs@0.1", all_pairs), ("pck_kpt@0.1", pooled)):
        assert got[key] == pytest.approx(list(np.percentile(values, [2.5, 97.5])))


def test_intervals_are_deterministic_and_contain_the_estimate():
    records = _records(np.random.default_rng(0).integers(0, 11, 60))
    first, again = pck_intervals(records, (0.1,)), pck_intervals(records, (0.1,))
    assert first == again
    estimate = np.mean([r["correct"]["0.1"] / 10 for r in records])
    low, high = first["pck_pairs@0.1"]
    assert low < estimate < high


def test_constant_pcks_have_an_empty_interval():
    assert pck_intervals(_records([10] * 6), (0.1,))["pck@0.1"] == [1.0, 1.0]


def test_class_intervals_equal_a_hand_computed_bootstrap_of_each_class():
    correct = [3, 7, 10, 0, 5, 5, 8, 2, 6]
    n_kps = [10, 5, 10, 4, 10, 8, 10, 10, 10]
    records = [dict(r, n_kps=k) for r, k in zip(_records(correct, classes="aab"), n_kps)]
    records.append({"pair_id": "empty", "category": "b", "n_kps": 0, "correct": {"0.1": 0}})  # not scored
    got = class_intervals(records, (0.1,), resamples=300, seed=5)
    assert sorted(got) == ["a", "b"]
    for name in ("a", "b"):
        members = [i for i in range(len(correct)) if "aab"[i % 3] == name]
        rng = np.random.default_rng([5, zlib.crc32(name.encode())])
        draws = np.array(members)[rng.integers(0, len(members), (300, len(members)))]
        c, k = np.array(correct, float)[draws], np.array(n_kps, float)[draws]
        per_image, pooled = (c / k).mean(axis=1), c.sum(axis=1) / k.sum(axis=1)
        assert got[name]["pck@0.1"] == pytest.approx(list(np.percentile(per_image, [2.5, 97.5])))
        assert got[name]["pck_kpt@0.1"] == pytest.approx(list(np.percentile(pooled, [2.5, 97.5])))


def test_a_class_interval_does_not_depend_on_the_other_classes_or_on_blocking():
    rng = np.random.default_rng(2)
    records = _records(rng.integers(0, 11, 40), classes="abcd")
    alone = class_intervals([r for r in records if r["category"] == "c"], (0.1,), seed=1)
    together = class_intervals(records, (0.1,), seed=1)
    assert alone["c"] == together["c"] and together == class_intervals(records, (0.1,), seed=1)
    assert together["a"] != class_intervals(records, (0.1,), seed=2)["a"]
    # Resamples drawn in blocks (a large class) give the draws of one call.
    import corrbench.metrics.bootstrap as bootstrap

    big = _records(rng.integers(0, 11, 3000), classes="a")
    one = class_generator(0, "a").integers(0, 3000, (1000, 3000))
    per_image = (np.array([r["correct"]["0.1"] for r in big], float) / 10)[one].mean(axis=1)
    blocked = class_intervals(big, (0.1,), seed=0)["a"]["pck@0.1"]
    assert 2_000_000 // 3000 < bootstrap.RESAMPLES  # the class really is drawn in several blocks
    assert blocked == pytest.approx(list(np.percentile(per_image, [2.5, 97.5])))


def test_every_keypoint_run_carries_per_class_intervals_in_its_json_and_leaderboard_rows():
    from corrbench.leaderboard.tables import rows_from_result

    data = ListDataset([make_pair(f"p{i}", "ab"[i % 2], seed=i) for i in range(6)])
    result = corrbench.evaluate(corrbench.load_method("identity"), data)
    as_json = result.to_dict()
    for name, values in as_json["per_class"].items():
        low, high = as_json["class_ci"][name]["pck@0.1"]
        assert low <= values["pck@0.1"] <= high
    rows = [r for r in rows_from_result(result) if r["category"] in ("a", "b") and r["metric"] in ("pck", "pck_kpt")]
    assert rows and all(r["ci_low"] is not None and r["ci_low"] <= r["value"] <= r["ci_high"] for r in rows)
    for r in rows:
        assert [r["ci_low"], r["ci_high"]] == pytest.approx(
            result.class_ci[r["category"]][f"{r['metric']}@{r['alpha']:g}"], abs=1e-6)


def test_paired_comparison_of_a_run_with_itself_and_with_a_uniformly_better_one():
    a = _records(np.random.default_rng(1).integers(0, 9, 40))
    same = paired_comparison(a, a, (0.1,))
    assert all(d.difference == 0 and d.interval == (0, 0) and d.p_value == 1.0 for d in same)
    better = [dict(r, correct={"0.1": r["correct"]["0.1"] + 2}) for r in a]
    for diff in paired_comparison(a, better, (0.1,)):
        assert diff.difference == pytest.approx(0.2)
        assert diff.interval == pytest.approx((0.2, 0.2))
        assert diff.p_value < 0.001  # every pair gains: no random swap is as extreme


def test_paired_comparison_of_noise_is_not_significant():
    rng = np.random.default_rng(3)
    a = _records(rng.integers(0, 11, 200))
    b = _records(rng.integers(0, 11, 200))
    (class_mean, _) = paired_comparison(a, b, (0.1,))
    assert class_mean.interval[0] < 0 < class_mean.interval[1] and class_mean.p_value > 0.05


def test_every_keypoint_run_carries_intervals():
    data = ListDataset([make_pair(f"p{i}", "ab"[i % 2], seed=i) for i in range(6)])
    result = corrbench.evaluate(corrbench.load_method("identity"), data).to_dict()
    low, high = result["summary_ci"]["pck@0.1"]
    assert low <= result["summary"]["pck@0.1"] <= high and result["ci"]["resamples"] == 1000


def test_compare_command_prints_the_paired_difference_and_refuses_other_protocols(tmp_path, capsys):
    import json

    from corrbench.cli.main import main
    from corrbench.eval.protocols import get_protocol

    data = ListDataset([make_pair(f"p{i}", "ab"[i % 2], seed=i) for i in range(8)])
    a = corrbench.evaluate(corrbench.load_method("identity"), data)
    b = corrbench.evaluate(corrbench.load_method("feature-nn"), data)
    (tmp_path / "a.json").write_text(json.dumps(a.to_dict(), default=float))
    (tmp_path / "b.json").write_text(json.dumps(b.to_dict(), default=float))
    assert main(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--alpha", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "B − A on 8 shared pairs" in out and "pck (mean of classes) @0.1" in out
    comparison = corrbench.compare(a, b)
    (first,) = [d for d in comparison.overall if d.metric == "pck@0.1"]
    assert first.difference == pytest.approx(b.summary["pck@0.1"] - a.summary["pck@0.1"])
    other = corrbench.evaluate(corrbench.load_method("identity"), data,
                               protocol=get_protocol("synthetic").with_options(comparison="lt"))
    (tmp_path / "c.json").write_text(json.dumps(other.to_dict(), default=float))
    assert main(["compare", str(tmp_path / "a.json"), str(tmp_path / "c.json")]) == 2
    assert "differ in protocol" in capsys.readouterr().err
