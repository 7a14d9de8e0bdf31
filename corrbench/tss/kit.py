"""Per-pair scoring exactly as the TSS kit does it, in its C++ or MATLAB flavour.

For each pair folder the kit (1) resizes predicted flows to the ground truth's size when needed,
re-expressing vectors between the two images' sizes, (2) resizes or, when a mask is missing,
estimates masks from forward-backward consistency of the two flows (threshold 20 px),
(3) optionally flips both mask labels (``auto_flip``), then scores two rows, 1->2 and 2->1:
SegIUR = |M and G| / |M or G| and flow accuracy T1..T50, the fraction of ground-truth-valid
pixels whose endpoint error is <= t/100 * max side of the image the flow points into.

Where the tools differ (spec ``datasets.md`` section 5.3), ``kit="cpp"`` follows the C++ tool and
``kit="matlab"`` the MATLAB tool:

===================  ====================================  =====================================
step                 cpp (default)                          matlab
===================  ====================================  =====================================
flow resize          OpenCV bilinear, float32, 0-based x    imresize (antialiased), float64, 1-based x
valid after resize   resized validity map == 1              resized distance-to-valid == 0
mask resize          only if the size differs, 8-bit, >128  always, [0,1] double, > 0.5
mask reading         grey levels (palette -> colours)       palette indices / grey levels
masks from flows     bilinear remap (1/32 px), border 1e10  bicubic interp2, outside -> background
auto flip            before masks are estimated             after masks are estimated
GT-valid pixels      |u| <= 1e9 and |v| <= 1e9              u < 1e9
error                1000 where validity differs            plain endpoint error
===================  ====================================  =====================================

Deliberate deviation, following the C++ tool in both flavours: a NaN predicted vector on a
ground-truth-valid pixel is wrong at every threshold (the MATLAB tool would count it correct);
:attr:`KitRow.nan_pixels` counts them so callers can warn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np

from corrbench.tss.flo import UNKNOWN_FLOW
from corrbench.tss import lr_consistency
from corrbench.tss.resize import cv_resize_linear_f32, cv_resize_linear_u8, matlab_imresize_bilinear

Kit = Literal["cpp", "matlab"]
KITS: tuple[str, ...] = ("cpp", "matlab")
THRESHOLDS = np.arange(1, 51)
LR_THRESHOLD = 20.0


@dataclass
class TSSGroundTruth:
    """One TSS pair as the kit reads it: displacements (1e10 = unknown), masks, flip, names."""

    pair_id: str  # "<subset>/<pair_dir>"
    flow1: np.ndarray  # (H1, W1, 2) float32, image1 -> image2
    flow2: np.ndarray  # (H2, W2, 2) float32, image2 -> image1
    mask1: np.ndarray  # (H1, W1) bool
    mask2: np.ndarray  # (H2, W2) bool
    flip: int = 0
    name1: str = ""
    name2: str = ""

    @property
    def subset(self) -> str:
        return self.pair_id.split("/")[0]

    @property
    def pair_dir(self) -> str:
        return self.pair_id.split("/")[-1]


@dataclass
class KitPrediction:
    """A prediction folder's content; ``None`` = absent or unreadable (as the kit treats it).

    Flows are displacements at any resolution (1e10 or NaN = unknown).  Masks are the 8-bit
    levels the chosen kit flavour reads from the PNG (see :func:`corrbench.tss.folder.read_kit_mask`).
    """

    flow1: np.ndarray | None = None
    flow2: np.ndarray | None = None
    mask1: np.ndarray | None = None
    mask2: np.ndarray | None = None


@dataclass
class KitRow:
    """One row of ``scores.csv``."""

    name: str
    src: str
    ref: str
    seg_iou: float
    flip: int
    acc: np.ndarray  # (50,) T1..T50
    pair_id: str = ""
    direction: str = ""  # "1to2" / "2to1"; empty for summary rows
    nan_pixels: int = 0
    mask_source: str = ""  # "prediction", "flows" or "absent"

    def to_dict(self) -> dict:
        data = {"row": self.name, "src": self.src, "ref": self.ref, "seg_iou": self.seg_iou,
                "flip": self.flip, "pair_id": self.pair_id, "direction": self.direction,
                "mask_source": self.mask_source, "nan_pixels": self.nan_pixels}
        data.update({f"T{t}": float(a) for t, a in zip(THRESHOLDS, self.acc)})
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "KitRow":
        """Inverse of :meth:`to_dict` (per-pair records on disk are read back for resume)."""
        acc = np.array([data[f"T{t}"] for t in THRESHOLDS], dtype=np.float64)
        return cls(data["row"], data["src"], data["ref"], float(data["seg_iou"]), int(data["flip"]), acc,
                   data.get("pair_id", ""), data.get("direction", ""), int(data.get("nan_pixels", 0)),
                   data.get("mask_source", ""))


def check_kit(kit: str) -> Kit:
    if kit not in KITS:
        from corrbench.errors import UsageError

        raise UsageError(f"unknown TSS kit flavour '{kit}'; choose one of: {', '.join(KITS)}")
    return kit  # type: ignore[return-value]


# --------------------------------------------------------------------------- flow resizing
def resize_flow_pair(flow1: np.ndarray, flow2: np.ndarray, size1: tuple[int, int],
                     size2: tuple[int, int], kit: Kit = "cpp") -> tuple[np.ndarray, np.ndarray]:
    """Bring both predicted flows to the GT sizes ``(H, W)`` as the kit does (both or neither)."""
    old1, old2 = flow1.shape[:2], flow2.shape[:2]
    if old1 == tuple(size1) and old2 == tuple(size2):
        return flow1, flow2
    resize = _resize_flow_cpp if kit == "cpp" else _resize_flow_matlab
    return resize(flow1, old1, old2, size1, size2), resize(flow2, old2, old1, size2, size1)


def _known(flow: np.ndarray, strict: bool) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        if strict:  # the MATLAB resize helper uses strict < 1e9
            return (np.abs(flow[..., 0]) < 1e9) & (np.abs(flow[..., 1]) < 1e9)
        return (np.abs(flow[..., 0]) <= 1e9) & (np.abs(flow[..., 1]) <= 1e9)


def _resize_flow_cpp(flow, old_own, old_other, new_own, new_other) -> np.ndarray:
    f32 = np.float32
    valid = cv_resize_linear_f32(_known(flow, strict=False).astype(np.float32), new_own)
    resized = cv_resize_linear_f32(flow, new_own)
    height, width = new_own
    gx = np.arange(width, dtype=f32)[None, :]
    gy = np.arange(height, dtype=f32)[:, None]
    old_x = gx * f32(old_own[1] / width)
    old_y = gy * f32(old_own[0] / height)
    u = (resized[..., 0] + old_x) * f32(new_other[1] / old_other[1]) - gx
    v = (resized[..., 1] + old_y) * f32(new_other[0] / old_other[0]) - gy
    out = np.stack([u, v], axis=-1).astype(np.float32)
    out[valid != f32(1.0)] = UNKNOWN_FLOW
    return out


def _resize_flow_matlab(flow, old_own, old_other, new_own, new_other) -> np.ndarray:
    flow = np.asarray(flow, dtype=np.float64)
    # imresize(bwdist(valid)) == 0  <=>  no invalid pixel has weight: resize the invalid indicator.
    invalid = matlab_imresize_bilinear((~_known(flow, strict=True)).astype(np.float64), new_own)
    resized = matlab_imresize_bilinear(flow, new_own)
    height, width = new_own
    new_x = np.arange(1, width + 1, dtype=np.float64)[None, :]
    new_y = np.arange(1, height + 1, dtype=np.float64)[:, None]
    old_x = new_x / width * old_own[1]
    old_y = new_y / height * old_own[0]
    u = (resized[..., 0] + old_x) / old_other[1] * new_other[1] - new_x
    v = (resized[..., 1] + old_y) / old_other[0] * new_other[0] - new_y
    out = np.stack([u, v], axis=-1)
    out[invalid != 0] = UNKNOWN_FLOW
    return out


# --------------------------------------------------------------------------- masks
def resize_pred_mask(mask: np.ndarray, size: tuple[int, int], kit: Kit = "cpp") -> np.ndarray:
    """The kit's binarisation of a predicted 8-bit mask at the GT size ``(H, W)``."""
    mask = np.asarray(mask)
    if kit == "cpp":
        if mask.shape == tuple(size):
            return mask != 0  # the C++ tool ANDs/ORs the raw levels: nonzero = foreground
        return cv_resize_linear_u8(mask, size) > 128
    return matlab_imresize_bilinear(mask.astype(np.float64) / 255.0, size) > 0.5


