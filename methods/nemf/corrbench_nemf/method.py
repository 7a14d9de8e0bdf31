"""``nemf``: the corrbench method (inference, training loss, weights handling)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from corrbench.api import DIRECTIONS, CorrespondenceField, Direction, Pair, Prediction
from corrbench.errors import CheckpointError, UsageError
from corrbench.training import LearnedMethod, OfficialWeights, Preprocessing
from corrbench_nemf.checkpoint import load_official, official_state, read_official_args
from corrbench_nemf.config import ARCHITECTURE_OPTIONS, NEMF_INPUT, PRESETS, NeMFConfig
from corrbench_nemf.losses import batch_correspondences, coarse_flow_loss, matching_loss
from corrbench_nemf.model import Encoded, NeMFModel
from corrbench_nemf.search import initial_field, optimise_points, patchmatch, soft_argmax

def encoder_input(images: Sequence[np.ndarray], size: int, preprocessing: Preprocessing = NEMF_INPUT) -> torch.Tensor:
    """uint8 RGB -> ImageNet-normalised, then bicubic (align-corners) to size² as the official test."""
    out = []
    for image in images:
        x = torch.from_numpy(np.ascontiguousarray(image[..., :3])).permute(2, 0, 1).float() / 255.0
        x = preprocessing.normalize(x)
        out.append(F.interpolate(x[None], size=(size, size), mode="bicubic", align_corners=True)[0])
    return torch.stack(out)


def pad_to_same_shape(pair: Pair) -> Pair:
    """Both images zero-padded at the bottom and right to (max height, max width), keypoints unmoved.

    The official ``pad_to_same_shape`` of NeMF's PF-PASCAL and PF-WILLOW loaders: every later step
    (resize to the network input, coordinate normalisation, PatchMatch grid, mapping back to pixels)
    then works in the padded frame, whose pixel coordinates equal the original ones.
    """
    height = max(pair.src_size[0], pair.trg_size[0])
    width = max(pair.src_size[1], pair.trg_size[1])

    def pad(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        return np.pad(image, ((0, height - h), (0, width - w)) + ((0, 0),) * (image.ndim - 2))

    return dataclasses.replace(pair, src_image=pad(pair.src_image), trg_image=pad(pair.trg_image))


def crop_field(field: CorrespondenceField, size: tuple[int, int]) -> CorrespondenceField:
    """The cells of a padded query image's field that cover the original ``size`` (top-left crop)."""
    (padded_h, padded_w), (h, w) = field.image_size, size
    rows, cols = field.coords.shape[:2]
    keep_rows = min(rows, int(np.ceil(rows * h / padded_h - 1e-9)))
    keep_cols = min(cols, int(np.ceil(cols * w / padded_w - 1e-9)))
    return CorrespondenceField(np.ascontiguousarray(field.coords[:keep_rows, :keep_cols]), size)


