"""The joint network: shared encoder, matching head (affine then TPS regression from the
correlation) and co-segmentation decoder over features + correlation with skip connections."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from corrbench_macosnet.config import MaCoSNetConfig
from corrbench_macosnet.encoder import Encoder
from corrbench_macosnet.geometry import correlation, identity_affine, identity_tps, l2_normalize_channels, warp_image

TPS_GRID = 3

_BILINEAR_3x3 = torch.tensor([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


class FeatureRegression(nn.Module):
    """conv k0 -> BN -> ReLU -> conv k1 -> BN -> ReLU -> flatten (c, y, x) -> linear (``FeatureRegression``).

    Keys ``conv.0/1/3/4`` and ``linear`` match the official module.  The linear layer starts at
    the identity transform (small weights, identity bias) so an untrained model predicts identity.
    """

    def __init__(self, grid: int, out: int, kernels: tuple[int, int], channels: tuple[int, int],
                 identity: torch.Tensor) -> None:
        super().__init__()
        c0, c1 = channels
        self.conv = nn.Sequential(
            nn.Conv2d(grid * grid, c0, kernels[0]), nn.BatchNorm2d(c0), nn.ReLU(inplace=True),
            nn.Conv2d(c0, c1, kernels[1]), nn.BatchNorm2d(c1), nn.ReLU(inplace=True),
        )
        side = grid - kernels[0] - kernels[1] + 2
        self.linear = nn.Linear(c1 * side * side, out)
        with torch.no_grad():
            self.linear.weight.normal_(0.0, 1e-3)
            self.linear.bias.copy_(identity)

    def forward(self, corr: torch.Tensor) -> torch.Tensor:
        # reshape, not view: the official .view fails on the channels-last tensors modern torch makes.
        return self.linear(self.conv(corr).reshape(corr.shape[0], -1))


def _deconv(cin: int, cout: int) -> nn.ConvTranspose2d:
    """x2 transposed conv, bias-free, initialised to the bilinear kernel / in_channels (the
    official intent; the released init copies an (out, in) tensor into (in, out) and crashes)
    plus small Gaussian noise: the bilinear init alone makes every output channel identical, and
    identical channels get identical gradients, so from scratch the decoder could not learn."""
    layer = nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1, bias=False)
    with torch.no_grad():
        noise = torch.randn(cin, cout, 3, 3) * (1.0 / (3.0 * cin**0.5))
        layer.weight.copy_((_BILINEAR_3x3 / cin).expand(cin, cout, 3, 3) + noise)
    return layer


class Decoder(nn.Module):
    """``d1 = relu(bn1(deconv1(C)))``, ``d2 = relu(bn2(deconv2(d1 + layer2)))``,
    ``d3 = relu(bn3(deconv3(d2 + layer1)))``, ``logits = deconv4(d3 + relu)``; skips in the
    order the shapes require (the released code unpacks them in the wrong order)."""

    def __init__(self, in_channels: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        w0, w1, w2, _ = widths
        self.deconv1, self.bn1 = _deconv(in_channels, w2), nn.BatchNorm2d(w2)
        self.deconv2, self.bn2 = _deconv(w2, w1), nn.BatchNorm2d(w1)
        self.deconv3, self.bn3 = _deconv(w1, w0), nn.BatchNorm2d(w0)
        self.deconv4 = _deconv(w0, 1)

    def forward(self, joint: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        relu, layer1, layer2 = skips[0], skips[1], skips[2]
        d1 = F.relu(self.bn1(self.deconv1(joint)))
        d2 = F.relu(self.bn2(self.deconv2(d1 + layer2)))
        d3 = F.relu(self.bn3(self.deconv3(d2 + layer1)))
        return self.deconv4(d3 + relu)


@dataclass
class Encoded:
    """One image through the encoder: skip features and the L2-normalised matching feature."""

    skips: list[torch.Tensor]
    match: torch.Tensor


class MaCoSNetModel(nn.Module):
    def __init__(self, config: MaCoSNetConfig, pretrained: bool = False) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config.encoder, config.widths, pretrained)
        grid = config.grid_size
        kernels, channels = config.regressor_kernels, config.regressor_channels
        self.regress_affine = FeatureRegression(grid, 6, kernels, channels, identity_affine()[0])
        self.regress_tps = FeatureRegression(grid, 2 * TPS_GRID**2, kernels, channels, identity_tps(1, TPS_GRID)[0])
        self.decoder = Decoder(self.encoder.widths[3] + grid * grid, self.encoder.widths)

    def train(self, mode: bool = True) -> "MaCoSNetModel":
        super().train(mode)
        if mode and self.config.freeze_bn:  # the official script trains with the model in eval()
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def encode(self, images: torch.Tensor) -> Encoded:
        skips = self.encoder(images)
        return Encoded(skips=skips, match=l2_normalize_channels(skips[3]))

    def affine(self, f_x: Encoded, f_y: Encoded) -> tuple[torch.Tensor, torch.Tensor]:
        """theta_XY (maps Y's frame to X's) and corr_XY (X on channels, Y's grid)."""
        corr = correlation(f_x.match, f_y.match)
        return self.regress_affine(corr), corr

    def tps(self, image_x: torch.Tensor, theta_xy: torch.Tensor, f_y: Encoded) -> tuple[torch.Tensor, torch.Tensor]:
        """Second stage: X warped by the affine onto Y, then TPS regression (warped-X frame <- Y).

        Returns the TPS theta and the correlation of warped X with Y."""
        warped = self.encode(warp_image(image_x, theta_xy))
        corr = correlation(warped.match, f_y.match)
        return self.regress_tps(corr), corr

    def mask_logits(self, f_x: Encoded, corr_yx: torch.Tensor) -> torch.Tensor:
        """Co-segmentation logits of X at input resolution from [layer3 of X, corr(Y -> X grid)]."""
        joint = torch.cat([f_x.skips[3], corr_yx], dim=1)
        return self.decoder(joint, f_x.skips)
