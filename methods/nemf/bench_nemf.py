"""``make bench`` for NeMF: time per pair and memory of the 4-D volumes, and the speed-up over the
official code.

Random weights, offline.  Tables (one pair per call, ``--threads`` threads):

1. encoder by resolution (input 16*S for coarse grid S): paper (ResNet-101 hyper-pixels) and
   embedded configurations: seconds, the largest and the total size of the pair's 4-D tensors
   (level correlations, embedded and aggregated costs, the matching-field volume V; measured
   from the tensors);
2. PatchMatch + coordinate optimisation by iterations (0/5/10/20, bounded), one direction:
   paper on a 40x48 target searched at every pixel, embedded on a 200x232 target (the preset's grid, at most 24 cells per side);
3. official vs corrbench end to end, only when the official ``KU-CVLAB/NeMF`` code is
   available locally: ``NEMF_OFFICIAL_SRC=/path/to/NeMF[:extra/sys/path]`` (it needs ``einops``;
   the official code is never part of this repository).  Both run the paper configuration with
   the SAME random weights (official model randomised, mapped into corrbench by the official-
   checkpoint loader) and the same seed: 60x80 source, 40x48 target, 8 keypoints, 20 PatchMatch
   iterations, 20 optimisation steps; the outputs are compared.

Run: ``python methods/nemf/bench_nemf.py [--threads N] [--out bench-results/nemf.md]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

OFFICIAL_ENV = "NEMF_OFFICIAL_SRC"
MIB = 2 ** 20


def make_pair(src_hw: tuple[int, int], trg_hw: tuple[int, int], seed: int = 0):
    """Smooth random colour images (no download) and 8 keypoints in each."""
    from corrbench.api import Pair

    rng = np.random.default_rng(seed)

    def image(hw: tuple[int, int]) -> np.ndarray:
        coarse = rng.uniform(0, 255, (hw[0] // 4 + 2, hw[1] // 4 + 2, 3))
        return np.ascontiguousarray(np.kron(coarse, np.ones((4, 4, 1)))[: hw[0], : hw[1]].astype(np.uint8))

    kps = lambda hw: rng.uniform([2, 2], [hw[1] - 3, hw[0] - 3], (8, 2))
    return Pair("bench", "random", image(src_hw), image(trg_hw), kps(src_hw), kps(trg_hw))


def volume_sizes(method, pair) -> tuple[float, float]:
    """(largest, total) MiB of the pair's 4-D tensors, read from the tensors themselves."""
    sizes: list[int] = []
    hooks = [level.register_forward_hook(lambda _m, args, out: sizes.extend((args[0].nbytes, out.nbytes)))
             for level in method.module.corr_embedder]
    for block in (block for level in method.module.corr_embedder for block in level.blocks):
        hooks.append(block.register_forward_hook(lambda _m, _a, out: sizes.append(out.nbytes)))
    try:
        with torch.no_grad():
            encoded = method.encode([pair])
            table = method.module.field.volumes(encoded.refined, encoded.mean_cost, method.config.feature_size).table
    finally:
        for hook in hooks:
            hook.remove()
    sizes += [encoded.refined.nbytes, encoded.mean_cost.nbytes, table.nbytes]
    return max(sizes) / MIB, sum(sizes) / MIB


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    began = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - began


def encoder_rows(preset: str, sides: tuple[int, ...]) -> list[str]:
    from corrbench_nemf.method import NeMFMethod

    rows = []
    for side in sides:
        method = NeMFMethod(config=preset, seed=0, feature_size=side, input_size=16 * side)
        pair = make_pair((60, 80), (40, 48))
        largest, total = volume_sizes(method, pair)  # also the warm-up
        with torch.no_grad():
            _, seconds = timed(lambda: method.encode([pair]))
        rows.append(f"| {preset} | {16 * side}² | {side} | {seconds:.2f} | {largest:.1f} | {total:.1f} |")
    return rows


