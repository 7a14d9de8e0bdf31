"""Readouts: how one block of similarities becomes matched positions on the other grid.

Every readout takes ``similarity`` of shape ``(Q, K)`` (Q queries against the K cells of an
``(h, w)`` grid, row-major ``k = row * w + col``) and returns ``(Q, 2)`` fractional cells
``(col, row)`` of that grid.  The matcher turns cells into pixels (:mod:`.resolution`), so a
readout knows nothing about images.

* ``nn``: the best cell (argmax).
* ``bilinear``: the same argmax; the query's features are sampled bilinearly at the query point
  instead of taken from the cell it falls in (the matcher does the sampling).
* ``softargmax``: expectation of the cells under ``softmax(similarity / temperature)``.
* ``window_softargmax``: the same within ``window`` cells of the argmax (GeoAware-SC's
  ``SOFT_EVAL_WINDOW``): ``square`` or ``disc`` window; cells outside it either keep taking part
  with similarity 0 (``outside="zero"``: GeoAware-SC multiplies the correlation by the window mask
  before its softmax) or are left out (``outside="exclude"``).
* ``kernel_softargmax``: SFNet's Gaussian-windowed soft-argmax (``sigma`` cells, ``beta = 1 /
  temperature``), the core's one implementation in :mod:`.kernel_softargmax`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import torch

from corrbench.matching.kernel_softargmax import cell_indices, kernel_soft_argmax

ReadoutName = Literal["nn", "bilinear", "softargmax", "window_softargmax", "kernel_softargmax"]
READOUTS: tuple[str, ...] = get_args(ReadoutName)


@dataclass(frozen=True)
class Readout:
    """A named readout with its parameters (unused ones are ignored by the others)."""

    name: ReadoutName = "nn"
    temperature: float = 0.02
    window: float = 5.0
    window_shape: Literal["square", "disc"] = "square"
    window_outside: Literal["zero", "exclude"] = "zero"
    sigma: float = 5.0

    def __post_init__(self) -> None:
        if self.name not in READOUTS:
            from corrbench.errors import UsageError
            from corrbench.registry import suggest

            raise UsageError(f"unknown readout '{self.name}'; choose one of: {', '.join(READOUTS)}."
                             f"{suggest(self.name, list(READOUTS))}")

    @property
    def samples_features(self) -> bool:
        """True when point queries take bilinearly sampled features rather than their cell's."""
        return self.name == "bilinear"

    def cells(self, similarity: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        if self.name in ("nn", "bilinear"):
            return argmax_cells(similarity, grid)
        if self.name == "softargmax":
            return soft_argmax_cells(similarity, grid, self.temperature)
        if self.name == "window_softargmax":
            return window_soft_argmax_cells(similarity, grid, self.temperature, self.window,
                                            self.window_shape, self.window_outside)
        return kernel_soft_argmax_cells(similarity, grid, self.temperature, self.sigma)


def argmax_cells(similarity: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    cols = grid[1]
    best = similarity.argmax(dim=1)
    return torch.stack([best % cols, best // cols], dim=1).to(similarity.dtype)


def soft_argmax_cells(similarity: torch.Tensor, grid: tuple[int, int], temperature: float) -> torch.Tensor:
    weights = torch.softmax(similarity / temperature, dim=1)
    return weights @ cell_indices(*grid, device=similarity.device, dtype=similarity.dtype)


def window_offsets(window: float, shape: str, device: torch.device | None = None) -> torch.Tensor:
    """(n, 2) integer (dy, dx) offsets of the window, row-major."""
    reach = int(window)
    offsets = [(dy, dx) for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1)
               if shape == "square" or dy * dy + dx * dx <= window * window]
    return torch.tensor(offsets, device=device)


def window_soft_argmax_cells(similarity: torch.Tensor, grid: tuple[int, int], temperature: float, window: float,
                             shape: str = "square", outside: str = "zero") -> torch.Tensor:
    """Soft-argmax around each query's best cell: sub-cell precision without letting far-away
    look-alikes vote (``outside="exclude"``), or GeoAware-SC's masked correlation (``"zero"``)."""
    rows, cols = grid
    best = similarity.argmax(dim=1)
    best_row, best_col = best // cols, best % cols
    offsets = window_offsets(window, shape, similarity.device)
    cand_row = best_row[:, None] + offsets[None, :, 0]
    cand_col = best_col[:, None] + offsets[None, :, 1]
    inside = (cand_row >= 0) & (cand_row < rows) & (cand_col >= 0) & (cand_col < cols)
    index = (cand_row.clamp(0, rows - 1) * cols + cand_col.clamp(0, cols - 1))
    if outside == "zero":
        # Clamping only shortens an offset, so every clamped index is still inside the window.
        mask = torch.zeros_like(similarity, dtype=torch.bool)
        mask.scatter_(1, index, torch.ones_like(index, dtype=torch.bool))
        weights = torch.softmax(similarity.masked_fill(~mask, 0.0) / temperature, dim=1)
        return weights @ cell_indices(rows, cols, device=similarity.device, dtype=similarity.dtype)
    logits = similarity.gather(1, index) / temperature
    weights = torch.softmax(logits.masked_fill(~inside, float("-inf")), dim=1)
    col = (weights * cand_col.float()).sum(dim=1)
    row = (weights * cand_row.float()).sum(dim=1)
    return torch.stack([col, row], dim=1)


def kernel_soft_argmax_cells(similarity: torch.Tensor, grid: tuple[int, int], temperature: float,
                             sigma: float) -> torch.Tensor:
    """SFNet's kernel soft-argmax, its align-corners [-1, 1] output read back as cells."""
    rows, cols = grid
    normalised = kernel_soft_argmax(similarity[None], rows, cols, beta=1.0 / temperature, sigma=sigma)[0]
    scale = similarity.new_tensor([(cols - 1) / 2, (rows - 1) / 2])
    return (normalised + 1) * scale
