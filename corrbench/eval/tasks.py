"""What a benchmark scores, one class per task: keypoints (PCK), co-segmentation (masks), dense flow (TSS kit).

The runner is the same for all of them; a task says which directions it asks for, what the
method may see, how an answer is checked and scored into a JSON record, and how records add up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

from corrbench.api import DIRECTIONS, Dataset, Direction, Method, Pair, Prediction, Scored
from corrbench.errors import MethodError, UsageError
from corrbench.eval.blinding import blind_pair
from corrbench.eval.validation import check_answer, method_label
from corrbench.eval.frames import apply_frame
from corrbench.eval.protocols import Protocol


@dataclass
class Assembled:
    summary: dict[str, Any]
    per_class: dict[str, dict[str, Any]]
    buckets: dict[str, dict[str, float]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    summary_ci: dict[str, list[float]] = field(default_factory=dict)
    class_ci: dict[str, dict[str, list[float]]] = field(default_factory=dict)


class Task:
    """Base: keypoint-style framing and blinding, answers required for the protocol's direction."""

    name: ClassVar[str] = "task"

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol

    @property
    def directions(self) -> tuple[Direction, ...]:
        return (self.protocol.direction,)

    @property
    def options(self) -> dict[str, Any]:
        """Task settings that change records (part of the run identity)."""
        return {}

    @property
    def reuses_records(self) -> bool:
        """False when a run must recompute every pair (e.g. it also writes prediction files)."""
        return True

    def frame(self, pair: Pair) -> Pair:
        return apply_frame(pair, self.protocol)

    @property
    def query_side(self) -> str | None:
        """The side whose keypoints the method sees as queries (None: no keypoints at all)."""
        return self.protocol.query_side

    def method_view(self, pair: Pair) -> Pair:
        """The blinded copy, with ``meta['scored']``: what :meth:`score` will read of the answer."""
        view = blind_pair(pair, self.query_side, self.protocol.method_sees)
        view.meta["scored"] = self.scored(pair)
        return view

    def scored(self, pair: Pair) -> Scored:
        return Scored(query_rounding=self.protocol.query_rounding)

    def check(self, method: Method, view: Pair, prediction: Prediction) -> None:
        check_answer(method, view, prediction, required=self.directions)

    def score(self, method: Method, pair: Pair, prediction: Prediction) -> dict[str, Any]:
        raise NotImplementedError

    def assemble(self, records: Sequence[dict[str, Any]], categories: Sequence[str]) -> Assembled:
        raise NotImplementedError


class KeypointTask(Task):
    """PCK of transferred keypoints, plus mask IoU where a method predicts masks and GT has them."""

    name = "keypoints"

    def __init__(self, protocol: Protocol, fields: bool = False) -> None:
        from corrbench.metrics.pck import PCKMetric

        super().__init__(protocol)
        self.metric = PCKMetric.from_protocol(protocol)
        self.fields = bool(fields)  # True when the caller draws the dense field (``corrbench show``)

    def scored(self, pair: Pair) -> Scored:
        """Only the query keypoints (unless ``fields``), and masks where ground truth has them."""
        masks = tuple(side for side in ("src", "trg") if getattr(pair, f"{side}_mask") is not None)
        return Scored(fields=self.fields, masks=masks, query_rounding=self.protocol.query_rounding)

    def score(self, method: Method, pair: Pair, prediction: Prediction) -> dict[str, Any]:
        from corrbench.eval.keypoints import score_keypoints

        return score_keypoints(pair, prediction, self.protocol, self.metric)

    def assemble(self, records: Sequence[dict[str, Any]], categories: Sequence[str]) -> Assembled:
        from corrbench.metrics.mask_scoring import aggregate_masks
        from corrbench.metrics.pck import PCKMetric

        metric = PCKMetric.from_protocol(self.protocol)
        for record in records:
            if "n_kps" in record:
                metric.add(record)
        if metric.records:
            aggregates = metric.compute(categories)
        else:
            aggregates = {"summary": {"n_pairs": len(records)}, "per_class": {}, "buckets": {}}
        mask_summary, mask_per_class = aggregate_masks(records, categories, self.protocol.jaccard_empty_gt)
        per_class = aggregates["per_class"]
        for category, values in mask_per_class.items():
            per_class.setdefault(category, {}).update(values)
        from corrbench.metrics.bootstrap import class_intervals, pck_intervals

        intervals = pck_intervals(metric.records, self.protocol.alphas) if metric.records else {}
        by_class = class_intervals(metric.records, self.protocol.alphas) if metric.records else {}
        return Assembled(summary={**aggregates["summary"], **mask_summary}, per_class=per_class,
                         buckets=aggregates["buckets"], summary_ci=intervals, class_ci=by_class)


