"""``rtn``: Recurrent Transformer Networks (Kim et al., NeurIPS'18) as a corrbench method."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from corrbench.api import DIRECTIONS, Direction, Pair, Prediction
from corrbench.training import LearnedMethod, OfficialWeights
from corrbench_rtn.backbone import build_backbone
from corrbench_rtn.config import PRESETS, SHAPE_OPTIONS, RTNConfig
from corrbench_rtn.fields import to_correspondence_fields, translation, upsample_flow
from corrbench_rtn.losses import candidate_accuracy, flow_l1_loss, weak_matching_loss
from corrbench_rtn.model import RTN, RTNOutput
from corrbench_rtn.preprocess import resize_images
from corrbench_rtn.warps import WarpConfig, affine_flow, random_affines, warp_images


class RTNMethod(LearnedMethod[RTNConfig]):
    """Dense fields from recurrent local affine estimates; ``-o config=paper`` for the paper's model.

    Options: ``config`` (``embedded`` default, ``paper``; an official ``.mat`` file selects ``paper``),
    every :class:`~corrbench_rtn.config.RTNConfig` field (``iterations``, ``image_size``, and the
    training options ``warmup_steps``, ``loss_region`` (``all`` or ``bbox``), ``warmup_all_iterations``,
    ``warp_translation``, ``weak_train_backbone`` (default false: the weak stage trains the geo net
    only)), ``return_iterations`` (per-iteration fields in ``Prediction.extras["iterations"]``) and
    ``seed`` (random init).

    ``warmup_steps`` defaults to 1000: the warm-up only starts paying off after ~100 steps and the
    weak loss at the embedded lr undoes part of it (README), so a 10-minute CPU run is warm-up only.
    """

    name = "rtn"
    version = "1"
    supports_batching = True  # one backbone pass over all images of a batch, both directions
    presets = PRESETS
    default_preset = "embedded"
    architecture = SHAPE_OPTIONS
    official_description = "an official RTN MatConvNet file (net-epoch.mat)"
    unrestored_options = ("pretrained", "seed")  # stored by version 0.1 checkpoints; not the model's
    stored_renames = {"preset": "config"}  # version 0.1 checkpoints named the preset 'preset'
    pretrained_tag = "imagenet-backbone"

    def __init__(self, weights: str | None = None, device: str = "cpu", pretrained: bool = False,
                 config: str | None = None, return_iterations: bool = False, seed: int = 0, **options: Any) -> None:
        self.return_iterations = bool(return_iterations)
        super().__init__(weights=weights, device=device, pretrained=pretrained, config=config, seed=seed, **options)

    # --- model and weights -------------------------------------------------------------------------
    def build_module(self) -> RTN:
        backbone = build_backbone(self.config.backbone, pretrained=self.pretrained, width=self.config.backbone_width)
        return RTN(backbone, self.config.max_disp, self.config.geo_widths, self.config.geo_edge_kernel,
                   self.config.upsample, self.config.align_corners)

    def read_weights(self, path: Path) -> Any:
        if path.suffix.lower() == ".mat":
            from corrbench_rtn.checkpoint import read_matconvnet_params

            return read_matconvnet_params(path)
        return super().read_weights(path)

    def official_weights(self, payload: Any, path: Path) -> OfficialWeights | None:
        """MatConvNet's ``net-epoch.mat`` (read by :meth:`read_weights`); it fits the paper preset."""
        return OfficialWeights(payload, preset="paper") if path.suffix.lower() == ".mat" else None

    def load_official(self, official: OfficialWeights, source: str) -> None:
        from corrbench_rtn.checkpoint import load_official_params

        load_official_params(self.module, official.state)

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), "config": self.options["config"], "iterations": self.config.iterations}

    # --- inference -------------------------------------------------------------------------------
    def _run(self, images1: torch.Tensor, images2: torch.Tensor) -> RTNOutput:
        return self.module(images1, images2, self.config.iterations, self.config.coarse_iterations)

    def predict(self, pairs: Sequence[Pair], directions: Sequence[Direction] = DIRECTIONS) -> list[Prediction]:
        size = self.config.image_size
        predictions = [Prediction() for _ in pairs]
        if not pairs:
            return predictions
        with torch.no_grad():
            images = resize_images([p.src_image for p in pairs] + [p.trg_image for p in pairs], size).to(self.device)
            feats = self.module.features(images)  # each image's backbone once, for both directions
            n = len(pairs)
            src = {k: v[:n] for k, v in feats.items()}
            trg = {k: v[n:] for k, v in feats.items()}
            for direction in directions:
                query, other = (src, trg) if direction == "src_to_trg" else (trg, src)
                sizes_q = [p.src_size if direction == "src_to_trg" else p.trg_size for p in pairs]
                sizes_o = [p.trg_size if direction == "src_to_trg" else p.src_size for p in pairs]
                out = self.module.recur(query, other, self.config.iterations, self.config.coarse_iterations)
                flow = upsample_flow(translation(out.field), size, self.config.flow_upsample)
                fields = to_correspondence_fields(flow, sizes_q, sizes_o, size, self.config.align_corners)
                per_iteration = None
                if self.return_iterations:
                    per_iteration = [to_correspondence_fields(translation(f), sizes_q, sizes_o, size,
                                                              self.config.align_corners) for f in out.fields]
                for index, prediction in enumerate(predictions):
                    setattr(prediction, direction, fields[index])
                    if per_iteration is not None:
                        prediction.extras.setdefault("iterations", {})[direction] = [
                            step[index] for step in per_iteration]
        return predictions

    # --- training --------------------------------------------------------------------------------
    def training_loss(self, pairs: Sequence[Pair], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """Synthetic warm-up for ``warmup_steps`` steps, then the paper's weak loss on the pairs."""
        if step < self.config.warmup_steps:
            return self.warmup_loss(pairs, step)
        return self.weak_loss(pairs, step)

    def _generator(self, step: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 1_000_003 + step)

    def weak_loss(self, pairs: Sequence[Pair], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """Images only: each pair in a random order; positive = the zero offset after the last warp."""
        generator = self._generator(step)
        swap = torch.rand(len(pairs), generator=generator) < 0.5
        first = [p.trg_image if s else p.src_image for p, s in zip(pairs, swap.tolist())]
        second = [p.src_image if s else p.trg_image for p, s in zip(pairs, swap.tolist())]
        size = self.config.image_size
        # From scratch, the weak loss alone collapses the features to a constant (see README), so by
        # default the backbone (including the transformer's shared convs) is frozen in this stage.
        frozen = [] if self.config.weak_train_backbone else [
            p for p in self.module.backbone.parameters() if p.requires_grad]
        for parameter in frozen:
            parameter.requires_grad_(False)
        try:
            out = self._run(resize_images(first, size).to(self.device), resize_images(second, size).to(self.device))
        finally:
            for parameter in frozen:
                parameter.requires_grad_(True)
        region = None
        if self.config.loss_region == "bbox":
            region = self._bbox_region(pairs, swap.tolist(), out.last_correlation.shape[-2:])
        loss = weak_matching_loss(out.last_correlation, region)
        return loss, {"weak": float(loss.detach()), "centre_acc": candidate_accuracy(out.last_correlation.detach())}

    def _bbox_region(self, pairs: Sequence[Pair], swapped: list[bool], grid: torch.Size) -> torch.Tensor:
        """The paper's label region: the query image's bounding box (everything when a pair has none)."""
        from corrbench.eval.transfer import identity_grid

        masks = []
        for pair, swap in zip(pairs, swapped):
            side = "trg" if swap else "src"
            box, size = pair.bbox(side), pair.trg_size if swap else pair.src_size
            if box is None:
                masks.append(np.ones(tuple(grid), bool))
                continue
            centres = identity_grid(size, tuple(grid))
            masks.append((centres[..., 0] >= box[0]) & (centres[..., 0] <= box[2])
                         & (centres[..., 1] >= box[1]) & (centres[..., 1] <= box[3]))
        return torch.from_numpy(np.stack(masks)).to(self.device)

    def warmup_loss(self, pairs: Sequence[Pair], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """"Synthetic first": random affine warps of the pairs' single images, with their known flow."""
        generator = self._generator(step)
        size = self.config.image_size
        side = (torch.rand(len(pairs), generator=generator) < 0.5).tolist()  # one image of each pair
        images = resize_images([p.trg_image if s else p.src_image for p, s in zip(pairs, side)], size)
        theta = random_affines(len(images), WarpConfig(translation=self.config.warp_translation), generator)
        warped = warp_images(images, theta, self.config.align_corners)
        out = self._run(warped.to(self.device), images.to(self.device))
        supervised = out.fields if self.config.warmup_all_iterations else out.fields[-1:]
        loss = torch.zeros((), device=self.device)
        for field in supervised:
            target, valid = affine_flow(theta, *field.shape[-2:], self.config.align_corners)
            # per-pixel mean of each field so coarse and fine steps weigh alike
            loss = loss + flow_l1_loss(field, target.to(self.device), valid.to(self.device)) / field[0, 0].numel()
        loss = loss / len(supervised)
        return loss, {"warmup_l1": float(loss.detach())}


def default_checkpoint() -> Path:
    """The committed embedded checkpoint trained on ``synthetic``."""
    return Path(__file__).resolve().parents[1] / "checkpoints" / "rtn-synthetic.pth"
