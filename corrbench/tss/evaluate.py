"""TSS scoring entry points: a method on a dataset (:func:`evaluate_tss`), or a predictions
folder in the kit layout written by any code (:func:`evaluate_folder`).

Both score every pair with :func:`corrbench.tss.kit.score_pair` and group rows per subset, one
``scores.csv`` each, as the kit does (:class:`corrbench.tss.result.TSSResult`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Literal

from corrbench.api import Dataset, Method
from corrbench.errors import CorrbenchError, UsageError
from corrbench.tss.kit import KitPrediction, check_kit, score_pair
from corrbench.tss.result import TSSResult, _nan_warning, tss_result_from_records

Missing = Literal["error", "skip", "absent"]


def evaluate_tss(method: Method, dataset: Dataset, *, save_predictions: str | None = None,
                 kit: str = "cpp", auto_flip: bool = False, limit: int | None = None, seed: int = 0,
                 progress: Callable[[int, int], None] | None = None) -> TSSResult:
    """Run ``method`` on every pair of a TSS dataset and score it as the kit would.

    A thin view over the one runner (:func:`corrbench.eval.runner.evaluate`): the method sees each
    pair blinded and is asked for both directions.  Its fields and masks are converted to the kit's
    arrays at GT resolution (:mod:`corrbench.tss.convert`); with ``save_predictions`` they are also
    written in the kit layout, so ``corrbench evaluate`` (or the official kit) on that folder gives
    the same scores.
    """
    from corrbench.eval.runner import evaluate

    run = evaluate(method, dataset, limit=limit, seed=seed, kit=kit, auto_flip=auto_flip,
                   save_predictions=save_predictions, progress=progress or False)
    result = tss_result_from_records(run.records, kit=check_kit(kit), auto_flip=auto_flip)
    result.warnings = list(run.warnings)
    result.provenance = dict(run.provenance)
    return result


def evaluate_folder(root: str | os.PathLike[str], predictions: str | os.PathLike[str], *,
                    kit: str = "cpp", auto_flip: bool = False, missing: Missing = "error") -> TSSResult:
    """Score a predictions folder (``<subset>/<pair>/flow1.flo ...``) against the TSS at ``root``.

    ``root`` is the TSS root or one subset folder; for a subset root, ``predictions`` may also be
    the subset's results folder itself (the kit's ``resultsDir``).  Unlike the kit, pairs are
    taken from the ground truth: a pair without a prediction folder is an error (``missing=
    "error"``), left out (``"skip"``, the kit's behaviour) or scored as an empty folder
    (``"absent"``: zero flow accuracy and SegIUR).  Missing or unreadable files inside a pair
    folder are treated as the kit treats them (absent) and reported in ``warnings``.
    """
    from corrbench.data.tss import TSSDataset
    from corrbench.tss.convert import ground_truth_from_pair
    from corrbench.tss.folder import FolderReport, check_predictions_dir, find_subset_folder, read_prediction_folder

    kit = check_kit(kit)
    if missing not in ("error", "skip", "absent"):
        raise UsageError(f"missing must be error, skip or absent, not {missing!r}")
    pred_root = check_predictions_dir(predictions)
    dataset = TSSDataset(str(root))
    single = len({f.subset for f in dataset.folders}) == 1 and Path(root).name in dataset.categories
    result = TSSResult(kit=kit, auto_flip=auto_flip)
    result.provenance = {**dataset.provenance(), "predictions": str(pred_root), "kit": kit, "auto_flip": auto_flip}
    report = FolderReport()
    absent_pairs: list[str] = []
    seen: dict[str, set[str]] = {}
    for index, folder in enumerate(dataset.folders):
        subset_dir = find_subset_folder(pred_root, folder.subset, single)
        pair_dir = subset_dir / folder.path.name if subset_dir is not None else None
        if subset_dir is not None:
            seen.setdefault(str(subset_dir), set()).add(folder.path.name)
        if pair_dir is None or not pair_dir.is_dir():
            absent_pairs.append(folder.pair_id)
            if missing != "absent":
                continue
            prediction = KitPrediction()
        else:
            prediction = read_prediction_folder(pair_dir, kit, report)
        gt = ground_truth_from_pair(dataset[index])
        result.add(folder.subset, score_pair(gt, prediction, kit, auto_flip))
    if absent_pairs and missing == "error":
        raise CorrbenchError(
            f"no prediction folder for {len(absent_pairs)} of {len(dataset)} TSS pairs "
            f"(first: {absent_pairs[0]} under {pred_root}); pass --missing skip to score only the "
            "pairs present (the kit's behaviour) or --missing absent to score them as 0"
        )
    if absent_pairs:
        result.warnings.append(f"{len(absent_pairs)} pairs have no prediction folder ({missing}); first: {absent_pairs[0]}")
    for subset_dir, names in seen.items():
        extra = sorted(p.name for p in Path(subset_dir).iterdir() if p.is_dir() and p.name not in names)
        if extra:
            result.warnings.append(f"{len(extra)} folders in {subset_dir} match no TSS pair and were ignored (first: {extra[0]})")
    flows_missing = [m for m in report.missing if m.endswith(".flo")]
    if flows_missing:
        result.warnings.append(f"{len(flows_missing)} flow files missing (scored 0 as the kit does); first: {flows_missing[0]}")
    masks_missing = [m for m in report.missing if m.endswith(".png")]
    if masks_missing:
        result.warnings.append(f"{len(masks_missing)} mask files missing: masks estimated from the flows as the kit does")
    for problem in report.unreadable:
        result.warnings.append(f"unreadable, treated as absent: {problem}")
    _nan_warning(result)
    return result
