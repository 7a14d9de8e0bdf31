"""The learned-method base: option precedence, contradictions, seeded init, official weights, presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

import corrbench
from corrbench.errors import CheckpointError, UsageError
from corrbench.training import (IMAGENET_MEAN, IMAGENET_STD, LearnedMethod, OfficialWeights, Preprocessing, Preset,
                                TrainConfig, seeded)
from corrbench.training.checkpoints import save_checkpoint


@dataclass(frozen=True)
class ToyConfig:
    width: int = 4
    gain: float = 1.0
    levels: tuple[int, ...] = (1, 2)

    def to_options(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


TOY_INPUT = Preprocessing(size_option="width", resize="none")
PRESETS = {
    "paper": Preset(ToyConfig(), TOY_INPUT, TrainConfig(epochs=7, lr=3e-5)),
    "embedded": Preset(ToyConfig(width=2, gain=0.5), TOY_INPUT, TrainConfig(epochs=3, lr=1e-3, extra={"a": 1})),
}


class ToyMethod(LearnedMethod[ToyConfig]):
    """``official`` files are ``{'toy_weight': tensor}``; they fit the embedded preset."""

    name = "toy"
    presets = PRESETS
    architecture = ("width", "levels")
    official_description = "an official toy file ({'toy_weight': ...})"
    unrestored_options = ("speed",)
    stored_renames = {"preset": "config"}

    def __init__(self, weights: str | None = None, device: str = "cpu", pretrained: bool = False,
                 config: str | None = None, seed: int = 0, verbose: bool = False, **options: Any) -> None:
        super().__init__(weights=weights, device=device, pretrained=pretrained, config=config, seed=seed, **options)

    def build_module(self) -> torch.nn.Module:
        return torch.nn.Linear(3, self.config.width)

    def official_weights(self, payload: Any, path: Path) -> OfficialWeights | None:
        if isinstance(payload, dict) and "toy_weight" in payload:
            return OfficialWeights(payload["toy_weight"], preset="embedded")
        return None

    def load_official(self, official: OfficialWeights, source: str) -> None:
        with torch.no_grad():
            self.module.weight.copy_(official.state)

    def predict(self, pairs, directions=("src_to_trg", "trg_to_src")):
        return []


def _checkpoint(tmp_path: Path, **options: Any) -> Path:
    path = tmp_path / "weights.pth"
    save_checkpoint(ToyMethod(seed=5, **options).checkpoint_payload(), path)
    return path


def test_preset_then_checkpoint_then_explicit_option(tmp_path):
    assert ToyMethod().config == ToyConfig()  # the default preset
    assert ToyMethod(config="embedded").config == ToyConfig(width=2, gain=0.5)
    path = _checkpoint(tmp_path, config="embedded", gain=0.25)
    stored = ToyMethod(weights=str(path))
    assert stored.options["config"] == "embedded" and stored.config == ToyConfig(width=2, gain=0.25)
    assert ToyMethod(weights=str(path), gain=2.0).config.gain == 2.0  # explicit beats the checkpoint
    assert stored.weights_kind == "corrbench"


def test_checkpoint_weights_are_loaded_not_reinitialised(tmp_path):
    path = _checkpoint(tmp_path, config="embedded")
    loaded = ToyMethod(weights=str(path), seed=9)
    assert torch.equal(loaded.module.weight, ToyMethod(config="embedded", seed=5).module.weight)


def test_explicit_architecture_option_contradicting_the_checkpoint_is_a_one_line_error(tmp_path):
    path = _checkpoint(tmp_path, config="embedded", levels=[3, 4])
    with pytest.raises(UsageError) as error:
        ToyMethod(weights=str(path), width=3)
    message = str(error.value)
    assert "weights.pth was trained with width=2; width=3 contradicts its architecture" in message
    assert "\n" not in message
    # the same value, spelled as a tuple or a list, agrees with the checkpoint
    assert ToyMethod(weights=str(path), width=2, levels=(3, 4)).config.levels == (3, 4)


def test_explicit_config_that_differs_from_the_checkpoint_preset_is_refused(tmp_path):
    path = _checkpoint(tmp_path, config="embedded")
    with pytest.raises(UsageError, match="trained with config=embedded; config=paper contradicts it"):
        ToyMethod(weights=str(path), config="paper")
    assert ToyMethod(weights=str(path), config="embedded").options["config"] == "embedded"


def test_stored_option_renames_and_unrestored_options(tmp_path):
    payload = ToyMethod(config="embedded").checkpoint_payload()
    payload["options"] = {**{k: v for k, v in payload["options"].items() if k != "config"},
                          "preset": "embedded", "speed": 3}  # an older writer's names
    path = tmp_path / "old.pth"
    save_checkpoint(payload, path)
    method = ToyMethod(weights=str(path))
    assert method.options["config"] == "embedded" and "speed" not in method.options


def test_seeded_init_leaves_the_global_rng_untouched():
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    ToyMethod(seed=7)
    assert torch.equal(torch.rand(4), expected)
    before = torch.get_rng_state()
    with seeded(3):
        torch.rand(2)
    assert torch.equal(torch.get_rng_state(), before)


def test_same_seed_same_init_and_another_seed_another():
    first, again, other = ToyMethod(seed=7), ToyMethod(seed=7), ToyMethod(seed=8)
    assert torch.equal(first.module.weight, again.module.weight)
    assert not torch.equal(first.module.weight, other.module.weight)
    with seeded(7):
        assert torch.equal(torch.nn.Linear(3, 4).weight, first.module.weight)


def test_official_weights_are_detected_loaded_and_pick_their_preset(tmp_path):
    path = tmp_path / "release.pt"
    save_checkpoint({"toy_weight": torch.full((2, 3), 0.5)}, path)
    method = ToyMethod(weights=str(path))
    assert method.weights_kind == "official" and method.options["config"] == "embedded"
    assert torch.equal(method.module.weight, torch.full((2, 3), 0.5))
    assert method.weights_tag().startswith("release.pt@")
    save_checkpoint({"other": torch.zeros(1)}, path)
    with pytest.raises(CheckpointError, match="neither a corrbench checkpoint nor an official toy file"):
        ToyMethod(weights=str(path))


def test_training_defaults_come_from_the_preset_and_are_a_copy():
    method = ToyMethod(config="embedded")
    config = method.default_train_config()
    assert (config.epochs, config.lr) == (3, 1e-3) and ToyMethod().default_train_config().epochs == 7
    config.extra["a"] = 2
    assert PRESETS["embedded"].train.extra == {"a": 1}
    assert method.preprocessing is TOY_INPUT and method.weights_tag() == "random-init"


def test_mistyped_option_names_every_spelling_and_the_closest():
    with pytest.raises(UsageError) as error:
        ToyMethod(gian=2.0)
    message = str(error.value)
    assert message.startswith("method 'toy' has no option(s): gian; known: config, pretrained, seed, verbose, gain,")
    assert message.endswith(" Did you mean 'gain'?") and "\n" not in message
    with pytest.raises(UsageError, match="unknown toy config 'embeded'; .* Did you mean 'embedded'"):
        ToyMethod(config="embeded")


def test_normalisation_uses_the_one_imagenet_constant():
    image = torch.rand(3, 2, 2)
    expected = (image - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1)
    assert torch.equal(TOY_INPUT.normalize(image), expected)
    scaled = Preprocessing(size_option="width", resize="none", value_range=255.0)
    torch.testing.assert_close(scaled.normalize(image * 255), expected)


@pytest.mark.parametrize("method, typo, meant", [
    ("sfnet", "betaa", "beta"), ("nemf", "opt_step", "opt_steps"), ("rtn", "iteratons", "iterations"),
    ("macosnet", "lamdas", "lambdas"),
])
def test_every_learned_plugin_answers_a_typo_alike(method, typo, meant):
    with pytest.raises(UsageError) as error:
        corrbench.load_method(method, **{typo: 1})
    message = str(error.value)
    assert message.startswith(f"method '{method}' has no option(s): {typo}; known: config, ")
    assert f"Did you mean '{meant}'" in message and message.endswith("?") and "\n" not in message
