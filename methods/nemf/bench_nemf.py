"""``make bench`` for NeMF: time and memory of inference, and the speed-up over the official loop.

Paper configuration (ResNet-101 hyper-pixels, 256² encoder input, 16^4 cost), random weights.
In ONE run on the same machine:

* **official-style loop**: a faithful re-implementation of the official inference
  (``forward_patchmatch`` + ``optimize_fast``): the 65->64 4-D convolution of the decoder's cost
  embedding recomputed on every score call, the cost sampled by a (C*S^2)-channel
  ``grid_sample`` over the source dims followed by one over the target dims, 100,000-point
  chunks, the 5 propagation candidates as a batch, the score loss through ``CosineAnnealingLR``.
* **corrbench**: ``NeMFMethod`` (embedded cost computed once per pair, 16-corner gather, all
  points of all pairs in one call).

Both run the same encoder (identical operations in both codes), the default 20 PatchMatch
iterations and 20 optimisation steps on a 40x48 target (the size quoted in the issue), with the
same random draws; the predicted keypoints are compared.  Then corrbench's time and memory by
PatchMatch resolution and iterations.  Run: ``python methods/nemf/bench_nemf.py [--quick]``.
"""

from __future__ import annotations

import argparse
import platform
import resource
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def official_style_score(model, refined, mean_cost, src, trg, chunk=100_000):
    """The official MLP_score_batch: re-embed the cost, two-stage grid_sample, decoder."""
    from corrbench_nemf.field import harmonic_embedding

    side = model.config.feature_size
    outputs = []
    for start in range(0, src.shape[0], chunk):
        s, t = src[start:start + chunk], trg[start:start + chunk]
        cost = torch.cat((refined, mean_cost[:, None]), 1).reshape(1, -1, side, side, side, side)
        volume = model.field.cost_embedding(cost)
        c = volume.shape[1]
        flat = volume.permute(0, 1, 4, 5, 2, 3).reshape(1, c * side * side, side, side)
        first = F.grid_sample(flat, s.view(1, 1, -1, 2), mode="bilinear", align_corners=True)
        first = first.reshape(c, side, side, -1).permute(3, 0, 1, 2)
        sampled = F.grid_sample(first, t.view(-1, 1, 1, 2), mode="bilinear", align_corners=True).view(-1, c)
        freqs = model.field.frequencies
        points = torch.cat((harmonic_embedding(s, freqs).detach(), harmonic_embedding(t, freqs).detach()), -1)
        outputs.append(model.field.decoder(points, sampled))
    return torch.cat(outputs)


def official_style_inference(method, encoded, pair, seed):
    """forward_patchmatch + optimize_fast as released (one pair, full target resolution)."""
    from corrbench_nemf.search import align_corners_grid

    cfg, model = method.config, method.module
    refined, mean_cost = encoded.refined.detach(), encoded.mean_cost.detach()
    score = lambda s, t: official_style_score(model, refined, mean_cost, s, t)
    h, w = pair.trg_size
    coarse = method.coarse_fields(encoded, "trg_to_src")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        field = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=True)
        start = field.clone()
        grid = align_corners_grid(h, w).reshape(-1, 2)
        for _ in range(cfg.patchmatch_iters):
            horizontal = F.pad(field, (1, 1, 0, 0), mode="reflect")
            vertical = F.pad(field, (0, 0, 1, 1), mode="reflect")
            cands = torch.cat((field, torch.roll(horizontal, 1, 3)[..., 1:-1], torch.roll(horizontal, -1, 3)[..., 1:-1],
                               torch.roll(vertical, 1, 2)[:, :, 1:-1], torch.roll(vertical, -1, 2)[:, :, 1:-1]))
            cands = cands.permute(0, 2, 3, 1)  # (5, h, w, 2)
            scores = score(cands.reshape(-1, 2), grid.repeat(5, 1)).view(5, h, w)
            best, which = scores.max(dim=0, keepdim=True)
            chosen = torch.gather(cands, 0, which[..., None].expand(1, h, w, 2))
            search = chosen + (torch.rand((1, h, w, 2), generator=generator) - 0.5) * 2 * cfg.search_radius
            search_score = score(search.reshape(-1, 2), grid).view(1, h, w)
            field = torch.where((best < search_score)[..., None], search, chosen).permute(0, 3, 1, 2)
            field = torch.clamp(field, start - cfg.clamp_radius, start + cfg.clamp_radius)
    height, width = pair.trg_size
    kps = torch.tensor(pair.trg_kps, dtype=torch.float32)
    query = torch.stack((kps[:, 0] / (width - 1) * 2 - 1, kps[:, 1] / (height - 1) * 2 - 1), 1)
    init = F.grid_sample(field, query.view(1, 1, -1, 2), mode="bilinear", align_corners=True)[0, :, 0].T
    coords = torch.nn.Parameter(init.clone())
    optimiser = torch.optim.AdamW([coords], lr=cfg.opt_lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=cfg.opt_steps, eta_min=cfg.opt_eta_min)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scheduler.step(epoch) is deprecated, but it is the official call
        for epoch in range(cfg.opt_steps):
            optimiser.zero_grad()
            loss = -torch.log(torch.sigmoid(score(coords, query))).mean()
            loss.backward()
            optimiser.step()
            with torch.no_grad():
                coords.copy_(torch.clamp(coords, init - cfg.clamp_radius, init + cfg.clamp_radius))
            scheduler.step(epoch)
    h_s, w_s = pair.src_size
    out = coords.detach()
    return torch.stack(((out[:, 0] + 1) / 2 * (w_s - 1), (out[:, 1] + 1) / 2 * (h_s - 1)), 1).numpy()


