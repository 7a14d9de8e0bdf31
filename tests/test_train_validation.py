"""Validation during training: corrbench's evaluator, best.pth + validation.json, training unchanged by it."""

from __future__ import annotations

import json

import pytest
import torch

import corrbench
from corrbench.errors import UsageError
from corrbench.training import TrainConfig, Validation, train
from corrbench.training.checkpoints import load_checkpoint
from tests.train_toys import OffsetNet, offset_pairs

VAL = offset_pairs(12, seed=1)


def _config(epochs: int = 6, **validation) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=4, lr=0.2,
                       validation=Validation(dataset="offset-val", protocol="synthetic", **validation))


def test_best_checkpoint_is_the_best_validated_model_and_says_so(tmp_path):
    summary = train(OffsetNet(), offset_pairs(12), _config(), tmp_path, val_data=VAL)
    values = [entry["value"] for entry in summary.validations]
    assert [entry["epoch"] for entry in summary.validations] == [1, 2, 3, 4, 5, 6]
    assert len(set(values)) > 1, "the toy should move on validation"
    first_best = values.index(max(values))
    assert summary.best["value"] == max(values) and summary.best["epoch"] == first_best + 1
    best = load_checkpoint(tmp_path / "best.pth")
    assert best["validation"]["metric"] == "pck@0.1" and best["validation"]["value"] == max(values)
    assert best["validation"]["protocol"] == "synthetic" and "optimizer" not in best
    # best.pth is that model: evaluated again it scores the recorded value
    reloaded = OffsetNet()
    reloaded.load_corrbench_checkpoint(best)
    assert corrbench.evaluate(reloaded, VAL, "synthetic").summary["pck@0.1"] == max(values)
    log = json.loads((tmp_path / "validation.json").read_text())
    assert log["metric"] == "pck@0.1" and log["best"] == summary.best and len(log["history"]) == 6


def test_validation_does_not_change_what_is_learned(tmp_path):
    plain = train(OffsetNet(), offset_pairs(12), TrainConfig(epochs=3, batch_size=4, lr=0.2), tmp_path / "a")
    checked = train(OffsetNet(), offset_pairs(12), _config(3), tmp_path / "b", val_data=VAL)
    assert plain.losses == checked.losses


def test_validation_every_n_steps_and_epochs(tmp_path):
    by_steps = train(OffsetNet(), offset_pairs(12), _config(2, every_steps=2), tmp_path / "s", val_data=VAL)
    assert [e["step"] for e in by_steps.validations] == [2, 4, 6]
    assert [e["epoch"] for e in by_steps.validations] == pytest.approx([2 / 3, 4 / 3, 2.0], abs=1e-4)
    by_epochs = train(OffsetNet(), offset_pairs(12), _config(5, every=2), tmp_path / "e", val_data=VAL)
    assert [e["epoch"] for e in by_epochs.validations] == [2, 4, 5]  # and always after the last epoch


def test_a_resumed_run_keeps_its_history_and_best(tmp_path):
    full = train(OffsetNet(), offset_pairs(12), _config(6), tmp_path / "full", val_data=VAL)
    train(OffsetNet(), offset_pairs(12), _config(3), tmp_path / "part", val_data=VAL)
    resumed = train(OffsetNet(), offset_pairs(12), _config(6), tmp_path / "part", val_data=VAL)
    assert resumed.validations == full.validations and resumed.best == full.best
    a, b = load_checkpoint(tmp_path / "full" / "best.pth"), load_checkpoint(tmp_path / "part" / "best.pth")
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])


def test_min_mode_and_an_unknown_metric(tmp_path):
    config = _config(2, metric="n_pairs", mode="min")
    summary = train(OffsetNet(), offset_pairs(8), config, tmp_path / "min", val_data=VAL)
    assert summary.best["epoch"] == 1  # a tie is no improvement
    with pytest.raises(UsageError, match="validation metric 'pck@0.2x' is not in the evaluator's summary; known: .*pck@0.1"):
        train(OffsetNet(), offset_pairs(8), _config(1, metric="pck@0.2x"), tmp_path / "bad", val_data=VAL)
