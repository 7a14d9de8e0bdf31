"""RTN configurations: the paper's model and the small embedded one that trains on CPU."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from corrbench.errors import UsageError


@dataclass(frozen=True)
class RTNConfig:
    backbone: str = "vgg19"
    backbone_width: int = 16  # only for backbone "tiny"
    image_size: int = 256  # inputs are resized to image_size x image_size (official: 256)
    max_disp: int = 9  # correlation window (9 x 9 candidates)
    geo_widths: tuple[int, ...] = (64, 128, 256, 512, 512)
    geo_edge_kernel: int = 9  # kernel of geo_conv1 and geo_conv10
    upsample: str = "deconv"  # "deconv" (official fixed transposed conv) or "bilinear"
    align_corners: bool = True  # official normalised coordinates: -1/+1 = first/last pixel centre
    flow_upsample: str = "deconv"  # output flow: "deconv" to input resolution, "bilinear", or "none"
    iterations: int = 4  # recurrent iterations after the init estimate
    coarse_iterations: int = 1  # how many of them run on the coarse grid

    def to_options(self) -> dict[str, Any]:
        options = asdict(self)
        options["geo_widths"] = list(self.geo_widths)
        return options


#: Options that change parameter shapes (checked when loading a checkpoint).
SHAPE_OPTIONS = ("backbone", "backbone_width", "max_disp", "geo_widths", "geo_edge_kernel")
#: Options a corrbench checkpoint restores unless the user sets them (they change predictions).
MODEL_OPTIONS = SHAPE_OPTIONS + ("image_size", "upsample", "align_corners", "flow_upsample")

PRESETS: dict[str, RTNConfig] = {
    # The paper's PF-PASCAL model (spec §2): VGG-19, 256 x 256, 16 x 16 coarse / 32 x 32 fine grids.
    "paper": RTNConfig(),
    # Embedded CPU configuration: tiny CNN, 128 x 128 input, same 16 x 16 / 32 x 32 grids, a narrow
    # geo U-Net; image-extent coordinates so the field maps to pixels exactly.
    "embedded": RTNConfig(backbone="tiny", backbone_width=16, image_size=128, geo_widths=(16, 32, 48, 64, 64),
                          geo_edge_kernel=5, align_corners=False, flow_upsample="none"),
}


def build_config(preset: str, overrides: dict[str, Any]) -> RTNConfig:
    if preset not in PRESETS:
        raise UsageError(f"unknown RTN preset '{preset}'; choose one of: {', '.join(PRESETS)}")
    known = {f.name for f in fields(RTNConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"method 'rtn' has no option(s): {', '.join(unknown)}")
    values = dict(overrides)
    if "geo_widths" in values:
        values["geo_widths"] = tuple(int(w) for w in values["geo_widths"])
        if len(values["geo_widths"]) != 5:
            raise UsageError("geo_widths needs 5 channel counts (one per U-Net level)")
    config = replace(PRESETS[preset], **values)
    for name, choices in (("upsample", ("deconv", "bilinear")), ("flow_upsample", ("deconv", "bilinear", "none"))):
        if getattr(config, name) not in choices:
            raise UsageError(f"{name} must be one of {', '.join(choices)}, got '{getattr(config, name)}'")
    if config.iterations < 0 or config.coarse_iterations < 0:
        raise UsageError("iterations and coarse_iterations must be >= 0")
    return config
