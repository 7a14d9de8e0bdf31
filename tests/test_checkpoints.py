"""Checkpoints are loaded with weights_only: pickled code is refused and never runs."""

from __future__ import annotations

import os

import pytest
import torch

from corrbench.training.checkpoints import load_checkpoint, save_checkpoint
from corrbench.errors import CheckpointError


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def test_plain_state_dict_round_trips(tmp_path):
    state = {"weight": torch.arange(6.0).reshape(2, 3), "step": 3}
    save_checkpoint(state, tmp_path / "ok.pth")
    loaded = load_checkpoint(tmp_path / "ok.pth")
    assert torch.equal(loaded["weight"], state["weight"]) and loaded["step"] == 3


def test_pickled_code_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"evil": _Payload(str(marker))}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match="refusing .*evil.pth: it contains pickled code"):
        load_checkpoint(tmp_path / "evil.pth")
    assert not marker.exists()


def test_missing_and_corrupt_files_give_one_line_errors(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pth")
    (tmp_path / "bad.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(tmp_path / "bad.pth")
    assert "\n" not in str(info.value)
