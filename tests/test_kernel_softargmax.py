"""Kernel soft-argmax: official formula, hard-argmax limit, differentiability."""

from __future__ import annotations

import math

import torch

from corrbench.matching.kernel_softargmax import gaussian_window, kernel_soft_argmax, normalized_cell_coords


def official_layout_reference(corr_bkhw: torch.Tensor, beta: float, sigma: float) -> torch.Tensor:
    """Spec §2.5 written directly on the official (B, K, h, w) volume: window at the argmax,
    softmax over K, marginalise to x and y, expectation over linspace(-1, 1)."""
    b, k, h, w = corr_bkhw.shape
    best = corr_bkhw.argmax(dim=1)
    by, bx = (best // w).float(), (best % w).float()
    ky = torch.arange(h).float().view(1, h, 1, 1, 1)
    kx = torch.arange(w).float().view(1, 1, w, 1, 1)
    window = torch.exp(-((kx - bx[:, None, None]) ** 2 + (ky - by[:, None, None]) ** 2) / (2 * sigma**2))
    windowed = window.reshape(b, k, h, w) * corr_bkhw
    e = torch.exp(beta * (windowed - windowed.max(dim=1, keepdim=True).values))
    p = (e / e.sum(dim=1, keepdim=True)).view(b, h, w, h, w)
    gx = (p.sum(dim=1) * torch.linspace(-1, 1, w).view(1, w, 1, 1)).sum(dim=1)
    gy = (p.sum(dim=2) * torch.linspace(-1, 1, h).view(1, h, 1, 1)).sum(dim=1)
    return torch.stack([gx, gy], dim=-1)  # (B, h, w, 2)


def test_matches_official_formula_on_random_volume():
    torch.manual_seed(0)
    h, w = 5, 7
    corr = torch.rand(2, h * w, h, w)
    expected = official_layout_reference(corr, beta=50.0, sigma=2.0)
    ours = kernel_soft_argmax(corr.flatten(2).transpose(1, 2), h, w, beta=50.0, sigma=2.0)
    torch.testing.assert_close(ours.reshape(2, h, w, 2), expected, atol=1e-6, rtol=1e-5)


def test_sharp_limit_equals_hard_argmax():
    torch.manual_seed(1)
    h, w = 6, 9
    corr = torch.rand(3, h * w, h * w)  # non-negative, as after ReLU and product
    hard = normalized_cell_coords(h, w)[corr.argmax(dim=-1)]
    sharp = kernel_soft_argmax(corr, h, w, beta=1e5, sigma=5.0)
    torch.testing.assert_close(sharp, hard, atol=1e-5, rtol=0)
    torch.testing.assert_close(kernel_soft_argmax(corr, h, w, beta=None, sigma=5.0), hard)
    soft = kernel_soft_argmax(corr, h, w, beta=5.0, sigma=5.0)
    assert (soft - hard).abs().max() > 1e-2  # a soft temperature really averages


def test_gaussian_window_is_centred_on_the_argmax():
    h, w = 4, 5
    corr = torch.zeros(1, 1, h * w)
    corr[0, 0, 2 * w + 3] = 1.0  # argmax at (x=3, y=2)
    window = gaussian_window(corr, h, w, sigma=2.0).reshape(h, w)
    assert window[2, 3] == 1.0
    assert math.isclose(float(window[2, 4]), math.exp(-1 / 8), rel_tol=1e-6)
    assert math.isclose(float(window[0, 0]), math.exp(-(9 + 4) / 8), rel_tol=1e-6)


def test_differentiable():
    torch.manual_seed(2)
    h, w = 3, 4
    corr = torch.rand(1, h * w, h * w, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda c: kernel_soft_argmax(c, h, w, beta=3.0, sigma=2.0), (corr,))
    out = kernel_soft_argmax(corr, h, w, beta=50.0, sigma=5.0)
    out.sum().backward()
    assert torch.isfinite(corr.grad).all() and corr.grad.abs().sum() > 0


def test_the_kernel_readout_is_this_kernel_read_as_cells():
    """The feature matchers' ``kernel_softargmax`` readout is the same operation, beta = 1 / temperature."""
    from corrbench.matching.readouts import Readout

    torch.manual_seed(4)
    h, w = 5, 7
    corr = torch.rand(1, h * w, h, w)
    expected = official_layout_reference(corr, beta=50.0, sigma=2.0).reshape(-1, 2)
    cells = Readout("kernel_softargmax", temperature=0.02, sigma=2.0).cells(corr[0].flatten(1).T, (h, w))
    torch.testing.assert_close(cells, (expected + 1) * torch.tensor([(w - 1) / 2, (h - 1) / 2]), atol=1e-5, rtol=1e-5)
