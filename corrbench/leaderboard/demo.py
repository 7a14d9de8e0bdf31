"""The main job on the embedded benchmark: every installed method, one comparison, in one process.

``corrbench demo`` (``make demo``) evaluates each run of ``leaderboards/runs.yaml`` whose method is
installed (baselines and the learned methods with their committed checkpoints) on ``synthetic``
exactly as the leaderboard does, in one process (the pairs come from the on-disk pair cache after
the first render), and writes into ``--out``: each run's JSON, a leaderboard folder of its own
(the committed one is never touched), the comparison table (methods x classes, PCK@0.1 and mask
IoU where predicted), the PCK curve and the per-class bars, and one keypoint-transfer picture.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from corrbench.errors import UsageError


@dataclass
class DemoReport:
    out: Path
    seconds: dict[str, float] = field(default_factory=dict)  # per run label, build + evaluation
    skipped: list[str] = field(default_factory=list)  # listed methods that are not installed
    files: list[Path] = field(default_factory=list)
    total_seconds: float = 0.0
    results: list[Any] = field(default_factory=list)


def installed_methods() -> set[str]:
    from corrbench.registry import METHOD_GROUP, available

    return {info.name for info in available(METHOD_GROUP)}


def run_demo(runs_dir: str | Path = "leaderboards", out: str | Path = "demo", dataset: str = "synthetic",
             repo_root: str | Path = ".", jobs: int | None = None, log: Callable[[str], None] = print) -> DemoReport:
    """Evaluate every listed, installed run on ``dataset`` and draw the comparison into ``out``."""
    from corrbench.io import atomic_write_text
    from corrbench.leaderboard.check import load_manifest
    from corrbench.leaderboard.tables import update_leaderboard

    start = time.perf_counter()
    runs, _ = load_manifest(runs_dir)
    runs = [run for run in runs if run.dataset == dataset]
    if not runs:
        raise UsageError(f"no runs on '{dataset}' listed in {Path(runs_dir) / 'runs.yaml'}; run the demo from the "
                         "corrbench repository (or pass --runs-dir)")
    repo_root = Path(repo_root)
    for run in runs:
        if run.weights and not (repo_root / run.weights).is_file():
            raise UsageError(f"{run.method}: committed checkpoint {repo_root / run.weights} not found; run the demo "
                             "from the corrbench repository root (or pass --repo-root)")
    out = Path(out)
    board = out / "leaderboard"
    out.mkdir(parents=True, exist_ok=True)
    report = DemoReport(out=out)
    installed = installed_methods()
    report.skipped = [run.method for run in runs if run.method not in installed]
    runs = [run for run in runs if run.method in installed]
    _render_pairs(dataset, {run.split for run in runs})
    for run, result, seconds in _evaluate_all(runs, repo_root, jobs):
        report.seconds[run.method] = seconds
        log(f"{run.method:>15}: PCK@0.1 {100 * result.summary.get('pck@0.1', float('nan')):5.1f}  ({seconds:.1f} s)")
        update_leaderboard(board, result)
        path = out / f"{run.method}.json"
        atomic_write_text(path, json.dumps(result.to_dict(), indent=1, default=float) + "\n")
        report.files.append(path)
        report.results.append(result)
    report.files += _pictures(report, board, out, dataset, repo_root, runs)
    report.total_seconds = time.perf_counter() - start
    return report


#: Slowest first, so that two workers finish together (measured on the embedded benchmark).
EXPECTED_SECONDS = {"feature-nn": 19.0, "nemf": 14.0, "rtn": 6.6, "sfnet": 3.9, "macosnet": 2.9}


def _render_pairs(dataset: str, splits: set[str]) -> None:
    """Fill the on-disk pair cache once, before the workers read it (it is shared through the disk)."""
    import corrbench

    for split in splits:
        data = corrbench.load_dataset(dataset, split=split)
        for index in range(len(data)):
            data[index]


def _worker_threads(threads: int) -> None:
    """Each worker gets its share of the cores: OpenMP pools that oversubscribe them spin and crawl."""
    import torch

    torch.set_num_threads(threads)


def _timed_run(run: Any, repo_root: Path) -> tuple[Any, float]:
    from corrbench.leaderboard.check import run_listed

    began = time.perf_counter()
    result = run_listed(run, repo_root)
    return result, time.perf_counter() - began


def _evaluate_all(runs: list, repo_root: Path, jobs: int | None):
    """(run, result, seconds) in the listed order; ``jobs`` processes (default: 2 where 2 cores exist).

    Each run is evaluated exactly as ``leaderboard check`` does it; the workers only share the disk.
    """
    import os

    jobs = min(2, os.cpu_count() or 1) if jobs is None else max(1, int(jobs))
    if jobs == 1 or len(runs) < 2:
        for run in runs:
            yield (run, *_timed_run(run, repo_root))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    order = sorted(runs, key=lambda r: -EXPECTED_SECONDS.get(r.method, 1.0))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_worker_threads, initargs=(threads,)) as pool:
        futures = {id(run): pool.submit(_timed_run, run, repo_root) for run in order}
        for run in runs:
            yield (run, *futures[id(run)].result())


def _pictures(report: DemoReport, board: Path, out: Path, dataset: str, repo_root: Path, runs: list) -> list[Path]:
    """The PCK curve, the per-class bars and one transfer picture (the best run on the first pair)."""
    import corrbench
    from corrbench.eval.runner import predict_pair
    from corrbench.leaderboard.plots import plot_class_bars, plot_pck_curves, show_pair

    files = plot_pck_curves(board, dataset, out) + plot_class_bars(board, dataset, out)
    if report.results:
        best = max(report.results, key=lambda r: r.summary.get("pck@0.1", -1.0))
        run = next(r for r in runs if r.method == best.method)
        method = corrbench.load_method(run.method, weights=str(repo_root / run.weights) if run.weights else None,
                                       **run.options)
        data = corrbench.load_dataset(dataset, split=run.split)
        pair, prediction, protocol = predict_pair(method, data, 0, run.protocol, seed=run.seed)
        files.append(show_pair(pair, prediction, protocol, out / f"transfer__{run.method}__{pair.pair_id}.png"))
    return files
