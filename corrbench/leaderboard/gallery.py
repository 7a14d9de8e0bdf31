"""A run's worst pairs on one sheet (``corrbench show --run RESULT.json --worst N``).

A summary says how often a method fails, not how; the pairs it gets most wrong do.  *Worst* is
defined on the run's own per-pair records: lowest PCK at the protocol's headline α (per image),
then the larger share of NaN/inf predictions, then the larger mean normalised error (error / L
over the finite predictions), then pair id, so the choice is the same every time.  The chosen
pairs are predicted again exactly as the run predicted them (same method options, weights, seed,
dataset options and protocol, from the result JSON) and drawn: source | target, query keypoints,
ground truth, predictions and their error lines.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from corrbench.errors import CheckpointError, UsageError

#: Pixel size of one panel of the sheet (saved at this size exactly, so a sheet's size tells its layout).
PANEL_PX = (640, 340)
DPI = 100


@dataclass(frozen=True)
class Sheet:
    path: Path
    rows: int
    columns: int
    pair_ids: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=())


def _pck(record: dict[str, Any], alpha: float) -> float:
    return record["correct"][f"{alpha:g}"] / record["n_kps"]


def worst_records(records: Sequence[dict[str, Any]], alpha: float, n: int) -> list[dict[str, Any]]:
    """The ``n`` worst scored records (see the module docstring for the order)."""
    if n < 1:
        raise UsageError(f"--worst must be at least 1, got {n}")
    scored = [r for r in records if r.get("n_kps", 0) > 0 and "correct" in r]
    if not scored:
        raise UsageError("the run has no pair with a scored keypoint; nothing to draw")
    if f"{alpha:g}" not in scored[0]["correct"]:
        raise UsageError(f"the run's records hold no PCK at α = {alpha:g} "
                         f"(they have {', '.join(scored[0]['correct'])})")

    def badness(record: dict[str, Any]) -> tuple[float, float, float, str]:
        error = record.get("mean_norm_error")  # absent in records of older runs: ranked after known errors
        return (_pck(record, alpha), -record.get("n_nonfinite", 0) / record["n_kps"],
                -error if error is not None else math.inf, str(record["pair_id"]))

    return sorted(scored, key=badness)[:n]


def load_run(path: str | Path) -> dict[str, Any]:
    """A ``corrbench run --json`` result with per-pair keypoint records."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no run file {path}; pass the --json file of `corrbench run`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"cannot read run file {path} ({error}); pass the --json file of `corrbench run`") from None
    if not isinstance(data, dict) or not {"method", "dataset", "protocol", "identity"} <= set(data):
        raise UsageError(f"{path} is not a result of `corrbench run --json` (no method, dataset, protocol, identity)")
    records = data.get("records") or []
    if not records:
        raise UsageError(f"{path} holds no per-pair records; write it with `corrbench run --json`")
    if "n_kps" not in records[0]:
        raise UsageError(f"{path}: the worst-pairs gallery draws keypoint (PCK) runs; these records hold no keypoints")
    return data


def run_protocol(data: dict[str, Any]) -> Any:
    """The run's protocol exactly as it was (a customised preset too), checked against its digest."""
    from corrbench.eval.identity import protocol_digest
    from corrbench.eval.protocol import Protocol

    fields = dict(data["protocol"])
    for key in ("alphas", "buckets", "method_sees"):
        if key in fields:
            fields[key] = tuple(fields[key])
    try:
        protocol = Protocol(**fields)
    except (TypeError, ValueError) as error:
        raise UsageError(f"the run's protocol cannot be rebuilt by this corrbench ({error})") from None
    expected = data["identity"].get("protocol_digest")
    if expected and protocol_digest(protocol) != expected:
        raise UsageError(f"the run's protocol '{protocol.name}' does not match its recorded digest; "
                         "the file was edited or written by another corrbench")
    return protocol


