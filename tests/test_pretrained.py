"""Pretrained backbones: a download failure is one line; without pretrained nothing is hidden."""

from __future__ import annotations

import pytest

from corrbench.errors import CheckpointError
from corrbench.training.pretrained import build_pretrained, torchvision_model


def _offline() -> None:
    raise OSError("[Errno -3] Temporary failure in name resolution\n  (a long traceback follows)")


def test_unreachable_weights_are_a_one_line_error_with_advice():
    with pytest.raises(CheckpointError) as error:
        build_pretrained(_offline, "timm resnet101", pretrained=True, advice="pass --weights FILE")
    message = str(error.value)
    assert "\n" not in message and "timm resnet101" in message and "pass --weights FILE" in message


def test_without_pretrained_a_failure_is_not_disguised_as_a_download_problem():
    with pytest.raises(OSError):
        build_pretrained(_offline, "timm resnet101", pretrained=False)


def test_random_init_torchvision_model_builds_offline():
    net = torchvision_model("resnet18", pretrained=False)
    assert net.fc.out_features == 1000
