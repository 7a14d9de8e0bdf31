"""SFNet's paper recipe: what it states, and a few updates of it on stand-in VOC + PF-PASCAL trees.

The stand-ins are laid out as the real downloads (``tests/dataset_roots.py``: VOC 2012 segmentation
with the real PF-PASCAL test list; PF-PASCAL with the real train/val lists, images drawn).
"""

from __future__ import annotations

import numpy as np
import pytest

import corrbench
from corrbench.cli.main import main
from corrbench.training import train
from corrbench.training.checkpoints import load_checkpoint
from corrbench.training.schedule import lr_at
from corrbench_sfnet.config import PRESETS
from corrbench_sfnet.method import SFNetMethod
from sfnet_fakes import TINY
from tests.dataset_roots import build_pfpascal_trainval, build_voc
from tests.recipe_runs import quick, recipe_data, recipe_validation, register_voc_masks

pytestmark = pytest.mark.shared


def test_the_paper_preset_states_the_official_recipe():
    recipe = PRESETS["paper"].train
    assert (recipe.dataset, recipe.split, recipe.dataset_options) == ("voc-masks", "trainval", {})
    assert (recipe.optimizer, recipe.lr, recipe.batch_size, recipe.epochs) == ("adam", 3e-5, 16, 40)
    assert [lr_at(recipe, epoch) for epoch in (0, 29, 30, 39)] == pytest.approx([3e-5, 3e-5, 6e-6, 6e-6])
    validation = recipe.validation
    assert (validation.dataset, validation.split, validation.protocol, validation.metric, validation.every) == (
        "pfpascal", "val", "sfnet", "pck@0.1", 1)
    assert PRESETS["embedded"].train.dataset is None  # the committed checkpoint's recipe is unchanged


def test_a_few_updates_of_the_recipe_train_on_voc_masks_and_select_on_pfpascal_val(tmp_path, shared_data, monkeypatch):
    register_voc_masks(monkeypatch)
    build_voc(tmp_path / "voc", shared_data)
    build_pfpascal_trainval(tmp_path / "pf", shared_data)
    config = quick(PRESETS["paper"].train)
    data, val = recipe_data(config, tmp_path / "voc"), recipe_validation(config, tmp_path / "pf")
    assert data.name == "voc-masks" and data.excluded and val.name == "pfpascal" and val.split == "val"
    summary = train(SFNetMethod(**TINY), data, config, tmp_path / "run", val_data=val)
    assert summary.steps == 2 and np.isfinite(summary.losses).all() and len(summary.validations) == 2
    best = load_checkpoint(tmp_path / "run" / "best.pth")["validation"]
    assert (best["dataset"], best["split"], best["metric"]) == ("pfpascal", "val", "pck@0.1")
    assert best["protocol"].startswith("sfnet") and best["value"] == max(v["value"] for v in summary.validations)
    reloaded = SFNetMethod(weights=str(tmp_path / "run" / "best.pth"))
    assert corrbench.evaluate(reloaded, val, "sfnet", limit=2).summary["pck@0.1"] == best["value"]
    assert load_checkpoint(tmp_path / "run" / "last.pth")["config"]["milestones"] == [30]


def test_the_readme_command_runs_the_recipe(tmp_path, shared_data, monkeypatch, capsys):
    """`corrbench train --method sfnet ...` as the README gives it, with a small model and the stand-ins."""
    register_voc_masks(monkeypatch)
    build_voc(tmp_path / "voc", shared_data)
    build_pfpascal_trainval(tmp_path / "pf", shared_data)
    out = tmp_path / "run"
    code = main(["train", "--method", "sfnet", "-o", "config=embedded", "-o", "feature_size=8", "--recipe", "paper",
                 "--root", str(tmp_path / "voc"), "-d", "subset=true", "--val-root", str(tmp_path / "pf"),
                 "-D", "subset=true", "--val-limit", "2", "--epochs", "1", "--batch-size", "2",
                 "--pairs-per-epoch", "2", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "trained sfnet for 1 epoch(s), 1 steps" in printed
    assert "best pck@0.1" in printed and "pfpascal/val" in printed
    assert {p.name for p in out.iterdir()} >= {"last.pth", "weights.pth", "best.pth", "validation.json"}
    stored = load_checkpoint(out / "last.pth")["config"]
    assert (stored["dataset"], stored["split"], stored["lr"], stored["scheduler"]) == ("voc-masks", "trainval", 3e-5,
                                                                                          "multistep")
