"""Presets with overrides, and strict loading of mapped official state dicts (shared by the plugins)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from corrbench.training.checkpoints import load_mapped_state
from corrbench.errors import CheckpointError, UsageError
from corrbench.training.config import config_from_preset


@dataclass(frozen=True)
class ToyConfig:
    width: int = 8
    levels: tuple[int, ...] = (1, 2)


PRESETS = {"paper": ToyConfig(), "embedded": ToyConfig(width=2)}


def test_preset_with_overrides_and_lists_become_tuples():
    config = config_from_preset("toy", PRESETS, "embedded", {"levels": [3, 4]})
    assert config == ToyConfig(width=2, levels=(3, 4))
    assert PRESETS["embedded"].levels == (1, 2)  # the preset itself is untouched


def test_unknown_preset_and_mistyped_option_are_one_line_errors():
    with pytest.raises(UsageError, match="unknown toy config 'tiny'; choose one of: paper, embedded"):
        config_from_preset("toy", PRESETS, "tiny", {})
    with pytest.raises(UsageError) as error:
        config_from_preset("toy", PRESETS, "paper", {"widht": 3}, ("seed",))
    assert "no option(s): widht" in str(error.value) and "config, seed, levels, width" in str(error.value)
    assert "\n" not in str(error.value)


def _module() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))


def test_mapped_state_loads_strictly_and_tolerates_missing_batchnorm_counters():
    source, target = _module(), _module()
    state = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    load_mapped_state(target, state, "file.pth")
    assert torch.equal(target[0].weight, source[0].weight)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.pop("0.bias"), "1 missing key"),
    (lambda s: s.update({"2.weight": torch.zeros(1)}), "1 unexpected"),
    (lambda s: s.update({"0.weight": torch.zeros(3, 3)}), "has shape (3, 3), the model expects (3, 2)"),
])
def test_mapped_state_that_does_not_fit_is_refused_with_a_hint(change, message):
    state = dict(_module().state_dict())
    change(state)
    target = _module()
    before = target[0].weight.clone()
    with pytest.raises(CheckpointError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        load_mapped_state(target, state, "file.pth", what="the toy", hint="use config=paper")
    assert "use config=paper" in str(error.value)
    assert torch.equal(target[0].weight, before)  # nothing loaded half-way


def test_mapped_state_can_cover_only_some_submodules():
    source, target = _module(), _module()
    state = {k: v for k, v in source.state_dict().items() if k.startswith("0.")}
    load_mapped_state(target, state, "file.pth", own_prefixes=("0.",))
    assert torch.equal(target[0].weight, source[0].weight)
