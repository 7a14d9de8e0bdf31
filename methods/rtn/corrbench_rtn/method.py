"""``rtn``: Recurrent Transformer Networks (Kim et al., NeurIPS'18) as a corrbench method."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from corrbench.api import DIRECTIONS, Direction, Pair, Prediction
from corrbench.training.checkpoints import load_checkpoint
from corrbench.errors import CheckpointError, UsageError
from corrbench.training import CHECKPOINT_FORMAT, TrainableMethod, TrainConfig
from corrbench_rtn.backbone import build_backbone
from corrbench_rtn.config import MODEL_OPTIONS, SHAPE_OPTIONS, RTNConfig, build_config
from corrbench_rtn.fields import to_correspondence_fields, translation, upsample_flow
from corrbench_rtn.losses import candidate_accuracy, flow_l1_loss, weak_matching_loss
from corrbench_rtn.model import RTN, RTNOutput
from corrbench_rtn.warps import WarpConfig, affine_flow, random_affines, warp_images



def resize_images(images: Sequence[np.ndarray], size: int) -> torch.Tensor:
    """(B, 3, S, S) float RGB 0..255; PIL bicubic on uint8 is the closest to MATLAB's imresize."""
    from PIL import Image

    resized = [np.asarray(Image.fromarray(np.ascontiguousarray(im)).convert("RGB").resize((size, size), Image.BICUBIC))
               for im in images]
    return torch.from_numpy(np.stack(resized)).permute(0, 3, 1, 2).float()


class RTNMethod(TrainableMethod):
    """Dense fields from recurrent local affine estimates; ``-o preset=paper`` for the paper's model.

    Options: every :class:`~corrbench_rtn.config.RTNConfig` field (``iterations``, ``image_size`` ...),
    ``preset`` (``embedded`` default, ``paper``), ``return_iterations`` (per-iteration fields in
    ``Prediction.extras["iterations"]``), ``seed`` (random init), and the training options
    ``warmup_steps``, ``loss_region`` (``all`` or ``bbox``), ``warmup_all_iterations``, ``warp_translation``,
    ``weak_train_backbone`` (default false: the weak stage trains the geo net only).

    ``warmup_steps`` defaults to 1000: the warm-up only starts paying off after ~100 steps and the
    weak loss at the embedded lr undoes part of it (README), so a 10-minute CPU run is warm-up only.
    """

    name = "rtn"
    version = "1"
    supports_batching = True  # one backbone pass over all images of a batch, both directions

    def __init__(self, weights: str | None = None, device: str = "cpu", pretrained: bool = False,
                 preset: str | None = None, return_iterations: bool = False, seed: int = 0,
                 warmup_steps: int = 1000, loss_region: str = "all", warmup_all_iterations: bool = True,
                 warp_translation: float = 0.25, weak_train_backbone: bool = False, **options: Any) -> None:
        super().__init__(weights=weights, device=device)
        payload = None
        official = weights is not None and str(weights).lower().endswith(".mat")
        if weights is not None and not official:
            payload = load_checkpoint(weights)
            if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
                raise CheckpointError(f"{weights} is not a corrbench RTN checkpoint (nor an official .mat file)")
            stored = payload.get("options", {})
            preset = preset or stored.get("preset", "embedded")
            if stored.get("preset", preset) == preset:  # restore what defines the trained model
                options = {**{k: stored[k] for k in MODEL_OPTIONS if k in stored}, **options}
        preset = preset or ("paper" if official else "embedded")
        self.config: RTNConfig = build_config(preset, options)
        if loss_region not in ("all", "bbox"):
            raise UsageError(f"loss_region must be 'all' or 'bbox', got '{loss_region}'")
        self.options = {"preset": preset, **self.config.to_options(), "pretrained": bool(pretrained),
                        "warmup_steps": int(warmup_steps), "loss_region": loss_region,
                        "warmup_all_iterations": bool(warmup_all_iterations),
                        "warp_translation": float(warp_translation), "seed": int(seed),
                        "weak_train_backbone": bool(weak_train_backbone)}
        self.return_iterations = bool(return_iterations)
        self.pretrained = bool(pretrained)
        torch.manual_seed(seed)
        backbone = build_backbone(self.config.backbone, pretrained=pretrained, width=self.config.backbone_width)
        self.module = RTN(backbone, self.config.max_disp, self.config.geo_widths, self.config.geo_edge_kernel,
                          self.config.upsample, self.config.align_corners).to(device)
        if official:
            from corrbench_rtn.checkpoint import load_official_into

            load_official_into(self.module, weights)
        elif payload is not None:
            self.load_corrbench_checkpoint(payload, source=str(weights))
        self.module.eval()

    # --- contract --------------------------------------------------------------------------------
    def architecture_options(self) -> tuple[str, ...]:
        return SHAPE_OPTIONS

    def weights_tag(self) -> str:
        if self.weights is None:
            return "imagenet-backbone" if self.pretrained else "random-init"
        return super().weights_tag()

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), "preset": self.options["preset"], "iterations": self.config.iterations}

    def default_train_config(self) -> TrainConfig:
        if self.options["preset"] == "paper":
            # Paper (spec §3.3): SGD momentum 0.9, weight decay 5e-4, lr 1e-5, batch 16, 20 epochs.
            return TrainConfig(epochs=20, batch_size=16, lr=1e-5, weight_decay=5e-4, optimizer="sgd", momentum=0.9)
        # Embedded: from random init on CPU the paper's SGD at 1e-5 does not move; Adam does.
        return TrainConfig(epochs=100, batch_size=8, lr=1e-3, optimizer="adam", grad_clip=10.0)

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
        if step < self.options["warmup_steps"]:
            return self.warmup_loss(pairs, step)
        return self.weak_loss(pairs, step)

    def _generator(self, step: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.options["seed"] * 1_000_003 + step)

    def weak_loss(self, pairs: Sequence[Pair], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """Images only: each pair in a random order; positive = the zero offset after the last warp."""
        generator = self._generator(step)
        swap = torch.rand(len(pairs), generator=generator) < 0.5
        first = [p.trg_image if s else p.src_image for p, s in zip(pairs, swap.tolist())]
        second = [p.src_image if s else p.trg_image for p, s in zip(pairs, swap.tolist())]
        size = self.config.image_size
        # From scratch, the weak loss alone collapses the features to a constant (see README), so by
        # default the backbone (including the transformer's shared convs) is frozen in this stage.
        frozen = [] if self.options["weak_train_backbone"] else [
            p for p in self.module.backbone.parameters() if p.requires_grad]
        for parameter in frozen:
            parameter.requires_grad_(False)
        try:
            out = self._run(resize_images(first, size).to(self.device), resize_images(second, size).to(self.device))
        finally:
            for parameter in frozen:
                parameter.requires_grad_(True)
        region = None
        if self.options["loss_region"] == "bbox":
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
        theta = random_affines(len(images), WarpConfig(translation=self.options["warp_translation"]), generator)
        warped = warp_images(images, theta, self.config.align_corners)
        out = self._run(warped.to(self.device), images.to(self.device))
        supervised = out.fields if self.options["warmup_all_iterations"] else out.fields[-1:]
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
