"""Published numbers (``reported.yaml``) beside reproduced runs: the schema, the tables, the check.

Every number here is FAKE (made-up methods and papers); the real files carry real citations.
"""

from __future__ import annotations

import copy
import math

import pandas as pd
import pytest
import yaml

import corrbench
from corrbench.cli.main import main
from corrbench.errors import LeaderboardFileError
from corrbench.leaderboard import check as lb
from corrbench.leaderboard.reported import load_reported
from corrbench.leaderboard.tables import rows_from_result, write_leaderboard
from tests.helpers import ListDataset, make_pair

FAKE = {"method": "FakeNet-A", "paper": "FAKE: Nobody et al., not a real paper, 2099", "table": "Table 0",
        "source": "https://example.invalid/fake-a", "secondary": False, "alpha": 0.1, "normalisation": "image",
        "averaging": "all-keypoints", "value": 12.5, "backbone": "FakeBackbone-0", "preset": "sfnet",
        "excerpt": "a made-up sentence for a test"}


def entry(**changes) -> dict:
    return {**copy.deepcopy(FAKE), **changes}


def write_board(folder, benchmark: str, entries: list[dict]):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "reported.yaml"
    path.write_text(yaml.safe_dump({"benchmark": benchmark, "reported": entries}, sort_keys=False))
    return path


