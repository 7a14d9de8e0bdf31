"""SFNet's network: frozen siamese backbone, two residual adaptation layers, two-level cosine
correlation fused by a product, kernel soft-argmax in both directions.

Work is split per image (:meth:`SFNetModel.embed`) and per pair (:meth:`SFNetModel.match`) so
that inference can embed each distinct image once and match many pairs in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from corrbench.matching.kernel_softargmax import kernel_soft_argmax, normalized_cell_coords
from corrbench_sfnet.backbone import Backbone
from corrbench_sfnet.config import SFNetConfig

EPS = 1e-6  # inside the sqrt, as the official L2 normalisation


class AdaptationLayer(nn.Module):
    """Two residual blocks ``x + ReLU(BN(conv(x)))``; attribute names match the official keys."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        padding = kernel_size // 2
        self.conv1 = nn.Sequential(nn.Conv2d(channels, channels, kernel_size, 1, padding),
                                   nn.BatchNorm2d(channels), nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv2d(channels, channels, kernel_size, 1, padding),
                                   nn.BatchNorm2d(channels), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.conv1(x)
        return x + self.conv2(x)


def l2_normalize(x: torch.Tensor, dim: int) -> torch.Tensor:
    return x / torch.sqrt((x**2).sum(dim=dim, keepdim=True) + EPS)


@dataclass
class Matches:
    """Both directions for a batch of pairs: grids (B, h, w, 2) in normalised coordinates of the
    other image's feature grid (align-corners), flows = grid - identity, (B, 2, h, w)."""

    grid_s2t: torch.Tensor
    grid_t2s: torch.Tensor
    flow_s2t: torch.Tensor
    flow_t2s: torch.Tensor


class SFNetModel(nn.Module):
    def __init__(self, config: SFNetConfig, pretrained: bool = False) -> None:
        super().__init__()
        self.config = config
        self.backbone = Backbone(config.backbone, config.levels, pretrained=pretrained)
        fine, coarse = self.backbone.channels
        self.adap3 = AdaptationLayer(fine, config.kernels[0])
        self.adap4 = AdaptationLayer(coarse, config.kernels[1])
        if config.freeze_backbone:
            for parameter in self.backbone.parameters():
                parameter.requires_grad_(False)

    @property
    def stride(self) -> int:
        return self.backbone.strides[0]

    def train(self, mode: bool = True) -> "SFNetModel":
        super().train(mode)
        if self.config.freeze_backbone:
            self.backbone.eval()  # frozen = running BN statistics always, as train.py does each epoch
        return self

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Per-image descriptors (N, C3 + C4, h, w): adapted fine and upsampled coarse features,
        each L2-normalised over its channels (what the matching layer correlates)."""
        if self.config.freeze_backbone:
            with torch.no_grad():
                fine, coarse = self.backbone(images)
        else:
            fine, coarse = self.backbone(images)
        fine = self.adap3(fine)
        coarse = self.adap4(coarse)
        coarse = F.interpolate(coarse, size=fine.shape[-2:], mode="bilinear", align_corners=True)
        return torch.cat([l2_normalize(fine, 1), l2_normalize(coarse, 1)], dim=1)

    def correlations(self, src: torch.Tensor, trg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(corr_s2t, corr_t2s)`` laid out (B, Q, K), each L2-normalised over K.

        The product of the two ReLU'd cosine volumes is shared: the T2S volume is its transpose.
        """
        fine = self.backbone.channels[0]
        batch, _, height, width = src.shape
        src, trg = src.flatten(2), trg.flatten(2)  # (B, C, HW)
        corr3 = torch.relu(torch.bmm(trg[:, :fine].transpose(1, 2), src[:, :fine]))  # (B, HW_t, HW_s)
        corr4 = torch.relu(torch.bmm(trg[:, fine:].transpose(1, 2), src[:, fine:]))
        product = corr3 * corr4
        corr_s2t = l2_normalize(product, dim=1).transpose(1, 2)  # (B, Q=src, K=trg)
        corr_t2s = l2_normalize(product, dim=2)  # (B, Q=trg, K=src)
        return corr_s2t, corr_t2s

    def match(self, src: torch.Tensor, trg: torch.Tensor) -> Matches:
        """Dense matches both ways from embedded source and target (B, C, h, w)."""
        batch, _, height, width = src.shape
        corr_s2t, corr_t2s = self.correlations(src, trg)
        beta, sigma = self.config.beta, self.config.kernel_sigma
        identity = normalized_cell_coords(height, width, src.device).reshape(1, height, width, 2)
        grid_s2t = kernel_soft_argmax(corr_s2t, height, width, beta, sigma).reshape(batch, height, width, 2)
        grid_t2s = kernel_soft_argmax(corr_t2s, height, width, beta, sigma).reshape(batch, height, width, 2)
        return Matches(grid_s2t, grid_t2s, (grid_s2t - identity).permute(0, 3, 1, 2),
                       (grid_t2s - identity).permute(0, 3, 1, 2))

    def forward(self, src_images: torch.Tensor, trg_images: torch.Tensor) -> Matches:
        # Source and target go through the network separately, as in the official code (in
        # training mode the adaptation BN statistics are per side).
        return self.match(self.embed(src_images), self.embed(trg_images))
