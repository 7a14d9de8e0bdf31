"""Bad inputs, table-driven: each gives exit code 2, one line on stderr, no traceback, nothing written.

Add the next bad input here: a row is (id, command-line arguments after ``corrbench``, a piece of the
expected message).  ``{tmp}`` is a fresh folder; ``{file}`` an existing regular file in it, ``{json}`` a JSON
file that is no run result.
"""

from __future__ import annotations

import pytest

from corrbench.cli.main import main
from tests.fake_plugins import activate, write_distribution

RUN = ["run", "--dataset", "synthetic", "--limit", "2", "--no-resume", "--no-leaderboard"]

CASES = [
    ("option YAML", [*RUN, "--method", "identity", "-o", "foo=[1"], "bad --option 'foo=[1'"),
    ("option without =", [*RUN, "--method", "identity", "-o", "foo"], "expected KEY=VALUE"),
    ("unknown option", [*RUN, "--method", "feature-nn", "-o", "strid=4"], "Did you mean 'stride'?"),
    ("device bogus", [*RUN, "--method", "feature-nn", "--device", "bogus"], "bad --device 'bogus'"),
    ("device without cuda", [*RUN, "--method", "identity", "--device", "cuda:7"], "--device cuda:7"),
    ("json is a folder", [*RUN, "--method", "identity", "--json", "{tmp}"], "is a folder"),
    ("json below a file", [*RUN, "--method", "identity", "--json", "{file}/r.json"], "is a file, not a folder"),
    ("leaderboard is a file", ["run", "--dataset", "synthetic", "--method", "identity", "--no-resume",
                               "--leaderboard", "{file}"], "is a file, not a folder"),
    ("runs dir is a file", [*RUN[:-2], "--method", "identity", "--runs-dir", "{file}", "--no-leaderboard"],
     "--runs-dir"),
    ("weights missing", [*RUN, "--method", "sfnet", "--weights", "{tmp}/nonexistent.pth"], "no such file"),
    ("weights for a weight-free method", [*RUN, "--method", "identity", "--weights", "{file}"],
     "takes no weights"),
    ("checkpoint of random bytes", [*RUN, "--method", "sfnet", "--weights", "{random}"], "cannot read checkpoint"),
    ("empty checkpoint", [*RUN, "--method", "sfnet", "--weights", "{empty}"], "cannot read checkpoint"),
    ("plugin exits at import", [*RUN, "--method", "exiting"], "failed to import (SystemExit: 3)"),
    ("protocol for another dataset", [*RUN, "--method", "identity", "--protocol", "sfnet/pfpascal"],
     "is defined for pfpascal, not 'synthetic'"),
    ("show: no run file", ["show", "--run", "{tmp}/none.json"], "no run file"),
    ("show: run file not JSON", ["show", "--run", "{file}"], "cannot read run file"),
    ("show: run file of another kind", ["show", "--run", "{json}"], "is not a result of `corrbench run --json`"),
    ("show: worst below 1", ["show", "--run", "{file}", "--worst", "0"], "--worst must be at least 1, got 0"),
    ("show: run with a method", ["show", "--run", "{file}", "--method", "identity"], "cannot be combined with --run"),
    ("show: no pair", ["show", "--method", "identity", "--dataset", "synthetic"], "needs --method, --dataset and --pair"),
    ("train: unknown recipe", ["train", "--method", "sfnet", "-o", "config=embedded", "--recipe", "papr",
                               "--out", "{tmp}/run"], "Did you mean 'paper'?"),
    ("train: accumulate 0", ["train", "--method", "sfnet", "-o", "config=embedded", "-o", "feature_size=8",
                             "--dataset", "synthetic", "--accumulate", "0", "--out", "{tmp}/run"],
     "accumulate must be >= 1"),
    ("train: unknown validation metric", ["train", "--method", "sfnet", "-o", "config=embedded", "-o", "feature_size=8",
                                          "--dataset", "synthetic", "--pairs-per-epoch", "2", "--batch-size", "2",
                                          "--val-dataset", "synthetic", "--val-limit", "1", "--val-metric", "pck@1.5x",
                                          "--out", "{tmp}/run"], "validation metric 'pck@1.5x'"),
    ("train: voc-masks not downloaded", ["train", "--method", "sfnet", "-o", "config=embedded", "--recipe", "paper",
                                         "--root", "{tmp}", "--out", "{tmp}/run"], "run `corrbench download voc-masks`"),
    ("show: worst without run", ["show", "--method", "identity", "--dataset", "synthetic", "--pair", "0", "--worst",
                                 "2"], "--worst needs --run"),
    ("dinov2 size not a multiple of the patch", [*RUN, "--method", "dinov2", "-o", "size=850"],
     "size 850 is not a multiple of the patch size 14 (try 840 or 854)"),
    ("dinov2 layer out of range", [*RUN, "--method", "dinov2", "-o", "layer=-13"], "vitb14 has blocks 0..11"),
]


