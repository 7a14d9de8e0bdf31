"""Run a method over a dataset under a protocol and keep one record per pair.

The loop is deliberately dumb: frame the pair, ask the method, map the query keypoints through
the returned field (or take the method's own point answers), score.  Everything a method could
get wrong about conventions happens here, once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np

from corrbench.api import CorrespondenceField, Dataset, Method, Pair, Prediction
from corrbench.errors import UsageError
from corrbench.frames import apply_frame
from corrbench.metrics.pck import PCKMetric, aggregate_pck, threshold_length
from corrbench.protocols import Protocol, get_protocol
from corrbench.provenance import run_provenance
from corrbench.transfer import transfer_points

RecordCallback = Callable[[dict[str, Any]], None]


@dataclass
class EvaluationResult:
    """Per-pair records plus their aggregates; serialises to the CLI's ``--json`` layout."""

    method: str
    dataset: str
    split: str
    protocol: Protocol
    provenance: dict[str, Any]
    categories: list[str]
    records: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, float] = field(default_factory=dict)
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    buckets: dict[str, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: Sequence[dict[str, Any]], *, method: str, dataset: str, split: str,
                     protocol: Protocol, provenance: dict[str, Any], categories: Sequence[str]
                     ) -> "EvaluationResult":
        from corrbench.mask_scoring import aggregate_masks

        keypoint_records = [r for r in records if "n_kps" in r]
        if keypoint_records:
            aggregates = aggregate_pck(keypoint_records, protocol.alphas, protocol.bucket_alpha, categories)
        else:
            aggregates = {"summary": {"n_pairs": len(records)}, "per_class": {}, "buckets": {}}
        mask_summary, mask_per_class = aggregate_masks(records, categories)
        per_class = aggregates["per_class"]
        for category, values in mask_per_class.items():
            per_class.setdefault(category, {}).update(values)
        return cls(method=method, dataset=dataset, split=split, protocol=protocol,
                   provenance=provenance, categories=list(categories), records=list(records),
                   summary={**aggregates["summary"], **mask_summary}, per_class=per_class,
                   buckets=aggregates["buckets"])

    def to_dict(self, include_records: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "method": self.method,
            "dataset": self.dataset,
            "split": self.split,
            "protocol": self.protocol.to_dict(),
            "provenance": self.provenance,
            "summary": self.summary,
            "per_class": self.per_class,
            "buckets": self.buckets,
        }
        if include_records:
            data["records"] = self.records
        return data


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
    mapped = transfer_points(field_, snapped)
    if mode == "round_offset":
        mapped = mapped + (queries - snapped)
    return mapped


def predicted_points(pair: Pair, prediction: Prediction, protocol: Protocol) -> np.ndarray:
    """The method's answer for the protocol's query keypoints, in the answer image's pixels."""
    direction = protocol.direction
    queries = pair.kps(protocol.query_side)
    if direction in prediction.points:
        answer = np.asarray(prediction.points[direction], dtype=np.float64).reshape(-1, 2)
        if len(answer) != len(queries):
            raise ValueError(f"method answered {len(answer)} points for {len(queries)} queries")
        return answer
    field_ = prediction.field_for(direction)
    if field_ is None:
        raise UsageError(
            f"the method returned neither a {direction} field nor points; protocol "
            f"'{protocol.name}' needs {direction}"
        )
    return transfer_queries(field_, queries, protocol.query_rounding)


def score_pair(pair: Pair, prediction: Prediction, protocol: Protocol, metric: PCKMetric) -> dict[str, Any]:
    """PCK record of one pair, plus mask scores when the method predicts masks and GT has them."""
    from corrbench.mask_scoring import mask_scores

    answer_side = protocol.answer_side
    predicted = predicted_points(pair, prediction, protocol)
    record = metric.make_record(
        predicted,
        pair.kps(answer_side),
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


def score_coseg_pair(pair: Pair, prediction: Prediction, protocol: Protocol) -> dict[str, Any]:
    """Co-segmentation record: the SOURCE image's mask only, so each image is scored once per cycle."""
    from corrbench.mask_scoring import mask_scores

    masks = mask_scores(pair, prediction, sides=("src",), jaccard_empty_gt=protocol.jaccard_empty_gt)
    if not masks:
        raise UsageError(f"method returned no source mask for pair {pair.pair_id}; "
                         f"dataset needs foreground masks (co-segmentation)")
    return {"pair_id": pair.pair_id, "category": pair.category, "masks": masks}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    import torch

    torch.manual_seed(seed)


def evaluate(
    method: Method,
    dataset: Dataset,
    protocol: "str | Protocol | None" = None,
    limit: int | None = None,
    *,
    batch_size: int | None = None,
    seed: int = 0,
    progress: bool = False,
    indices: Sequence[int] | None = None,
    on_record: RecordCallback | None = None,
    done: dict[str, dict[str, Any]] | None = None,
) -> EvaluationResult:
    """Score ``method`` on ``dataset``; see :class:`EvaluationResult`.

    ``indices`` restricts the run to some pairs (sharding); ``done`` maps pair ids to records
    already computed (resume) which are reused instead of recomputed; ``on_record`` is called
    with each new record as soon as it exists.
    """
    if dataset.task not in ("keypoints", "coseg"):
        raise UsageError(
            f"dataset '{dataset.name}' is scored as '{dataset.task}' (dense flow), not by PCK or masks; "
            "use `corrbench run` or corrbench.tss.evaluate.evaluate_tss"
        )
    protocol = get_protocol(protocol or dataset.default_protocol, dataset=dataset.name)
    seed_everything(seed)
    order = list(indices) if indices is not None else list(range(len(dataset)))
    if limit is not None:
        order = order[: max(0, int(limit))]
    batch = max(1, int(batch_size or getattr(method, "batch_size", 1) or 1))
    metric = PCKMetric.from_protocol(protocol)
    done = done or {}
    records: list[dict[str, Any]] = []

    from corrbench.progress import progress_bar

    with progress_bar(len(order), f"{method.name} on {dataset.name}", enabled=progress) as advance:
        for start in range(0, len(order), batch):
            # Seeding by the first pair's index makes a pair's answer independent of sharding/resume.
            seed_everything(seed + order[start])
            pairs = [dataset[i] for i in order[start : start + batch]]
            todo = [p for p in pairs if p.pair_id not in done]
            framed = [apply_frame(p, protocol) for p in todo]
            blind = [replace(p, src_mask=None, trg_mask=None, flow_src_to_trg=None, flow_trg_to_src=None)
                     for p in framed]  # methods never see dense ground truth at test time
            predictions = method.predict(blind, directions=(protocol.direction,)) if framed else []
            if dataset.task == "coseg":
                new = {p.pair_id: score_coseg_pair(p, pred, protocol) for p, pred in zip(framed, predictions)}
            else:
                new = {p.pair_id: score_pair(p, pred, protocol, metric) for p, pred in zip(framed, predictions)}
            for pair in pairs:
                record = done.get(pair.pair_id) or new[pair.pair_id]
                records.append(record)
                if pair.pair_id in new and on_record is not None:
                    on_record(record)
            advance(len(pairs))

    provenance = run_provenance(method, dataset, seed=seed, limit=limit)
    return EvaluationResult.from_records(
        records, method=method.name, dataset=dataset.name, split=dataset.split, protocol=protocol,
        provenance=provenance, categories=list(dataset.categories),
    )
