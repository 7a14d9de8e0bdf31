"""SFNet configurations: the paper's (for users) and the small embedded one (trained on CPU).

Every field that changes parameter shapes is an *architecture option* and is stored in
checkpoints; the rest only change how inference or training runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from corrbench.errors import UsageError
from corrbench.training.config import config_from_preset, option
from corrbench.training.learned import Preset
from corrbench.training.loop import TrainConfig
from corrbench.training.selection import Validation
from corrbench_sfnet.preprocess import SFNET_INPUT

#: Torchvision ResNet-101, as in the official code; any other name must be spelled ``timm:<name>``.
PAPER_BACKBONE = "resnet101"


@dataclass(frozen=True)
class SFNetConfig:
    """Hyper-parameters of one SFNet model (defaults = the official ``train.py``/``eval_pascal.py``).

    * ``backbone``: ``resnet101`` (torchvision, the paper) or ``timm:<model>`` (features_only).
    * ``levels``: the two backbone stages used (fine, coarse); the coarse one has twice the stride
      and is upsampled x2 onto the fine grid, as layer4 is onto layer3 in the paper.
    * ``feature_size``: side of the square correlation grid (20: training input 20*16 = 320²,
      test input (20-2)*16 = 288² padded by one cell = 16 px to 320²).
    * ``kernels``: kernel sizes of the two adaptation layers (5 and 3 in the paper).
    * ``beta``, ``kernel_sigma``: soft-argmax inverse temperature and Gaussian window (cells).
    * ``exact_border_rescale``: use (f-1)/(f-3) = 19/17 instead of the official 10/9 when
      mapping the 18x18 interior back to the unpadded image (off = official).
    * ``freeze_backbone``: the paper trains the adaptation layers only.
    """

    backbone: str = PAPER_BACKBONE
    levels: tuple[int, int] = (3, 4)
    feature_size: int = option(20, le=100, why="the correlation holds feature_size⁴ floats per pair: 100 needs 0.4 GB")
    kernels: tuple[int, int] = (5, 3)
    beta: float | None = option(50.0, gt=0)  # None: hard argmax
    kernel_sigma: float = option(5.0, gt=0)
    exact_border_rescale: bool = False
    freeze_backbone: bool = True
    lambdas: tuple[float, float, float] = (3.0, 16.0, 0.5)
    affine_std: float = 0.15
    color_jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.feature_size < 4:
            raise UsageError(f"sfnet feature_size must be >= 4 (one padding cell each side), got {self.feature_size}")
        if len(self.levels) != 2 or self.levels[1] != self.levels[0] + 1:
            raise UsageError(f"sfnet levels must be two consecutive backbone stages, got {self.levels}")

    def to_options(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


#: Options whose change alters parameter shapes or meaning of the weights.
ARCHITECTURE_OPTIONS = ("backbone", "levels", "kernels", "freeze_backbone")

#: The official train.py (spec sfnet.md §3): Adam lr 3e-5 on the adaptation layers, batch 16 images,
#: 40 epochs, MultiStepLR x0.2 at epoch 30, PF-PASCAL val PCK@0.1 after every epoch (best kept), on
#: VOC 2012 segmentation images without the PF-PASCAL test images.  One voc-masks item is one image,
#: so batch_size=16 is the official 16 images (on a dataset of pairs each pair gives 2 samples).
PAPER_RECIPE = TrainConfig(
    epochs=40, batch_size=16, lr=3e-5, optimizer="adam", scheduler="multistep", milestones=(30,), gamma=0.2,
    dataset="voc-masks", split="trainval",
    validation=Validation(dataset="pfpascal", split="val", protocol="sfnet", metric="pck@0.1"),
    recipe="cvlab-yonsei/SFNet train.py (spec sfnet.md §3.2-3.3); differences: README 'Training'")

PRESETS: dict[str, Preset[SFNetConfig]] = {
    "paper": Preset(SFNetConfig(), SFNET_INPUT, PAPER_RECIPE),
    # The embedded benchmark: timm RegNetX-200MF trained end-to-end from random init on CPU
    # (no pretrained weights exist offline), stride-8/16 stages so a 20x20 grid needs only
    # 160² inputs; everything trains from random init, so a larger step.  See README "Embedded configuration".
    "embedded": Preset(SFNetConfig(backbone="timm:regnetx_002", levels=(2, 3), freeze_backbone=False), SFNET_INPUT,
                       TrainConfig(epochs=40, batch_size=8, lr=1e-3, optimizer="adam", max_minutes=10)),
}


def build_config(preset: str = "paper", **options: Any) -> SFNetConfig:
    """A preset's architecture with some fields overridden (lists from YAML/CLI become tuples)."""
    return config_from_preset("sfnet", {name: p.config for name, p in PRESETS.items()}, preset, options)
