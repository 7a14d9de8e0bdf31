"""Keypoint transfer and its PCK record: where a protocol reads a method's answer for each query."""

from __future__ import annotations

from typing import Any

import numpy as np

from corrbench.api import CorrespondenceField, Pair, Prediction
from corrbench.errors import MethodError
from corrbench.metrics.pck import PCKMetric, threshold_length
from corrbench.eval.protocols import Protocol
from corrbench.eval.transfer import PixelLookup, transfer_points, transfer_points_at


def snap_queries(points: np.ndarray, image_size: tuple[int, int], mode: str) -> np.ndarray:
    """Snap query keypoints to pixels the way a protocol's reference code reads its flow."""
    if mode == "none":
        return points
    height, width = image_size
    snapped = np.round(points) if mode in ("round", "round_offset") else np.trunc(points)
    snapped[:, 0] = np.clip(snapped[:, 0], 0, width - 1)
    snapped[:, 1] = np.clip(snapped[:, 1], 0, height - 1)
    return snapped


def transfer_queries(field_: CorrespondenceField, queries: np.ndarray, mode: str) -> np.ndarray:
    """Map query keypoints through a dense field under the protocol's query rounding."""
    snapped = snap_queries(queries, field_.image_size, mode)
    return _offset(transfer_points(field_, snapped), queries, snapped, mode)


def transfer_queries_at(lookup: PixelLookup, image_size: tuple[int, int], queries: np.ndarray,
                        mode: str) -> np.ndarray:
    """:func:`transfer_queries` through a full-resolution field known only by ``lookup`` (see
    :func:`corrbench.eval.transfer.transfer_points_at`): what a point-answering method returns in
    ``Prediction.points`` to score exactly as its dense field would (``Scored.query_rounding``)."""
    snapped = snap_queries(queries, image_size, mode)
    return _offset(transfer_points_at(lookup, image_size, snapped), queries, snapped, mode)


def _offset(mapped: np.ndarray, queries: np.ndarray, snapped: np.ndarray, mode: str) -> np.ndarray:
    return mapped + (queries - snapped) if mode == "round_offset" else mapped


def predicted_points(pair: Pair, prediction: Prediction, protocol: Protocol) -> np.ndarray:
    """The method's answer for the protocol's query keypoints, in the answer image's pixels."""
    direction = protocol.direction
    queries = pair.kps(protocol.query_side)
    if direction in prediction.points:
        answer = np.asarray(prediction.points[direction], dtype=np.float64).reshape(-1, 2)
        if len(answer) != len(queries):
            raise MethodError(f"method answered {len(answer)} points for {len(queries)} queries "
                              f"on pair {pair.pair_id}")
        return answer
    field_ = prediction.field_for(direction)
    if field_ is None:
        raise MethodError(
            f"the method returned neither a {direction} field nor points for pair {pair.pair_id}; "
            f"protocol '{protocol.name}' needs {direction}"
        )
    return transfer_queries(field_, queries, protocol.query_rounding)


def score_keypoints(pair: Pair, prediction: Prediction, protocol: Protocol, metric: PCKMetric) -> dict[str, Any]:
    """PCK record of one pair, plus mask scores when the method predicts masks and GT has them."""
    from corrbench.metrics.mask_scoring import mask_scores

    predicted = predicted_points(pair, prediction, protocol)
    record = metric.make_record(
        predicted,
        pair.kps(protocol.answer_side),
        threshold_length(pair, protocol),
        category=pair.category,
        pair_id=pair.pair_id,
        visible=pair.kps_visible,
        meta=pair.meta,
    )
    masks = mask_scores(pair, prediction, jaccard_empty_gt=protocol.jaccard_empty_gt)
    if masks:
        record["masks"] = masks
    return record
