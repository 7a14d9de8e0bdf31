"""Small fake pairs and a tiny configuration for the NeMF tests (no dataset needed)."""

from __future__ import annotations

import numpy as np

from corrbench.api import Pair

#: embedded backbone, 4x4 coarse grid (64² input), short searches: a predict takes well under a second.
TINY = {"config": "embedded", "feature_size": 4, "input_size": 64, "feature_proj_dim": 16, "level_channels": 4,
        "field_hidden": 32, "grid_max_side": 12, "patchmatch_iters": 3, "opt_steps": 3, "candidates": 16,
        "train_points": 8}


def textured_pair(pair_id: str = "p0", src_hw=(50, 64), trg_hw=(58, 46), seed: int = 0, with_flow: bool = True) -> Pair:
    """Two noisy images; the target is the source's content shifted, with a dense GT flow."""
    rng = np.random.default_rng(seed)
    src = rng.integers(0, 255, (*src_hw, 3), dtype=np.uint8)
    trg = rng.integers(0, 255, (*trg_hw, 3), dtype=np.uint8)
    kps_s = rng.uniform(3, min(src_hw) - 3, (5, 2))
    kps_t = rng.uniform(3, min(trg_hw) - 3, (5, 2))
    flow = None
    if with_flow:
        yy, xx = np.mgrid[: src_hw[0], : src_hw[1]].astype(np.float32)
        flow = np.stack([xx * (trg_hw[1] - 1) / (src_hw[1] - 1), yy * (trg_hw[0] - 1) / (src_hw[0] - 1)], -1)
        flow[:3] = np.nan
    return Pair(pair_id, "blob", src, trg, kps_s, kps_t, src_bbox=np.array([0, 0, src_hw[1], src_hw[0]], float),
                flow_src_to_trg=flow)