class CosegTask(KeypointTask):
    """Co-segmentation (Internet): the SOURCE image's mask only, so each image is scored once per cycle."""

    name = "coseg"

    @property
    def query_side(self) -> str | None:
        return None

    def scored(self, pair: Pair) -> Scored:
        return Scored(fields=False, masks=("src",))

    def check(self, method: Method, view: Pair, prediction: Prediction) -> None:
        check_answer(method, view, prediction, required=(), optional=DIRECTIONS)
        if prediction.src_mask is None:
            raise MethodError(f"{method_label(method)} returned no source mask for pair {view.pair_id}; "
                              "dataset needs foreground masks (co-segmentation)")

    def score(self, method: Method, pair: Pair, prediction: Prediction) -> dict[str, Any]:
        from corrbench.metrics.mask_scoring import mask_scores

        masks = mask_scores(pair, prediction, sides=("src",), jaccard_empty_gt=self.protocol.jaccard_empty_gt)
        return {"pair_id": pair.pair_id, "category": pair.category, "masks": masks}


class FlowTask(Task):
    """TSS: both directions at ground-truth resolution, scored by the official kit's rules."""

    name = "flow"

    def __init__(self, protocol: Protocol, kit: str = "cpp", auto_flip: bool = False,
                 save_predictions: str | None = None) -> None:
        from corrbench.tss.kit import check_kit

        super().__init__(protocol)
        self.kit = check_kit(kit)
        self.auto_flip = bool(auto_flip)
        self.save_predictions = save_predictions

    @property
    def directions(self) -> tuple[Direction, ...]:
        return DIRECTIONS

    @property
    def options(self) -> dict[str, Any]:
        return {"kit": self.kit, "auto_flip": self.auto_flip}

    @property
    def reuses_records(self) -> bool:
        return self.save_predictions is None

    def frame(self, pair: Pair) -> Pair:
        return pair  # the kit scores at ground-truth resolution by its own rules

    @property
    def query_side(self) -> str | None:
        return None

    def scored(self, pair: Pair) -> Scored:
        return Scored(fields=True, masks=("src", "trg"))

    def check(self, method: Method, view: Pair, prediction: Prediction) -> None:
        check_answer(method, view, prediction, required=(), optional=DIRECTIONS)

    def score(self, method: Method, pair: Pair, prediction: Prediction) -> dict[str, Any]:
        from corrbench.tss.convert import ground_truth_from_pair, kit_prediction
        from corrbench.tss.folder import write_prediction_folder
        from corrbench.tss.kit import score_pair

        gt = ground_truth_from_pair(pair)
        kit_answer = kit_prediction(prediction, pair)
        if self.save_predictions is not None:
            write_prediction_folder(Path(self.save_predictions) / gt.subset / gt.pair_dir, kit_answer)
        rows = score_pair(gt, kit_answer, self.kit, self.auto_flip)
        return {"pair_id": pair.pair_id, "category": gt.subset, "kit_rows": [row.to_dict() for row in rows],
                "missing_direction": kit_answer.flow1 is None or kit_answer.flow2 is None}

    def assemble(self, records: Sequence[dict[str, Any]], categories: Sequence[str]) -> Assembled:
        from corrbench.tss.result import tss_result_from_records

        scored = tss_result_from_records(records, kit=self.kit, auto_flip=self.auto_flip)
        missing = sum(1 for r in records if r.get("missing_direction"))
        if missing:
            scored.warnings.insert(0, f"the method gave no field for one direction on {missing} pairs: "
                                      "the kit then scores both directions' flow accuracy as 0")
        return Assembled(summary=scored.summary, per_class=scored.per_class, warnings=scored.warnings)


def task_for(dataset: Dataset, protocol: Protocol, *, kit: str = "cpp", auto_flip: bool = False,
             save_predictions: str | None = None, fields: bool = False) -> Task:
    """The task a dataset is scored by (its ``task`` attribute); ``fields``: ask keypoint methods
    for dense fields too (for drawing them), not only what PCK reads."""
    if dataset.task == "keypoints":
        task: Task = KeypointTask(protocol, fields=fields)
    elif dataset.task == "coseg":
        task = CosegTask(protocol)
    elif dataset.task == "flow":
        task = FlowTask(protocol, kit=kit, auto_flip=auto_flip, save_predictions=save_predictions)
    else:
        raise UsageError(f"dataset '{dataset.name}' declares unknown task '{dataset.task}'; "
                         "expected keypoints, coseg or flow")
    if save_predictions is not None and task.name != "flow":
        raise UsageError(f"--save-predictions writes the TSS kit layout; dataset '{dataset.name}' is scored "
                         f"as '{dataset.task}'")
    return task