def mask_iou(mask: np.ndarray | None, gt: np.ndarray) -> float:
    """SegIUR: 0 for an absent mask, NaN when the union is empty."""
    if mask is None:
        return 0.0
    union = int(np.count_nonzero(mask | gt))
    inter = int(np.count_nonzero(mask & gt))
    return inter / union if union else float("nan")


def _auto_flip(m1: np.ndarray, m2: np.ndarray, gt: TSSGroundTruth) -> tuple[np.ndarray, np.ndarray]:
    kept = mask_iou(m1, gt.mask1) + mask_iou(m2, gt.mask2)
    flipped = mask_iou(~m1, gt.mask1) + mask_iou(~m2, gt.mask2)
    return (~m1, ~m2) if kept < flipped else (m1, m2)


# --------------------------------------------------------------------------- flow accuracy
def flow_accuracy(flow: np.ndarray | None, gt_flow: np.ndarray, max_side: int,
                  kit: Kit = "cpp") -> tuple[np.ndarray, int]:
    """T1..T50 of one direction and the number of NaN predictions on GT-valid pixels."""
    if flow is None:
        return np.zeros(len(THRESHOLDS)), 0
    if kit == "cpp":
        flow32 = np.asarray(flow, dtype=np.float32)
        gt32 = np.asarray(gt_flow, dtype=np.float32)
        diff = flow32 - gt32
        error = np.sqrt(diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1])
        gt_valid = _known(gt32, strict=False)
        error[_known(flow32, strict=False) != gt_valid] = np.float32(1000)
        nan = np.isnan(flow32).any(axis=-1) & gt_valid
        thresholds = (THRESHOLDS * (1 / 100.0 * max_side)).astype(np.float32)
    else:
        flow64 = np.asarray(flow, dtype=np.float64)
        gt64 = np.asarray(gt_flow, dtype=np.float64)
        error = np.sqrt(((flow64 - gt64) ** 2).sum(axis=-1))
        gt_valid = gt64[..., 0] < 1e9
        nan = np.isnan(error) & gt_valid
        error[nan] = np.inf  # deliberate: NaN is wrong (the MATLAB tool counts it correct)
        thresholds = THRESHOLDS / 100 * max_side
    errors = error[gt_valid]
    n_valid = errors.size
    with np.errstate(invalid="ignore", divide="ignore"):
        wrong = np.array([np.count_nonzero(errors > t) for t in thresholds], dtype=np.float64)
        acc = 1.0 - wrong / n_valid if n_valid else np.full(len(THRESHOLDS), np.nan)
    return acc, int(np.count_nonzero(nan))


