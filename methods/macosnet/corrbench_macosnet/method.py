"""``macosnet``: the corrbench method (inference, weakly supervised training loss, weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from corrbench.api import DIRECTIONS, CorrespondenceField, Dataset, Direction, Pair, Prediction
from corrbench.training import LearnedMethod, OfficialWeights, TrainConfig, seeded
from corrbench_macosnet.checkpoint import load_official, official_state
from corrbench_macosnet.config import ARCHITECTURE_OPTIONS, PRESETS, MaCoSNetConfig
from corrbench_macosnet.geometry import compose_points
from corrbench_macosnet.model import MaCoSNetModel
from corrbench_macosnet.preprocess import pixel_grid, to_input, to_pixels
from corrbench_macosnet.training_step import joint_loss
from corrbench_macosnet.triplets import TripletSampler, batch_third_images


class MaCoSNetMethod(LearnedMethod[MaCoSNetConfig]):
    """Joint matching + co-segmentation (TPAMI'20).  ``config=paper`` (default), ``joint`` or ``embedded``."""

    name = "macosnet"
    version = "3"
    supports_batching = True
    batch_size = 8
    presets = PRESETS
    architecture = ARCHITECTURE_OPTIONS
    official_description = "an official MaCoSNet/weakalign state dict (keys 'FeatureExtraction.model.*')"
    pretrained_tag = "imagenet-encoder+random-heads"
    pretrained_kind = "imagenet-encoder"

    def __init__(self, weights: str | None = None, device: str = "cpu", pretrained: bool = False,
                 config: str | None = None, seed: int = 0, **options: Any) -> None:
        self.random_parts: list[str] = []
        super().__init__(weights=weights, device=device, pretrained=pretrained, config=config, seed=seed, **options)
        self._perceptual: torch.nn.Module | None = None
        self._sampler: TripletSampler | None = None

    # --- model and weights ---------------------------------------------------------------------
    def build_module(self) -> MaCoSNetModel:
        return MaCoSNetModel(self.config, pretrained=self.pretrained)

    def official_weights(self, payload: Any, path: Path) -> OfficialWeights | None:
        state = official_state(payload)
        return None if state is None else OfficialWeights(state)

    def load_official(self, official: OfficialWeights, source: str) -> None:
        self.random_parts = load_official(self.module, official.state, source)

    def weights_tag_suffix(self) -> str:
        return "".join(f"+random-{part}" for part in self.random_parts)

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), "config": self.options["config"], "encoder": self.config.encoder,
                "weights_kind": self.weights_kind, "seed": self.seed}

    # --- inference ---------------------------------------------------------------------------
    def predict(self, pairs: Sequence[Pair], directions: Sequence[Direction] = DIRECTIONS) -> list[Prediction]:
        if not pairs:
            return []
        self.module.eval()
        size, count = self.config.image_size, len(pairs)
        images = torch.stack([to_input(image, size, self.preprocessing)
                              for image in [p.src_image for p in pairs] + [p.trg_image for p in pairs]])
        images = images.to(self.device)
        with torch.no_grad():
            encoded = self.module.encode(images)
            f_src, f_trg = _split(encoded, count)
            theta_st, corr_st = self.module.affine(f_src, f_trg)  # trg frame -> src frame
            theta_ts, corr_ts = self.module.affine(f_trg, f_src)
            offset = self.config.mask_logit_offset  # prior correction of the co-saliency term (0 for the paper)
            masks_src = torch.sigmoid(self.module.mask_logits(f_src, corr_ts) + offset)
            masks_trg = torch.sigmoid(self.module.mask_logits(f_trg, corr_st) + offset)
            tps_st = tps_ts = None
            if self.config.use_tps:
                if "trg_to_src" in directions:
                    tps_st, _ = self.module.tps(images[:count], theta_st, f_trg)
                if "src_to_trg" in directions:
                    tps_ts, _ = self.module.tps(images[count:], theta_ts, f_src)
        predictions = []
        for i, pair in enumerate(pairs):
            prediction = Prediction(src_mask=_mask_at(masks_src[i], pair.src_size),
                                    trg_mask=_mask_at(masks_trg[i], pair.trg_size))
            if "trg_to_src" in directions:
                prediction.trg_to_src = self._field(theta_st[i], tps_st[i] if tps_st is not None else None,
                                                    pair.trg_size, pair.src_size)
            if "src_to_trg" in directions:
                prediction.src_to_trg = self._field(theta_ts[i], tps_ts[i] if tps_ts is not None else None,
                                                    pair.src_size, pair.trg_size)
            predictions.append(prediction)
        return predictions

    def _field(self, theta_aff: torch.Tensor, theta_tps: torch.Tensor | None, query_size: tuple[int, int],
               other_size: tuple[int, int]) -> CorrespondenceField:
        """Every query pixel through ``Aff(TPS(p))`` (lambda = tps_reg_eval) into the other image."""
        points = pixel_grid(query_size, theta_aff.device)
        mapped = compose_points(theta_aff[None], None if theta_tps is None else theta_tps[None], points[None],
                                self.config.tps_reg_eval)[0]
        coords = to_pixels(mapped, other_size).reshape(query_size[0], query_size[1], 2)
        return CorrespondenceField(coords.float().cpu().numpy(), query_size)

    # --- training ----------------------------------------------------------------------------
    def prepare_training(self, dataset: Dataset, config: TrainConfig) -> None:
        """Called by the shared loop: third images for the triplets come from this dataset."""
        self._sampler = TripletSampler(dataset, seed=config.seed)

    def perceptual(self) -> torch.nn.Module:
        """The frozen judge of the co-segmentation loss (built on first use, never checkpointed)."""
        if self._perceptual is None:
            from corrbench_macosnet.encoder import PerceptualResNet50

            with seeded(self.seed + 1):
                self._perceptual = PerceptualResNet50(pretrained=self.pretrained).to(self.device)
        return self._perceptual

    def training_loss(self, pairs: Sequence[Pair], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """Weak supervision only: the pair's images plus a third image of the same category."""
        if self._sampler is not None:
            thirds = [self._sampler.third_image(p, step, i) for i, p in enumerate(pairs)]
        else:
            thirds = batch_third_images(pairs)
        size = self.config.image_size
        src = torch.stack([to_input(p.src_image, size, self.preprocessing) for p in pairs]).to(self.device)
        trg = torch.stack([to_input(p.trg_image, size, self.preprocessing) for p in pairs]).to(self.device)
        has_third = [i for i, image in enumerate(thirds) if image is not None]
        third = None
        if has_third:
            third = torch.stack([to_input(thirds[i], size, self.preprocessing) for i in has_third]).to(self.device)
        return joint_loss(self, src, trg, third, has_third, step)


def _split(encoded, count: int):
    from corrbench_macosnet.model import Encoded

    first = Encoded([s[:count] for s in encoded.skips], encoded.match[:count])
    second = Encoded([s[count:] for s in encoded.skips], encoded.match[count:])
    return first, second


def _mask_at(mask: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """The square network mask resized to the image (align-corners, as the input resize)."""
    resized = F.interpolate(mask[None], size=size, mode="bilinear", align_corners=True)[0, 0]
    return resized.float().clamp(0, 1).cpu().numpy().astype(np.float32)

