"""NeMF's paper recipes (CATs' recipe, NeMF released none): what they state, a few updates on stand-ins.

PF-PASCAL and SPair-71k stand-ins are laid out as the real downloads (``tests/dataset_roots.py``:
the real pair lists and annotations, drawn images).
"""

from __future__ import annotations

import numpy as np
import pytest

from corrbench.training import train
from corrbench.training.checkpoints import load_checkpoint
from corrbench.training.schedule import lr_at
from corrbench_nemf.config import PRESETS
from corrbench_nemf.method import NeMFMethod
from nemf_fakes import TINY
from tests.dataset_roots import add_spair_trn, build_pfpascal_trainval, build_spair
from tests.recipe_runs import quick, recipe_data, recipe_validation

pytestmark = pytest.mark.shared


def test_the_paper_recipes_are_cats_recipe_on_each_benchmarks_train_split():
    paper = PRESETS["paper"]
    assert paper.train == paper.recipes["pfpascal"] and set(paper.recipes) == {"pfpascal", "spair"}
    for name, split in (("pfpascal", "train"), ("spair", "trn")):
        recipe = paper.recipes[name]
        assert (recipe.dataset, recipe.split) == (name, split)
        assert (recipe.optimizer, recipe.lr, recipe.weight_decay, recipe.batch_size, recipe.epochs, recipe.seed) == (
            "adamw", 3e-5, 0.05, 32, 100, 2021)
        assert [lr_at(recipe, e) for e in (0, 69, 70, 80, 99)] == pytest.approx([3e-5, 3e-5, 1.5e-5, 7.5e-6, 3.75e-6])
        assert (recipe.validation.dataset, recipe.validation.split, recipe.validation.protocol) == (name, "val", "nemf")
        assert "CATs" in recipe.recipe and "b0d47d2" in recipe.recipe
    assert paper.recipes["pfpascal"].dataset_options == {"apply_flip": True}  # CATs mirrors the flip=1 rows


@pytest.mark.parametrize("name", ["pfpascal", "spair"])
def test_a_few_updates_on_ground_truth_correspondences_then_validation_picks_best(tmp_path, shared_data, name):
    if name == "pfpascal":
        build_pfpascal_trainval(tmp_path, shared_data)
    else:
        add_spair_trn(build_spair(tmp_path, shared_data, masks=False))
    config = quick(PRESETS["paper"].recipes[name])
    data, val = recipe_data(config, tmp_path), recipe_validation(config, tmp_path)
    assert data[0].src_kps.shape[0] > 0 and val.split == "val"
    summary = train(NeMFMethod(seed=0, **TINY), data, config, tmp_path / "run", val_data=val)
    assert summary.steps == 2 and np.isfinite(summary.losses).all() and len(summary.validations) == 2
    best = load_checkpoint(tmp_path / "run" / "best.pth")["validation"]
    assert best["dataset"] == name and best["protocol"].startswith("nemf")
    assert best["value"] == max(v["value"] for v in summary.validations)
    assert load_checkpoint(tmp_path / "run" / "last.pth")["config"]["dataset"] == name
