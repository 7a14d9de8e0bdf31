"""A PNG contact sheet of a few pairs, for a human look at a dataset's ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from corrbench.api import Pair


def render_preview(pairs: Sequence[Pair], path: str | Path, dpi: int = 80) -> Path:
    """Draw each pair as one row: source and target with keypoints, boxes and mask outlines.

    Keypoints share a colour across the two images (hollow when not visible in both), so a
    wrong correspondence shows as mismatched colours.  Written atomically.
    """
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend alone
    from matplotlib.patches import Rectangle

    from corrbench.io import atomic_write

    rows = max(len(pairs), 1)
    figure = Figure(figsize=(8, 3.4 * rows))
    axes = figure.subplots(rows, 2, squeeze=False)
    for row, pair in zip(axes, pairs):
        colours = matplotlib.colormaps["tab10"](np.arange(len(pair.src_kps)) % 10)
        for axis, side in zip(row, ("src", "trg")):
            axis.imshow(pair.image(side))
            mask = pair.src_mask if side == "src" else pair.trg_mask
            if mask is not None:
                axis.contour(mask.astype(float), levels=[0.5], colors="yellow", linewidths=0.6)
            box = pair.bbox(side)
            if box is not None:
                x1, y1, x2, y2 = box
                axis.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color="cyan",
                                             linewidth=0.8))
            kps = pair.kps(side)
            for colour, point, visible in zip(colours, kps, pair.kps_visible):
                axis.scatter(*point, s=30, edgecolors=[colour], linewidths=1.2,
                             facecolors=[colour] if visible else "none")
            height, width = pair.image(side).shape[:2]
            axis.set_xlim(-0.5, width - 0.5)
            axis.set_ylim(height - 0.5, -0.5)
            axis.set_title(f"{pair.pair_id} {pair.category} {side} {width}x{height}", fontsize=8)
            axis.axis("off")
    figure.tight_layout()
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=dpi)
    return path
