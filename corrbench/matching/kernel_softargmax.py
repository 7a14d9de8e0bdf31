"""Kernel soft-argmax (SFNet §3.2): a Gaussian window around the hard argmax, then a
temperature-scaled softmax and the expected matched coordinates.

In the core because two users share it: the ``sfnet`` plugin (training and inference) and the
feature matchers' ``kernel_softargmax`` readout (:mod:`corrbench.matching.readouts`), so both
compute the same numbers on the same correlation.

Correlations here are laid out ``(B, Q, K)``: Q query cells of one grid, K matched cells of the
other, both row-major over an ``(h, w)`` grid (``k = y * w + x``).  This is the official
``(B, K, h, w)`` volume transposed, which lets one matmul take the expectation.
"""

from __future__ import annotations

import torch


def normalized_cell_coords(height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """(h*w, 2) cell centres in [-1, 1] with -1/+1 at the first/last cell (align-corners)."""
    xs = torch.linspace(-1.0, 1.0, width, device=device, dtype=dtype)
    ys = torch.linspace(-1.0, 1.0, height, device=device, dtype=dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y], dim=-1).reshape(-1, 2)


def cell_indices(height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """(h*w, 2) integer (x, y) of every cell, row-major, as float."""
    xs = torch.arange(width, device=device, dtype=dtype)
    ys = torch.arange(height, device=device, dtype=dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y], dim=-1).reshape(-1, 2)


def gaussian_window(corr: torch.Tensor, height: int, width: int, sigma: float) -> torch.Tensor:
    """exp(-|p_k - p_argmax|² / 2σ²) for every (query, matched) cell; σ in cells, isotropic."""
    cells = cell_indices(height, width, corr.device, corr.dtype)  # (K, 2)
    best = cells[corr.argmax(dim=-1)]  # (B, Q, 2): no gradient flows through the argmax
    sq_dist = ((cells[None, None] - best[:, :, None]) ** 2).sum(-1)  # (B, Q, K)
    return torch.exp(-sq_dist / (2.0 * sigma**2))


def kernel_soft_argmax(corr: torch.Tensor, height: int, width: int, beta: float | None,
                       sigma: float) -> torch.Tensor:
    """Matched positions (B, Q, 2) in normalised [-1, 1] (x, y) of the other grid.

    ``beta=None`` is the discrete argmax of the official code (not differentiable).
    """
    coords = normalized_cell_coords(height, width, corr.device, corr.dtype)
    if beta is None:
        return coords[corr.argmax(dim=-1)]
    windowed = gaussian_window(corr, height, width, sigma) * corr
    # beta * (c - max c), as the official softmax; softmax then subtracts max = 0 exactly.
    logits = beta * (windowed - windowed.amax(dim=-1, keepdim=True))
    probabilities = torch.softmax(logits, dim=-1)
    return probabilities @ coords
