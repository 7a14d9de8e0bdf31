"""MaCoSNet's paper recipe (the released train.sh): what it states, and a few updates on a PF-PASCAL stand-in."""

from __future__ import annotations

import numpy as np
import pytest

from corrbench.training import train
from corrbench.training.checkpoints import load_checkpoint
from corrbench_macosnet.config import PRESETS
from corrbench_macosnet.method import MaCoSNetMethod
from macosnet_fakes import TINY
from tests.dataset_roots import build_pfpascal_trainval
from tests.recipe_runs import quick, recipe_data, recipe_validation

pytestmark = pytest.mark.shared


def test_the_paper_preset_states_train_sh():
    recipe = PRESETS["paper"].train
    assert (recipe.dataset, recipe.split, recipe.dataset_options) == ("pfpascal", "train", {"apply_flip": True})
    assert (recipe.optimizer, recipe.lr, recipe.batch_size, recipe.epochs, recipe.seed, recipe.scheduler) == (
        "adam", 5e-8, 4, 60, 1, None)
    assert (recipe.validation.dataset, recipe.validation.split, recipe.validation.protocol) == (
        "pfpascal", "val", "ncnet_scnet")
    assert PRESETS["paper"].config.loss_weights == {"match": 1.0, "cycle": 1.0, "trans": 0.0, "coseg": 0.0,
                                                    "task": 0.0, "synth": 0.0}  # train.sh: match + cycle
    assert PRESETS["joint"].train == recipe


def test_a_few_weak_updates_on_pfpascal_train_pairs_then_validation_picks_best(tmp_path, shared_data):
    build_pfpascal_trainval(tmp_path, shared_data)
    config = quick(PRESETS["paper"].train)
    data, val = recipe_data(config, tmp_path), recipe_validation(config, tmp_path)
    assert any(data[i].meta["flipped"] for i in range(len(data)))  # rows with flip=1 are mirrored
    summary = train(MaCoSNetMethod(**TINY), data, config, tmp_path / "run", val_data=val)
    assert summary.steps == 2 and np.isfinite(summary.losses).all() and len(summary.validations) == 2
    best = load_checkpoint(tmp_path / "run" / "best.pth")["validation"]
    assert best["protocol"].startswith("ncnet_scnet") and best["value"] == max(v["value"] for v in summary.validations)
