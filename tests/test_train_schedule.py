"""Per-epoch learning-rate schedules: torch's values, part of the checkpoint's config, resumed exactly."""

from __future__ import annotations

import pytest
import torch

from corrbench.errors import UsageError
from corrbench.training import TrainConfig, train
from corrbench.training.checkpoints import load_checkpoint
from corrbench.training.schedule import lr_at
from tests.train_toys import OffsetNet, offset_pairs


def _torch_rates(make, epochs: int, lr: float) -> list[float]:
    """What torch's scheduler gives each epoch when stepped after every epoch."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = make(optimizer)
    rates = []
    for _ in range(epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


@pytest.mark.parametrize("config, make", [
    (TrainConfig(epochs=12, lr=0.3, scheduler="step", step_size=4, gamma=0.5),
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=4, gamma=0.5)),
    (TrainConfig(epochs=40, lr=3e-5, scheduler="multistep", milestones=(30,), gamma=0.2),  # SFNet
     lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[30], gamma=0.2)),
    (TrainConfig(epochs=100, lr=3e-5, scheduler="multistep", milestones=(70, 80, 90), gamma=0.5),  # CATs / NeMF
     lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[70, 80, 90], gamma=0.5)),
    (TrainConfig(epochs=20, lr=3e-4, scheduler="cosine", min_lr=1e-6),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20, eta_min=1e-6)),
])
def test_closed_forms_equal_torch_schedulers_stepped_per_epoch(config, make):
    ours = [lr_at(config, epoch) for epoch in range(config.epochs)]
    assert ours == pytest.approx(_torch_rates(make, config.epochs, config.lr), rel=1e-9, abs=1e-15)
    assert ours[0] == config.lr and ours[-1] < config.lr


def test_constant_without_scheduler():
    assert {lr_at(TrainConfig(lr=0.25), e) for e in range(5)} == {0.25}


def _run(out, epochs: int, **extra):
    config = TrainConfig(epochs=epochs, batch_size=4, lr=0.2, scheduler="multistep", milestones=(2, 3), gamma=0.1,
                         **extra)
    method = OffsetNet()
    return method, train(method, offset_pairs(8), config, out)


def test_the_rate_of_each_epoch_is_used_and_a_resumed_run_continues_the_schedule(tmp_path):
    full, summary = _run(tmp_path / "full", 4)
    assert load_checkpoint(tmp_path / "full" / "last.pth")["lr"] == pytest.approx(0.2 * 0.01)
    _run(tmp_path / "part", 2)
    assert load_checkpoint(tmp_path / "part" / "last.pth")["lr"] == pytest.approx(0.2)
    resumed, again = _run(tmp_path / "part", 4)
    assert again.losses == summary.losses
    for a, b in zip(resumed.module.parameters(), full.module.parameters()):
        assert torch.equal(a, b)
    # the schedule matters: without it the same run ends elsewhere
    other = OffsetNet()
    train(other, offset_pairs(8), TrainConfig(epochs=4, batch_size=4, lr=0.2), tmp_path / "flat")
    assert not torch.equal(next(other.module.parameters()), next(full.module.parameters()))


def test_resuming_with_another_schedule_is_refused(tmp_path):
    _run(tmp_path, 1)
    config = TrainConfig(epochs=2, batch_size=4, lr=0.2, scheduler="multistep", milestones=(1,), gamma=0.1)
    with pytest.raises(UsageError, match=r"milestones \[2, 3\] -> \[1\]"):
        train(OffsetNet(), offset_pairs(8), config, tmp_path)


def test_a_cosine_period_taken_from_epochs_cannot_change_on_resume(tmp_path):
    train(OffsetNet(), offset_pairs(8), TrainConfig(epochs=1, batch_size=4, scheduler="cosine"), tmp_path)
    with pytest.raises(UsageError, match="the cosine period; set cosine_epochs"):
        train(OffsetNet(), offset_pairs(8), TrainConfig(epochs=3, batch_size=4, scheduler="cosine"), tmp_path)


@pytest.mark.parametrize("config, message", [
    (TrainConfig(scheduler="poly"), "unknown scheduler 'poly'"),
    (TrainConfig(scheduler="multistep"), "needs milestones"),
    (TrainConfig(scheduler="step", step_size=0), "step_size >= 1"),
    (TrainConfig(accumulate=0), "accumulate must be >= 1"),
    (TrainConfig(precision="fp8"), "precision 'fp8'"),
])
def test_bad_training_settings_are_one_line_errors_before_any_work(tmp_path, config, message):
    with pytest.raises(UsageError, match=message):
        train(OffsetNet(), offset_pairs(4), config, tmp_path / "out")
    assert not (tmp_path / "out").exists()
