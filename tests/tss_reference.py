"""A slow, plain-numpy restatement of the TSS kit's rules, for tests only (no corrbench code).

Resizing is written as interpolation matrices in float64 (``R_y @ image @ R_x.T``), not as the
per-tap float32/fixed-point arithmetic of the implementation, so agreement is up to the few
pixels whose value sits on a threshold.
"""

from __future__ import annotations

import numpy as np


def opencv_matrix(n_in: int, n_out: int) -> np.ndarray:
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        pos = min(max((i + 0.5) * n_in / n_out - 0.5, 0.0), n_in - 1.0)
        j = int(np.floor(pos))
        w = pos - j
        m[i, j] += 1 - w
        if w > 0:
            m[i, j + 1] += w
    return m


def matlab_matrix(n_in: int, n_out: int) -> np.ndarray:
    """imresize bilinear, antialiased when shrinking, symmetric border."""
    s = n_out / n_in
    k = min(s, 1.0)
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        centre = (i + 1) / s + 0.5 * (1 - 1 / s)  # 1-based input coordinate
        row = {}
        for j in range(int(np.floor(centre - 1 / k)) - 1, int(np.ceil(centre + 1 / k)) + 2):
            w = k * max(0.0, 1 - abs(k * (centre - j)))
            if w > 0:
                src = j
                while src < 1 or src > n_in:  # mirror: 0 -> 1, n+1 -> n
                    src = 1 - src if src < 1 else 2 * n_in + 1 - src
                row[src - 1] = row.get(src - 1, 0.0) + w
        total = sum(row.values())
        for j, w in row.items():
            m[i, j] = w / total
    return m


def resize(image: np.ndarray, size, matrix) -> np.ndarray:
    ry, rx = matrix(image.shape[0], size[0]), matrix(image.shape[1], size[1])
    if image.ndim == 2:
        return ry @ image @ rx.T
    return np.stack([ry @ image[..., c] @ rx.T for c in range(image.shape[2])], axis=-1)


def resize_flow(flow, own_old, other_old, own_new, other_new, kit):
    matrix = opencv_matrix if kit == "cpp" else matlab_matrix
    base = 0 if kit == "cpp" else 1
    known = (np.abs(flow) < 1e9).all(axis=-1).astype(float)
    out = resize(flow.astype(float), own_new, matrix)
    keep = resize(known, own_new, matrix) > 1 - 1e-9
    x = np.arange(own_new[1])[None, :] + base
    y = np.arange(own_new[0])[:, None] + base
    u = (out[..., 0] + x * own_old[1] / own_new[1]) * other_new[1] / other_old[1] - x
    v = (out[..., 1] + y * own_old[0] / own_new[0]) * other_new[0] / other_old[0] - y
    out = np.stack([u, v], axis=-1)
    out[~keep] = 1e10
    return out


def pred_mask(levels, size, kit):
    if kit == "cpp":
        if levels.shape == tuple(size):
            return levels != 0
        return resize(levels.astype(float), size, opencv_matrix) > 128
    return resize(levels / 255.0, size, matlab_matrix) > 0.5


def score(gt_flow1, gt_flow2, gt_mask1, gt_mask2, flow1, flow2, mask1, mask2, kit="cpp"):
    """Rows (SegIUR, T1..T50) for 1->2 and 2->1."""
    size1, size2 = gt_flow1.shape[:2], gt_flow2.shape[:2]
    if flow1.shape[:2] != size1 or flow2.shape[:2] != size2:
        f1 = resize_flow(flow1, flow1.shape[:2], flow2.shape[:2], size1, size2, kit)
        f2 = resize_flow(flow2, flow2.shape[:2], flow1.shape[:2], size2, size1, kit)
    else:
        f1, f2 = flow1.astype(float), flow2.astype(float)
    rows = []
    for f, g, m, gm, other in ((f1, gt_flow1, mask1, gt_mask1, size2), (f2, gt_flow2, mask2, gt_mask2, size1)):
        pm = pred_mask(m, gm.shape, kit)
        iou = (pm & gm).sum() / (pm | gm).sum()
        valid = (np.abs(g) <= 1e9).all(axis=-1)
        err = np.sqrt(((f - g) ** 2).sum(axis=-1))[valid]
        acc = [np.mean(err <= t / 100 * max(other)) for t in range(1, 51)]
        rows.append((iou, np.array(acc)))
    return rows
