"""The siamese feature extractor: torchvision ResNet-101 (paper) or any timm ``features_only`` model.

It returns two consecutive stages (fine, coarse): layer3 (stride 16) and layer4 (stride 32) in
the paper.  Weights come from a torchvision-format file, from torchvision/timm when online
(``pretrained=True``), or from a seeded random init (offline).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from corrbench.training.checkpoints import load_checkpoint
from corrbench.errors import CheckpointError, UsageError
from corrbench.training.pretrained import timm_model, torchvision_model

_TV_CHANNELS = {1: 256, 2: 512, 3: 1024, 4: 2048}
_TV_STRIDES = {1: 4, 2: 8, 3: 16, 4: 32}


class Backbone(nn.Module):
    """Feature extractor returning ``(fine, coarse)`` maps; ``channels``/``strides`` describe them."""

    def __init__(self, name: str, levels: tuple[int, int], pretrained: bool = False) -> None:
        super().__init__()
        self.name = name
        self.levels = tuple(int(level) for level in levels)
        if name.startswith("timm:"):
            self._kind = "timm"
            self.net = _timm_features(name[len("timm:"):], self.levels, pretrained)
            info = self.net.feature_info
            self.channels = tuple(int(c) for c in info.channels())
            self.strides = tuple(int(s) for s in info.reduction())
        elif name == "resnet101":
            self._kind = "torchvision"
            self.net = torchvision_model("resnet101", pretrained, advice="pass backbone_weights=FILE (resnet101-5d3b4d8f.pth) or pretrained=false")
            if not all(level in _TV_CHANNELS for level in self.levels):
                raise UsageError(f"resnet101 levels must be among 1..4, got {self.levels}")
            self.net.fc = nn.Identity()  # never used: keeps the classifier out of memory and checkpoints
            self.channels = tuple(_TV_CHANNELS[level] for level in self.levels)
            self.strides = tuple(_TV_STRIDES[level] for level in self.levels)
        else:
            raise UsageError(f"unknown sfnet backbone '{name}': use 'resnet101' (torchvision, the paper) "
                             "or 'timm:<model name>' (any timm model with features_only)")
        if self.strides[1] != 2 * self.strides[0]:
            raise UsageError(f"backbone {name} levels {self.levels} have strides {self.strides}; "
                             "SFNet needs the coarse stage at twice the stride of the fine one")

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self._kind == "timm":
            fine, coarse = self.net(images)
            return fine, coarse
        net = self.net
        x = net.maxpool(net.relu(net.bn1(net.conv1(images))))
        outputs = []
        for level, layer in enumerate((net.layer1, net.layer2, net.layer3, net.layer4), start=1):
            x = layer(x)
            if level in self.levels:
                outputs.append(x)
            if level == self.levels[1]:
                break
        return outputs[0], outputs[1]

    def load_weights_file(self, path: str | Path) -> None:
        """Load a torchvision-format state dict (classifier and unused keys ignored, others strict)."""
        state = load_checkpoint(path)
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        if not isinstance(state, dict) or not state:
            raise CheckpointError(f"{path} is not a state dict of backbone weights")
        if all(key.startswith("module.") for key in state):
            state = {key[len("module."):]: value for key, value in state.items()}
        own = self.net.state_dict()
        state = {key: value for key, value in state.items() if key in own}
        missing = [key for key in own if key not in state and not key.endswith("num_batches_tracked")]
        if missing:
            raise CheckpointError(f"{path} does not hold {self.name} weights: {len(missing)} missing key(s), "
                                  f"e.g. {missing[:2]}")
        bad = [key for key, value in state.items() if tuple(value.shape) != tuple(own[key].shape)]
        if bad:
            raise CheckpointError(f"{path}: shape mismatch for {bad[:2]} (is it a {self.name} checkpoint?)")
        self.net.load_state_dict(state, strict=False)



def _timm_features(model_name: str, levels: tuple[int, int], pretrained: bool) -> nn.Module:
    import timm

    if not timm.is_model(model_name):
        raise UsageError(f"unknown timm model '{model_name}' for the sfnet backbone (see timm.list_models())")
    try:
        return timm_model(model_name, pretrained, advice="pass backbone_weights=FILE or pretrained=false",
                          features_only=True, out_indices=levels)
    except CheckpointError:
        raise
    except Exception as error:  # the levels do not fit this model
        raise UsageError(f"timm '{model_name}' with features_only, out_indices={levels} failed: "
                         f"{str(error)[:160]}") from error
