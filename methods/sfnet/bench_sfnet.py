"""``make bench`` for SFNet: pairs/s of the official per-pair evaluation loop vs corrbench's path.

Paper configuration (ResNet-101, 320² input, 20x20 grid), random weights.  Both paths share one
module; measured in one run on the same machine:

* **official loop**: a faithful re-implementation of ``eval_pascal.py``'s loop: batch 1, one
  pair at a time, both images through the backbone and the adaptation layers for every pair.
* **corrbench**: ``SFNetMethod.predict`` on a batch of pairs: each distinct image is embedded
  once (pairs share images, as in SPair/PF-PASCAL), all correlations in one batched matmul.

The predictions (target->source fields at image resolution) are compared: max |difference|.
Run: ``python methods/sfnet/bench_sfnet.py [--images 4] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def images(count: int) -> list[np.ndarray]:
    """Photos shipped inside scikit-image (no download), of different sizes."""
    from skimage import data

    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket(), data.cat(), data.immunohistochemistry()]
    return [np.ascontiguousarray(photo[..., :3]) for photo in photos[:count]]


def official_loop(method, pairs) -> list[np.ndarray]:
    """eval_pascal.py's loop: per pair, both images through the whole network, then the
    10/9 interior read-out upsampled to the target image and un-normalised into the source."""
    from corrbench_sfnet.preprocess import eval_input

    size, stride = method.config.feature_size, method.module.stride
    fields = []
    with torch.no_grad():
        for pair in pairs:
            src = eval_input(pair.src_image, size, stride)[None]
            trg = eval_input(pair.trg_image, size, stride)[None]
            grid = method.module(src, trg).grid_t2s[:, 1:-1, 1:-1, :] * ((size // 2) / (size // 2 - 1))
            dense = F.interpolate(grid.permute(0, 3, 1, 2), size=pair.trg_size, mode="bilinear",
                                  align_corners=True).permute(0, 2, 3, 1)[0].numpy()
            height, width = pair.src_size
            fields.append(np.stack([(dense[..., 0] + 1) * (width - 1) / 2, (dense[..., 1] + 1) * (height - 1) / 2], -1))
    return fields


def main(argv: list[str] | None = None) -> int:
    from corrbench.api import Pair
    from corrbench.io import atomic_write_text
    from corrbench_sfnet.method import SFNetMethod

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="bench-results/sfnet.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    pool = images(args.images)
    pairs = [Pair(f"{i}-{j}", "photo", a, b) for i, a in enumerate(pool) for j, b in enumerate(pool) if i != j]
    method = SFNetMethod(config="paper", seed=0)  # random weights: speed does not depend on them
    with torch.no_grad():  # warm-up (allocator, oneDNN primitives) outside both timings
        method.module(*(torch.zeros(1, 3, 320, 320),) * 2)

    began = time.perf_counter()
    reference = official_loop(method, pairs)
    official_s = time.perf_counter() - began

    method.cache.clear()
    began = time.perf_counter()
    predictions = []
    for start in range(0, len(pairs), method.batch_size):
        predictions += method.predict(pairs[start:start + method.batch_size], directions=("trg_to_src",))
    ours_s = time.perf_counter() - began

    diff = max(float(np.abs(p.trg_to_src.coords - r).max()) for p, r in zip(predictions, reference))
    rows = [("official per-pair loop (batch 1, 2 backbone passes per pair)", official_s),
            (f"corrbench (batches of {method.batch_size}, each image embedded once)", ours_s)]
    lines = [
        "# SFNet speed (paper configuration, 320² input, random weights)", "",
        f"{len(pairs)} ordered pairs of {len(pool)} images; torch {torch.__version__}, {args.threads} thread(s), "
        f"{platform.processor() or platform.machine()}.", "",
        "| path | seconds | pairs/s |", "|---|---:|---:|",
        *[f"| {name} | {seconds:.2f} | {len(pairs) / seconds:.3f} |" for name, seconds in rows], "",
        f"Speed-up: **{official_s / ours_s:.2f}x**; max |field difference| = {diff:.2e} px "
        "(target->source, source pixels).", "",
    ]
    text = "\n".join(lines)
    atomic_write_text(Path(args.out), text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
