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


def spair_scale_pairs(n_pairs: int, n_images: int, seed: int = 0) -> list:
    """``n_pairs`` same-category pairs over a pool of ``n_images`` synthetic images, as SPair-71k's test
    split shares ~1,800 images among 12,234 pairs (about 7 pairs per image)."""
    import numpy as np

    import corrbench
    from corrbench.api import Pair

    data = corrbench.load_dataset("synthetic", split="train", seed=seed)
    pool: dict[str, list] = {}
    for index in range(len(data)):
        pair = data[index]
        for image, kps in ((pair.src_image, pair.src_kps), (pair.trg_image, pair.trg_kps)):
            pool.setdefault(pair.category, []).append((image, kps))
        if sum(len(v) for v in pool.values()) >= n_images:
            break
    rng = np.random.default_rng(seed)
    categories = sorted(pool)
    pairs = []
    for k in range(n_pairs):
        category = categories[k % len(categories)]
        i, j = rng.choice(len(pool[category]), size=2, replace=False)
        (image_a, kps_a), (image_b, kps_b) = pool[category][i], pool[category][j]
        pairs.append(Pair(f"{category}-{i}-{j}-{k}", category, image_a, image_b, kps_a, kps_b))
    return pairs


def committed_weights(method_name: str, repo_root: Path = Path(".")) -> str | None:
    """The committed checkpoint ``leaderboards/runs.yaml`` lists for a method (the embedded models)."""
    from corrbench.leaderboard.check import load_manifest

    runs, _ = load_manifest(repo_root / "leaderboards")
    for run in runs:
        if run.method == method_name and run.weights:
            return str(repo_root / run.weights)
    return None


def run_spair_scale(method_name: str, cache_on: bool, n_pairs: int, n_images: int, device: str) -> dict[str, Any]:
    """One method over the SPair-scale pairs, batched as the runner batches, cache on or off."""
    import torch

    import corrbench

    from corrbench.registry import METHOD_GROUP, resolve

    options = dict(getattr(resolve(METHOD_GROUP, method_name), "bench_options", {}))  # e.g. no download
    method = corrbench.load_method(method_name, weights=committed_weights(method_name), device=device, **options)
    cache = getattr(method, "cache", None)
    if cache is not None and not cache_on:
        cache.max_bytes = 0
    pairs = spair_scale_pairs(n_pairs, n_images)
    distinct = len({id(p.src_image) for p in pairs} | {id(p.trg_image) for p in pairs})
    batch = max(1, int(getattr(method, "batch_size", 1) or 1)) if getattr(method, "supports_batching", False) else 1
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    began = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(pairs), batch):
            method.predict(pairs[start : start + batch], directions=("trg_to_src",))
    seconds = time.perf_counter() - began
    lookups = (cache.hits + cache.misses) if cache is not None else 0
    return {"pairs": len(pairs), "images": distinct, "seconds": seconds, "pairs_per_s": len(pairs) / seconds,
            "s_per_image": seconds / distinct, "hit_rate": cache.hits / lookups if lookups else None,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_cuda_mib": torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None,
            "batch_used": batch}


def spair_scale_table(names: list[str], n_pairs: int, n_images: int, device: str) -> list[str]:
    """Markdown lines: each method with its per-image cache on, and off (the ratio), fresh process each."""
    lines = [f"## SPair-scale run: {n_pairs} pairs over {n_images} synthetic images, device {device}",
             "", "Learned methods with their committed (embedded) checkpoints. Ratio = cache on / cache off "
             "(same run, each configuration in its own process).", "",
             "| method | cache | pairs/s | ratio | s per distinct image | hit rate | peak RSS (MiB) | peak CUDA (MiB) |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name in names:
        rows = {}
        for cache_on in (False, True):
            command = [sys.executable, "-m", "corrbench.bench", "--spair-one", name, "on" if cache_on else "off",
                       "--pairs", str(n_pairs), "--images", str(n_images), "--device", device]
            done = subprocess.run(command, capture_output=True, text=True)
            rows[cache_on] = (json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0
                              else {"error": (done.stderr.strip().splitlines() or ["?"])[-1]})
        for cache_on in (False, True):
            row = rows[cache_on]
            if "error" in row:
                lines.append(f"| {name} | {'on' if cache_on else 'off'} | error: {row['error']} | | | | | |")
                continue
            base = rows[False].get("pairs_per_s")
            ratio = f"{row['pairs_per_s'] / base:.2f}×" if base else ""
            hit = f"{100 * row['hit_rate']:.0f} %" if row["hit_rate"] is not None else "no cache"
            cuda = f"{row['peak_cuda_mib']:.0f}" if row["peak_cuda_mib"] is not None else "–"
            lines.append(f"| {name} | {'on' if cache_on else 'off'} | {row['pairs_per_s']:.2f} | {ratio} | "
                         f"{row['s_per_image']:.3f} | {hit} | {row['peak_rss_mib']:.0f} | {cuda} |")
    return lines


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
    parser.add_argument("--spair-scale", action="store_true",
                        help="also the SPair-scale run (--pairs over --spair-images images, cache on and off)")
    parser.add_argument("--pairs", type=int, default=1000, help="pairs of the SPair-scale run")
    parser.add_argument("--spair-images", type=int, default=150, help="images of the SPair-scale run")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-core", action="store_true", help="only the SPair-scale run (skip the per-pair table)")
    parser.add_argument("--spair-one", nargs=2, metavar=("METHOD", "CACHE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one[0], CONFIGS[args.one[1]], args.images, args.weights)))
        return 0
    if args.spair_one:
        print(json.dumps(run_spair_scale(args.spair_one[0], args.spair_one[1] == "on", args.pairs, args.images,
                                         args.device)))
        return 0

    from corrbench.registry import METHOD_GROUP, available

    names = args.methods or list(dict.fromkeys(info.name for info in available(METHOD_GROUP)))
    rows = []
    for name in [] if args.no_core else names:
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
    if args.spair_scale:
        lines += ["", *spair_scale_table(names, args.pairs, args.spair_images, args.device)]
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
