"""The shared training loop: loss goes down, checkpoints reload, resume equals an uninterrupted run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corrbench.api import DIRECTIONS, Prediction
from corrbench.training.checkpoints import load_checkpoint
from corrbench.errors import CheckpointError
from corrbench.training import CHECKPOINT_FORMAT, TrainableMethod, TrainConfig, payload_options, train
from tests.helpers import ListDataset, make_pair


class ShiftMethod(TrainableMethod):
    """Learns one global translation from target to source keypoints (with a noisy loss)."""

    name = "shift"
    version = "1"

    def __init__(self, weights=None, device="cpu", width: int = 2) -> None:
        super().__init__(weights=weights, device=device)
        torch.manual_seed(0)
        self.options = {"width": width}
        self.module = torch.nn.Linear(1, 2 * width)

    def architecture_options(self):
        return ("width",)

    def default_train_config(self):
        return TrainConfig(epochs=4, batch_size=2, lr=0.5)

    def training_loss(self, pairs, step):
        offset = self.module(torch.ones(1, 1))[0, :2]
        target = torch.tensor(np.concatenate([p.src_kps - p.trg_kps for p in pairs]), dtype=torch.float32)
        noise = torch.randn(2) * 0.01
        return ((target - offset - noise) ** 2).mean(), {}

    def predict(self, pairs, directions=DIRECTIONS):
        return [Prediction() for _ in pairs]


def _data():
    pairs = [make_pair(f"p{i}", "a", seed=i) for i in range(6)]
    for pair in pairs:
        pair.src_kps = pair.trg_kps + [10.0, -4.0]
    return ListDataset(pairs)


def test_loss_decreases_and_checkpoint_reloads(tmp_path):
    method = ShiftMethod()
    summary = train(method, _data(), method.default_train_config(), tmp_path)
    assert summary.losses[-1] < 0.05 * summary.losses[0]
    for name in ("last.pth", "weights.pth"):
        fresh = ShiftMethod()
        fresh.load_corrbench_checkpoint(load_checkpoint(tmp_path / name))
        for a, b in zip(fresh.module.parameters(), method.module.parameters()):
            assert torch.equal(a, b)
    assert "optimizer" in load_checkpoint(tmp_path / "last.pth")
    assert "optimizer" not in load_checkpoint(tmp_path / "weights.pth")  # the file to share: inference only


def test_resume_from_epoch_checkpoint_matches_uninterrupted(tmp_path):
    full = ShiftMethod()
    train(full, _data(), TrainConfig(epochs=4, batch_size=2, lr=0.1), tmp_path / "full")
    part = ShiftMethod()
    train(part, _data(), TrainConfig(epochs=2, batch_size=2, lr=0.1), tmp_path / "part")
    resumed = ShiftMethod()
    summary = train(resumed, _data(), TrainConfig(epochs=4, batch_size=2, lr=0.1), tmp_path / "part")
    assert summary.steps == 12
    for a, b in zip(resumed.module.parameters(), full.module.parameters()):
        assert torch.equal(a, b)


def test_checkpoint_of_other_architecture_is_refused(tmp_path):
    method = ShiftMethod(width=2)
    train(method, _data(), TrainConfig(epochs=1), tmp_path)
    with pytest.raises(CheckpointError, match="architecture options"):
        ShiftMethod(width=3).load_corrbench_checkpoint(load_checkpoint(tmp_path / "last.pth"))


def test_payload_options_of_corrbench_checkpoints_only():
    payload = {"format": CHECKPOINT_FORMAT, "options": {"config": "embedded", "width": 8}}
    stored = payload_options(payload)
    assert stored == {"config": "embedded", "width": 8}
    stored["width"] = 9
    assert payload["options"]["width"] == 8  # a copy: the caller's payload is not modified
    assert payload_options({"state_dict": {}}) == {}
