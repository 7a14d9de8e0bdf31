"""The NeMF network: encoder (backbone -> 4-level correlations -> 4-D cost embedding ->
mutual-NN filter -> transformer aggregator) and the neural matching field decoder."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from corrbench_nemf.aggregator import CostAggregator
from corrbench_nemf.backbone import HyperpixelBackbone
from corrbench_nemf.config import NeMFConfig
from corrbench_nemf.conv4d import LevelEmbedding
from corrbench_nemf.field import NeuralMatchingField


@dataclass
class Encoded:
    """Encoder output for a batch of pairs (source index first, then target index)."""

    refined: torch.Tensor  # (B, N, S^2, S^2)
    mean_cost: torch.Tensor  # (B, S^2, S^2): the refined cost averaged over its N channels


def l2_normalise(features: torch.Tensor) -> torch.Tensor:
    return features / torch.sqrt((features ** 2).sum(dim=1, keepdim=True) + 1e-6)


def mutual_nn_filter(cost: torch.Tensor) -> torch.Tensor:
    """C * (C / max over targets) * (C / max over sources); exact zeros of a max get 1e-30."""
    src_max = cost.amax(dim=3, keepdim=True)
    trg_max = cost.amax(dim=2, keepdim=True)
    src_max = torch.where(src_max == 0, src_max + 1e-30, src_max)
    trg_max = torch.where(trg_max == 0, trg_max + 1e-30, trg_max)
    return cost * ((cost / src_max) * (cost / trg_max))


class NeMFModel(nn.Module):
    def __init__(self, config: NeMFConfig, pretrained: bool = False) -> None:
        super().__init__()
        self.config = config
        s = config.feature_size
        self.backbone = HyperpixelBackbone(config.backbone, config.hyperpixel, pretrained, config.backbone_channels)
        if config.freeze_backbone:
            self.backbone.requires_grad_(False)
        self.proj = nn.ModuleList(nn.Linear(c, config.feature_proj_dim) for c in self.backbone.channels)
        sides = (4 * s, 2 * s, s, s // 2)
        self.corr_embedder = nn.ModuleList(LevelEmbedding(side, s, config.level_channels) for side in sides)
        levels = len(sides)
        self.aggregator = CostAggregator(levels, config.level_channels, s, config.feature_proj_dim, config.depth,
                                         config.num_heads, config.mlp_ratio)
        self.field = NeuralMatchingField(levels * config.level_channels, config.field_hidden, config.field_blocks,
                                         config.harmonics)
        # The official model keeps the soft-argmax axes as (frozen) parameters; used for the
        # training flow loss, while inference uses exact linspace as the official test path does.
        self.register_buffer("x_normal", torch.linspace(-1, 1, s))
        self.register_buffer("y_normal", torch.linspace(-1, 1, s))

    @property
    def channels(self) -> int:
        return len(self.corr_embedder) * self.config.level_channels

    def train(self, mode: bool = True) -> "NeMFModel":
        super().train(mode)
        if self.config.freeze_backbone:
            self.backbone.eval()  # frozen BN statistics, as the official forward_enc forces
        return self

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        if self.config.freeze_backbone:
            with torch.no_grad():
                return self.backbone(images)
        return self.backbone(images)

    def encode(self, src_feats: list[torch.Tensor], trg_feats: list[torch.Tensor]) -> Encoded:
        s = self.config.feature_size
        embedded, src_proj, trg_proj = [], [], []
        for level, (src, trg) in enumerate(zip(src_feats, trg_feats)):
            corr = l2_normalise(src).flatten(2).transpose(1, 2) @ l2_normalise(trg).flatten(2)
            embedded.append(self.corr_embedder[level](corr))
            for feats, out in ((src, src_proj), (trg, trg_proj)):
                resized = F.interpolate(feats, size=(s, s), mode="bilinear", align_corners=True)
                out.append(self.proj[level](resized.flatten(2).transpose(1, 2)))
        b = src_feats[0].shape[0]
        cost = torch.cat(embedded, dim=1).reshape(b, self.channels, s * s, s * s)
        cost = mutual_nn_filter(cost)
        refined = self.aggregator(cost, torch.stack(src_proj, 1), torch.stack(trg_proj, 1))
        return Encoded(refined=refined, mean_cost=refined.mean(dim=1))

    def forward(self, src_images: torch.Tensor, trg_images: torch.Tensor) -> Encoded:
        return self.encode(self.features(src_images), self.features(trg_images))
