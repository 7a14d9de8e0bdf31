"""``make bench`` for dinov2: pairs/s and peak memory with the per-image feature cache on and off.

Random-init DINOv2 ViT-S/14 (speed does not depend on the weights), long side ``--size`` + padding,
the default window soft-argmax readout, dense field plus point answers, batches of 8 pairs.  Each
configuration runs in a fresh process so that its peak RSS (and CUDA peak) is its own; all are
measured side by side in one invocation.  Two workloads from the embedded benchmark:

* ``synthetic test``: its first ``--pairs`` pairs; every image is in one pair only, so the cache
  cannot help and only its cost shows;
* ``shared pool``: all ordered pairs among ``--images`` synthetic images (each in 2(n-1) pairs), as
  SPair-71k reuses each image in ~13 test pairs.

Run: ``python methods/dinov2/bench_dinov2.py [--size 448] [--images 6] [--pairs 24] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

WORKLOADS = ("synthetic test", "shared pool")
CONFIGS = {"no cache": 0, "cache": 1024}  # cache_mb


def workload_pairs(workload: str, n_pairs: int, n_images: int) -> list:
    import corrbench
    from corrbench.bench import shared_image_pairs

    if workload == "shared pool":
        return shared_image_pairs(n_images)
    data = corrbench.load_dataset("synthetic", split="test")
    return [data[i] for i in range(min(n_pairs, len(data)))]


def run_one(workload: str, config: str, args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    import torch

    from corrbench_dinov2.method import DINOv2Method

    torch.set_num_threads(args.threads)
    method = DINOv2Method(device=args.device, pretrained=False, model=args.model, size=args.size,
                          cache_mb=CONFIGS[config])
    pairs = workload_pairs(workload, args.pairs, args.images)
    with torch.inference_mode():  # warm-up (allocator, kernels) outside the timing, then a cold cache
        method.compute_features([np.zeros((args.size, args.size, 3), np.uint8)])
        method.cache.clear()
        method.images_embedded = 0
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        began = time.perf_counter()
        for start in range(0, len(pairs), method.batch_size):
            method.predict(pairs[start:start + method.batch_size], directions=("trg_to_src",))
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - began
    cuda_peak = torch.cuda.max_memory_allocated() / 2**20 if args.device.startswith("cuda") else None
    return {"pairs": len(pairs), "seconds": seconds, "pairs_per_s": len(pairs) / seconds,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "cuda_peak_mib": cuda_peak,
            "images_embedded": method.images_embedded, "distinct_images": 2 * len(pairs) if workload == WORKLOADS[0]
            else args.images}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vits14")
    parser.add_argument("--size", type=int, default=448, help="long side + padding (multiple of 14)")
    parser.add_argument("--images", type=int, default=6, help="shared pool: n images, n(n-1) pairs")
    parser.add_argument("--pairs", type=int, default=24, help="synthetic test: the first N pairs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="bench-results/dinov2.md")
    parser.add_argument("--one", nargs=2, metavar=("WORKLOAD", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], args)))
        return 0

    passed = ["--model", args.model, "--size", str(args.size), "--images", str(args.images), "--pairs",
              str(args.pairs), "--device", args.device, "--threads", str(args.threads)]
    rows = []
    for workload in WORKLOADS:
        for config in CONFIGS:
            done = subprocess.run([sys.executable, __file__, "--one", workload, config, *passed],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"bench_dinov2: {workload}, {config} failed: {done.stderr.strip()[-800:]}")
            rows.append({"workload": workload, "config": config, **json.loads(done.stdout.strip().splitlines()[-1])})
    import torch

    tokens = args.size // 14
    lines = [
        f"# dinov2 speed and memory: feature cache off vs on (random-init {args.model}, {args.size}² input)", "",
        f"{tokens}x{tokens} tokens per image; {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{args.threads} thread(s), device {args.device}; each configuration in a fresh process; ratios within a "
        "workload of this run.", "",
        "| workload | cache | pairs | distinct images | images through the ViT | pairs/s | ratio | peak RSS (MiB) "
        "| CUDA peak (MiB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        base = next(r for r in rows if r["workload"] == row["workload"] and r["config"] == "no cache")
        cuda = f"{row['cuda_peak_mib']:.0f}" if row["cuda_peak_mib"] is not None else "–"
        lines.append(f"| {row['workload']} | {row['config']} | {row['pairs']} | {row['distinct_images']} | "
                     f"{row['images_embedded']} | "
                     f"{row['pairs_per_s']:.2f} | {row['pairs_per_s'] / base['pairs_per_s']:.2f}× | "
                     f"{row['peak_rss_mib']:.0f} | {cuda} |")
    text = "\n".join(lines) + "\n"
    from corrbench.io import atomic_write_text

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(args.out), text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
