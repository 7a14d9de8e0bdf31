"""Pictures people look at instead of reading: PCK-vs-alpha curves, per-class bars, single-pair transfers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from corrbench.leaderboard.tables import MEAN, read_rows


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    from corrbench.io import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110, bbox_inches="tight")
    return path


def plot_pck_curves(directory: str | Path, dataset: str, out_dir: str | Path) -> list[Path]:
    """One PNG per (split, protocol): mean-over-classes PCK against alpha, one line per run, with
    its 95 % bootstrap interval as a band where the leaderboard has one."""
    plt = _pyplot()
    frame = read_rows(directory, dataset)
    frame = frame[(frame["metric"] == "pck") & (frame["category"] == MEAN)]
    written = []
    for (split, protocol), group in frame.groupby(["split", "protocol"]):
        fig, axis = plt.subplots(figsize=(5.5, 4))
        from corrbench.leaderboard.tables import run_label

        for (method, weights, options, seed, data_options), rows in group.groupby(
                ["method", "weights", "options", "seed", "dataset_options"]):
            rows = rows.sort_values("alpha")
            name = run_label(method, options, seed, data_options)
            label = name if weights in ("none", "nan") else f"{name} ({weights})"
            (line,) = axis.plot(rows["alpha"], 100 * rows["value"], marker="o", label=label)
            banded = rows.dropna(subset=["ci_low", "ci_high"])
            if len(banded):
                axis.fill_between(banded["alpha"], 100 * banded["ci_low"], 100 * banded["ci_high"],
                                  color=line.get_color(), alpha=0.15, linewidth=0)
        axis.set_xlabel("α (threshold = α · L)")
        axis.set_ylabel("PCK (%), mean over classes")
        axis.set_title(f"{dataset} / {split} — protocol {protocol} (bands: 95 % bootstrap)")
        axis.set_ylim(0, 100)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
        name = f"pck_curve__{split}__{str(protocol).replace('/', '_')}.png"
        written.append(_save(fig, Path(out_dir) / name))
        plt.close(fig)
    return written


@dataclass(frozen=True)
class ClassBars:
    """What one per-class bar chart shows: classes (then the mean), and per run its values and interval (%)."""

    split: str
    protocol: str
    classes: list[str]
    runs: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]  # (label, value, low, high), NaN where unknown


def class_bars(frame: pd.DataFrame, dataset: str, alpha: float = 0.1) -> list[ClassBars]:
    """Per (split, protocol): per-class PCK@alpha (per image) of every run with its 95 % interval."""
    from corrbench.leaderboard.tables import ALL_PAIRS, card_categories, table_runs

    frame = frame[(frame["metric"] == "pck") & ((frame["alpha"] - alpha).abs() < 1e-9)
                  & (frame["category"] != ALL_PAIRS) & ~frame["category"].astype(str).str.contains("=")]
    order = card_categories(dataset) or []
    charts = []
    for (split, protocol), group in frame.groupby(["split", "protocol"]):
        present = set(group["category"])
        classes = [c for c in order if c in present] + sorted(present - set(order) - {MEAN})
        classes += [MEAN] if MEAN in present else []
        runs = []
        for label, weights, rows in table_runs(group):
            by_class = rows.set_index("category")
            column = {key: np.array([100 * float(pd.to_numeric(by_class[key], errors="coerce").get(c, np.nan))
                                     for c in classes]) for key in ("value", "ci_low", "ci_high")}
            name = label if weights in ("none", "nan") else f"{label} ({weights})"
            runs.append((name, column["value"], column["ci_low"], column["ci_high"]))
        charts.append(ClassBars(str(split), str(protocol), classes, runs))
    return charts


def plot_class_bars(directory: str | Path, dataset: str, out_dir: str | Path, alpha: float = 0.1) -> list[Path]:
    """One PNG per (split, protocol): per-class PCK@alpha, runs as grouped bars, each bar's 95 % bootstrap
    interval (that class's pairs resampled) as an error bar where one is known."""
    plt = _pyplot()
    written = []
    for chart in class_bars(read_rows(directory, dataset), dataset, alpha):
        classes, runs = chart.classes, chart.runs
        fig, axis = plt.subplots(figsize=(max(6.0, 0.18 * len(classes) * max(len(runs), 2) + 3), 4.2))
        width = 0.8 / max(1, len(runs))
        for k, (name, values, low, high) in enumerate(runs):
            errors = np.maximum(np.stack([values - low, high - values]), 0)  # NaN (no interval): no bar
            axis.bar(np.arange(len(classes)) + (k - (len(runs) - 1) / 2) * width, values, width, yerr=errors,
                     capsize=2, label=name, error_kw={"linewidth": 0.8})
        axis.set_xticks(np.arange(len(classes)))
        axis.set_xticklabels(["mean of classes" if c == MEAN else c for c in classes], rotation=30, ha="right")
        axis.set_ylabel(f"PCK@{alpha:g} (%), per image")
        axis.set_ylim(0, 100)
        axis.set_title(f"{dataset} / {chart.split} — protocol {chart.protocol}, per class (bars: 95 % bootstrap)")
        axis.grid(axis="y", alpha=0.3)
        axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        name = f"pck_classes__{chart.split}__{chart.protocol.replace('/', '_')}.png"
        written.append(_save(fig, Path(out_dir) / name))
        plt.close(fig)
    return written


def plot_leaderboard(directory: str | Path, dataset: str, out_dir: str | Path) -> list[Path]:
    """Every picture of a dataset's leaderboard: PCK curves and per-class bars at α = 0.1."""
    return plot_pck_curves(directory, dataset, out_dir) + plot_class_bars(directory, dataset, out_dir)


def flow_colours(displacement: np.ndarray) -> np.ndarray:
    """HSV colour wheel of a displacement field (hue = direction, brightness = length)."""
    from matplotlib.colors import hsv_to_rgb

    u, v = displacement[..., 0], displacement[..., 1]
    finite = np.isfinite(u) & np.isfinite(v)
    magnitude = np.where(finite, np.hypot(u, v), 0)
    angle = np.where(finite, np.arctan2(v, u), 0)
    scale = np.percentile(magnitude[finite], 99) if finite.any() else 1.0
    hsv = np.stack([(angle + np.pi) / (2 * np.pi), np.ones_like(u), np.clip(magnitude / max(scale, 1e-6), 0, 1)], -1)
    rgb = hsv_to_rgb(hsv)
    rgb[~finite] = 0
    return rgb


def warp_image(image: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Sample ``image`` at pixel coordinates ``coords`` (h, w, 2) bilinearly; black where NaN/outside."""
    import torch

    from corrbench.eval.transfer import pixels_to_normalized

    normalised = pixels_to_normalized(coords.astype(np.float32), image.shape[:2])
    grid = torch.nan_to_num(torch.from_numpy(np.ascontiguousarray(normalised, dtype=np.float32)), nan=-2.0)
    tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    warped = torch.nn.functional.grid_sample(tensor, grid[None], align_corners=False, padding_mode="zeros")
    return warped[0].permute(1, 2, 0).clamp(0, 255).byte().numpy()


def show_pair(pair: Any, prediction: Any, protocol: Any, out: str | Path) -> Path:
    """Keypoint transfer (green correct, red wrong at the protocol's main alpha), plus warp and flow."""
    from corrbench.eval.keypoints import predicted_points
    from corrbench.metrics.pck import keypoint_correct, threshold_length
    from corrbench.eval.transfer import identity_grid

    plt = _pyplot()
    alpha = protocol.bucket_alpha
    query_side, answer_side = protocol.query_side, protocol.answer_side
    visible = pair.kps_visible
    answer = predicted_points(pair, prediction, protocol)[visible]
    reference = pair.kps(answer_side)[visible]
    queries = pair.kps(query_side)[visible]
    length = threshold_length(pair, protocol)
    correct = keypoint_correct(answer, reference, length, [alpha], protocol.comparison)[:, 0]
    field = prediction.field_for(protocol.direction)
    panels = 4 if field is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 4.2))
    axes[0].imshow(pair.image(query_side))
    axes[0].scatter(queries[:, 0], queries[:, 1], c="yellow", s=22, edgecolors="black")
    axes[0].set_title(f"query ({'target' if query_side == 'trg' else 'source'})")
    axes[1].imshow(pair.image(answer_side))
    axes[1].scatter(reference[:, 0], reference[:, 1], facecolors="none", edgecolors="white", s=40)
    for (ax_, ay_), (rx, ry), ok in zip(answer, reference, correct):
        colour = "lime" if ok else "red"
        axes[1].plot([rx, ax_], [ry, ay_], color=colour, linewidth=1)
        axes[1].scatter([ax_], [ay_], c=colour, s=18)
    axes[1].set_title(f"transferred: {int(correct.sum())}/{len(correct)} within {alpha:g}·L (L={length:.0f})")
    if field is not None:
        axes[2].imshow(warp_image(pair.image(answer_side), field.coords))
        axes[2].set_title("answer image warped onto query grid")
        grid = identity_grid(field.image_size, field.coords.shape[:2])
        other = pair.image(answer_side).shape[:2]
        scale = np.array([field.image_size[1] / other[1], field.image_size[0] / other[0]])
        axes[3].imshow(flow_colours(field.coords * scale - grid))
        axes[3].set_title("flow (hue = direction)")
    for axis in axes:
        axis.axis("off")
    fig.suptitle(f"{pair.pair_id} ({pair.category})")
    path = _save(fig, Path(out))
    plt.close(fig)
    return path
