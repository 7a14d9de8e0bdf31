"""SFNet's released weights (cvlab-yonsei/SFNet README): one file, used for PF-PASCAL and PF-WILLOW.

The file holds only the two adaptation layers; the ResNet-101 comes from ImageNet, so the entry
turns ``pretrained`` on (the backbone then comes through the same cache as ``torchvision:resnet101``).
No checksum is published: the first download's sha256 is recorded and verified after.
"""

from __future__ import annotations

from corrbench.weights.entry import WeightsEntry, WeightsFile

README = "https://github.com/cvlab-yonsei/SFNet (README.md, 'Pretrained model')"

WEIGHTS: tuple[WeightsEntry, ...] = (
    WeightsEntry(
        tag="sfnet:pfpascal", method="sfnet",
        files=(WeightsFile("best_checkpoint.pt",
                           urls=("https://drive.google.com/file/d/1RmVcrla-7qUYVxRdr6ngqRmmu2RK-qrk/view",)),),
        licence="GPL-3.0 (cvlab-yonsei/SFNet LICENSE)", source=README,
        trained_on="PASCAL VOC 2012 images + masks (PF-PASCAL test images excluded); selected on PF-PASCAL val",
        preset="paper", protocol="sfnet", dataset="pfpascal", options={"pretrained": True},
        notes="the official eval_pascal.py and eval_willow.py both load this file (./weights/best_checkpoint.pt)"),
)
