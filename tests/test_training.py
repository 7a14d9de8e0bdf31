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


class _Clock:
    """A fake ``time.monotonic`` that jumps a minute per call after ``calm`` calls (a budget stop)."""

    def __init__(self, calm: int) -> None:
        self.calls, self.calm = 0, calm

    def __call__(self) -> float:
        self.calls += 1
        return 0.0 if self.calls <= self.calm else 60.0 * self.calls


def test_budget_stop_mid_epoch_resumes_exactly(tmp_path, monkeypatch):
    from corrbench.training import run

    config = TrainConfig(epochs=3, batch_size=2, lr=0.1)
    full = ShiftMethod()
    reference = train(full, _data(), config, tmp_path / "full")
    assert reference.steps == 9
    part = ShiftMethod()
    monkeypatch.setattr(run.time, "monotonic", _Clock(calm=4))  # stops after 4 steps: mid-epoch 2
    first = train(part, _data(), TrainConfig(epochs=3, batch_size=2, lr=0.1, max_minutes=0.5), tmp_path / "part")
    assert first.stopped_by_budget and first.steps == 4 and first.epochs_done == 1
    state = load_checkpoint(tmp_path / "part" / "last.pth")
    assert (state["epoch"], state["batches_done"], state["partial_epoch"]) == (1, 1, True)
    monkeypatch.undo()
    resumed = ShiftMethod()
    summary = train(resumed, _data(), config, tmp_path / "part")  # max_minutes may change on resume
    assert summary.steps == 9 and summary.epochs_done == 3 and summary.losses == reference.losses
    for a, b in zip(resumed.module.parameters(), full.module.parameters()):
        assert torch.equal(a, b)


def test_resume_with_another_learning_rate_is_refused(tmp_path):
    from corrbench.errors import UsageError

    train(ShiftMethod(), _data(), TrainConfig(epochs=1, batch_size=2, lr=0.1), tmp_path)
    with pytest.raises(UsageError, match=r"trained with other settings \(lr 0.1 -> 0.5\).*--no-resume"):
        train(ShiftMethod(), _data(), TrainConfig(epochs=2, batch_size=2, lr=0.5), tmp_path)


def test_a_temporary_file_left_by_a_killed_save_is_removed(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    stale = tmp_path / ".last.pth.abc123.tmp"
    stale.write_bytes(b"\0" * 1000)
    train(ShiftMethod(), _data(), TrainConfig(epochs=1, batch_size=2, lr=0.1), tmp_path)
    assert not stale.exists() and (tmp_path / "last.pth").is_file()
