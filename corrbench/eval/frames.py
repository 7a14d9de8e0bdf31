"""Evaluation frames: the resolution at which a protocol shows images to a method and measures errors.

Published conventions resize both images before evaluation (CATs 256², DHPF 240², NCNet 224²,
GeoAware long side 840 + centred padding).  Keypoints and boxes are rescaled multiplicatively with
no half-pixel offset, as every reference implementation does (spec datasets.md §2.3).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PIL import Image

from corrbench.api import Pair
from corrbench.eval.protocols import Protocol


def _resize_image(image: np.ndarray, size_hw: tuple[int, int], resample: int) -> np.ndarray:
    height, width = size_hw
    return np.asarray(Image.fromarray(image).resize((width, height), resample=resample))


def _resize_mask(mask: np.ndarray | None, size_hw: tuple[int, int]) -> np.ndarray | None:
    if mask is None:
        return None
    resized = _resize_image(mask.astype(np.uint8) * 255, size_hw, Image.NEAREST)
    return resized > 127


def _transform_points(points: np.ndarray, scale: tuple[float, float], offset: tuple[float, float]) -> np.ndarray:
    return points * np.asarray(scale) + np.asarray(offset)


def _transform_bbox(bbox: np.ndarray | None, scale, offset) -> np.ndarray | None:
    if bbox is None:
        return None
    corners = np.asarray(bbox, dtype=np.float64).reshape(2, 2)
    return _transform_points(corners, scale, offset).reshape(4)


def _pad_center(image: np.ndarray, side: int) -> tuple[np.ndarray, tuple[int, int]]:
    height, width = image.shape[:2]
    top, left = (side - height) // 2, (side - width) // 2
    canvas = np.zeros((side, side) + image.shape[2:], dtype=image.dtype)
    canvas[top : top + height, left : left + width] = image
    return canvas, (left, top)


def _frame_one(image, kps, bbox, mask, protocol: Protocol):
    """Frame one image; returns new (image, kps, bbox, mask, scale, offset)."""
    height, width = image.shape[:2]
    side = int(protocol.frame_size or 0)
    if protocol.frame == "square":
        scale = (side / width, side / height)
        framed = _resize_image(image, (side, side), Image.BILINEAR)
        return (framed, _transform_points(kps, scale, (0, 0)), _transform_bbox(bbox, scale, (0, 0)),
                _resize_mask(mask, (side, side)), scale, (0.0, 0.0))
    # long_side_pad: isotropic resize of the long side to `side`, then centred zero padding.
    factor = side / max(height, width)
    new_hw = (max(1, round(height * factor)), max(1, round(width * factor)))
    resized = _resize_image(image, new_hw, Image.LANCZOS)
    framed, offset = _pad_center(resized, side)
    scale = (factor, factor)
    new_mask = None
    if mask is not None:
        new_mask, _ = _pad_center(_resize_mask(mask, new_hw), side)
    return (framed, _transform_points(kps, scale, offset), _transform_bbox(bbox, scale, offset),
            new_mask, scale, tuple(float(o) for o in offset))


def apply_frame(pair: Pair, protocol: Protocol) -> Pair:
    """Return ``pair`` as the protocol's method sees it (unchanged for the original frame).

    The framing of each image is recorded in ``meta['frame']`` so point predictions can be
    mapped back to original pixels when needed.  Dense ground-truth flows are not framed:
    dense (TSS) evaluation runs at ground-truth resolution by its own rules.
    """
    if protocol.frame == "original":
        return pair
    src = _frame_one(pair.src_image, pair.src_kps, pair.src_bbox, pair.src_mask, protocol)
    trg = _frame_one(pair.trg_image, pair.trg_kps, pair.trg_bbox, pair.trg_mask, protocol)
    meta = dict(pair.meta)
    meta["frame"] = {
        "name": protocol.frame,
        "size": protocol.frame_size,
        "src_scale": src[4], "src_offset": src[5],
        "trg_scale": trg[4], "trg_offset": trg[5],
        "src_original_size": pair.src_size, "trg_original_size": pair.trg_size,
    }
    return replace(
        pair,
        src_image=src[0], src_kps=src[1], src_bbox=src[2], src_mask=src[3],
        trg_image=trg[0], trg_kps=trg[1], trg_bbox=trg[2], trg_mask=trg[3],
        flow_src_to_trg=None, flow_trg_to_src=None, meta=meta,
    )