def grid_shape(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """PatchMatch grid: the image's own resolution (official) or at most ``max_side`` per side."""
    height, width = size
    if max_side and max(height, width) > max_side:
        scale = max_side / max(height, width)
        height, width = round(height * scale), round(width * scale)
    return max(2, int(height)), max(2, int(width))


def to_pixels(points: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    height, width = size
    scale = torch.tensor([(width - 1) / 2, (height - 1) / 2], dtype=points.dtype, device=points.device)
    return ((points + 1) * scale).float().cpu().numpy().astype(np.float64)


def to_normalised(points: np.ndarray, size: tuple[int, int], device: Any) -> torch.Tensor:
    height, width = size
    p = torch.as_tensor(np.asarray(points, np.float64).reshape(-1, 2), dtype=torch.float32, device=device)
    return torch.stack((p[:, 0] / (width - 1) * 2 - 1, p[:, 1] / (height - 1) * 2 - 1), dim=1)


class NeMFMethod(LearnedMethod[NeMFConfig]):
    """NeMF (NeurIPS'22).  ``config=paper`` (default) or ``embedded``; see the plugin README."""

    name = "nemf"
    #: 2: the embedded preset searches 24 cells per side for 10 iterations (was 48 and 20), and a
    #: checkpoint no longer imposes that search budget (an inference setting, like chunk_points).
    version = "2"
    supports_batching = True
    batch_size = 4
    presets = PRESETS
    architecture = ARCHITECTURE_OPTIONS
    official_description = "an official NeMF model_best.pth ({'state_dict': ...})"
    #: Inference settings a checkpoint does not impose: the speed knob chunk_points (same numbers) and
    #: the PatchMatch budget, which the preset (or an explicit option) sets for the evaluation.
    unrestored_options = ("chunk_points", "patchmatch_iters", "grid_max_side")
    #: The official test path pads both images to a common size on these benchmarks only.
    benchmark_options: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "pfpascal": {"pad_to_same_shape": True}, "pfwillow": {"pad_to_same_shape": True}}
    pretrained_tag = "imagenet-backbone+random-init"

    def __init__(self, weights: str | None = None, device: str = "cpu", pretrained: bool = False,
                 config: str | None = None, seed: int = 0, official_args: str | None = None, **options: Any) -> None:
        self.official_args = official_args
        super().__init__(weights=weights, device=device, pretrained=pretrained, config=config, seed=seed, **options)
        self._train_generator = torch.Generator().manual_seed(self.seed)

    def build_module(self) -> NeMFModel:
        return NeMFModel(self.config, pretrained=self.pretrained)

    def official_weights(self, payload: Any, path: Path) -> OfficialWeights | None:
        """``model_best.pth``; its architecture comes from ``args.pkl`` beside it (or ``official_args``)."""
        if official_state(payload) is None:
            return None
        args_file = Path(self.official_args) if self.official_args else path.with_name("args.pkl")
        if args_file.is_file():
            return OfficialWeights(payload, read_official_args(args_file))
        if self.official_args:
            raise CheckpointError(f"official args file not found: {args_file}")
        return OfficialWeights(payload)

    def load_official(self, official: OfficialWeights, source: str) -> None:
        load_official(self.module, official.state, source)

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), "config": self.options["config"], "weights_kind": self.weights_kind,
                "patchmatch_iters": self.config.patchmatch_iters, "opt_steps": self.config.opt_steps}

    # --- inference ---------------------------------------------------------------------------
    def encode(self, pairs: Sequence[Pair]) -> Encoded:
        """Encoder for a batch of pairs; each distinct image goes through the backbone once."""
        from corrbench.cache import image_key

        keys, unique = [], {}
        for image in [p.src_image for p in pairs] + [p.trg_image for p in pairs]:
            key = image_key(image)
            keys.append(key)
            unique.setdefault(key, image)
        batch = encoder_input(list(unique.values()), self.config.input_size, self.preprocessing).to(self.device)
        feats = self.module.features(batch)
        row = {key: i for i, key in enumerate(unique)}
        n = len(pairs)
        src_rows = torch.tensor([row[k] for k in keys[:n]], device=self.device)
        trg_rows = torch.tensor([row[k] for k in keys[n:]], device=self.device)
        return self.module.encode([f[src_rows] for f in feats], [f[trg_rows] for f in feats])

    def _scorer(self, volumes, direction: Direction):
        chunk = self.config.chunk_points

        def score(pair_ids: torch.Tensor, query: torch.Tensor, candidate: torch.Tensor) -> torch.Tensor:
            if direction == "trg_to_src":
                return self.module.field.score(volumes, pair_ids, candidate, query, chunk)
            return self.module.field.score(volumes, pair_ids, query, candidate, chunk)

        return score

    def coarse_fields(self, encoded: Encoded, direction: Direction) -> torch.Tensor:
        """(B, 2, S, S): other-image coordinates on the query image's coarse grid."""
        s = self.config.feature_size
        cost = encoded.mean_cost if direction == "trg_to_src" else encoded.mean_cost.transpose(1, 2)
        return soft_argmax(cost.reshape(cost.shape[0], s * s, s, s), self.config.beta)

    def match(self, pairs: Sequence[Pair], encoded: Encoded, direction: Direction,
              iterations: int | None = None) -> tuple[list[torch.Tensor], list[np.ndarray]]:
        """PatchMatch fields (per pair, normalised) and optimised query keypoints (pixels)."""
        cfg = self.config
        query_side = "trg" if direction == "trg_to_src" else "src"
        sizes = [(p.trg_size, p.src_size) if direction == "trg_to_src" else (p.src_size, p.trg_size) for p in pairs]
        coarse = self.coarse_fields(encoded, direction)
        init = [initial_field(coarse[i], grid_shape(q, cfg.grid_max_side)) for i, (q, _) in enumerate(sizes)]
        with torch.no_grad():
            volumes = self.module.field.volumes(encoded.refined, encoded.mean_cost, cfg.feature_size)
        score = self._scorer(volumes, direction)
        generators = [torch.Generator(device=self.device).manual_seed(self.seed) for _ in pairs]
        steps = cfg.patchmatch_iters if iterations is None else iterations
        result = patchmatch(score, init, steps, cfg.search_radius, cfg.clamp_radius, generators, cfg.search_decay)
        queries = [to_normalised(p.kps(query_side), q, self.device) for p, (q, _) in zip(pairs, sizes)]
        optimised = optimise_points(score, result.fields, queries, cfg.opt_steps, cfg.opt_lr, cfg.opt_eta_min,
                                    cfg.opt_weight_decay, cfg.clamp_radius)
        points = [to_pixels(pts, other) for pts, (_, other) in zip(optimised, sizes)]
        return result.fields, points

    @staticmethod
    def dense_field(field: torch.Tensor, query_size: tuple[int, int], other_size: tuple[int, int]) -> CorrespondenceField:
        """An align-corners (h, w) PatchMatch field -> the contract's cell-centre field, in pixels."""
        h, w = field.shape[:2]
        height, width = query_size
        xs = ((torch.arange(w, device=field.device) + 0.5) * width / w - 0.5) / max(width - 1, 1) * 2 - 1
        ys = ((torch.arange(h, device=field.device) + 0.5) * height / h - 0.5) / max(height - 1, 1) * 2 - 1
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        grid = torch.stack((gx, gy), dim=-1)[None].to(field.dtype)
        sampled = F.grid_sample(field.permute(2, 0, 1)[None], grid, mode="bilinear", padding_mode="border",
                                align_corners=True)[0].permute(1, 2, 0)
        return CorrespondenceField(to_pixels(sampled.reshape(-1, 2), other_size).reshape(h, w, 2), query_size)

    def predict(self, pairs: Sequence[Pair], directions: Sequence[Direction] = DIRECTIONS) -> list[Prediction]:
        # Coordinate optimisation takes gradients w.r.t. the query points, so a caller's
        # torch.inference_mode() (tensors that can never join autograd) is lifted here; no_grad is
        # lifted inside the optimiser. Nothing reaches the weights' .grad either way.
        with torch.inference_mode(False):
            return self._predict(pairs, directions)

    def _predict(self, pairs: Sequence[Pair], directions: Sequence[Direction]) -> list[Prediction]:
        if not pairs:
            return []
        self.module.eval()
        inputs = [pad_to_same_shape(p) for p in pairs] if self.config.pad_to_same_shape else list(pairs)
        with torch.no_grad():
            encoded = self.encode(inputs)
        predictions = [Prediction() for _ in pairs]
        for direction in directions:
            fields, points = self.match(inputs, encoded, direction)
            for pair, given, prediction, field, pts in zip(inputs, pairs, predictions, fields, points):
                query, other = (pair.trg_size, pair.src_size) if direction == "trg_to_src" else (pair.src_size, pair.trg_size)
                dense = self.dense_field(field, query, other)
                original = given.trg_size if direction == "trg_to_src" else given.src_size
                setattr(prediction, direction, dense if original == query else crop_field(dense, original))
                prediction.points[direction] = pts
        return predictions

    # --- training ----------------------------------------------------------------------------
    def training_loss(self, pairs: Sequence[Pair], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.config
        for pair in pairs:
            if pair.flow_src_to_trg is None and not len(pair.src_kps):
                raise UsageError(f"nemf trains on ground-truth correspondences; pair '{pair.pair_id}' has "
                                 "neither keypoints nor a dense flow")
        generator = torch.Generator().manual_seed(int(torch.randint(2**62, (1,)).item()))
        gt = batch_correspondences(list(pairs), cfg.train_points, generator, self.device)
        encoded = self.encode(pairs)
        volumes = self.module.field.volumes(encoded.refined, encoded.mean_cost, cfg.feature_size)
        ce, accuracy = matching_loss(self.module.field, volumes, gt, cfg.candidates, generator, cfg.chunk_points)
        s = cfg.feature_size
        coarse = soft_argmax(encoded.mean_cost.reshape(-1, s * s, s, s), cfg.beta,
                             self.module.x_normal, self.module.y_normal)
        flow = coarse_flow_loss(coarse, gt)
        loss = ce + cfg.flow_weight * flow
        return loss, {"ce": float(ce.detach()), "flow_epe_cells": float(flow.detach()), "top1": accuracy}
