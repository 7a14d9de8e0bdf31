"""The seal: a method never sees the answer and cannot change what it is scored on.

Each hostile plugin of ``cheating_methods`` must score exactly what its honest twin scores (or 0 %
when its only idea is to read the answer), through ``corrbench.evaluate()`` and ``corrbench run``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import corrbench
from corrbench.api import Scored
from corrbench.cli.main import main
from tests import cheating_methods as cheats
from tests.fake_plugins import activate, write_distribution
from tests.helpers import ListDataset, make_pair

CHEATERS = list(cheats.HONEST_TWIN)


def _pairs(n: int = 6) -> list:
    pairs = []
    for i in range(n):
        pair = make_pair(f"p{i}", "ab"[i % 2], seed=i)
        pair.meta.update({"answer": pair.src_kps.copy(), "difficulty": 1})
        pairs.append(pair)
    return pairs


class Spy(cheats.ZeroAnswer):
    """Keeps what it was shown."""

    def __init__(self, seen: list, **kw) -> None:
        super().__init__(**kw)
        self.seen = seen

    def predict(self, pairs, directions=()):
        self.seen.extend(pairs)
        return super().predict(pairs, directions)


def _score(method, dataset) -> dict:
    return corrbench.evaluate(method, dataset).summary


@pytest.mark.parametrize("cheater", CHEATERS, ids=lambda c: c.name)
def test_cheaters_score_what_their_honest_twin_scores_through_the_api(cheater):
    pairs = _pairs()
    kept = [(p.src_kps.copy(), p.trg_kps.copy(), p.src_bbox.copy(), p.src_image.copy()) for p in pairs]
    summary = _score(cheater(), ListDataset(pairs))
    twin = cheats.HONEST_TWIN[cheater]
    if twin is None:
        assert summary["pck@0.1"] == 0.0 and summary["n_nonfinite"] == summary["n_kps"]
    else:
        assert summary == _score(twin(), ListDataset(_pairs()))
    for pair, (src, trg, box, image) in zip(pairs, kept):  # the dataset's own pairs are untouched
        np.testing.assert_array_equal(pair.src_kps, src)
        np.testing.assert_array_equal(pair.trg_kps, trg)
        np.testing.assert_array_equal(pair.src_bbox, box)
        np.testing.assert_array_equal(pair.src_image, image)


def test_a_method_sees_only_what_the_contract_allows():
    seen = []
    pair = _pairs(1)[0]
    pair.src_mask = np.ones(pair.src_size, bool)
    corrbench.evaluate(Spy(seen), ListDataset([pair]))
    (view,) = seen
    assert np.isnan(view.src_kps).all() and view.src_kps.shape == pair.src_kps.shape
    np.testing.assert_array_equal(view.trg_kps, pair.trg_kps)  # the query side (synthetic: target)
    assert view.src_bbox is None and view.trg_bbox is None and view.src_mask is None
    # the task's note of what it reads: only the query keypoints, and the source mask (GT has it)
    assert view.flow_src_to_trg is None and view.meta == {"scored": Scored(fields=False, masks=("src",))}
    assert view.category == pair.category and view.src_size == pair.src_size
    assert view.src_image is not pair.src_image


def test_a_protocol_can_hand_over_the_query_box_and_records_it():
    from corrbench.eval.protocols import get_protocol

    seen = []
    protocol = get_protocol("synthetic").with_options(method_sees=("query_bbox",))
    result = corrbench.evaluate(Spy(seen), ListDataset(_pairs(1)), protocol=protocol)
    assert seen[0].trg_bbox is not None and seen[0].src_bbox is None
    assert result.to_dict()["protocol"]["method_sees"] == ["query_bbox"]
    assert "method_sees" in result.protocol.name  # a changed protocol is never passed off as the preset


@pytest.fixture
def cheater_site(tmp_path, monkeypatch):
    source = Path(cheats.__file__).read_text()
    targets = {c.name: f"corrbench_cheaters:{c.__name__}" for c in [*CHEATERS, cheats.ZeroAnswer]}
    site = write_distribution(tmp_path / "site", "corrbench-cheaters", "6.6.6", {"corrbench.methods": targets},
                              {"corrbench_cheaters.py": source})
    activate(site, monkeypatch)
    return site


def _run(tmp_path: Path, method: str, limit: int = 12) -> dict:
    out = tmp_path / f"{method}.json"
    board = tmp_path / "board"
    code = main(["run", "--method", method, "--dataset", "synthetic", "--limit", str(limit), "--no-resume",
                 "--json", str(out), "--leaderboard", str(board)])
    assert code == 0
    return json.loads(out.read_text())["summary"]


@pytest.mark.parametrize("cheater", CHEATERS, ids=lambda c: c.name)
def test_cheaters_score_what_their_honest_twin_scores_through_the_cli(cheater, cheater_site, tmp_path):
    summary = _run(tmp_path, cheater.name)
    twin = cheats.HONEST_TWIN[cheater]
    if twin is None:
        assert summary["pck@0.1"] == 0.0
    else:
        assert summary == _run(tmp_path, {cheats.ZeroAnswer: "zero-answer"}.get(twin, "identity"))


def test_tasks_say_what_they_read_and_show_asks_for_fields():
    """meta['scored']: keypoint runs read only the query keypoints (at the protocol's rounding) and masks
    where ground truth has them; coseg only the source mask; TSS everything; show draws the field."""
    from corrbench.eval.protocols import get_protocol
    from corrbench.eval.runner import predict_pair
    from corrbench.eval.tasks import CosegTask, FlowTask

    seen = []
    pair = _pairs(1)[0]
    pair.trg_mask = np.ones(pair.trg_size, bool)
    protocol = get_protocol("synthetic").with_options(query_rounding="round")
    corrbench.evaluate(Spy(seen), ListDataset([pair]), protocol=protocol)
    assert seen.pop().meta["scored"] == Scored(fields=False, masks=("trg",), query_rounding="round")
    predict_pair(Spy(seen), ListDataset([pair]), 0)
    assert seen.pop().meta["scored"] == Scored(fields=True, masks=("trg",))
    assert CosegTask(protocol).method_view(pair).meta["scored"] == Scored(fields=False, masks=("src",))
    assert FlowTask(protocol).method_view(pair).meta["scored"] == Scored()
    assert Scored.of(pair) == Scored()  # a pair nobody annotated: compute everything
    pair.meta["scored"] = "everything, please"  # a dataset's own meta key never reaches the method as one
    corrbench.evaluate(Spy(seen), ListDataset([pair]))
    assert isinstance(seen.pop().meta["scored"], Scored)
