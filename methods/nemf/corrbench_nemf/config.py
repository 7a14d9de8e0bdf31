"""NeMF configurations: the paper's (for users, loads the official checkpoint) and a small
embedded one that trains from scratch on CPU.

Fields that change parameter shapes are *architecture options* (stored in checkpoints and
checked on load); the others only change how inference or training runs.
"""

from __future__ import annotations

from corrbench.training.config import option

from dataclasses import asdict, dataclass
from typing import Any

from corrbench.errors import UsageError
from corrbench.training.learned import Preprocessing, Preset
from corrbench.training.loop import TrainConfig
from corrbench.training.selection import Validation

#: ImageNet-normalised first, then bicubic (align-corners) to input_size², as the official test.
NEMF_INPUT = Preprocessing(size_option="input_size", resize="normalise-then-bicubic-align-corners")


@dataclass(frozen=True)
class NeMFConfig:
    """Hyper-parameters of one NeMF model (defaults = the official ``test.py`` path).

    Encoder: ``backbone`` is a timm ResNet (stage widths ``backbone_channels``, default timm's); ``hyperpixel`` picks 4 bottlenecks (0 = stem,
    h >= 1 = h-th residual block, pre-ReLU) at strides 4, 8, 16 and 32, so at an
    ``input_size`` of 16*S their correlations are (4S)^4, (2S)^4, S^4 and (S/2)^4 with
    S = ``feature_size``.  ``level_channels`` channels per level after the 4-D convolutions,
    ``feature_proj_dim`` P, transformer ``depth``/``num_heads``/``mlp_ratio`` on tokens of width
    S^2 + P.  Decoder: ``harmonics`` frequencies per coordinate, an MLP of ``field_hidden``
    units and ``field_blocks`` residual blocks.

    Inference: ``patchmatch_iters`` rounds of propagation + random search (radius
    ``search_radius`` times ``search_decay``^i; the official radius is constant) within
    ``clamp_radius`` of the initial soft-argmax field, on a grid of the query image's size or
    at most ``grid_max_side`` cells per side; then ``opt_steps`` AdamW steps on the decoder
    score at each query keypoint.  ``pad_to_same_shape`` zero-pads both images at the bottom and
    right to a common size first, as the official PF-PASCAL and PF-WILLOW loaders do (keypoints
    are then normalised with the padded size; SPair's loader does not pad).
    """

    backbone: str = "resnet101"
    backbone_channels: tuple[int, ...] | None = None
    hyperpixel: tuple[int, ...] = (3, 7, 30, 33)
    input_size: int = option(256, ge=32, le=1024, why="the image encoder's memory grows with input_size²")
    feature_size: int = option(16, ge=2, le=48, why="the finest 4-D correlation holds (4·feature_size)⁴ floats: 48 needs 5.4 GB per pair")
    level_channels: int = 16
    feature_proj_dim: int = 128
    depth: int = 4
    num_heads: int = 6
    mlp_ratio: float = 4.0
    harmonics: int = 10
    field_hidden: int = 256
    field_blocks: int = 3
    freeze_backbone: bool = True
    # --- inference ---------------------------------------------------------------------------
    beta: float = 0.02
    patchmatch_iters: int = 20
    search_radius: float = 0.1
    search_decay: float = 1.0
    clamp_radius: float = 0.1
    opt_steps: int = 20
    opt_lr: float = 3e-4
    opt_eta_min: float = 1e-6
    opt_weight_decay: float = 0.01
    grid_max_side: int | None = None
    chunk_points: int = 4096
    pad_to_same_shape: bool = False
    # --- training ----------------------------------------------------------------------------
    candidates: int = 100
    train_points: int = 32
    flow_weight: float = 1.0

    def __post_init__(self) -> None:
        if len(self.hyperpixel) != 4 or list(self.hyperpixel) != sorted(self.hyperpixel):
            raise UsageError(f"nemf hyperpixel must be 4 increasing block ids (one per stride 4, 8, 16, 32), "
                             f"got {list(self.hyperpixel)}")
        if self.feature_size < 2 or self.feature_size % 2:
            raise UsageError(f"nemf feature_size must be even and >= 2, got {self.feature_size}")
        if self.input_size != 16 * self.feature_size:
            raise UsageError(f"nemf input_size must be 16 * feature_size ({16 * self.feature_size}), "
                             f"got {self.input_size}")
        width = self.feature_size ** 2 + self.feature_proj_dim
        if width % self.num_heads or width % 2:
            raise UsageError(f"nemf token width feature_size^2 + feature_proj_dim = {width} must be even and "
                             f"divisible by num_heads={self.num_heads}")
        if self.candidates < 2:
            raise UsageError("nemf candidates must be >= 2 (the ground truth plus random samples)")

    @property
    def embed_dim(self) -> int:
        return self.feature_size ** 2 + self.feature_proj_dim

    def to_options(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


ARCHITECTURE_OPTIONS = ("backbone", "backbone_channels", "hyperpixel", "feature_size", "level_channels", "feature_proj_dim",
                        "depth", "num_heads", "mlp_ratio", "harmonics", "field_hidden", "field_blocks")

#: Where the recipe comes from: NeMF released no training code; its test code reads CATs' data layout
#: (``--datapath ../Datasets_CATs``) and CATs trains the same cost aggregator.
CATS_SOURCE = ("recipe of CATs (SunghwanHong/Cost-Aggregation-transformers train.py @b0d47d2: AdamW lr 3e-5, "
               "weight decay 0.05, batch 32, 100 epochs, MultiStepLR [70, 80, 90] x0.5, seed 2021, train on 'trn', "
               "PCK@0.1 on 'val' every epoch, best kept); NeMF's own is unreleased")


def cats_recipe(benchmark: str, split: str, protocol: str, **data: Any) -> TrainConfig:
    """CATs' training recipe on one benchmark's train split, validated on its val split."""
    return TrainConfig(epochs=100, batch_size=32, lr=3e-5, optimizer="adamw", weight_decay=0.05, seed=2021,
                       scheduler="multistep", milestones=(70, 80, 90), gamma=0.5,
                       dataset=benchmark, split=split, dataset_options=dict(data),
                       validation=Validation(dataset=benchmark, split="val", protocol=protocol, metric="pck@0.1"),
                       recipe=CATS_SOURCE)


#: PF-PASCAL: train_pairs.csv (keypoints from the .mat files; rows with flip=1 mirrored, as CATs' loader
#: does); SPair-71k: Layout/large/trn.txt.  Model selection under NeMF's own test protocol.
PAPER_RECIPES = {"pfpascal": cats_recipe("pfpascal", "train", "nemf", apply_flip=True),
                 "spair": cats_recipe("spair", "trn", "nemf")}

PRESETS: dict[str, Preset[NeMFConfig]] = {
    # Training recipe not released; CATs' recipe for the same aggregator (see README "Training").
    "paper": Preset(NeMFConfig(), NEMF_INPUT, PAPER_RECIPES["pfpascal"], recipes=PAPER_RECIPES),
    # The embedded benchmark: timm resnet10t at a quarter of its width (stage widths 16-128, one
    # BasicBlock per stage, ids 1-4 = the last block of each stage) trained end-to-end from random init, 128² input, 8x8 coarse grid, a narrow
    # transformer and decoder; PatchMatch on at most 24 cells per side, 10 iterations (version 2; 48 and 20
    # before: 7x the time for PCK@0.1 77.0 instead of 76.6).  See README.
    "embedded": Preset(
        NeMFConfig(backbone="resnet10t", backbone_channels=(16, 32, 64, 128), hyperpixel=(1, 2, 3, 4), input_size=128,
                   feature_size=8, level_channels=8, feature_proj_dim=32, depth=1, num_heads=4, mlp_ratio=2.0,
                   field_hidden=128, freeze_backbone=False, grid_max_side=24, patchmatch_iters=10, candidates=64,
                   train_points=24),
        NEMF_INPUT,
        TrainConfig(epochs=50, batch_size=8, lr=1e-3, optimizer="adamw", weight_decay=0.01, max_minutes=10,
                    grad_clip=5.0)),
}
