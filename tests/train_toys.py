"""A tiny trainable method and its data for the training-loop tests (in-process and under torchrun).

``OffsetNet`` predicts each pair's target->source offset from the pair's mean colours with a small
MLP; its loss is the mean over pairs of a per-pair error, so the update on a batch equals the
summed updates of its shares (what data parallelism and accumulation rely on).  ``noise`` weighs
each pair by a factor drawn from torch's generator (to test that RNG states resume exactly); ``sleep`` slows each
step (so a test can kill a run mid-way).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from corrbench.api import DIRECTIONS, Pair, Prediction
from corrbench.data.pair_list import PairList
from corrbench.training import TrainableMethod, TrainConfig


class OffsetNet(TrainableMethod):
    name = "offset-net"
    version = "1"

    def __init__(self, weights=None, device="cpu", hidden: int = 8, noise: float = 0.0, sleep: float = 0.0,
                 batchnorm: bool = False) -> None:
        super().__init__(weights=weights, device=device)
        self.options = {"hidden": hidden, "batchnorm": batchnorm}
        self.noise, self.sleep = float(noise), float(sleep)
        generator = torch.Generator().manual_seed(0)
        layers: list[torch.nn.Module] = [torch.nn.Linear(3, hidden)]
        if batchnorm:
            layers.append(torch.nn.BatchNorm1d(hidden))
        layers += [torch.nn.Tanh(), torch.nn.Linear(hidden, 2)]
        self.module = torch.nn.Sequential(*layers)
        with torch.no_grad():
            for parameter in self.module.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)

    def architecture_options(self):
        return ("hidden", "batchnorm")

    def default_train_config(self):
        return TrainConfig(epochs=3, batch_size=4, lr=0.05)

    @staticmethod
    def features(pairs) -> torch.Tensor:
        return torch.tensor(np.stack([p.src_image.reshape(-1, 3).mean(0) / 255.0 for p in pairs]), dtype=torch.float32)

    def training_loss(self, pairs, step):
        if self.sleep:
            time.sleep(self.sleep)
        offset = self.module(self.features(pairs))
        target = torch.tensor(np.stack([(p.src_kps - p.trg_kps).mean(0) for p in pairs]), dtype=torch.float32)
        per_pair = ((offset - target) ** 2).mean(1)
        if self.noise:
            per_pair = per_pair * (1 + self.noise * torch.randn(len(pairs)))  # the update depends on the RNG
        return per_pair.mean(), {}

    def predict(self, pairs, directions=DIRECTIONS):
        with torch.no_grad():
            offset = self.module(self.features(pairs)).numpy().astype(np.float64)
        out = []
        for pair, shift in zip(pairs, offset):
            prediction = Prediction()
            prediction.points["trg_to_src"] = pair.trg_kps + shift
            prediction.points["src_to_trg"] = pair.src_kps - shift
            out.append(prediction)
        return out


def offset_pairs(count: int, seed: int = 0) -> PairList:
    """Pairs whose offset is a fixed linear function of the source image's mean colour."""
    rng = np.random.default_rng(seed)
    pairs = []
    for index in range(count):
        colour = rng.integers(20, 235, 3)
        src = np.broadcast_to(colour.astype(np.uint8), (48, 64, 3)).copy()
        trg = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        trg_kps = rng.uniform(12, 36, (5, 2))
        shift = (colour / 255.0 - 0.5) @ np.array([[24.0, -8.0], [4.0, 16.0], [-12.0, 8.0]])
        src_kps = np.clip(trg_kps + shift, 0, 47)
        pairs.append(Pair(f"p{index:03d}", "a" if index % 2 else "b", src, trg, src_kps, trg_kps,
                          src_bbox=np.array([0, 0, 63, 47], float), trg_bbox=np.array([0, 0, 63, 47], float)))
    return PairList(pairs)
