"""The shared encoder: ``Sequential(conv1, bn1, relu, maxpool, layer1, layer2, layer3)``.

The official ``FeatureExtraction.model`` has exactly these seven children, so our keys
``encoder.model.<i>.*`` match the official ones index by index.  The co-segmentation decoder
reads children 2 (relu, stride 2), 4 (layer1, stride 4), 5 (layer2, stride 8) and 6 (layer3,
stride 16); matching uses layer3 only.
"""

from __future__ import annotations

import torch
from torch import nn

from corrbench.training.pretrained import torchvision_model

SKIP_INDICES = (2, 4, 5, 6)


class Encoder(nn.Module):
    """ResNet-101 trunk (paper) or a small residual CNN of the same seven-child layout."""

    def __init__(self, kind: str, widths: tuple[int, int, int, int], pretrained: bool = False) -> None:
        super().__init__()
        if kind == "resnet101":
            net = torchvision_model("resnet101", pretrained, advice="use pretrained=false or --weights FILE")
            self.model = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3)
            self.widths = (64, 256, 512, 1024)
        else:
            self.model = _small_trunk(widths)
            self.widths = tuple(int(w) for w in widths)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of children 2, 4, 5, 6: strides 2, 4, 8, 16."""
        outputs = []
        x = images
        for index, child in enumerate(self.model):
            x = child(x)
            if index in SKIP_INDICES:
                outputs.append(x)
        return outputs


def _small_trunk(widths: tuple[int, int, int, int]) -> nn.Sequential:
    from torchvision.models.resnet import BasicBlock

    def stage(cin: int, cout: int, stride: int) -> nn.Sequential:
        down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        return nn.Sequential(BasicBlock(cin, cout, stride, down))

    w0, w1, w2, w3 = widths
    return nn.Sequential(
        nn.Conv2d(3, w0, 5, 2, 2, bias=False), nn.BatchNorm2d(w0), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, 1), stage(w0, w1, 1), stage(w1, w2, 2), stage(w2, w3, 2),
    )



class PerceptualResNet50(nn.Module):
    """Frozen ResNet-50 up to the global average pool (2048-d): the co-segmentation loss's judge."""

    def __init__(self, pretrained: bool = False) -> None:
        super().__init__()
        net = torchvision_model("resnet50", pretrained)
        net.fc = nn.Identity()
        self.net = net.eval()
        for parameter in self.net.parameters():
            parameter.requires_grad_(False)

    def train(self, mode: bool = True) -> "PerceptualResNet50":
        super().train(False)  # always frozen, BN included
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)
