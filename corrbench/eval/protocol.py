"""An evaluation protocol: every convention behind a PCK number, as a named, frozen, versioned object.

Published numbers differ mostly by conventions nobody prints (which image's box is the
threshold reference, which way points are transferred, at what resolution, ``<`` or ``<=``).
A :class:`Protocol` names each of them, and every result records the protocol it used.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from corrbench.api import Direction

ThresholdRef = Literal["image", "bbox", "kps_extent", "frame"]
Side = Literal["source", "target"]
Frame = Literal["original", "square", "long_side_pad"]
#: Ground truth a protocol may explicitly hand the method (see ``Protocol.method_sees``).
METHOD_SEES_EXTRAS = ("query_bbox",)


@dataclass(frozen=True)
class Protocol:
    """How keypoints are transferred, where errors are measured and what counts as correct.

    * ``direction``: ``trg_to_src`` queries target keypoints and compares the predictions with
      source keypoints (DenseMatching, CATs, NCNet, SFNet, NeMF); ``src_to_trg`` the converse
      (DHPF, GeoAware).
    * ``threshold``: reference length L of PCK@α (correct iff error <= α·L):
      ``image`` = max(H, W), ``bbox`` = max(w, h) of the box, ``kps_extent`` = max of the x and y
      extents of the keypoints, ``frame`` = the side of the square evaluation frame;
      ``threshold_side`` picks the source or the target image for it.
    * ``frame``: ``original`` pixels, ``square`` = anisotropic resize of each image to
      ``frame_size``², ``long_side_pad`` = isotropic resize to long side ``frame_size`` and centred
      zero-padding to a square. Methods see the framed images; errors are measured in the frame.
    * ``comparison``: ``le`` (<=, the common one) or ``lt`` (strict <, GeoAware).
    * ``query_rounding``: where a dense field is read for a query keypoint k: ``none`` = at k
      (bilinear); ``round`` = at the nearest pixel (SFNet); ``round_offset`` = at the nearest pixel,
      the displacement then added to k itself (DenseMatching); ``trunc`` = at k truncated toward
      zero, as CATs' ``.long()``.  Snapped positions are clamped into the image.
    * ``extent_pad_bug``: reproduce DHPF/CATs' PF-WILLOW extent over −1 padded keypoints.
    * ``bucket_alpha``/``buckets``: per-class and difficulty breakdowns (meta keys) at this α.
    * ``jaccard_empty_gt`` (co-segmentation only): Jaccard of an image whose GT mask is empty is
      ``skip`` (left out of J, kept in precision), ``zero``, or ``one_if_pred_empty``.
    * ``method_sees``: ground truth beyond the default blinded view that this protocol's paper
      really gives the method at test time (``query_bbox``: the query side's box); empty for
      every built-in preset.  See :class:`corrbench.api.Method` for what a method always sees.
    """

    name: str
    description: str = ""
    direction: Direction = "trg_to_src"
    threshold: ThresholdRef = "image"
    threshold_side: Side = "source"
    frame: Frame = "original"
    frame_size: int | None = None
    comparison: Literal["le", "lt"] = "le"
    alphas: tuple[float, ...] = (0.05, 0.1, 0.15)
    query_rounding: Literal["none", "round", "round_offset", "trunc"] = "none"
    extent_pad_bug: bool = False
    bucket_alpha: float = 0.1
    buckets: tuple[str, ...] = ()
    jaccard_empty_gt: Literal["skip", "zero", "one_if_pred_empty"] = "skip"
    method_sees: tuple[str, ...] = ()
    version: str = "1"  # bump when a preset's definition changes: results and leaderboard rows record it
    datasets: tuple[str, ...] = field(default=(), compare=False)  # where the preset is meant to be used

    def __post_init__(self) -> None:
        if self.frame != "original" and not self.frame_size:
            raise ValueError(f"protocol {self.name}: frame '{self.frame}' needs frame_size")
        unknown = sorted(set(self.method_sees) - set(METHOD_SEES_EXTRAS))
        if unknown:
            raise ValueError(f"protocol {self.name}: method_sees has unknown item(s) {unknown}; "
                             f"allowed: {', '.join(METHOD_SEES_EXTRAS)}")
        object.__setattr__(self, "method_sees", tuple(self.method_sees))
        if self.bucket_alpha not in self.alphas:
            object.__setattr__(self, "alphas", tuple(sorted({*self.alphas, self.bucket_alpha})))

    @property
    def query_side(self) -> Literal["src", "trg"]:
        return "trg" if self.direction == "trg_to_src" else "src"

    @property
    def answer_side(self) -> Literal["src", "trg"]:
        return "src" if self.direction == "trg_to_src" else "trg"

    def with_options(self, **changes: Any) -> "Protocol":
        """A copy with some fields changed, renamed so results never pass it off as the preset."""
        if not changes:
            return self
        suffix = ",".join(f"{key}={value}" for key, value in sorted(changes.items()))
        return replace(self, name=f"{self.name}[{suffix}]", **changes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("datasets")
        data["alphas"] = list(self.alphas)
        data["buckets"] = list(self.buckets)
        data["method_sees"] = list(self.method_sees)
        return data