def _check_weights(identity: dict[str, Any], weights: str | None, method: str = "") -> str | None:
    """The run's weights file (a registry tag resolved through the cache), checked against its sha256."""
    from corrbench.io import file_digest
    from corrbench.weights.registry import looks_like_tag, resolve_weights

    expected = identity.get("weights_sha256")
    if expected and weights is None:
        raise UsageError(f"the run used weights {identity.get('weights')}; pass that file with --weights")
    if weights is not None:
        if not Path(weights).is_file() and looks_like_tag(weights):
            weights = str(resolve_weights(method, weights).path)
        if not Path(weights).is_file():
            raise CheckpointError(f"--weights {weights}: no such file")
        if not expected:
            raise UsageError(f"the run used no weights file ({identity.get('weights')}); drop --weights")
        if file_digest(weights) != expected:
            raise CheckpointError(f"--weights {weights} is not the run's checkpoint (sha256 {file_digest(weights)[:12]}, "
                                  f"the run's {expected[:12]})")
    return weights


def worst_pairs_sheet(run: str | Path, n: int, out: str | Path, *, weights: str | None = None,
                      root: str | None = None, device: str = "cpu", columns: int = 2) -> Sheet:
    """Predict the run's ``n`` worst pairs again and draw them on one PNG sheet."""
    import corrbench
    from corrbench.eval.keypoints import predicted_points
    from corrbench.eval.runner import predict_pair

    data = load_run(run)
    protocol = run_protocol(data)
    alpha = float(protocol.bucket_alpha)
    chosen = worst_records(data["records"], alpha, n)
    identity = data["identity"]
    weights = _check_weights(identity, weights, data["method"])
    dataset = corrbench.load_dataset(data["dataset"], root=root or identity.get("dataset_root"),
                                     split=data.get("split", "test"), **(identity.get("dataset_options") or {}))
    ids = [str(i) for i in dataset.pair_ids()]
    missing = [str(r["pair_id"]) for r in chosen if str(r["pair_id"]) not in ids]
    if missing:
        raise UsageError(f"pair '{missing[0]}' of the run is not in {data['dataset']}/{dataset.split} here "
                         "(another dataset root or version?)")
    method = corrbench.load_method(data["method"], weights=weights, device=device, **(identity.get("options") or {}))
    panels, warnings = [], []
    for record in chosen:
        pair, prediction, _ = predict_pair(method, dataset, ids.index(str(record["pair_id"])), protocol,
                                           seed=int(identity.get("seed", 0)))
        answers = predicted_points(pair, prediction, protocol)
        panel = Panel.of(pair, answers, protocol, alpha)
        if not math.isclose(panel.pck, _pck(record, alpha)):
            warnings.append(f"pair {pair.pair_id}: PCK@{alpha:g} predicted again is {panel.pck:.3f}, the run "
                            f"recorded {_pck(record, alpha):.3f} (other code, weights or batch seeding?)")
        panels.append(panel)
    return draw_sheet(panels, out, columns=columns, title=f"{data['method']} on {data['dataset']}/{dataset.split} "
                      f"— {len(panels)} worst pair(s) at PCK@{alpha:g}, protocol {protocol.name}",
                      warnings=tuple(warnings))


@dataclass(frozen=True)
class Panel:
    """What one pair's drawing needs, in the protocol's frame."""

    pair_id: str
    category: str
    source: np.ndarray
    target: np.ndarray
    query_side: str
    queries: np.ndarray  # (K, 2) visible query keypoints
    truth: np.ndarray  # (K, 2) their ground truth on the answer side
    answers: np.ndarray  # (K, 2) the method's answers
    correct: np.ndarray  # (K,) bool at alpha
    alpha: float
    length: float

    @property
    def pck(self) -> float:
        return float(self.correct.mean()) if len(self.correct) else math.nan

    @property
    def mean_norm_error(self) -> float | None:
        from corrbench.metrics.pck import mean_normalised_error

        return mean_normalised_error(self.answers, self.truth, self.length)

    @classmethod
    def of(cls, pair: Any, answers: np.ndarray, protocol: Any, alpha: float) -> "Panel":
        from corrbench.metrics.pck import keypoint_correct, threshold_length

        visible = np.asarray(pair.kps_visible, dtype=bool)
        truth = pair.kps(protocol.answer_side)[visible]
        answers = np.asarray(answers, dtype=np.float64).reshape(-1, 2)[visible]
        length = float(threshold_length(pair, protocol))
        correct = keypoint_correct(answers, truth, length, [alpha], protocol.comparison)[:, 0]
        return cls(str(pair.pair_id), str(pair.category), np.asarray(pair.image("src")), np.asarray(pair.image("trg")),
                   protocol.query_side, pair.kps(protocol.query_side)[visible], truth, answers, correct, alpha, length)


