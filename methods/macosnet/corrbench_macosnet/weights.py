"""MaCoSNet's released weights: none.

No version of the official README links a trained model; its ``eval.sh`` expects
``trained_models/best_match_1.0_cycle_0.0_trans_0.0_coseg_0.0_task_0.0.pth.tar``, produced by its own
training (which starts from a ``weakalign.pth.tar`` it does not provide either).  The table is empty
on purpose, so that ``corrbench weights --method macosnet`` says so instead of guessing.  Its ImageNet
backbones are ``torchvision:resnet101`` and ``torchvision:resnet50`` (``corrbench weights --all``).
"""

from __future__ import annotations

from corrbench.weights.entry import WeightsEntry

WEIGHTS: tuple[WeightsEntry, ...] = ()
