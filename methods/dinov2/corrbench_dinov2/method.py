"""``dinov2``: zero-shot matching with DINOv2 patch tokens (a :class:`~corrbench.matching.base.FeatureMatcher`).

The defaults are GeoAware-SC's DINOv2 zero-shot setting (Zhang et al., CVPR 2024; facts with file and
line in the plugin README): ViT-B/14 without registers, input 840x840 (long side 840, centred zero
padding; 60x60 tokens), the output tokens of the last block, L2-normalised, cosine similarity, the
source keypoint's token matched by a window soft-argmax (11x11 tokens, temperature 0.02).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from corrbench.errors import UsageError
from corrbench.matching.base import FeatureMap, FeatureMatcher, MatchingOptions
from corrbench.matching.readouts import Readout, ReadoutName
from corrbench.matching.resolution import Resolution, ResolutionPolicy
from corrbench.training.config import option, typed_config
from corrbench.training.learned import IMAGENET_MEAN, IMAGENET_STD, seeded
from corrbench_dinov2.backbone import PATCH, ModelSize, block_tokens, build_vit, timm_name

DEPTHS = {"vits14": 12, "vitb14": 12, "vitl14": 24}


@dataclass(frozen=True)
class DINOv2Options:
    """The options of ``dinov2``, typed and ranged (checked before the model is built)."""

    model: ModelSize = "vitb14"
    registers: bool = False
    pretrained: bool = True
    layer: int = -1  # block index, 0-based; negative counts from the end (-1 = last = GeoAware's 11 of ViT-B)
    resolution: ResolutionPolicy = "long_side_pad"
    size: int = option(840, ge=14, le=2240, why="tokens grow with size², their similarity block with size⁴")
    readout: ReadoutName = "window_softargmax"
    temperature: float = option(0.02, gt=0)
    window: int = option(5, ge=1, le=64)  # half-width in tokens: (2*window+1)² tokens
    sigma: float = option(5.0, gt=0)  # kernel_softargmax only, in tokens
    mutual: bool = False
    points: bool = True
    backbone_batch: int = option(4, ge=1, le=256, why="ViT activations grow with the batch")
    cache_mb: int = option(1024, ge=0)
    chunk_mb: int = option(64, ge=1, why="one similarity block; readouts hold a few")
    seed: int = 0  # random init only (pretrained=false)


class DINOv2Method(FeatureMatcher):
    """DINOv2 token features + a readout; ``pretrained=true`` (default) needs the weights once."""

    name = "dinov2"
    version = "1"
    #: ``python -m corrbench.bench`` times the default configuration with random weights (no download).
    bench_options: ClassVar[dict[str, Any]] = {"pretrained": False}

    def __init__(self, weights: str | None = None, device: str = "cpu", model: str = "vitb14",
                 registers: bool = False, pretrained: bool = True, layer: int = -1,
                 resolution: str = "long_side_pad", size: int = 840, readout: str = "window_softargmax",
                 temperature: float = 0.02, window: int = 5, sigma: float = 5.0, mutual: bool = False,
                 points: bool = True, backbone_batch: int = 4, cache_mb: int = 1024, chunk_mb: int = 64,
                 seed: int = 0) -> None:
        config = typed_config(self.name, DINOv2Options, dict(
            model=model, registers=registers, pretrained=pretrained, layer=layer, resolution=resolution,
            size=size, readout=readout, temperature=temperature, window=window, sigma=sigma, mutual=mutual,
            points=points, backbone_batch=backbone_batch, cache_mb=cache_mb, chunk_mb=chunk_mb, seed=seed))
        depth = DEPTHS[config.model]
        if not -depth <= config.layer < depth:
            raise UsageError(f"method 'dinov2' option layer: {config.model} has blocks 0..{depth - 1} "
                             f"(or -{depth}..-1 from the end), got {config.layer}")
        self.resolution = Resolution(config.resolution, config.size, PATCH)  # checks size % 14
        super().__init__(weights=weights, device=device, matching=MatchingOptions(
            readout=Readout(config.readout, temperature=config.temperature, window=float(config.window),
                            window_shape="square", window_outside="zero", sigma=config.sigma),
            mutual=config.mutual, points=config.points, cache_mb=config.cache_mb, chunk_mb=config.chunk_mb))
        self.config = config
        self.block = config.layer % depth
        self.timm_name = timm_name(config.model, config.registers)
        with seeded(config.seed):
            self.vit = build_vit(self.timm_name, config.pretrained, weights)
        self.vit.to(device).eval()
        self.images_embedded = 0  # how many images went through the backbone (the cache's saving)
        self._identity = (self.timm_name, self.weights_tag(), config.seed, self.block, self.resolution)

    def weights_tag(self) -> str:
        if self.weights is not None:
            return super().weights_tag()
        return f"timm:{self.timm_name}" if self.config.pretrained else "random-init"

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), "backbone": self.timm_name, "block": self.block,
                "resolution": f"{self.config.resolution} {self.config.size}", "readout": self.config.readout}

    def feature_identity(self) -> tuple:
        return self._identity

    def compute_features(self, images: list[np.ndarray]) -> list[FeatureMap]:
        prepared = [self.resolution.prepare(image) for image in images]
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for index, (array, _) in enumerate(prepared):
            by_shape.setdefault(array.shape, []).append(index)
        maps: list[FeatureMap | None] = [None] * len(images)
        mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)
        step = self.config.backbone_batch
        for indices in by_shape.values():
            for start in range(0, len(indices), step):
                chunk = indices[start: start + step]
                batch = torch.from_numpy(np.stack([prepared[i][0] for i in chunk])).to(self.device)
                batch = (batch.permute(0, 3, 1, 2).float() / 255.0 - mean) / std
                tokens = block_tokens(self.vit, batch, self.block)
                for i, grid in zip(chunk, tokens):
                    rows = torch.nn.functional.normalize(grid.flatten(1).T, dim=1).contiguous()
                    maps[i] = FeatureMap(rows, prepared[i][1])
        self.images_embedded += len(images)
        return maps  # type: ignore[return-value]
