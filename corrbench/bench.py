"""``make bench``: pairs/s and peak memory of every installed method on the embedded benchmark.

Each configuration (per-pair vs batched, feature cache on vs off) runs in a fresh subprocess so
its peak resident memory is its own.  Pairs are formed SPair-style from a small pool of images
(every image appears in several pairs), which is what makes per-image caching matter.  Ratios are
taken within one invocation on one machine.
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

CONFIGS = {
    "per-pair, no cache": {"batch_size": 1, "cache": False},
    "per-pair, cache": {"batch_size": 1, "cache": True},
    "batched, cache": {"batch_size": 8, "cache": True},
}


def shared_image_pairs(n_images: int, seed: int = 0) -> list:
    """All ordered pairs of distinct images among ``n_images`` synthetic test images of one pool."""
    import corrbench
    from corrbench.api import Pair

    data = corrbench.load_dataset("synthetic", split="test", seed=seed)
    images = []
    for index in range(len(data)):
        pair = data[index]
        images.append((pair.category, pair.src_image, pair.src_kps))
        if len(images) >= n_images:
            break
    pairs = []
    for i, (category, image_a, kps_a) in enumerate(images):
        for j, (_, image_b, kps_b) in enumerate(images):
            if i != j:
                pairs.append(Pair(f"{i}-{j}", category, image_a, image_b, kps_a, kps_a))
    return pairs


def run_one(method_name: str, config: dict[str, Any], n_images: int, weights: str | None) -> dict[str, Any]:
    import torch

    import corrbench

    from corrbench.registry import METHOD_GROUP, resolve

    torch.set_num_threads(max(1, torch.get_num_threads()))
    # A method may name options for timing runs (dinov2: random weights instead of a download).
    options = dict(getattr(resolve(METHOD_GROUP, method_name), "bench_options", {}))
    method = corrbench.load_method(method_name, weights=weights, **options)
    cache = getattr(method, "cache", None)
    if cache is not None and not config["cache"]:
        cache.max_bytes = 0
    pairs = shared_image_pairs(n_images)
    batch = config["batch_size"] if getattr(method, "supports_batching", False) else 1
    began = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(pairs), batch):
            method.predict(pairs[start : start + batch], directions=("trg_to_src",))
    seconds = time.perf_counter() - began
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"pairs": len(pairs), "seconds": seconds, "pairs_per_s": len(pairs) / seconds,
            "peak_rss_mib": peak_kib / 1024, "batch_used": batch,
            "cache_applicable": cache is not None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="bench-results/core.md")
    parser.add_argument("--images", type=int, default=6, help="image pool size (pairs = n*(n-1))")
    parser.add_argument("--methods", nargs="*", default=None)
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "CONFIG"), help=argparse.SUPPRESS)
    parser.add_argument("--weights", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one[0], CONFIGS[args.one[1]], args.images, args.weights)))
        return 0

    from corrbench.registry import METHOD_GROUP, available

    names = args.methods or list(dict.fromkeys(info.name for info in available(METHOD_GROUP)))
    rows = []
    for name in names:
        for label in CONFIGS:
            command = [sys.executable, "-m", "corrbench.bench", "--one", name, label, "--images", str(args.images)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                rows.append({"method": name, "config": label, "error": done.stderr.strip().splitlines()[-1:]})
                continue
            rows.append({"method": name, "config": label, **json.loads(done.stdout.strip().splitlines()[-1])})
    lines = [
        "# corrbench benchmark: prediction speed and peak memory",
        "",
        f"Machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"{_threads()} torch threads. Pairs formed among {args.images} synthetic images "
        f"({args.images * (args.images - 1)} pairs). Ratios are against 'per-pair, no cache' of the same run.",
        "",
        "| method | configuration | pairs/s | ratio | peak RSS (MiB) | batch used | cache applies |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['method']} | {row['config']} | error: {' '.join(row['error'])} | | | | |")
            continue
        base = next(r for r in rows if r["method"] == row["method"] and r["config"] == "per-pair, no cache")
        ratio = row["pairs_per_s"] / base["pairs_per_s"] if "pairs_per_s" in base else float("nan")
        lines.append(f"| {row['method']} | {row['config']} | {row['pairs_per_s']:.2f} | {ratio:.2f}× | "
                     f"{row['peak_rss_mib']:.0f} | {row['batch_used']} | {'yes' if row['cache_applicable'] else 'no'} |")
    text = "\n".join(lines) + "\n"
    from corrbench.io import atomic_write_text

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, text)
    print(text)
    return 0


def _threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
