"""Siamese feature extractors with the two hooks RTN's transformer needs.

RTN re-applies one backbone convolution at affinely warped tap positions (spec §2.4): at the coarse
level the conv that produces relu5_1 from pool4, at the fine level the one producing relu4_1 from
pool3.  Every backbone here therefore returns the *inputs* of those two convs (``pre_fine``,
``pre_coarse``) besides the features, and exposes the convs as ``conv_fine`` / ``conv_coarse``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from corrbench.errors import UsageError
from corrbench.training.pretrained import timm_model, torchvision_model
from corrbench_rtn.preprocess import RTN_INPUT

CAFFE_MEAN = (123.680, 116.779, 103.939)  # MatConvNet VGG: RGB 0..255 minus mean, no std


class Backbone(nn.Module):
    """Base: ``forward(rgb 0..255) -> {pre_fine, fine, pre_coarse, coarse}`` (fine = stride s, coarse = 2s)."""

    normalization: str = "imagenet"

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        if self.normalization == "caffe":
            return images - images.new_tensor(CAFFE_MEAN).view(1, 3, 1, 1)
        return RTN_INPUT.normalize(images)

    @property
    def conv_fine(self) -> nn.Conv2d:
        raise NotImplementedError

    @property
    def conv_coarse(self) -> nn.Conv2d:
        raise NotImplementedError


class TinyBackbone(Backbone):
    """A small VGG-like CNN for the embedded CPU configuration (strides 4 and 8)."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = width
        self.stem = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(w, w, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2, ceil_mode=True),
        )
        self.fine_conv = nn.Conv2d(2 * w, 3 * w, 3, padding=1)
        self.mid = nn.Sequential(nn.Conv2d(3 * w, 3 * w, 3, padding=1), nn.ReLU(inplace=True),
                                 nn.MaxPool2d(2, ceil_mode=True))
        self.coarse_conv = nn.Conv2d(3 * w, 4 * w, 3, padding=1)

    @property
    def conv_fine(self) -> nn.Conv2d:
        return self.fine_conv

    @property
    def conv_coarse(self) -> nn.Conv2d:
        return self.coarse_conv

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        pre_fine = self.stem(self.normalize(images))
        fine = F.relu(self.fine_conv(pre_fine))
        pre_coarse = self.mid(fine)
        return {"pre_fine": pre_fine, "fine": fine, "pre_coarse": pre_coarse,
                "coarse": F.relu(self.coarse_conv(pre_coarse))}


class VGG19Backbone(Backbone):
    """The paper's VGG-19 up to relu5_1: fine = relu4_1 (from pool3), coarse = relu5_1 (from pool4)."""

    def __init__(self, pretrained: bool = False) -> None:
        super().__init__()
        self.features = torchvision_model("vgg19", pretrained).features[:30]
        # torchvision's ImageNet weights expect mean/std; the MatConvNet checkpoint expects Caffe means.
        self.normalization = "imagenet" if pretrained else "caffe"

    @property
    def conv_fine(self) -> nn.Conv2d:
        return self.features[19]

    @property
    def conv_coarse(self) -> nn.Conv2d:
        return self.features[28]

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        pre_fine = self.features[:19](self.normalize(images))  # pool3
        fine = F.relu(self.conv_fine(pre_fine))  # relu4_1
        pre_coarse = self.features[21:28](fine)  # pool4
        return {"pre_fine": pre_fine, "fine": fine, "pre_coarse": pre_coarse,
                "coarse": F.relu(self.conv_coarse(pre_coarse))}


class TimmResNetBackbone(Backbone):
    """A timm ResNet (e.g. the paper's ResNet-101): layer2 / layer3 outputs plus one 3x3 conv each.

    ResNets have no single conv that maps pool3 to the next feature as VGG does, so RTN's shared
    transformer conv is a new 3x3 conv on top of each level (documented deviation).
    """

    def __init__(self, model_name: str = "resnet101", pretrained: bool = False, channels: int = 256) -> None:
        super().__init__()
        self.body = timm_model(model_name, pretrained, features_only=True, out_indices=(2, 3))
        fine_in, coarse_in = self.body.feature_info.channels()
        self.fine_conv = nn.Conv2d(fine_in, channels, 3, padding=1)
        self.coarse_conv = nn.Conv2d(coarse_in, channels, 3, padding=1)

    @property
    def conv_fine(self) -> nn.Conv2d:
        return self.fine_conv

    @property
    def conv_coarse(self) -> nn.Conv2d:
        return self.coarse_conv

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        pre_fine, pre_coarse = self.body(self.normalize(images))
        return {"pre_fine": pre_fine, "fine": F.relu(self.fine_conv(pre_fine)), "pre_coarse": pre_coarse,
                "coarse": F.relu(self.coarse_conv(pre_coarse))}



def build_backbone(name: str, pretrained: bool = False, width: int = 16) -> Backbone:
    if name == "tiny":
        if pretrained:
            raise UsageError("backbone 'tiny' has no pretrained weights; use pretrained=false")
        return TinyBackbone(width=width)
    if name == "vgg19":
        return VGG19Backbone(pretrained=pretrained)
    if name.startswith("resnet"):
        return TimmResNetBackbone(name, pretrained=pretrained)
    raise UsageError(f"unknown RTN backbone '{name}'; choose tiny, vgg19 or a timm resnet (e.g. resnet101)")
