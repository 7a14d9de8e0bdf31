"""How one update runs: gradient accumulation (the big batch's update) and mixed precision."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corrbench.training import TrainConfig, train
from corrbench.training.checkpoints import load_checkpoint
from corrbench.training.ddp import micro_batches
from tests.train_toys import OffsetNet, offset_pairs


def _params(method) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in method.module.parameters()]


@pytest.mark.parametrize("batch, accumulate", [(6, 2), (6, 3), (5, 2), (4, 4)])
def test_accumulated_micro_batches_give_the_big_batch_update(tmp_path, batch, accumulate):
    big, small = OffsetNet(), OffsetNet()
    reference = train(big, offset_pairs(12), TrainConfig(epochs=2, batch_size=batch, lr=0.1), tmp_path / "big")
    summary = train(small, offset_pairs(12), TrainConfig(epochs=2, batch_size=batch, lr=0.1, accumulate=accumulate),
                    tmp_path / "acc")
    assert summary.steps == reference.steps  # an update is still one batch
    np.testing.assert_allclose(summary.losses, reference.losses, rtol=1e-5)
    for a, b in zip(_params(small), _params(big)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_accumulation_with_batchnorm_differs_as_it_should(tmp_path):
    """BatchNorm normalises per micro-batch: the update cannot equal the big batch's (documented)."""
    big, small = OffsetNet(batchnorm=True), OffsetNet(batchnorm=True)
    train(big, offset_pairs(12), TrainConfig(epochs=1, batch_size=6, lr=0.1), tmp_path / "big")
    train(small, offset_pairs(12), TrainConfig(epochs=1, batch_size=6, lr=0.1, accumulate=2), tmp_path / "acc")
    assert not np.allclose(_params(small)[0], _params(big)[0], atol=1e-6)


def test_micro_batches_are_contiguous_and_cover_the_share():
    assert micro_batches([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4, 5]]
    assert micro_batches([7], 3) == [[], [7], []]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_on_cpu_and_is_part_of_the_recipe(tmp_path, precision):
    method = OffsetNet()
    config = TrainConfig(epochs=10, batch_size=4, lr=0.2, precision=precision)
    summary = train(method, offset_pairs(12), config, tmp_path)
    fp32 = train(OffsetNet(), offset_pairs(12), TrainConfig(epochs=10, batch_size=4, lr=0.2), tmp_path / "fp32")
    assert np.isfinite(summary.losses).all() and summary.losses != fp32.losses  # lower precision, other numbers
    per_epoch = np.reshape(summary.losses, (10, 3)).mean(1)
    assert per_epoch[-1] < 0.3 * per_epoch[0]  # fp16 also learns, after the scaler's first skipped steps
    state = load_checkpoint(tmp_path / "last.pth")
    assert state["config"]["precision"] == precision
    assert ("scaler" in state) == (precision == "fp16")  # fp16 keeps its gradient scale for resume
    assert all(p.dtype == torch.float32 for p in method.module.parameters())  # master weights stay fp32


def test_reading_ahead_in_threads_changes_no_number(tmp_path):
    import threading

    from corrbench.data.pair_list import PairList

    class Recording(PairList):
        def __init__(self, pairs):
            super().__init__(pairs)
            self.threads: list[str] = []

        def __getitem__(self, index):
            self.threads.append(threading.current_thread().name)
            return super().__getitem__(index)

    plain = train(OffsetNet(), offset_pairs(12), TrainConfig(epochs=2, batch_size=4, lr=0.1), tmp_path / "a")
    data = Recording(list(offset_pairs(12)))
    ahead = train(OffsetNet(), data, TrainConfig(epochs=2, batch_size=4, lr=0.1, workers=2), tmp_path / "b")
    assert ahead.losses == plain.losses
    assert len(data.threads) == 24 and all(name.startswith("corrbench-load") for name in data.threads)
