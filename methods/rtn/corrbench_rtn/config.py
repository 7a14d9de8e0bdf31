"""RTN configurations: the paper's model and the small embedded one that trains on CPU."""

from __future__ import annotations

from corrbench.training.config import option

from dataclasses import asdict, dataclass
from typing import Any

from corrbench.errors import UsageError
from corrbench.training.learned import Preset
from corrbench.training.loop import TrainConfig
from corrbench.training.selection import Validation
from corrbench_rtn.preprocess import RTN_INPUT


@dataclass(frozen=True)
class RTNConfig:
    backbone: str = "vgg19"
    backbone_width: int = 16  # only for backbone "tiny"
    image_size: int = option(256, le=1024, why="feature maps and warps grow with image_size²")  # inputs are resized to image_size² (official: 256)
    max_disp: int = 9  # correlation window (9 x 9 candidates)
    geo_widths: tuple[int, ...] = (64, 128, 256, 512, 512)
    geo_edge_kernel: int = 9  # kernel of geo_conv1 and geo_conv10
    upsample: str = "deconv"  # "deconv" (official fixed transposed conv) or "bilinear"
    align_corners: bool = True  # official normalised coordinates: -1/+1 = first/last pixel centre
    flow_upsample: str = "deconv"  # output flow: "deconv" to input resolution, "bilinear", or "none"
    iterations: int = 4  # recurrent iterations after the init estimate
    coarse_iterations: int = 1  # how many of them run on the coarse grid
    # --- training (see the README) ----------------------------------------------------------------
    warmup_steps: int = 1000  # synthetic warm-up steps before the weak loss
    loss_region: str = "all"  # "all" or "bbox" (the paper's query-box region)
    warmup_all_iterations: bool = True  # supervise every iteration's field in the warm-up
    warp_translation: float = 0.25  # translation range of the warm-up's random affines
    weak_train_backbone: bool = False  # the weak stage trains the geo net only by default

    def __post_init__(self) -> None:
        object.__setattr__(self, "geo_widths", tuple(int(w) for w in self.geo_widths))
        if len(self.geo_widths) != 5:
            raise UsageError("rtn geo_widths needs 5 channel counts (one per U-Net level)")
        for name, choices in (("upsample", ("deconv", "bilinear")), ("flow_upsample", ("deconv", "bilinear", "none")),
                              ("loss_region", ("all", "bbox"))):
            if getattr(self, name) not in choices:
                raise UsageError(f"rtn {name} must be one of {', '.join(choices)}, got '{getattr(self, name)}'")
        if self.iterations < 0 or self.coarse_iterations < 0:
            raise UsageError("rtn iterations and coarse_iterations must be >= 0")

    def to_options(self) -> dict[str, Any]:
        options = asdict(self)
        options["geo_widths"] = list(self.geo_widths)
        return options


#: Options that change parameter shapes (checked when loading a checkpoint).
SHAPE_OPTIONS = ("backbone", "backbone_width", "max_disp", "geo_widths", "geo_edge_kernel")

#: The MatConvNet solver of both stages (spec rtn.md §3.1): SGD momentum 0.9, weight decay 5e-4, lr 1e-5, batch 16.
_SOLVER = dict(batch_size=16, lr=1e-5, weight_decay=5e-4, optimizer="sgd", momentum=0.9)

#: The paper's two stages (spec rtn.md §3.2-3.3).  Stage 1, ``synthetic``: random affine warps of single
#: PASCAL images with their known flow, 10 epochs (train_pascal_synthetic.m; its VOC 2011 trainval JPEGs are
#: replaced by voc-masks, VOC 2012 segmentation minus the PF-PASCAL test images; translations U[-0.4, 0.4]).
#: Stage 2, ``pfpascal``: the weak loss on PF-PASCAL train pairs inside the query box, 20 epochs, from the
#: stage-1 weights (``--weights``); the training pairs appear flipped too (flip=1 rows), in a random order.
STAGES = {
    "synthetic": TrainConfig(epochs=10, dataset="voc-masks", split="trainval",
                             method_options={"warmup_steps": 10**9, "warp_translation": 0.4},
                             recipe="seungryong/RTNs train_pascal_synthetic.m (spec rtn.md §3.2); README 'Training'",
                             **_SOLVER),
    "pfpascal": TrainConfig(epochs=20, dataset="pfpascal", split="train", dataset_options={"apply_flip": True},
                            method_options={"warmup_steps": 0, "loss_region": "bbox"},
                            validation=Validation(dataset="pfpascal", split="val", protocol="densematching"),
                            recipe="seungryong/RTNs train_pf_pascal.m (spec rtn.md §3.3); README 'Training'",
                            **_SOLVER),
}

PRESETS: dict[str, Preset[RTNConfig]] = {
    # The paper's PF-PASCAL model (spec §2): VGG-19, 256 x 256, 16 x 16 coarse / 32 x 32 fine grids;
    # its default recipe is stage 2 (stage 1 is --recipe synthetic).
    "paper": Preset(RTNConfig(), RTN_INPUT, STAGES["pfpascal"], recipes=STAGES),
    # Embedded CPU configuration: tiny CNN, 128 x 128 input, same 16 x 16 / 32 x 32 grids, a narrow
    # geo U-Net; image-extent coordinates so the field maps to pixels exactly.  From random init on
    # CPU the paper's SGD at 1e-5 does not move; Adam does.
    "embedded": Preset(RTNConfig(backbone="tiny", backbone_width=16, image_size=128, geo_widths=(16, 32, 48, 64, 64),
                                 geo_edge_kernel=5, align_corners=False, flow_upsample="none"), RTN_INPUT,
                       TrainConfig(epochs=100, batch_size=8, lr=1e-3, optimizer="adam", grad_clip=10.0)),
}