# --------------------------------------------------------------------------- one pair
def score_pair(gt: TSSGroundTruth, pred: KitPrediction, kit: Kit = "cpp",
               auto_flip: bool = False) -> tuple[KitRow, KitRow]:
    """The kit's two rows (1->2, 2->1) for one pair."""
    kit = check_kit(kit)
    size1, size2 = gt.flow1.shape[:2], gt.flow2.shape[:2]
    # The kit loads flows (and masks) two at a time: one unreadable file drops both.
    flow1, flow2 = (pred.flow1, pred.flow2) if pred.flow1 is not None and pred.flow2 is not None else (None, None)
    if flow1 is not None:
        flow1, flow2 = resize_flow_pair(flow1, flow2, size1, size2, kit)
    have_masks = pred.mask1 is not None and pred.mask2 is not None
    m1 = resize_pred_mask(pred.mask1, size1, kit) if pred.mask1 is not None else None
    m2 = resize_pred_mask(pred.mask2, size2, kit) if pred.mask2 is not None else None
    if kit == "matlab" and not have_masks:
        m1 = m2 = None
    if auto_flip and kit == "cpp" and m1 is not None and m2 is not None:
        m1, m2 = _auto_flip(m1, m2, gt)
    source = "prediction"
    if not have_masks:
        source = "flows"
        if flow1 is None:
            m1 = m2 = None
            source = "absent"
        else:
            estimate = lr_consistency.masks_cpp if kit == "cpp" else lr_consistency.masks_matlab
            m1, m2 = estimate(flow1, flow2, LR_THRESHOLD)
    if auto_flip and kit == "matlab" and m1 is not None and m2 is not None:
        m1, m2 = _auto_flip(m1, m2, gt)
    acc1, nan1 = flow_accuracy(flow1, gt.flow1, max(size2), kit)
    acc2, nan2 = flow_accuracy(flow2, gt.flow2, max(size1), kit)
    row1 = KitRow(f"{gt.pair_dir}_1to2", gt.name1, gt.name2, mask_iou(m1, gt.mask1), gt.flip, acc1,
                  gt.pair_id, "1to2", nan1, source)
    row2 = KitRow(f"{gt.pair_dir}_2to1", gt.name2, gt.name1, mask_iou(m2, gt.mask2), gt.flip, acc2,
                  gt.pair_id, "2to1", nan2, source)
    return row1, row2


# --------------------------------------------------------------------------- summary rows
def summary_rows(rows: Sequence[KitRow]) -> tuple[KitRow, KitRow]:
    """``Average`` (all rows, Flip column 1) and ``w/o flip`` (rows of flip-0 pairs, Flip 0).

    Plain means: a NaN anywhere propagates, and an empty selection gives NaN, as in the kit.
    """
    def mean(selected: list[KitRow]) -> tuple[float, np.ndarray]:
        if not selected:
            return float("nan"), np.full(len(THRESHOLDS), np.nan)
        seg = float(np.sum([r.seg_iou for r in selected]) / len(selected))
        return seg, np.sum([r.acc for r in selected], axis=0) / len(selected)

    seg_all, acc_all = mean(list(rows))
    seg_nf, acc_nf = mean([r for r in rows if r.flip == 0])
    return (KitRow("Average", "-", "-", seg_all, 1, acc_all),
            KitRow("w/o flip", "-", "-", seg_nf, 0, acc_nf))


@dataclass
class SubsetScores:
    """All rows of one subset (one ``scores.csv``)."""

    subset: str
    rows: list[KitRow] = field(default_factory=list)

    @property
    def summary(self) -> tuple[KitRow, KitRow]:
        return summary_rows(self.rows)

    @property
    def n_pairs(self) -> int:
        return len(self.rows) // 2
