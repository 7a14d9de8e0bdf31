"""RTN's two paper stages: what they state, and both commands of the README run on stand-in trees.

Stage 1 (``--recipe paper:synthetic``) warps single voc-masks images; stage 2 (the paper preset's
default recipe) continues from stage 1's weights with the weak loss on PF-PASCAL train pairs.
"""

from __future__ import annotations

import pytest

from corrbench.cli.main import main
from corrbench.training.checkpoints import load_checkpoint
from corrbench_rtn.config import PRESETS
from tests.dataset_roots import build_pfpascal_trainval, build_voc
from tests.recipe_runs import register_voc_masks

pytestmark = pytest.mark.shared
SMALL = ["-o", "config=embedded", "-o", "image_size=64"]


def test_the_paper_preset_states_both_stages():
    paper = PRESETS["paper"]
    synthetic, weak = paper.recipes["synthetic"], paper.recipes["pfpascal"]
    assert paper.train == weak
    for stage, epochs in ((synthetic, 10), (weak, 20)):
        assert (stage.optimizer, stage.momentum, stage.weight_decay, stage.lr, stage.batch_size, stage.epochs) == (
            "sgd", 0.9, 5e-4, 1e-5, 16, epochs)
    assert (synthetic.dataset, synthetic.method_options["warp_translation"]) == ("voc-masks", 0.4)
    assert synthetic.method_options["warmup_steps"] >= 10**9 and synthetic.validation is None
    assert (weak.dataset, weak.split, weak.dataset_options) == ("pfpascal", "train", {"apply_flip": True})
    assert weak.method_options == {"warmup_steps": 0, "loss_region": "bbox"}


def test_stage_one_then_stage_two_from_its_weights(tmp_path, shared_data, monkeypatch, capsys):
    register_voc_masks(monkeypatch)
    build_voc(tmp_path / "voc", shared_data)
    build_pfpascal_trainval(tmp_path / "pf", shared_data)
    quick = ["--epochs", "1", "--batch-size", "2", "--pairs-per-epoch", "4", "-d", "subset=true"]
    stage1, stage2 = tmp_path / "stage1", tmp_path / "stage2"
    assert main(["train", "--method", "rtn", *SMALL, "--recipe", "paper:synthetic", "--root", str(tmp_path / "voc"),
                 *quick, "--out", str(stage1)]) == 0
    first = load_checkpoint(stage1 / "last.pth")
    assert first["options"]["warmup_steps"] >= 10**9 and first["config"]["dataset"] == "voc-masks"
    assert main(["train", "--method", "rtn", *SMALL, "--recipe", "paper", "--weights", str(stage1 / "weights.pth"),
                 "--root", str(tmp_path / "pf"), *quick, "--val-root", str(tmp_path / "pf"), "-D", "subset=true",
                 "--val-limit", "2", "--out", str(stage2)]) == 0
    second = load_checkpoint(stage2 / "last.pth")
    assert (second["options"]["warmup_steps"], second["options"]["loss_region"]) == (0, "bbox")
    assert (second["config"]["dataset"], second["step"]) == ("pfpascal", 2)
    assert "best pck@0.1" in capsys.readouterr().out and (stage2 / "best.pth").is_file()
