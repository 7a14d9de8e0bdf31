"""The base of every learned method: presets, weights, option precedence and seeded init in one place.

The counterpart of timm's ``build_model_with_cfg``: a plugin names its presets, builds its module
and maps its official checkpoint; :class:`LearnedMethod` does the rest the same way for every
method, so that a typo, a checkpoint of another architecture or a seed behave alike everywhere:

* weights: a corrbench checkpoint, or the plugin's official format (:meth:`official_weights`);
* options: explicit option > the checkpoint's stored options > the preset;
* an explicit option (``config=`` included) that contradicts the checkpoint's architecture is a
  one-line :class:`~corrbench.errors.UsageError`, never silently overridden;
* random init is a function of ``seed`` and leaves the caller's RNG untouched.
"""

from __future__ import annotations

import copy
import inspect
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Iterator, Mapping, TypeVar

import torch

from corrbench.errors import CheckpointError, UsageError
from corrbench.training.checkpoints import load_checkpoint
from corrbench.training.config import config_from_preset
from corrbench.training.loop import CHECKPOINT_FORMAT, TrainableMethod, TrainConfig, payload_options

Config = TypeVar("Config")

#: torchvision's ImageNet statistics (RGB in [0, 1]); the one copy every method normalises with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes network input: named so that presets and provenance say it.

    ``size_option`` names the config field that sets the input size, ``resize`` the resize rule the
    plugin's input function implements (e.g. ``pil-bilinear``), ``mean``/``std`` the per-channel
    statistics of RGB values scaled to [0, ``value_range``].
    """

    size_option: str
    resize: str
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    value_range: float = 1.0

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """``(..., 3, H, W)`` values in [0, value_range] -> standardised channels."""
        if self.value_range == 1.0:
            mean, std = images.new_tensor(self.mean), images.new_tensor(self.std)
        else:
            mean = images.new_tensor(tuple(v * self.value_range for v in self.mean))
            std = images.new_tensor(tuple(v * self.value_range for v in self.std))
        return (images - mean.view(3, 1, 1)) / std.view(3, 1, 1)


@dataclass(frozen=True)
class Preset(Generic[Config]):
    """One named configuration of a method: architecture, input and training recipe travel together.

    ``train`` is the default recipe (``corrbench train`` without ``--recipe``); ``recipes`` names
    the others, e.g. one per benchmark or per stage (RTN's synthetic stage, then its weak stage).
    """

    config: Config
    preprocessing: Preprocessing
    train: TrainConfig = field(default_factory=TrainConfig)
    recipes: Mapping[str, TrainConfig] = field(default_factory=dict)


@dataclass
class OfficialWeights:
    """An official checkpoint recognised by a plugin, before it is loaded.

    ``state`` is whatever the plugin's loader needs; ``options`` the architecture the file implies
    (e.g. NeMF's ``args.pkl``); ``preset`` the preset it fits when the user names none.
    """

    state: Any
    options: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Draws inside are a function of ``seed``; the caller's CPU and CUDA generators are left as they were."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(int(seed))
        yield


class LearnedMethod(TrainableMethod, Generic[Config]):
    """A trainable method built from a preset, optionally with weights.

    Subclasses set ``presets``, ``architecture`` (option names that shape parameters) and
    ``official_description``, and implement :meth:`build_module`; methods with an official
    checkpoint format implement :meth:`official_weights` and :meth:`load_official`.
    """

    presets: ClassVar[Mapping[str, Preset[Any]]]
    default_preset: ClassVar[str] = "paper"
    architecture: ClassVar[tuple[str, ...]] = ()
    #: The formats accepted besides a corrbench checkpoint, for the error on any other file.
    official_description: ClassVar[str] = "a file of this method's official release"
    #: Stored options a checkpoint does not impose (speed knobs, the seed of its random init).
    unrestored_options: ClassVar[tuple[str, ...]] = ()
    #: Old names of options, as earlier versions wrote them in checkpoints (old name -> current name);
    #: a checkpoint's are read under the new name, an explicit one is refused with a hint.
    stored_renames: ClassVar[Mapping[str, str]] = {}
    #: ``weights_tag``/``weights_kind`` of a model built with ``pretrained=True`` and no weights.
    pretrained_tag: ClassVar[str] = "random-init"
    pretrained_kind: ClassVar[str] = "random-init"

    config: Config

    def __init__(self, weights: str | None = None, device: str = "cpu", pretrained: bool = False,
                 config: str | None = None, seed: int = 0, **options: Any) -> None:
        super().__init__(weights=weights, device=device)
        self.pretrained = bool(pretrained)
        self.seed = int(seed)
        path = Path(weights) if weights else None
        payload = self.read_weights(path) if path is not None else None
        corrbench = isinstance(payload, dict) and payload.get("format") == CHECKPOINT_FORMAT
        official = None if corrbench or path is None else self.official_weights(payload, path)
        if path is not None and not corrbench and official is None:
            raise CheckpointError(f"{weights} is neither a corrbench checkpoint nor {self.official_description}")
        stored = self._stored_options(payload) if corrbench else dict(official.options if official else {})
        preset = self._preset(config, stored.pop("config", None), official, path)
        self._check_agrees(options, stored, path)
        self.config = config_from_preset(self.name, {name: p.config for name, p in self.presets.items()}, preset,
                                         {**stored, **options}, self._constructor_options(), self.stored_renames)
        self.options = {"config": preset, **self.config.to_options()}
        with seeded(self.seed):
            self.module = self.build_module()
        self.weights_kind = self.pretrained_kind if self.pretrained else "random-init"
        if corrbench:
            self.load_corrbench_checkpoint(payload, source=str(weights))
            self.weights_kind = "corrbench"
        elif official is not None:
            self.load_official(official, str(weights))
            self.weights_kind = "official"
        self.module.to(device).eval()

    # --- what a plugin supplies -----------------------------------------------------------------
    def build_module(self) -> torch.nn.Module:
        """The network for ``self.config`` (and ``self.pretrained``), on the CPU; called seeded."""
        raise NotImplementedError

    def read_weights(self, path: Path) -> Any:
        """The content of a weights file; a plugin whose official files are not torch files reads them here."""
        return load_checkpoint(path)

    def official_weights(self, payload: Any, path: Path) -> OfficialWeights | None:
        """``payload`` as an official checkpoint of this method, or None if it is not one."""
        return None

    def load_official(self, official: OfficialWeights, source: str) -> None:
        """Load an official checkpoint into ``self.module`` through the plugin's key map."""
        raise NotImplementedError

    # --- what every learned method shares ---------------------------------------------------------
    @property
    def preset(self) -> Preset[Any]:
        return self.presets[self.options["config"]]

    @property
    def preprocessing(self) -> Preprocessing:
        return self.preset.preprocessing

    def default_train_config(self) -> TrainConfig:
        return copy.deepcopy(self.preset.train)

    def recipe_names(self) -> tuple[str, ...]:
        """Every name :meth:`train_recipe` takes (presets, and ``preset:recipe``)."""
        return (*self.presets, *(f"{p}:{r}" for p, spec in self.presets.items() for r in spec.recipes))

    def train_recipe(self, name: str | None = None) -> TrainConfig:
        """A training recipe, a copy: None = this preset's default; ``NAME`` = this preset's recipe NAME, else
        preset NAME's default recipe; ``PRESET:NAME`` = recipe NAME of PRESET (so a small architecture can
        run the paper's recipe: ``-o config=embedded --recipe paper``)."""
        if name is None:
            return self.default_train_config()
        preset_name, _, recipe = name.rpartition(":") if ":" in name else ("", "", name)
        preset = self.presets.get(preset_name) if preset_name else self.preset
        if preset is not None and recipe in preset.recipes:
            return copy.deepcopy(preset.recipes[recipe])
        if not preset_name and recipe in self.presets:
            return copy.deepcopy(self.presets[recipe].train)
        from corrbench.registry import suggest

        known = [*self.presets, *(f"{p}:{r}" for p, spec in self.presets.items() for r in spec.recipes)]
        raise UsageError(f"method '{self.name}' has no training recipe '{name}'; recipes: {', '.join(known)}."
                         f"{suggest(name, known)}")

    def architecture_options(self) -> tuple[str, ...]:
        return self.architecture

    def weights_tag(self) -> str:
        if self.weights is None:
            return self.init_tag()
        return super().weights_tag() + self.weights_tag_suffix()

    def init_tag(self) -> str:
        """The tag of a model without weights."""
        return self.pretrained_tag if self.pretrained else "random-init"

    def weights_tag_suffix(self) -> str:
        """What the weights file left at random init (e.g. ``+random-decoder``)."""
        return ""

    def _stored_options(self, payload: dict[str, Any]) -> dict[str, Any]:
        stored = {self.stored_renames.get(key, key): value for key, value in payload_options(payload).items()}
        return {key: value for key, value in stored.items() if key not in self.unrestored_options}

    def _preset(self, requested: str | None, stored: str | None, official: OfficialWeights | None,
                path: Path | None) -> str:
        """Explicit ``config=`` > the checkpoint's preset > the official file's > the default."""
        if requested is None:
            return stored or (official.preset if official else None) or self.default_preset
        if stored is not None and requested != stored:
            raise UsageError(f"{path.name if path else 'the checkpoint'} was trained with config={stored}; "
                             f"config={requested} contradicts it (omit config= to rebuild the trained model)")
        return requested

    def _check_agrees(self, explicit: Mapping[str, Any], stored: Mapping[str, Any], path: Path | None) -> None:
        """An explicit architecture option must match the checkpoint's: the weights fit only that one."""
        clashes = [key for key in self.architecture
                   if key in explicit and key in stored and _plain(explicit[key]) != _plain(stored[key])]
        if clashes:
            theirs = ", ".join(f"{key}={_plain(stored[key])}" for key in clashes)
            mine = ", ".join(f"{key}={_plain(explicit[key])}" for key in clashes)
            raise UsageError(f"{path.name if path else 'the checkpoint'} was trained with {theirs}; {mine} "
                             "contradicts its architecture (omit the option to use the checkpoint's)")

    def _constructor_options(self) -> tuple[str, ...]:
        """Keyword arguments of the constructor besides the config fields, for the unknown-option message."""
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        parameters = inspect.signature(type(self).__init__).parameters.values()
        return tuple(p.name for p in parameters
                     if p.kind in named and p.name not in ("self", "weights", "device", "config"))


def _plain(value: Any) -> Any:
    """Tuples and lists alike, so that ``(3, 4)`` from code equals ``[3, 4]`` from a checkpoint."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