def search_rows(preset: str, trg_hw: tuple[int, int], iterations: tuple[int, ...]) -> list[str]:
    from corrbench_nemf.method import NeMFMethod, grid_shape

    method = NeMFMethod(config=preset, seed=0)
    pair = make_pair((60, 80), trg_hw)
    with torch.no_grad():
        encoded = method.encode([pair])
    grid = grid_shape(trg_hw, method.config.grid_max_side)
    rows = []
    for count in iterations:
        _, seconds = timed(lambda: method.match([pair], encoded, "trg_to_src", iterations=count))
        rows.append(f"| {preset} | {trg_hw[0]}x{trg_hw[1]} | {grid[0]}x{grid[1]} | {count} | "
                    f"{method.config.opt_steps} | {seconds:.2f} |")
    return rows


def official_comparison(paths: list[str], seed: int = 7) -> list[str]:
    """Official forward_enc + forward_patchmatch vs corrbench encode + match, same weights and draws."""
    import torchvision.models.resnet as tv_resnet

    sys.path[:0] = paths
    original_tv = tv_resnet.resnet101
    tv_resnet.resnet101 = lambda *a, **k: original_tv(weights=None)  # offline: no ImageNet download
    try:
        import models.feature_backbones.resnet as official_resnet
        import models.mlp_optimization as official_mlp
        from models.encoder import NeMF

        original_own = official_resnet.resnet101
        official_resnet.resnet101 = lambda *a, **k: original_own(pretrained=False)
        try:
            torch.manual_seed(0)
            official = NeMF(16, 128, 4, 6, 4, [3, 7, 30, 33]).eval()
        finally:
            official_resnet.resnet101 = original_own
    finally:
        tv_resnet.resnet101 = original_tv
    with torch.no_grad():  # a non-trivial random model: biases, zero-initialised weights, BN statistics
        for name, param in official.named_parameters():
            if name in ("x_normal", "y_normal"):
                continue
            if param.dim() == 1:
                param.add_(0.1 * torch.randn_like(param))
            elif float(param.abs().max()) == 0:
                param.normal_(0, 0.02)
        for name, buffer in official.named_buffers():
            if name.endswith("running_var"):
                buffer.uniform_(0.5, 1.5)
            elif name.endswith("running_mean"):
                buffer.normal_(0, 0.1)

    from corrbench_nemf.checkpoint import load_official
    from corrbench_nemf.method import NeMFMethod, encoder_input

    ours = NeMFMethod(config="paper", seed=seed)
    load_official(ours.module, {"state_dict": official.state_dict()}, "official (random)")
    ours.module.eval()
    pair = make_pair((60, 80), (40, 48), seed=1)
    src, trg = encoder_input([pair.src_image], 256), encoder_input([pair.trg_image], 256)
    captured: dict[str, torch.Tensor] = {}
    original_fast = official_mlp.MLPTrainer.optimize_fast

    def capture_field(self, *args, src_coord=None, **kwargs):
        captured["field"] = src_coord.clone()
        return original_fast(self, *args, src_coord=src_coord, **kwargs)

    def run_official():
        with torch.no_grad():
            refined, _, _, mean_cost = official.forward_enc(trg, src)
        torch.manual_seed(seed)
        kps = lambda k: torch.tensor(k.T[None], dtype=torch.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the official scheduler.step(epoch) is deprecated
            points = official.mlp_model.forward_patchmatch(refined, mean_cost, kps(pair.src_kps), kps(pair.trg_kps),
                                                           pair.src_size, pair.trg_size)
        return refined, points[0].T.numpy()

    with torch.no_grad():  # warm-up of both encoders (allocator, oneDNN primitives), untimed
        official.forward_enc(trg, src)
        ours.encode([pair])
    official_mlp.MLPTrainer.optimize_fast = capture_field
    try:
        began = time.perf_counter()
        with torch.no_grad():
            official.forward_enc(trg, src)
        official_encoder = time.perf_counter() - began
        (official_refined, official_points), official_total = timed(run_official)
    finally:
        official_mlp.MLPTrainer.optimize_fast = original_fast
    began = time.perf_counter()
    with torch.no_grad():
        encoded = ours.encode([pair])
    ours_encoder = time.perf_counter() - began
    (fields, points), ours_search = timed(lambda: ours.match([pair], encoded, "trg_to_src"))
    official_search = official_total - official_encoder
    ours_total = ours_encoder + ours_search
    field_diff = float((fields[0] - captured["field"][0].permute(1, 2, 0)).abs().max())
    return [
        "| | encoder (s) | PatchMatch + optimisation (s) | end to end (s) |", "|---|---:|---:|---:|",
        f"| official | {official_encoder:.2f} | {official_search:.2f} | {official_total:.2f} |",
        f"| corrbench | {ours_encoder:.2f} | {ours_search:.2f} | {ours_total:.2f} |",
        f"| **speed-up** | {official_encoder / ours_encoder:.2f}x | {official_search / ours_search:.1f}x | "
        f"**{official_total / ours_total:.1f}x** |", "",
        f"Same weights and seed: max |keypoints - official| = {float(np.abs(points[0] - official_points).max()):.3g} px, "
        f"max |PatchMatch field - official| = {field_diff:.3g} (normalised), max |refined cost - official| = "
        f"{float((encoded.refined - official_refined).abs().max()):.3g} (cost scale "
        f"{float(official_refined.abs().max()):.3g}).  The official encoder time is taken from a separate "
        "forward_enc call; its end-to-end time is one forward_enc + forward_patchmatch.",
    ]


def main(argv: list[str] | None = None) -> int:
    from corrbench.io import atomic_write_text

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", default="bench-results/nemf.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# NeMF: inference time and memory (random weights)", "",
        f"torch {torch.__version__}, {args.threads} thread(s), {platform.machine()}, "
        f"{os.cpu_count()} CPU(s), 1-min load average at start {load:.2f}; one pair per call.", "",
        "## Encoder by resolution", "",
        "| config | input | coarse S | seconds | largest 4-D tensor (MiB) | all 4-D tensors (MiB) |",
        "|---|---|---:|---:|---:|---:|",
        *encoder_rows("paper", (8, 16)), *encoder_rows("embedded", (8, 16)), "",
        "4-D tensors: the 4 level correlations, every 4-D convolution output, the aggregated cost, its channel "
        "mean and the matching-field volume V (computed once per pair), float32, measured from the tensors.  "
        "Defaults: paper S=16, embedded S=8.", "",
        "## PatchMatch + coordinate optimisation by iterations (one direction)", "",
        "| config | target | PatchMatch grid | iterations | opt. steps | seconds |",
        "|---|---|---|---:|---:|---:|",
        *search_rows("paper", (40, 48), (0, 5, 10, 20)), *search_rows("embedded", (200, 232), (0, 5, 10, 20)), "",
        "Scoring runs on chunks of `chunk_points` (4096) points: beyond V, the search holds the chunk's gathered "
        "corners (4096 x 16 x 64 floats = 16 MiB in the paper configuration) and 4 MiB per decoder layer, "
        "whatever the grid.", "",
        "## Official code vs corrbench (paper configuration, end to end, one pair)", "",
    ]
    official = os.environ.get(OFFICIAL_ENV)
    if official and Path(official.split(os.pathsep)[0], "models", "encoder.py").is_file():
        lines += official_comparison(official.split(os.pathsep))
    else:
        note = (f"Skipped: set {OFFICIAL_ENV} to a local clone of KU-CVLAB/NeMF (plus, after '{os.pathsep}', "
                "a folder holding einops if it is not installed) to measure the official code.")
        print(note)
        lines.append(note)
    text = "\n".join(lines) + "\n"
    atomic_write_text(Path(args.out), text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
