"""MaCoSNet configurations: the paper's (for users) and the small embedded one (trained on CPU).

Fields that change parameter shapes are *architecture options*, stored in checkpoints and
checked on load; the others change only how inference or training runs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from corrbench.errors import UsageError
from corrbench.training.config import config_from_preset, option
from corrbench.training.learned import Preset
from corrbench.training.loop import TrainConfig
from corrbench.training.selection import Validation
from corrbench_macosnet.preprocess import MACOSNET_INPUT

#: The loss terms of the paper, in the order of ``train.py::process_epoch`` (+ the embedded warm-up).
LOSS_NAMES = ("match", "cycle", "trans", "coseg", "task", "synth")


@dataclass(frozen=True)
class MaCoSNetConfig:
    """Hyper-parameters of one MaCoSNet model (defaults = the official code, see the README).

    * ``encoder``: ``resnet101`` (torchvision trunk conv1..layer3, the paper) or ``small`` (a
      four-stage residual CNN of widths ``widths``, for the embedded benchmark).
    * ``image_size``: side of the square network input (240 in the paper: 15x15 grid).
    * ``regressor_kernels`` / ``regressor_channels``: the two conv layers of each regressor
      (7/5 and 128/64 in the paper).
    * ``tps_reg_train`` / ``tps_reg_eval``: TPS regularisation lambda in the losses (0.2) and at
      inference (0.0), as the official parsers set them.
    * ``offset_factor``: 227/210, applied in the inlier masks of the matching loss only.
    * ``fg_guidance``: weight of each target cell in the matching score: ``corr_max`` (the
      released code: max correlation) or ``mask`` (the joint model: the predicted co-segmentation
      mask, detached).
    * ``legacy_segmask_broadcast``: reproduce the released (B, h) score that mixes samples.
    * ``coseg_features``: ``resnet50`` (frozen ImageNet ResNet-50 avgpool, the paper) or
      ``encoder`` (the model's own encoder with gradients stopped at its parameters; used offline).
    * ``coseg_l2norm``: L2-normalise the perceptual features (then distances are not divided by
      their dimension); ``coseg_margin``: the contrastive threshold (2 in the paper).
    * ``lambdas``: loss weights in :data:`LOSS_NAMES` order (``train.sh``: match 1, cycle 1).
    * ``synth_affine_std``: spread of the random affines of the ``synth`` warm-up term.
    * ``freeze_bn``: keep BatchNorm in eval mode while training (the official script does).
    * ``warmup_steps``: steps of the embedded curriculum's first stage, trained on ``synth`` (and
      ``cosal``) only; the weak losses start after it (0: every loss from the start).
    * ``freeze_encoder_after_warmup``: after the warm-up, the encoder's weights stop training (the
      paper fine-tunes from a trained encoder; weak losses on a random one collapse it).
    * ``weak_train_matching``: after the warm-up, keep training the matching regressors with the
      weak losses; ``false`` freezes them too (and drops the terms that only reach them: match,
      cycle, trans, synth), so that the weak stage trains the co-segmentation decoder only.
    * ``cosal_weight`` / ``cosal_quantile``: the embedded co-saliency term: the mask is pulled
      towards the cells whose best match in the *other* image beats their best match elsewhere in
      their own image (top ``1 - quantile`` of cells, from detached encoder features); 0 disables it.
    * ``cosal_balanced``: class-balanced co-saliency BCE (positives and negatives of each image
      weigh half each), so that mask probabilities cross 0.5 where a cell is labelled foreground
      more often than the base rate (see ``losses.class_balance_weights``).
    * ``mask_prior_correction``: at inference, shift the mask logits by ``log((1 - r) / r)`` with
      ``r = 1 - cosal_quantile`` the pseudo-labels' positive rate (:attr:`mask_logit_offset`).  A
      decoder trained with the plain co-saliency BCE estimates ``q`` = the probability that a cell
      is labelled co-salient, which stays below 0.5 even on the object (the labels are noisy and
      cover a fixed ``r`` of each image); the shift makes ``p > 0.5`` iff ``q > r`` (the Bayes
      decision for balanced classes, the optimum of ``cosal_balanced`` without its slower
      training).  Training losses always use the uncorrected mask.  Do not combine with
      ``cosal_balanced`` (that would correct twice).
    * ``mask_area``: ``max(0, mean mask - mask_area)^2`` penalty (weight ``cosal_weight``) against the
      all-foreground solution of the consistency losses; 1 disables it.
    """

    encoder: str = "resnet101"
    widths: tuple[int, int, int, int] = (64, 256, 512, 1024)
    image_size: int = option(240, le=1024, why="the 4-D correlation holds (image_size/16)⁴ floats per pair")
    regressor_kernels: tuple[int, int] = (7, 5)
    regressor_channels: tuple[int, int] = (128, 64)
    tps_reg_train: float = 0.2
    tps_reg_eval: float = 0.0
    offset_factor: float = 227.0 / 210.0
    fg_guidance: str = "corr_max"
    legacy_segmask_broadcast: bool = False
    coseg_features: str = "resnet50"
    coseg_l2norm: bool = False
    coseg_margin: float = 2.0
    lambdas: tuple[float, float, float, float, float, float] = (1.0, 1.0, 0.0, 0.0, 0.0, 0.0)
    synth_affine_std: float = 0.15
    freeze_bn: bool = True
    use_tps: bool = True
    warmup_steps: int = 0
    freeze_encoder_after_warmup: bool = False
    weak_train_matching: bool = True
    cosal_weight: float = 0.0
    cosal_quantile: float = 0.75
    cosal_balanced: bool = False
    mask_prior_correction: bool = False
    mask_area: float = 1.0

    def __post_init__(self) -> None:
        if self.encoder not in ("resnet101", "small"):
            raise UsageError(f"macosnet encoder must be 'resnet101' or 'small', got '{self.encoder}'")
        if self.image_size % 16 or self.image_size < 64:
            raise UsageError(f"macosnet image_size must be a multiple of 16 and >= 64, got {self.image_size}")
        if self.fg_guidance not in ("corr_max", "mask"):
            raise UsageError(f"macosnet fg_guidance must be 'corr_max' or 'mask', got '{self.fg_guidance}'")
        if self.coseg_features not in ("resnet50", "encoder"):
            raise UsageError(f"macosnet coseg_features must be 'resnet50' or 'encoder', got '{self.coseg_features}'")
        if len(self.lambdas) != len(LOSS_NAMES):
            raise UsageError(f"macosnet lambdas needs {len(LOSS_NAMES)} values ({', '.join(LOSS_NAMES)})")
        if self.mask_prior_correction and self.cosal_balanced:
            raise UsageError("macosnet mask_prior_correction and cosal_balanced both correct for the pseudo-label "
                             "rate; use one of them")
        grid = self.grid_size
        after = grid - self.regressor_kernels[0] + 1 - self.regressor_kernels[1] + 1
        if after < 1:
            raise UsageError(f"macosnet regressor kernels {self.regressor_kernels} do not fit a {grid}x{grid} grid")

    @property
    def grid_size(self) -> int:
        """Side of the correlation grid (layer3, stride 16)."""
        return self.image_size // 16

    @property
    def mask_logit_offset(self) -> float:
        """Logit shift applied to predicted masks (``mask_prior_correction``), else 0."""
        rate = 1.0 - self.cosal_quantile
        if not self.mask_prior_correction or self.cosal_weight <= 0 or not 0 < rate < 1:
            return 0.0
        return math.log((1.0 - rate) / rate)

    @property
    def loss_weights(self) -> dict[str, float]:
        return dict(zip(LOSS_NAMES, (float(w) for w in self.lambdas)))

    def to_options(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


#: Options whose change alters parameter shapes (checked when loading a checkpoint).
ARCHITECTURE_OPTIONS = ("encoder", "widths", "image_size", "regressor_kernels", "regressor_channels")

#: train.sh (spec macosnet.md §3.3): PF-PASCAL train.csv (2,940 rows, mirrored where flip=1), Adam lr 5e-8,
#: batch 4, 60 epochs, seed 1 (fine-tuning a weakalign model); model selection on PF-PASCAL eval.csv
#: (the 308 val pairs) PCK@0.1 under the 'scnet' rules after every epoch, a best_ copy kept.
PAPER_TRAINING = TrainConfig(
    epochs=60, batch_size=4, lr=5e-8, optimizer="adam", seed=1,
    dataset="pfpascal", split="train", dataset_options={"apply_flip": True},
    validation=Validation(dataset="pfpascal", split="val", protocol="ncnet_scnet", metric="pck@0.1"),
    recipe="YunChunChen/MaCoSNet-pytorch train.sh + train.py (spec macosnet.md §3.3); differences: README 'Training'")

PRESETS: dict[str, Preset[MaCoSNetConfig]] = {
    "paper": Preset(MaCoSNetConfig(), MACOSNET_INPUT, PAPER_TRAINING),
    # The joint model of the paper with every loss on (the released train.sh turns on only match
    # and cycle; the paper's full model uses all five).
    "joint": Preset(MaCoSNetConfig(fg_guidance="mask", lambdas=(1.0, 1.0, 1.0, 1.0, 1.0, 0.0)), MACOSNET_INPUT,
                    PAPER_TRAINING),
    # Embedded benchmark: small encoder trained from random init on CPU; the official fine-tuning
    # step (5e-8) would not move it.  See README.
    "embedded": Preset(MaCoSNetConfig(
        encoder="small", widths=(16, 32, 64, 128), image_size=192, regressor_kernels=(5, 3),
        regressor_channels=(64, 32), fg_guidance="mask", coseg_features="encoder", coseg_l2norm=True,
        coseg_margin=1.0, lambdas=(0.1, 1e-3, 1e-3, 3.0, 0.3, 10.0), synth_affine_std=0.15, freeze_bn=False,
        warmup_steps=450, freeze_encoder_after_warmup=True, weak_train_matching=False, cosal_weight=1.0,
        cosal_quantile=0.85, mask_prior_correction=True, mask_area=0.4,
    ), MACOSNET_INPUT, TrainConfig(epochs=100, batch_size=4, lr=3e-4, optimizer="adam", max_minutes=10, seed=1,
                                   grad_clip=1.0)),
}


def build_config(preset: str = "paper", **options: Any) -> MaCoSNetConfig:
    """A preset's architecture with some fields overridden (lists from YAML/CLI become tuples)."""
    return config_from_preset("macosnet", {name: p.config for name, p in PRESETS.items()}, preset, options)