def _side_by_side(left: np.ndarray, right: np.ndarray, gap: int = 8) -> np.ndarray:
    def rgb(image: np.ndarray) -> np.ndarray:
        image = np.asarray(image)
        return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image[..., :3]

    left, right = rgb(left), rgb(right)
    height = max(left.shape[0], right.shape[0])
    canvas = np.full((height, left.shape[1] + gap + right.shape[1], 3), 255, dtype=np.uint8)
    canvas[: left.shape[0], : left.shape[1]] = left
    canvas[: right.shape[0], left.shape[1] + gap:] = right
    return canvas


def _draw_panel(axis: Any, panel: Panel) -> None:
    gap = 8
    axis.imshow(_side_by_side(panel.source, panel.target, gap))
    shift = np.array([panel.source.shape[1] + gap, 0.0])
    on_query = panel.queries + (shift if panel.query_side == "trg" else 0)
    on_answer = panel.truth + (shift if panel.query_side == "src" else 0)
    answers = panel.answers + (shift if panel.query_side == "src" else 0)
    for x, side in ((0.0, "src"), (shift[0], "trg")):
        label = ("source" if side == "src" else "target") + (" · queries" if side == panel.query_side else " · answers")
        axis.text(x + 3, 3, label, fontsize=7, va="top", bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0})
    colours = [f"C{i % 10}" for i in range(len(on_query))]  # a keypoint's query and truth share a colour
    axis.scatter(on_query[:, 0], on_query[:, 1], c=colours, s=26, marker="s", edgecolors="black", linewidths=0.6)
    axis.scatter(on_answer[:, 0], on_answer[:, 1], facecolors="none", edgecolors=colours, s=60, linewidths=1.5)
    finite = np.isfinite(answers).all(axis=1)
    for (gx, gy), (px, py), ok, known in zip(on_answer, answers, panel.correct, finite):
        if known:
            colour = "lime" if ok else "red"
            axis.plot([gx, px], [gy, py], color=colour, linewidth=1.1)
            axis.scatter([px], [py], c=colour, s=14, edgecolors="black", linewidths=0.4, zorder=3)
    error = panel.mean_norm_error
    axis.set_title(f"{panel.pair_id} ({panel.category}) — PCK@{panel.alpha:g} {100 * panel.pck:.0f}% "
                   f"({int(panel.correct.sum())}/{len(panel.correct)}), mean error "
                   + (f"{error:.2f}·L" if error is not None else "–")
                   + (f", {int((~finite).sum())} NaN/inf" if (~finite).any() else ""), fontsize=8)
    axis.axis("off")


def draw_sheet(panels: Sequence[Panel], out: str | Path, *, columns: int = 2, title: str = "",
               warnings: tuple[str, ...] = ()) -> Sheet:
    """One PNG of ``len(panels)`` panels, ``columns`` to a row, each exactly :data:`PANEL_PX` pixels."""
    from corrbench.leaderboard.plots import _pyplot
    from corrbench.io import atomic_write

    if not panels:
        raise UsageError("no pair to draw")
    plt = _pyplot()
    columns = max(1, min(columns, len(panels)))
    rows = math.ceil(len(panels) / columns)
    width, height = PANEL_PX
    fig, axes = plt.subplots(rows, columns, figsize=(columns * width / DPI, rows * height / DPI), dpi=DPI,
                             squeeze=False)
    for axis, panel in zip(axes.flat, panels):
        _draw_panel(axis, panel)
    for axis in list(axes.flat)[len(panels):]:
        axis.axis("off")
    if title:
        fig.suptitle(title + "  (squares: queries; circles: truth; dots: answers, green within α·L)", fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.9 if rows == 1 else 0.94, wspace=0.04, hspace=0.15)
    path = Path(out)
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=DPI)  # no tight bbox: the sheet is rows x columns panels exactly
    plt.close(fig)
    return Sheet(path, rows, columns, tuple(p.pair_id for p in panels), warnings)
