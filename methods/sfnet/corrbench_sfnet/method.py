"""``sfnet``: the corrbench method (inference, training loss, weights handling)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from corrbench.api import DIRECTIONS, CorrespondenceField, Direction, Pair, Prediction
from corrbench.cache import FeatureCache, image_key
from corrbench.errors import UsageError
from corrbench.training import LearnedMethod, OfficialWeights
from corrbench_sfnet.checkpoint import is_official, load_official
from corrbench_sfnet.config import ARCHITECTURE_OPTIONS, PRESETS, SFNetConfig
from corrbench_sfnet.losses import sfnet_loss
from corrbench_sfnet.model import SFNetModel
from corrbench_sfnet.preprocess import eval_input
from corrbench_sfnet.synthesis import synthesize


class SFNetMethod(LearnedMethod[SFNetConfig]):
    """SFNet (CVPR'19).  ``config=paper`` (default) or ``embedded``; see the plugin README."""

    name = "sfnet"
    version = "1"
    supports_batching = True
    batch_size = 8
    presets = PRESETS
    architecture = ARCHITECTURE_OPTIONS
    official_description = "the official SFNet file (a dict with 'state_dict1' and 'state_dict2')"

    def __init__(self, weights: str | None = None, device: str = "cpu", pretrained: bool = False,
                 config: str | None = None, backbone_weights: str | None = None, cache_mb: int = 512,
                 seed: int = 0, **options: Any) -> None:
        self.backbone_weights = backbone_weights
        super().__init__(weights=weights, device=device, pretrained=pretrained, config=config, seed=seed, **options)
        self.cache = FeatureCache(int(cache_mb) * 2**20)

    # --- model and weights ---------------------------------------------------------------------
    def build_module(self) -> SFNetModel:
        module = SFNetModel(self.config, pretrained=self.pretrained)
        if self.backbone_weights:
            module.backbone.load_weights_file(self.backbone_weights)
        return module

    def official_weights(self, payload: Any, path: Path) -> OfficialWeights | None:
        return OfficialWeights(payload) if is_official(payload) else None

    def load_official(self, official: OfficialWeights, source: str) -> None:
        load_official(self.module, official.state, source)

    @property
    def backbone_source(self) -> str:
        """Where the backbone's weights come from (a checkpoint holds them all)."""
        if self.weights_kind == "corrbench":
            return "checkpoint"
        if self.backbone_weights:
            return Path(self.backbone_weights).name
        if self.pretrained:
            return "torchvision IMAGENET1K_V1" if self.config.backbone == "resnet101" else "timm pretrained"
        return "random-init"

    def init_tag(self) -> str:
        return "random-init" if self.backbone_source == "random-init" else f"random-adaptation+{self.backbone_source}"

    def weights_tag_suffix(self) -> str:
        return "+random-init-backbone" if self.weights_kind == "official" and self.backbone_source == "random-init" else ""

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), "config": self.options["config"], "backbone": self.config.backbone,
                "backbone_weights": self.backbone_source, "weights_kind": self.weights_kind}

    # --- inference ---------------------------------------------------------------------------
    def _embeddings(self, images: list[np.ndarray]) -> list[torch.Tensor]:
        """One embedding per image, each distinct image through the network once (cached)."""
        size, stride = self.config.feature_size, self.module.stride
        keys = [image_key(image, size, stride) for image in images]
        pending: dict[Any, np.ndarray] = {}
        for key, image in zip(keys, images):
            if key not in self.cache and key not in pending:
                pending[key] = image
        computed: dict[Any, torch.Tensor] = {}
        if pending:
            batch = torch.stack([eval_input(image, size, stride, self.preprocessing) for image in pending.values()])
            with torch.no_grad():
                embedded = self.module.embed(batch.to(self.device))
            computed = dict(zip(pending, embedded))
        return [self.cache.get_or_compute(key, lambda key=key: computed[key]) for key in keys]

    def _border_scale(self) -> float:
        size = self.config.feature_size
        if self.config.exact_border_rescale:
            return (size - 1) / (size - 3)
        return (size // 2) / (size // 2 - 1)  # the official 10/9 for a 20x20 grid

    def _field(self, grid: torch.Tensor, query_size: tuple[int, int], other_size: tuple[int, int]) -> CorrespondenceField:
        """Official read-out: drop the padding cells, rescale, upsample to the query image
        (align-corners), then un-normalise into the other image (align-corners)."""
        inner = grid[1:-1, 1:-1] * self._border_scale()
        dense = F.interpolate(inner.permute(2, 0, 1)[None], size=query_size, mode="bilinear",
                              align_corners=True)[0].permute(1, 2, 0)
        height, width = other_size
        scale = torch.tensor([(width - 1) / 2, (height - 1) / 2], dtype=dense.dtype, device=dense.device)
        return CorrespondenceField(((dense + 1) * scale).float().cpu().numpy(), query_size)

    def predict(self, pairs: Sequence[Pair], directions: Sequence[Direction] = DIRECTIONS) -> list[Prediction]:
        if not pairs:
            return []
        self.module.eval()
        embedded = self._embeddings([p.src_image for p in pairs] + [p.trg_image for p in pairs])
        with torch.no_grad():
            matches = self.module.match(torch.stack(embedded[: len(pairs)]), torch.stack(embedded[len(pairs):]))
        predictions = []
        for index, pair in enumerate(pairs):
            prediction = Prediction()
            if "src_to_trg" in directions:
                prediction.src_to_trg = self._field(matches.grid_s2t[index], pair.src_size, pair.trg_size)
            if "trg_to_src" in directions:
                prediction.trg_to_src = self._field(matches.grid_t2s[index], pair.trg_size, pair.src_size)
            predictions.append(prediction)
        return predictions

    # --- training ----------------------------------------------------------------------------
    def training_loss(self, pairs: Sequence[Pair], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """Paper recipe: every image of the batch (source and target of each pair) with its mask
        becomes an affine-warped training pair; the dataset's own pairs are not used as pairs.
        A single-image item (``meta['single_image']``, e.g. ``voc-masks``) gives one sample."""
        images, masks = [], []
        for pair in pairs:
            sides = [(pair.src_image, pair.src_mask)]
            if not pair.meta.get("single_image"):
                sides.append((pair.trg_image, pair.trg_mask))
            for image, mask in sides:
                if mask is None:
                    raise UsageError(f"sfnet trains on foreground masks; pair '{pair.pair_id}' has none "
                                     "(use a dataset with masks, e.g. synthetic or voc-masks)")
                images.append(image)
                masks.append(mask)
        self.cache.clear()  # weights change: cached embeddings are stale
        size = self.config.feature_size
        batch = synthesize(images, masks, size * self.module.stride, size, self.config.affine_std,
                           self.config.color_jitter, self.preprocessing)
        matches = self.module(batch.src_images.to(self.device), batch.trg_images.to(self.device))
        return sfnet_loss(matches, batch.src_masks.to(self.device), batch.trg_masks.to(self.device),
                          self.config.lambdas)
