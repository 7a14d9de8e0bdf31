"""Hyper-pixel features of a timm ResNet: chosen residual blocks, taken before their last ReLU.

NeMF reads block ``h`` (1-based over all residual blocks of layer1..layer4) *after* the
residual addition and *before* the block's final ReLU; id 0 is the stem output (after the max
pool).  timm's blocks apply that ReLU as a separate module (``act3`` in a Bottleneck, ``act2``
in a BasicBlock), so a forward pre-hook on it sees exactly the wanted tensor.  timm
``resnet101`` has the same parameter names as torchvision's, hence as the official checkpoint.
"""

from __future__ import annotations

import torch
from torch import nn

from corrbench.errors import UsageError
from corrbench.training.pretrained import timm_model

_STRIDE_OF_LAYER = {1: 4, 2: 8, 3: 16, 4: 32}


class HyperpixelBackbone(nn.Module):
    """``forward(images) -> list`` of 4 feature maps at strides 4, 8, 16, 32."""

    def __init__(self, name: str, ids: tuple[int, ...], pretrained: bool = False,
                 channels: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.net = _create(name, pretrained, channels)
        self.ids = tuple(int(i) for i in ids)
        blocks = [(layer, block) for layer in range(1, 5) for block in getattr(self.net, f"layer{layer}")]
        if max(self.ids) > len(blocks):
            raise UsageError(f"nemf hyperpixel id {max(self.ids)} exceeds the {len(blocks)} blocks of {name}")
        self._blocks = blocks
        self.channels: list[int] = []
        self.strides: list[int] = []
        for hid in self.ids:
            if hid == 0:
                self.channels.append(int(self.net.bn1.num_features))
                self.strides.append(4)
                continue
            layer, block = blocks[hid - 1]
            last_bn = block.bn3 if hasattr(block, "bn3") else block.bn2
            self.channels.append(int(last_bn.num_features))
            self.strides.append(_STRIDE_OF_LAYER[layer])
        if self.strides != [4, 8, 16, 32]:
            raise UsageError(f"nemf hyperpixel {list(self.ids)} of {name} gives strides {self.strides}; "
                             "NeMF needs one block at each stride 4, 8, 16, 32")
        self._last_needed = max(self.ids)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        net = self.net
        x = net.maxpool(net.act1(net.bn1(net.conv1(images))))
        captured: list[torch.Tensor] = [x] if 0 in self.ids else []
        for hid, (_, block) in enumerate(self._blocks, start=1):
            if hid > self._last_needed:
                break
            act = block.act3 if hasattr(block, "act3") else block.act2
            if hid in self.ids:
                handle = act.register_forward_pre_hook(lambda _m, args: captured.append(args[0].clone()))
                try:
                    x = block(x)
                finally:
                    handle.remove()
            else:
                x = block(x)
        return captured


def _create(name: str, pretrained: bool, channels: tuple[int, ...] | None = None) -> nn.Module:
    import timm

    if not timm.is_model(name) or not name.startswith("resnet"):
        raise UsageError(f"nemf backbone must be a timm ResNet (e.g. resnet101, resnet50, resnet10t), got '{name}'")
    tag = f"{name}.tv_in1k" if name == "resnet101" else name  # the official ImageNet weights (torchvision V1)
    width = {} if channels is None else {"channels": tuple(channels), "stem_width": int(channels[0])}
    if width and pretrained:
        raise UsageError("nemf backbone_channels changes the backbone width: no pretrained weights exist for it")
    return timm_model(tag, pretrained, advice="use pretrained=false or a checkpoint that contains the backbone",
                      num_classes=0, **width)