def make_pair(trg_hw, seed=0):
    from skimage import data
    from skimage.transform import resize

    from corrbench.api import Pair

    rng = np.random.default_rng(seed)
    src = (resize(data.chelsea(), (60, 80), anti_aliasing=True) * 255).astype(np.uint8)
    trg = (resize(data.astronaut(), trg_hw, anti_aliasing=True) * 255).astype(np.uint8)
    trg_kps = rng.uniform([2, 2], [trg_hw[1] - 3, trg_hw[0] - 3], (8, 2))
    return Pair("bench", "photo", src, trg, rng.uniform(2, 55, (8, 2)), trg_kps)


def volume_mib(cfg) -> dict[str, float]:
    """Float32 size of the 4-D volumes of one pair (level correlations, embedded cost, V)."""
    s = cfg.feature_size
    out = {f"level correlation {side}^4": side ** 4 * 4 / 2**20 for side in (4 * s, 2 * s, s, s // 2)}
    out[f"first 4-D conv output {4 * s}^4 -> 4 x {2 * s}^4"] = max(1, cfg.level_channels // 4) * (2 * s) ** 4 * 4 / 2**20
    out[f"aggregated cost {4 * cfg.level_channels} x {s}^4"] = 4 * cfg.level_channels * s ** 4 * 4 / 2**20
    out["matching-field volume V (computed once per pair)"] = 4 * cfg.level_channels * s ** 4 * 4 / 2**20
    return out


def main(argv: list[str] | None = None) -> int:
    from corrbench.io import atomic_write_text
    from corrbench_nemf.method import NeMFMethod

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a 20x24 target and 5 iterations (for CI smoke runs)")
    parser.add_argument("--out", default="bench-results/nemf.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    trg_hw = (20, 24) if args.quick else (40, 48)
    iterations = 5 if args.quick else 20
    method = NeMFMethod(config="paper", seed=0, patchmatch_iters=iterations)
    pair = make_pair(trg_hw)
    with torch.no_grad():
        method.encode([pair])  # warm-up (allocator, oneDNN primitives) outside the timings

    began = time.perf_counter()
    with torch.no_grad():
        encoded = method.encode([pair])
    encoder_s = time.perf_counter() - began
    began = time.perf_counter()
    reference = official_style_inference(method, encoded, pair, seed=method.seed)
    official_s = time.perf_counter() - began
    began = time.perf_counter()
    _, points = method.match([pair], encoded, "trg_to_src")
    ours_s = time.perf_counter() - began
    diff = float(np.abs(points[0] - reference).max())

    grid_rows = []
    sizes = [((20, 24), (5, 20)), ((40, 48), (5, 10, 20)), ((80, 96), (5, 20)), ((160, 192), (5,))]
    if args.quick:
        sizes = [((20, 24), (2, 5)), ((40, 48), (2,))]
    for hw, iteration_counts in sizes:
        sized = make_pair(hw)  # the encoder's output does not depend on the image size: reuse it
        for count in iteration_counts:
            began = time.perf_counter()
            method.match([sized], encoded, "trg_to_src", iterations=count)
            grid_rows.append((hw, count, time.perf_counter() - began))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    total_official, total_ours = encoder_s + official_s, encoder_s + ours_s
    lines = [
        "# NeMF inference speed and memory (paper configuration, random weights)", "",
        f"torch {torch.__version__}, {args.threads} thread(s), {platform.processor() or platform.machine()}; "
        f"one pair, source 60x80, target {trg_hw[0]}x{trg_hw[1]} (PatchMatch on every target pixel), "
        f"8 query keypoints, {iterations} PatchMatch iterations, {method.config.opt_steps} optimisation steps.", "",
        "| stage | official-style loop (s) | corrbench (s) | speed-up |", "|---|---:|---:|---:|",
        f"| encoder (identical operations) | {encoder_s:.2f} | {encoder_s:.2f} | 1.00x |",
        f"| PatchMatch + coordinate optimisation | {official_s:.2f} | {ours_s:.2f} | {official_s / ours_s:.1f}x |",
        f"| **end to end** | {total_official:.2f} | {total_ours:.2f} | **{total_official / total_ours:.1f}x** |", "",
        f"Same random draws in both: max |keypoint difference| = {diff:.2e} px.", "",
        "## corrbench PatchMatch + optimisation time by resolution and iterations", "",
        "| PatchMatch grid | cells | iterations | seconds | ms per cell-iteration |", "|---|---:|---:|---:|---:|",
        *[f"| {h}x{w} | {h * w} | {n} | {s:.2f} | {1000 * s / (h * w * max(n, 1)):.3f} |" for (h, w), n, s in grid_rows], "",
        "## Memory", "",
        "4-D volumes of one pair (float32; the encoder is batched over pairs, so multiply by the batch):", "",
        "| volume | MiB |", "|---|---:|",
        *[f"| {name} | {mib:.1f} |" for name, mib in volume_mib(method.config).items()], "",
        f"Scoring works on chunks of at most {method.config.chunk_points} points: the gathered corners take "
        f"{method.config.chunk_points * 16 * 64 * 4 / 2**20:.0f} MiB and the decoder activations "
        f"{method.config.chunk_points * method.config.field_hidden * 4 / 2**20:.0f} MiB per layer, whatever the grid. "
        f"Peak resident memory of this process: {peak_mib:.0f} MiB.", "",
    ]
    text = "\n".join(lines)
    atomic_write_text(Path(args.out), text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
