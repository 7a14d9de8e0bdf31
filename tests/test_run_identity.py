"""Result identity: options, seed, weights, protocol and versions key records and leaderboard rows."""

from __future__ import annotations

import json

import numpy as np

import corrbench
from corrbench.api import CorrespondenceField, Method, Prediction
from corrbench.baselines.identity import relative_position_field
from corrbench.leaderboard.tables import read_rows, render_tables, update_leaderboard
from tests.helpers import ListDataset, make_pair


class Shifted(Method):
    """identity shifted by ``shift`` pixels; ``jitter`` adds seeded noise (a stochastic method)."""

    name = "shifted"
    version = "1"

    def __init__(self, shift: float = 0.0, jitter: float = 0.0, **kw) -> None:
        super().__init__(**kw)
        self.shift, self.jitter = shift, jitter

    def predict(self, pairs, directions=()):
        import torch

        out = []
        for pair in pairs:
            field = relative_position_field(pair.trg_size, pair.src_size)
            noise = torch.randn(field.coords.shape).numpy() * self.jitter
            out.append(Prediction(trg_to_src=CorrespondenceField(field.coords + self.shift + noise, field.image_size)))
        return out


def _data() -> ListDataset:
    return ListDataset([make_pair(f"p{i}", "ab"[i % 2], seed=i) for i in range(4)])


def _mean_rows(frame):
    rows = frame[(frame.metric == "pck") & (frame.alpha == 0.1) & (frame.category == "mean")]
    return {(r.method, r.options, r.seed): r.value for r in rows.itertuples()}


def test_options_are_recorded_however_the_method_was_built():
    assert Shifted(3.0).init_options() == {"shift": 3.0}
    assert Shifted(jitter=1, device="cpu").init_options() == {"jitter": 1}
    assert corrbench.load_method("feature-nn", stride=8).init_options() == {"stride": 8}
    assert corrbench.load_method("identity").init_options() == {}


def test_an_option_or_seed_run_gets_its_own_row_and_leaves_the_default_row_untouched(tmp_path):
    data = _data()
    update_leaderboard(tmp_path, corrbench.evaluate(Shifted(), data))
    default = _mean_rows(read_rows(tmp_path, "list"))
    update_leaderboard(tmp_path, corrbench.evaluate(Shifted(shift=40.0), data))
    update_leaderboard(tmp_path, corrbench.evaluate(Shifted(), data, seed=3))
    rows = _mean_rows(read_rows(tmp_path, "list"))
    assert set(rows) == {("shifted", "{}", 0), ("shifted", '{"shift":40.0}', 0), ("shifted", "{}", 3)}
    assert rows[("shifted", "{}", 0)] == default[("shifted", "{}", 0)]
    assert rows[("shifted", '{"shift":40.0}', 0)] != default[("shifted", "{}", 0)]
    table = render_tables(read_rows(tmp_path, "list"))["test__synthetic__pck@0.1.md"]
    assert "| shifted | none |" in table and "| shifted [shift=40.0] | none |" in table
    assert "| shifted [seed=3] | none |" in table


def test_the_json_names_the_whole_identity():
    result = corrbench.evaluate(Shifted(shift=2.0), _data(), seed=5).to_dict()
    identity = result["identity"]
    assert identity["options"] == {"shift": 2.0} and identity["seed"] == 5
    assert identity["method_version"] == "1" and identity["dataset"] == "list"
    assert identity["protocol"] == "synthetic" and len(identity["protocol_digest"]) == 12
    assert identity["weights"] == "none" and identity["weights_sha256"] is None
    json.dumps(result)  # serialisable as written by --json


def test_weights_digest_is_part_of_the_identity(tmp_path):
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"one")
    first = corrbench.evaluate(Shifted(weights=str(weights)), _data()).identity
    weights.write_bytes(b"two")
    second = corrbench.evaluate(Shifted(weights=str(weights)), _data()).identity
    assert first["weights_sha256"] != second["weights_sha256"] and first["key"] != second["key"]


def test_seeded_stochastic_runs_repeat_bit_for_bit_and_seeds_differ():
    data = _data()
    first = corrbench.evaluate(Shifted(jitter=4.0), data, seed=1).records
    again = corrbench.evaluate(Shifted(jitter=4.0), data, seed=1).records
    other = corrbench.evaluate(Shifted(jitter=4.0), data, seed=2).records
    assert first == again and first != other


def test_a_new_method_version_adds_a_row_labelled_with_its_version(tmp_path):
    class Newer(Shifted):
        version = "2"

    update_leaderboard(tmp_path, corrbench.evaluate(Shifted(), _data()))
    update_leaderboard(tmp_path, corrbench.evaluate(Newer(shift=0.5), _data()))
    update_leaderboard(tmp_path, corrbench.evaluate(Newer(), _data()))
    table = render_tables(read_rows(tmp_path, "list"))["test__synthetic__pck@0.1.md"]
    assert "| shifted (v1) | none |" in table and "| shifted (v2) | none |" in table
    assert "| shifted [shift=0.5] | none |" in table
    assert np.isfinite(read_rows(tmp_path, "list")["value"]).all()


def test_cli_seed_run_adds_a_row_beside_the_committed_ones(tmp_path):
    import shutil
    from pathlib import Path

    from corrbench.cli.main import main
    from corrbench.leaderboard.check import table_sync_problems

    board = tmp_path / "leaderboards"
    shutil.copytree(Path(__file__).resolve().parents[1] / "leaderboards", board)
    before = read_rows(board, "synthetic")
    assert main(["run", "--method", "identity", "--dataset", "synthetic", "--seed", "3", "--no-resume",
                 "--leaderboard", str(board)]) == 0
    after = read_rows(board, "synthetic")
    committed = after[after.seed == 0].reset_index(drop=True)
    assert committed.drop(columns="provenance").equals(before.drop(columns="provenance"))
    seeded = after[(after.seed == 3) & (after.metric == "pck") & (after.alpha == 0.1) & (after.category == "mean")]
    assert list(seeded.method) == ["identity"]
    table = (board / "synthetic" / "test__synthetic__pck@0.1.md").read_text()
    assert "| identity | none |" in table and "| identity [seed=3] | none |" in table
    assert table_sync_problems(board) == []


def test_dataset_options_come_from_the_cli_and_are_part_of_the_identity(tmp_path):
    import json as json_

    from corrbench.cli.main import main

    out = tmp_path / "r.json"
    assert main(["run", "--method", "identity", "--dataset", "synthetic", "-d", "seed=1", "--limit", "2",
                 "--no-resume", "--no-leaderboard", "--json", str(out)]) == 0
    identity = json_.loads(out.read_text())["identity"]
    assert identity["dataset_options"] == {"seed": 1}
    result = corrbench.evaluate(Shifted(), _data())
    result.identity["dataset_options"] = {"pair_list": "macosnet450"}
    update_leaderboard(tmp_path / "board", result)
    table = render_tables(read_rows(tmp_path / "board", "list"))["test__synthetic__pck@0.1.md"]
    assert "| shifted [data: pair_list=macosnet450] | none |" in table
