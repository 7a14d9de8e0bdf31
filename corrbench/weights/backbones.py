"""The ImageNet (and foundation-model) backbones the paper configurations start from.

``pretrained=true`` builds these through the weights cache instead of torchvision/timm's own
caches, so the mirror and the checksums cover them too.  torchvision's file names carry the first
8 hex digits of the file's sha256 (its own hub check), used here as the published prefix.  Any
other timm model gets an entry derived from its pretrained config (:func:`timm_entry`).
"""

from __future__ import annotations

from corrbench.weights.entry import WeightsEntry, WeightsFile

TORCHVISION_LICENCE = "BSD-3-Clause (torchvision code); ImageNet weights for non-commercial research use"
TORCHVISION_SOURCE = "torchvision.models.<Arch>_Weights.IMAGENET1K_V1"


def _torchvision(arch: str, filename: str, notes: str = "") -> WeightsEntry:
    prefix = filename.rsplit("-", 1)[1].split(".")[0]
    return WeightsEntry(
        tag=f"torchvision:{arch}", method="torchvision", kind="backbone",
        files=(WeightsFile(filename, urls=(f"https://download.pytorch.org/models/{filename}",), sha256=prefix),),
        licence=TORCHVISION_LICENCE, source=TORCHVISION_SOURCE, trained_on="ImageNet-1k (IMAGENET1K_V1)",
        notes=notes)


def hf_url(hub_id: str, filename: str = "model.safetensors") -> str:
    return f"https://huggingface.co/{hub_id}/resolve/main/{filename}"


def _timm(name: str, licence: str, trained_on: str, extra_urls: tuple[str, ...] = (), notes: str = "") -> WeightsEntry:
    return WeightsEntry(
        tag=f"timm:{name}", method="timm", kind="backbone",
        files=(WeightsFile(f"{name}.safetensors", urls=(hf_url(f"timm/{name}"), *extra_urls)),),
        licence=licence, source=f"timm pretrained config '{name}' (Hugging Face hub timm/{name})",
        trained_on=trained_on, notes=notes)


_DINOV2 = "DINOv2 (Oquab et al. 2023), LVD-142M, self-supervised"
_DINOV2_LICENCE = "Apache-2.0 (facebookresearch/dinov2)"

BACKBONES: tuple[WeightsEntry, ...] = (
    _torchvision("resnet101", "resnet101-63fe2227.pth",
                 notes="SFNet, MaCoSNet and NeMF's ImageNet init; the same weights the papers loaded as "
                       "resnet101-5d3b4d8f.pth (re-serialised by torchvision 0.13)"),
    _torchvision("resnet50", "resnet50-0676ba61.pth"),
    _torchvision("vgg19", "vgg19-dcbb9e9d.pth", notes="RTN's VGG-19 when its MatConvNet file is not used"),
    WeightsEntry(tag="timm:resnet101.tv_in1k", method="timm", kind="backbone",
                 files=(WeightsFile("resnet101-63fe2227.pth", urls=("https://download.pytorch.org/models/resnet101-63fe2227.pth",),
                                    sha256="63fe2227"),),
                 licence=TORCHVISION_LICENCE, source="timm pretrained config 'resnet101.tv_in1k' (torchvision's file)",
                 trained_on="ImageNet-1k (IMAGENET1K_V1)",
                 notes="NeMF's backbone in corrbench: a timm ResNet-101 with torchvision's weights, as the official code"),
    _timm("vit_small_patch14_dinov2.lvd142m", _DINOV2_LICENCE, _DINOV2),
    _timm("vit_base_patch14_dinov2.lvd142m", _DINOV2_LICENCE, _DINOV2),
    _timm("vit_large_patch14_dinov2.lvd142m", _DINOV2_LICENCE, _DINOV2),
    _timm("vit_small_patch14_reg4_dinov2.lvd142m", _DINOV2_LICENCE, _DINOV2 + ", 4 registers"),
    _timm("vit_base_patch14_reg4_dinov2.lvd142m", _DINOV2_LICENCE, _DINOV2 + ", 4 registers"),
    _timm("vit_large_patch14_reg4_dinov2.lvd142m", _DINOV2_LICENCE, _DINOV2 + ", 4 registers"),
)


def timm_entry(model_name: str) -> WeightsEntry:
    """The table's entry for a timm model (name with or without its pretrained tag), else one derived
    from timm's pretrained config (Hugging Face hub file, or the config's URL); no published checksum."""
    import timm

    cfg = timm.models.get_pretrained_cfg(model_name)
    if cfg is None:
        from corrbench.errors import UsageError

        raise UsageError(f"timm has no pretrained weights for '{model_name}'; use pretrained=false")
    full = f"{cfg.architecture}.{cfg.tag}" if cfg.tag else cfg.architecture
    for entry in BACKBONES:
        if entry.tag == f"timm:{full}":
            return entry
    urls = tuple(u for u in ((hf_url(cfg.hf_hub_id) if cfg.hf_hub_id else None), cfg.url) if u)
    suffix = ".safetensors" if cfg.hf_hub_id else "." + (cfg.url or "x.pth").rsplit(".", 1)[-1]
    return WeightsEntry(tag=f"timm:{full}", method="timm", kind="backbone",
                        files=(WeightsFile(f"{full}{suffix}", urls=urls, manual="no download URL known"),),
                        licence=str(cfg.license or "see the model card"), source=f"timm pretrained config '{full}'",
                        trained_on="see the timm model card")