def table_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows (as {column: cell}) of the one Markdown table in ``text``."""
    lines = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return header, [dict(zip(header, (c.strip() for c in line.strip("|").split("|")))) for line in lines[1:]]


def number(cell: str) -> float:
    return float(cell.split(" ± ")[0])


def runs_frame(dataset: str, protocols: dict[str, str]) -> tuple[pd.DataFrame, dict[str, object]]:
    """Leaderboard rows of real (tiny) runs, relabelled as runs on ``dataset`` under the given presets."""
    data = ListDataset([make_pair(f"p{i}", ("aeroplane", "bicycle")[i % 2], seed=i) for i in range(6)])
    rows, results = [], {}
    for method, protocol in protocols.items():
        result = corrbench.evaluate(corrbench.load_method(method), data)
        results[method] = result
        rows += [dict(r, dataset=dataset, protocol=protocol) for r in rows_from_result(result)]
    return pd.DataFrame(rows), results


def test_a_valid_file_loads_with_presets_resolved_and_defaults(tmp_path):
    path = write_board(tmp_path / "pfpascal", "pfpascal", [entry(), entry(method="FakeNet-B", preset="unknown protocol",
                                                                          per_class={"cat": 50})])
    board = load_reported(path, "pfpascal")
    first, second = board.entries
    assert first.preset == "sfnet/pfpascal" and first.split == "test" and first.per_class == {}
    assert second.preset == "unknown protocol" and not second.known_protocol and second.per_class == {"cat": 50.0}


BAD = [
    ("value above 100", {"value": 873}, "'value' must be a number in [0, 100]"),
    ("value negative", {"value": -1}, "'value' must be a number in [0, 100]"),
    ("value text", {"value": "87.3%"}, "'value' must be a number"),
    ("alpha above 1", {"alpha": 10}, "'alpha' must be a number in (0, 1]"),
    ("unknown preset", {"preset": "sfnett"}, "unknown protocol 'sfnett'"),
    ("preset of another dataset", {"preset": "dhpf/spair"}, "is defined for spair, not 'pfpascal'"),
    ("normalisation typo", {"normalisation": "box"}, "'normalisation' must be one of image, bbox, unknown"),
    ("averaging typo", {"averaging": "mean"}, "'averaging' must be one of"),
    ("normalisation contradicts preset", {"normalisation": "bbox"}, "contradicts preset 'sfnet/pfpascal'"),
    ("field typo", {"vaule": 1}, "unknown field 'vaule'. Did you mean 'value'"),
    ("missing paper", {"paper": None}, "missing field(s) paper"),
    ("empty source", {"source": "  "}, "'source' must be a non-empty text"),
    ("secondary not a boolean", {"secondary": "no"}, "'secondary' must be true or false"),
    ("per-class unknown class", {"per_class": {"aeroplan": 3}}, "unknown class 'aeroplan'. Did you mean 'aeroplane'?"),
    ("per-class value", {"per_class": {"cat": 101}}, "per_class 'cat' must be a number in [0, 100]"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_a_bad_entry_is_one_line_naming_the_file_and_the_entry(case, tmp_path):
    _, changes, piece = case
    bad = entry(**changes)
    bad = {k: v for k, v in bad.items() if v is not None}
    path = write_board(tmp_path / "pfpascal", "pfpascal", [entry(method="FakeNet-Z"), bad])
    with pytest.raises(LeaderboardFileError) as error:
        load_reported(path, "pfpascal")
    message = str(error.value)
    assert "\n" not in message and piece in message, message
    assert message.startswith(f"{path}: entry 2 (FakeNet-A): ")


def test_an_entry_given_twice_is_refused_and_an_empty_optional_text_is_absent(tmp_path):
    path = write_board(tmp_path / "pfpascal", "pfpascal", [entry(backbone=None), entry(method="FakeNet-B"),
                                                            entry(backbone=None, value=99)])
    with pytest.raises(LeaderboardFileError, match=r"entry 3 \(FakeNet-A\) repeats entry 1"):
        load_reported(path, "pfpascal")
    path = write_board(tmp_path / "pfpascal", "pfpascal", [entry(backbone=None), entry(table="Table 1")])
    assert [e.backbone for e in load_reported(path, "pfpascal").entries] == ["", "FakeBackbone-0"]


@pytest.mark.parametrize("text, piece", [
    ("benchmark: pfpascal\nreported: [\n", "not valid YAML"),
    ("benchmark: pfpascal\nreported: []\n", "'reported' must be a non-empty list"),
    ("benchmark: spair\nreported: [{method: x}]\n", "benchmark 'spair' is not this folder's dataset 'pfpascal'"),
    ("benchmark: pfpascal\nreported: [{method: x}]\nnotes: 1\n", "unknown top-level key(s) notes"),
    ("- just a list\n", "expected a mapping"),
])
def test_a_bad_file_is_one_line_naming_it(text, piece, tmp_path):
    path = tmp_path / "pfpascal" / "reported.yaml"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(LeaderboardFileError) as error:
        load_reported(path, "pfpascal")
    assert "\n" not in str(error.value) and str(path) in str(error.value) and piece in str(error.value)


def test_tables_never_mix_presets_and_put_each_number_in_its_averaging_column(tmp_path):
    write_board(tmp_path / "pfpascal", "pfpascal", [
        entry(per_class={"aeroplane": 20.5}),
        entry(method="FakeNet-B", preset="nemf", averaging="mean-over-classes", value=33.0, secondary=True),
        entry(method="FakeNet-C", preset="unknown protocol", normalisation="unknown", averaging="unknown", value=44.0),
        entry(method="FakeNet-D", preset="unknown protocol", averaging="unknown", value=45.25),
    ])
    frame, results = runs_frame("pfpascal", {"identity": "sfnet/pfpascal", "feature-nn": "nemf/pfpascal"})
    write_leaderboard(tmp_path, "pfpascal", frame)
    folder = tmp_path / "pfpascal"
    sfnet = (folder / "test__sfnet_pfpascal__reported-pck@0.1.md").read_text()
    nemf = (folder / "test__nemf_pfpascal__reported-pck@0.1.md").read_text()
    unknown = (folder / "test__unknown-protocol__reported-pck@0.1.md").read_text()

    header, rows = table_rows(sfnet)
    assert [r["method"] for r in rows] == ["FakeNet-A", "identity"]  # nothing from another preset
    assert header[3:] == ["aeroplane", "bicycle", "mean of classes", "all pairs", "all keypoints", "note"]
    reported, reproduced = rows
    assert reported["row"] == "reported" and reported["all keypoints"] == "12.5" and reported["aeroplane"] == "20.5"
    assert reported["bicycle"] == reported["mean of classes"] == reported["all pairs"] == "–"
    assert reported["note"] == "[1]" and "1. FAKE: Nobody et al., not a real paper, 2099, Table 0" in sfnet
    identity = results["identity"]
    assert reproduced["row"] == "reproduced" and "±" in reproduced["aeroplane"]
    for column, value in (("aeroplane", identity.per_class["aeroplane"]["pck@0.1"]),
                          ("mean of classes", identity.summary["pck@0.1"]),
                          ("all pairs", identity.summary["pck_pairs@0.1"]),
                          ("all keypoints", identity.summary["pck_kpt@0.1"])):
        assert number(reproduced[column]) == pytest.approx(100 * value, abs=0.051), column

    _, rows = table_rows(nemf)
    assert [(r["row"], r["method"]) for r in rows] == [("reported (secondary)", "FakeNet-B"), ("reproduced", "feature-nn")]
    assert rows[0]["mean of classes"] == "33.0" and number(rows[1]["mean of classes"]) == pytest.approx(
        100 * results["feature-nn"].summary["pck@0.1"], abs=0.051)

    header, rows = table_rows(unknown)
    assert "UNKNOWN PROTOCOL" in unknown.splitlines()[0] and [r["method"] for r in rows] == ["FakeNet-C", "FakeNet-D"]
    assert "averaging unknown" in header and [r["averaging unknown"] for r in rows] == ["44.0", "45.25"]


def test_a_preset_that_does_not_score_the_alpha_says_so(tmp_path):
    write_board(tmp_path / "pfpascal", "pfpascal", [entry(alpha=0.05)])  # sfnet/pfpascal scores 0.1 only
    frame, _ = runs_frame("pfpascal", {"identity": "sfnet/pfpascal"})
    write_leaderboard(tmp_path, "pfpascal", frame)
    text = (tmp_path / "pfpascal" / "test__sfnet_pfpascal__reported-pck@0.05.md").read_text()
    assert "does not score α = 0.05" in text
    assert [r["row"] for r in table_rows(text)[1]] == ["reported"]


def test_tss_numbers_sit_beside_the_kits_accuracy_at_the_same_threshold(tmp_path):
    write_board(tmp_path / "tss", "tss", [entry(preset="tss_official", alpha=0.05, averaging="mean-over-classes",
                                                value=70.0, per_class={"FG3DCar": 80.0})])
    base = {"method": "m", "method_version": "1", "weights": "none", "options": "{}", "seed": 0, "dataset": "tss",
            "dataset_options": "{}", "dataset_version": "1", "split": "test", "protocol": "tss_official/tss",
            "protocol_version": "1", "alpha": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n_pairs": 1, "n_kps": None, "provenance": ""}
    values = {"FG3DCar": 0.9, "JODS": 0.6, "PASCAL": 0.3, "mean": 0.6}
    frame = pd.DataFrame([dict(base, metric=metric, category=c, value=v + offset)
                          for metric, offset in (("tss_T5", 0.0), ("tss_T10", 0.05)) for c, v in values.items()])
    write_leaderboard(tmp_path, "tss", frame)
    header, rows = table_rows((tmp_path / "tss" / "test__tss_official_tss__reported-pck@0.05.md").read_text())
    assert header[3:-1] == ["FG3DCar", "JODS", "PASCAL", "mean of classes"]
    assert rows[0]["FG3DCar"] == "80.0" and rows[0]["mean of classes"] == "70.0" and rows[0]["JODS"] == "–"
    assert [number(rows[1][c]) for c in header[3:-1]] == [90.0, 60.0, 30.0, 60.0]  # T5, not T10


def test_check_validates_every_reported_file_and_finds_stale_tables(tmp_path, capsys):
    board = tmp_path / "leaderboards"
    path = write_board(board / "pfpascal", "pfpascal", [entry()])  # published numbers only: no results.csv
    assert lb.render_all(board) == ["pfpascal"]
    assert not (board / "pfpascal" / "results.csv").exists()
    assert "reported.yaml" in (board / "README.md").read_text()
    assert lb.check(board, rerun=False).ok

    path.write_text(path.read_text().replace("value: 12.5", "value: 13.5"))
    problems = lb.check(board, rerun=False).problems
    assert problems == ["pfpascal/test__sfnet_pfpascal__reported-pck@0.1.md is out of sync with reported.yaml and "
                        "results.csv (run `corrbench leaderboard render`)"]
    lb.render_all(board)
    assert lb.check(board, rerun=False).ok

    path.write_text(path.read_text().replace("value: 13.5", "value: 135"))
    assert main(["leaderboard", "check", "--dir", str(board), "--no-rerun"]) == 1
    out = capsys.readouterr().out
    assert "entry 1 (FakeNet-A): 'value' must be a number in [0, 100]" in out
    (board / "pfpascal" / "test__sfnet_pfpascal__reported-pck@0.1.md").unlink()
    path.write_text(path.read_text().replace("value: 135", "value: 13.5"))
    assert any("is missing" in p for p in lb.check(board, rerun=False).problems)


def test_a_run_stops_before_any_work_when_its_boards_reported_file_is_bad(tmp_path, capsys):
    board = tmp_path / "leaderboards"
    write_board(board / "synthetic", "synthetic", [entry(preset="no-such-preset")])
    assert main(["run", "--method", "identity", "--dataset", "synthetic", "--no-resume",
                 "--leaderboard", str(board)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "reported.yaml: entry 1 (FakeNet-A): preset: unknown protocol" in err
    assert sorted(p.name for p in (board / "synthetic").iterdir()) == ["reported.yaml"]