@pytest.fixture
def exiting_plugin(tmp_path, monkeypatch):
    site = write_distribution(tmp_path / "site", "corrbench-exiting", "1.0",
                              {"corrbench.methods": {"exiting": "corrbench_exiting:Method"}},
                              {"corrbench_exiting.py": "import sys\nsys.exit(3)\n"})
    activate(site, monkeypatch)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_writes_nothing(case, tmp_path, capsys, exiting_plugin, monkeypatch):
    from tests.recipe_runs import register_voc_masks

    register_voc_masks(monkeypatch)
    _, argv, message = case
    work = tmp_path / "work"
    work.mkdir()
    (work / "file").write_text("x")
    (work / "random.pth").write_bytes(bytes(range(1, 256)) * 16)  # no zip or pickle header
    (work / "empty.pth").write_bytes(b"")
    (work / "other.json").write_text('{"records": []}')
    monkeypatch.chdir(work)
    argv = [a.format(tmp=work, file=work / "file", random=work / "random.pth", empty=work / "empty.pth",
                     json=work / "other.json") for a in argv]
    before = sorted(p.relative_to(work) for p in work.rglob("*"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("corrbench: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert message in err, err
    assert sorted(p.relative_to(work) for p in work.rglob("*")) == before

CASES_TYPED = [
    ("feature-nn stride text", ["-o", "stride=abc"], "method 'feature-nn' option stride: expected an integer"),
    ("feature-nn stride zero", ["-o", "stride=0"], "option stride: expected an integer >= 1"),
    ("feature-nn stride negative", ["-o", "stride=-4"], "got -4"),
    ("feature-nn window too large", ["-o", "window=300"], "memory grows with window²"),
]


@pytest.mark.parametrize("case", CASES_TYPED, ids=[c[0] for c in CASES_TYPED])
def test_typed_options_are_checked_before_any_work(case, capsys):
    _, options, message = case
    assert main([*RUN, "--method", "feature-nn", *options]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and message in err, err


def test_sfnet_bad_value_is_one_line(capsys):
    assert main([*RUN, "--method", "sfnet", "-o", "beta=abc"]) == 2
    err = capsys.readouterr().err
    assert "method 'sfnet' option beta: expected a number > 0 or null, got 'abc'" in err and err.count("\n") == 1


def test_unknown_dataset_option_is_one_line(capsys):
    assert main([*RUN, "--method", "identity", "-d", "sed=1"]) == 2
    err = capsys.readouterr().err
    assert "bad option for dataset 'synthetic'" in err and "Did you mean 'seed'?" in err and err.count("\n") == 1


@pytest.mark.parametrize("method, option, why", [
    ("nemf", "feature_size=200", "(4·feature_size)⁴"),
    ("sfnet", "feature_size=400", "feature_size⁴"),
    ("macosnet", "image_size=8192", "(image_size/16)⁴"),
    ("rtn", "image_size=9999", "image_size²"),
    ("dinov2", "size=4200", "similarity block with size⁴"),
])
def test_resolutions_that_cannot_fit_in_memory_are_refused_up_front(method, option, why, capsys):
    assert main([*RUN, "--method", method, "-o", option]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and why in err and "Traceback" not in err, err


def test_dataset_option_of_the_wrong_type_is_one_line(capsys):
    assert main([*RUN, "--method", "identity", "-d", "seed=abc"]) == 2
    err = capsys.readouterr().err
    assert "dataset 'synthetic' option seed: expected an integer, got 'abc'" in err and err.count("\n") == 1
