"""DINOv2 ViTs through timm: which model, where its weights come from, and one block's patch tokens.

Weights: ``pretrained=true`` goes through corrbench's verified weights cache and
``CORRBENCH_MIRROR`` (:func:`corrbench.training.pretrained.timm_model`, entries
``timm:vit_*_patch14[_reg4]_dinov2.lvd142m`` in :mod:`corrbench.weights.backbones`); a local file
(the official ``dinov2_vitb14_pretrain.pth`` or timm's safetensors) is read safely and converted by
timm's own DINOv2 key map; otherwise random init.  The model keeps its 518² position embedding
and interpolates it to each input's grid at run time (``dynamic_img_size``), as DINOv2 does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from corrbench.errors import CheckpointError

ModelSize = Literal["vits14", "vitb14", "vitl14"]
#: The DINOv2 hub names (what GeoAware-SC loads) -> timm architectures.
ARCHITECTURES: dict[str, str] = {
    "vits14": "vit_small_patch14_dinov2",
    "vitb14": "vit_base_patch14_dinov2",
    "vitl14": "vit_large_patch14_dinov2",
}
PRETRAINED_TAG = "lvd142m"
PATCH = 14


def timm_name(model: str, registers: bool) -> str:
    """``vitb14`` -> ``vit_base_patch14_dinov2.lvd142m`` (``_reg4_`` with registers)."""
    arch = ARCHITECTURES[model]
    if registers:
        arch = arch.replace("_dinov2", "_reg4_dinov2")
    return f"{arch}.{PRETRAINED_TAG}"


def build_vit(name: str, pretrained: bool, weights: str | None = None) -> torch.nn.Module:
    """The timm ViT ``name`` with its weights: a local file, the cached pretrained file, or random init."""
    import timm

    from corrbench.training.pretrained import timm_model

    if weights is not None:
        model = timm.create_model(name, pretrained=False, dynamic_img_size=True)
        load_weights_file(model, Path(weights), name)
        return model
    return timm_model(name, pretrained, advice="use -o pretrained=false (random weights) or --weights FILE",
                      dynamic_img_size=True)


def load_weights_file(model: torch.nn.Module, path: Path, name: str) -> None:
    """Load a DINOv2 file (official or timm layout) strictly, through timm's key conversion."""
    from timm.models.vision_transformer import checkpoint_filter_fn

    from corrbench.training.checkpoints import load_checkpoint, load_mapped_state

    if path.suffix == ".safetensors":
        if not path.is_file():
            raise CheckpointError(f"checkpoint not found: {path}")
        from safetensors.torch import load_file

        try:
            state = load_file(str(path))
        except Exception as error:
            raise CheckpointError(f"cannot read {path} as safetensors ({type(error).__name__}); "
                                  "download or save it again") from error
    else:
        state = load_checkpoint(path)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} is not a state dict of tensors (expected a DINOv2 file such as "
                              "dinov2_vitb14_pretrain.pth)")
    hint = "pick the model= (and registers=) that the file was trained as"
    try:
        mapped = checkpoint_filter_fn(dict(state), model)
    except Exception as error:  # timm's conversion reshapes the position embedding and fails on another grid
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        raise CheckpointError(f"{path} does not fit timm {name} ({reason}); {hint}") from error
    load_mapped_state(model, mapped, str(path), what=f"timm {name}", hint=hint)


def block_tokens(model: torch.nn.Module, images: torch.Tensor, block: int) -> torch.Tensor:
    """(B, C, h, w) output tokens of block ``block`` (0-based), before the final norm, with the class
    and register tokens dropped: the ``token`` facet GeoAware-SC hooks on ``model.blocks[block]``."""
    return model.forward_intermediates(images, indices=[block], norm=False, output_fmt="NCHW",
                                       intermediates_only=True, stop_early=True)[0]
