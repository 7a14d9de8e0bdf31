"""``macosnet``: the corrbench method (inference, weakly supervised training loss, weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from corrbench.api import DIRECTIONS, CorrespondenceField, Dataset, Direction, Pair, Prediction, Scored
from corrbench.eval.keypoints import transfer_queries_at
from corrbench.training import LearnedMethod, OfficialWeights, TrainConfig, seeded
from corrbench_macosnet.checkpoint import load_official, official_state
from corrbench_macosnet.config import ARCHITECTURE_OPTIONS, PRESETS, MaCoSNetConfig
from corrbench_macosnet.features import EncoderCache
from corrbench_macosnet.geometry import compose_points, correlation
from corrbench_macosnet.model import Encoded, MaCoSNetModel
from corrbench_macosnet.preprocess import pixel_grid, pixel_points, to_input, to_pixels
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
                 config: str | None = None, seed: int = 0, cache_mb: int = 512, **options: Any) -> None:
        self.random_parts: list[str] = []
        super().__init__(weights=weights, device=device, pretrained=pretrained, config=config, seed=seed, **options)
        # Keyed by image content and everything but the weights that changes the encoder's output.
        self.features = EncoderCache(int(cache_mb) * 2**20, self.config.encoder, tuple(self.config.widths),
                                     self.config.image_size, self.preprocessing)
        self.cache = self.features.cache  # the FeatureCache, under the name other methods and `make bench` use
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
        """Only what the task reads (``Scored``): keypoint protocols get ``points`` (equal to reading
        the dense field, which is never built) and masks only where ground truth has them."""
        if not pairs:
            return []
        self.module.eval()
        count, scored = len(pairs), [Scored.of(pair) for pair in pairs]
        src_masks = [i for i, s in enumerate(scored) if "src" in s.masks]
        trg_masks = [i for i, s in enumerate(scored) if "trg" in s.masks]
        backward, forward = "trg_to_src" in directions, "src_to_trg" in directions
        with torch.no_grad():
            encoded = self.features.encode(self.module, [p.src_image for p in pairs] + [p.trg_image for p in pairs],
                                           bool(src_masks or trg_masks), self.config.image_size, self.preprocessing,
                                           self.device)
            f_src, f_trg = _split(encoded, count)
            corr_st = correlation(f_src.match, f_trg.match) if backward or trg_masks else None
            corr_ts = correlation(f_trg.match, f_src.match) if forward or src_masks else None
            theta_st = self.module.regress_affine(corr_st) if backward else None  # trg frame -> src frame
            theta_ts = self.module.regress_affine(corr_ts) if forward else None
            masks_src = self._masks(f_src, corr_ts, src_masks)
            masks_trg = self._masks(f_trg, corr_st, trg_masks)
            tps_st = tps_ts = None
            if self.config.use_tps and backward:
                tps_st, _ = self.module.tps(self._inputs([p.src_image for p in pairs]), theta_st, f_trg)
            if self.config.use_tps and forward:
                tps_ts, _ = self.module.tps(self._inputs([p.trg_image for p in pairs]), theta_ts, f_src)
        predictions = []
        reg = self.config.tps_reg_eval
        for i, (pair, wanted) in enumerate(zip(pairs, scored)):
            prediction = Prediction(src_mask=_mask_at(masks_src[i], pair.src_size) if i in masks_src else None,
                                    trg_mask=_mask_at(masks_trg[i], pair.trg_size) if i in masks_trg else None)
            if backward:
                mapping = _PointMap(theta_st[i], None if tps_st is None else tps_st[i], pair.src_size, reg)
                _answer(prediction, "trg_to_src", mapping, pair.trg_size, pair.trg_kps, wanted)
            if forward:
                mapping = _PointMap(theta_ts[i], None if tps_ts is None else tps_ts[i], pair.trg_size, reg)
                _answer(prediction, "src_to_trg", mapping, pair.src_size, pair.src_kps, wanted)
            predictions.append(prediction)
        return predictions

    def _inputs(self, images: list[np.ndarray]) -> torch.Tensor:
        return self.features.inputs(images, self.config.image_size, self.preprocessing, self.device)

    def _masks(self, features: Encoded, corr: torch.Tensor | None, wanted: list[int]) -> dict[int, torch.Tensor]:
        """Foreground probabilities of the ``wanted`` pairs' images (decoder run on those only)."""
        if not wanted:
            return {}
        offset = self.config.mask_logit_offset  # prior correction of the co-saliency term (0 for the paper)
        picked = Encoded([level[wanted] for level in features.skips], features.match[wanted])
        probabilities = torch.sigmoid(self.module.mask_logits(picked, corr[wanted]) + offset)
        return dict(zip(wanted, probabilities))

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
        self.features.clear()  # the weights are about to change: cached encodings would be stale
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


def _split(encoded: Encoded, count: int) -> tuple[Encoded, Encoded]:
    first = Encoded([s[:count] for s in encoded.skips], encoded.match[:count])
    second = Encoded([s[count:] for s in encoded.skips], encoded.match[count:])
    return first, second


class _PointMap:
    """``Aff(TPS(p))`` (lambda = tps_reg_eval) of normalised query points, in the other image's pixels."""

    def __init__(self, theta_aff: torch.Tensor, theta_tps: torch.Tensor | None, other_size: tuple[int, int],
                 reg: float) -> None:
        self.theta_aff, self.theta_tps, self.other_size, self.reg = theta_aff, theta_tps, other_size, reg

    def __call__(self, points: torch.Tensor) -> np.ndarray:
        mapped = compose_points(self.theta_aff[None], None if self.theta_tps is None else self.theta_tps[None],
                                points[None], self.reg)[0]
        return to_pixels(mapped, self.other_size).float().cpu().numpy()

    def at_pixels(self, query_size: tuple[int, int]):
        """The field at integer pixels of the query image, as ``transfer_queries_at`` asks for it."""
        return lambda xy: self(pixel_points(xy, query_size, self.theta_aff.device))


def _answer(prediction: Prediction, direction: Direction, mapping: _PointMap, query_size: tuple[int, int],
            queries: np.ndarray, wanted: Scored) -> None:
    """The dense field over the query image or, when the task reads only keypoints, that field's
    read at the query keypoints (the same numbers, from the few pixels the read touches)."""
    if wanted.fields:
        coords = mapping(pixel_grid(query_size, mapping.theta_aff.device)).reshape(*query_size, 2)
        setattr(prediction, direction, CorrespondenceField(coords, query_size))
    else:
        prediction.points[direction] = transfer_queries_at(mapping.at_pixels(query_size), query_size, queries,
                                                           wanted.query_rounding)


def _mask_at(mask: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """The square network mask resized to the image (align-corners, as the input resize)."""
    resized = F.interpolate(mask[None], size=size, mode="bilinear", align_corners=True)[0, 0]
    return resized.float().clamp(0, 1).cpu().numpy().astype(np.float32)

