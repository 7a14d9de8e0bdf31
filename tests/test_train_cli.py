"""``corrbench train`` as a user meets it: recipes by name, what runs, one-line errors, torchrun."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from corrbench.cli.main import main

REPO = Path(__file__).resolve().parents[1]
SMALL_SFNET = ["--method", "sfnet", "-o", "config=embedded", "-o", "feature_size=8"]


def test_show_recipe_prints_the_paper_recipe_with_command_line_changes(capsys):
    assert main(["train", *SMALL_SFNET, "--recipe", "paper", "--show-recipe", "--accumulate", "4",
                 "--precision", "bf16", "--val-every", "2"]) == 0
    shown = json.loads(capsys.readouterr().out)
    train = shown["train"]
    assert (shown["config"], shown["recipe"]) == ("embedded", "paper")
    assert (train["dataset"], train["batch_size"], train["accumulate"], train["precision"]) == (
        "voc-masks", 16, 4, "bf16")
    assert (train["validation"]["dataset"], train["validation"]["every"]) == ("pfpascal", 2)
    assert main(["train", *SMALL_SFNET, "--recipe", "paper", "--show-recipe", "--no-val"]) == 0
    assert json.loads(capsys.readouterr().out)["train"]["validation"] is None


def test_recipes_of_other_presets_and_stages_by_name(capsys):
    assert main(["train", "--method", "rtn", "-o", "config=embedded", "--recipe", "paper:synthetic",
                 "--show-recipe"]) == 0
    shown = json.loads(capsys.readouterr().out)["train"]
    assert shown["dataset"] == "voc-masks" and shown["method_options"]["warmup_steps"] >= 10**9


@pytest.mark.parametrize("args, message", [
    (["--recipe", "paper:spiar"], "has no training recipe 'paper:spiar'; recipes: .*paper, embedded"),
    ([], "the recipe of 'sfnet' names no training data; give --dataset"),  # embedded: no dataset in its recipe
])
def test_errors_are_one_line(tmp_path, capsys, args, message):
    assert main(["train", *SMALL_SFNET, *args, "--out", str(tmp_path / "out")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("corrbench: error: ") and re.search(message, err[0]), err

    assert not (tmp_path / "out").exists()


def test_torchrun_trains_through_the_command_line(tmp_path):
    """Two CPU processes (gloo) run `corrbench train`; rank 0 alone writes and reports."""
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone",
                           "-m", "corrbench", "train", "--method", "rtn", "-o", "config=embedded", "-o", "image_size=64",
                           "--dataset", "synthetic", "--epochs", "1", "--batch-size", "4", "--pairs-per-epoch", "8",
                           "--out", str(out)], capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("trained rtn for 1 epoch(s), 2 steps on 2 processes") == 1
    from corrbench.training.checkpoints import load_checkpoint

    assert load_checkpoint(out / "last.pth")["world_size"] == 2
