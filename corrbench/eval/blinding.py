"""What a method is allowed to see of a pair: a fresh copy without the answer.

The seal of the benchmark: a method never receives the answer side's keypoints, boxes, masks,
flows or dataset meta (synthetic warp parameters, difficulty flags, ground-truth paths), and it
works on copies, so mutating what it got cannot change what it is scored against.  The exact
contract is written in :class:`corrbench.api.Method`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from corrbench.api import Pair

Side = Literal["src", "trg"]
#: Dataset ``meta`` keys a method may read: how the protocol framed the images, nothing else (the task
#: adds ``meta['scored']``, what it will read of the answer: :class:`corrbench.api.Scored`).
VISIBLE_META = ("frame",)


def _copy(array: np.ndarray | None) -> np.ndarray | None:
    return None if array is None else np.array(array, copy=True)


def _copy_meta(value):
    if isinstance(value, dict):
        return {key: _copy_meta(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_meta(item) for item in value)
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


def blind_pair(pair: Pair, query_side: Side | None, method_sees: tuple[str, ...] = ()) -> Pair:
    """The pair as the method sees it.

    ``query_side`` is the side whose keypoints the protocol transfers (``None`` for tasks without
    keypoint queries, such as dense flow and co-segmentation: then no keypoints at all).
    ``method_sees`` names extra ground truth the protocol explicitly hands over (``query_bbox``).
    """
    n_kps = len(pair.src_kps)
    hidden = np.full((n_kps, 2), np.nan)
    src_kps = _copy(pair.src_kps) if query_side == "src" else hidden.copy()
    trg_kps = _copy(pair.trg_kps) if query_side == "trg" else hidden.copy()
    src_bbox = trg_bbox = None
    if "query_bbox" in method_sees and query_side is not None:
        src_bbox = _copy(pair.src_bbox) if query_side == "src" else None
        trg_bbox = _copy(pair.trg_bbox) if query_side == "trg" else None
    meta = {key: _copy_meta(pair.meta[key]) for key in VISIBLE_META if key in pair.meta}
    return Pair(
        pair_id=str(pair.pair_id),
        category=str(pair.category),
        src_image=np.array(pair.src_image, copy=True),
        trg_image=np.array(pair.trg_image, copy=True),
        src_kps=src_kps,
        trg_kps=trg_kps,
        kps_visible=_copy(pair.kps_visible),
        src_bbox=src_bbox,
        trg_bbox=trg_bbox,
        meta=meta,
    )
