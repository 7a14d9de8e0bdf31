"""The RTN network: geometric matching U-Net plus the recurrent coarse-to-fine refinement.

Recurrence (spec §2.5): ``A0 = id + geo(C(f1, f2))`` on the coarse grid; each iteration samples the
other image's features under the current local affines (the transformer), correlates them with
the query's features in a small window, and adds a residual ``geo(C)``.  The first
``coarse_iterations`` iterations run on the coarse grid, the rest on the fine grid after a fixed
x2 up-sampling of the field.  One set of geo weights serves every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from corrbench_rtn.backbone import Backbone
from corrbench_rtn.ops import constrained_correlation, identity_field, l2_normalize, transform_features, upsample2


def _conv(cin: int, cout: int, kernel: int = 3) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, padding=kernel // 2)


class GeoNet(nn.Module):
    """The geometry estimator: a 5-level U-Net from a correlation volume to 6 affine residuals.

    Names follow the official parameters (``conv1``, ``conv1b`` ... ``conv10``) so the MatConvNet
    checkpoint maps by name.  ``conv10`` starts at zero: the first fields are the identity.
    """

    def __init__(self, in_channels: int = 81, widths: tuple[int, ...] = (64, 128, 256, 512, 512),
                 edge_kernel: int = 9, upsample: str = "deconv") -> None:
        super().__init__()
        w1, w2, w3, w4, w5 = widths
        self.upsample = upsample
        self.conv1, self.conv1b = _conv(in_channels, w1, edge_kernel), _conv(w1, w1)
        self.conv2, self.conv2b = _conv(w1, w2), _conv(w2, w2)
        self.conv3, self.conv3b = _conv(w2, w3), _conv(w3, w3)
        self.conv4, self.conv4b = _conv(w3, w4), _conv(w4, w4)
        self.conv5, self.conv5b = _conv(w4, w5), _conv(w5, w5)
        self.conv6, self.conv6b = _conv(w5 + w4, w4), _conv(w4, w4)
        self.conv7, self.conv7b = _conv(w4 + w3, w3), _conv(w3, w3)
        self.conv8, self.conv8b = _conv(w3 + w2, w2), _conv(w2, w2)
        self.conv9, self.conv9b = _conv(w2 + w1, w1), _conv(w1, w1)
        self.conv10 = _conv(w1, 6, edge_kernel)
        nn.init.zeros_(self.conv10.weight)
        nn.init.zeros_(self.conv10.bias)

    @staticmethod
    def _pair(a: nn.Conv2d, b: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
        return F.relu(b(F.relu(a(x))))

    @staticmethod
    def _pool(x: torch.Tensor) -> torch.Tensor:
        # Official pooling pads [0 1 0 1]: identical to ceil-mode 2x2/2 pooling.
        return F.max_pool2d(x, 2, ceil_mode=True)

    def _up_cat(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return torch.cat([upsample2(x, self.upsample, skip.shape[-2:]), skip], dim=1)

    def forward(self, corr: torch.Tensor) -> torch.Tensor:
        x4 = self._pair(self.conv1, self.conv1b, corr)
        x9 = self._pair(self.conv2, self.conv2b, self._pool(x4))
        x14 = self._pair(self.conv3, self.conv3b, self._pool(x9))
        x19 = self._pair(self.conv4, self.conv4b, self._pool(x14))
        x24 = self._pair(self.conv5, self.conv5b, self._pool(x19))
        x = self._pair(self.conv6, self.conv6b, self._up_cat(x24, x19))
        x = self._pair(self.conv7, self.conv7b, self._up_cat(x, x14))
        x = self._pair(self.conv8, self.conv8b, self._up_cat(x, x9))
        x = self._pair(self.conv9, self.conv9b, self._up_cat(x, x4))
        return self.conv10(x)


@dataclass
class RTNOutput:
    """Affine fields after the init step and after each iteration, and the last raw correlation."""

    fields: list[torch.Tensor]
    last_correlation: torch.Tensor

    @property
    def field(self) -> torch.Tensor:
        return self.fields[-1]


class RTN(nn.Module):
    def __init__(self, backbone: Backbone, max_disp: int = 9, geo_widths: tuple[int, ...] = (64, 128, 256, 512, 512),
                 geo_edge_kernel: int = 9, upsample: str = "deconv", align_corners: bool = True) -> None:
        super().__init__()
        self.backbone = backbone
        self.geo = GeoNet(max_disp * max_disp, geo_widths, geo_edge_kernel, upsample)
        self.max_disp = max_disp
        self.upsample = upsample
        self.align_corners = align_corners

    def features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Backbone features of a batch of (B, 3, S, S) RGB 0..255 images, with L2-normalised copies."""
        out = self.backbone(images)
        out["fine_n"] = l2_normalize(out["fine"])
        out["coarse_n"] = l2_normalize(out["coarse"])
        return out

    def recur(self, feats1: dict[str, torch.Tensor], feats2: dict[str, torch.Tensor], iterations: int = 4,
              coarse_iterations: int = 1) -> RTNOutput:
        """Fields on image 1's grid pointing into image 2 (``A0`` plus one per iteration)."""
        f1 = feats1["coarse_n"]
        corr = constrained_correlation(f1, feats2["coarse_n"], self.max_disp)
        field = identity_field(f1.shape[0], *f1.shape[-2:], device=f1.device) + self.geo(l2_normalize(corr))
        fields = [field]
        for step in range(iterations):
            level = "coarse" if step < coarse_iterations else "fine"
            if level == "fine" and field.shape[-2:] != feats1["fine_n"].shape[-2:]:
                field = upsample2(field, self.upsample, feats1["fine_n"].shape[-2:])
            conv = self.backbone.conv_coarse if level == "coarse" else self.backbone.conv_fine
            warped = transform_features(feats2[f"pre_{level}"], field, conv, self.align_corners)
            corr = constrained_correlation(feats1[f"{level}_n"], l2_normalize(F.relu(warped)), self.max_disp)
            field = field + self.geo(l2_normalize(corr))
            fields.append(field)
        return RTNOutput(fields=fields, last_correlation=corr)

    def forward(self, images1: torch.Tensor, images2: torch.Tensor, iterations: int = 4,
                coarse_iterations: int = 1) -> RTNOutput:
        return self.recur(self.features(images1), self.features(images2), iterations, coarse_iterations)
