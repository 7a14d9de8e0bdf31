"""Geometry shared by the model and the losses: correlation, affine and TPS point maps.

All coordinates are normalised to [-1, 1] over the square network input with the
``align_corners=True`` convention of torch 1.1 (the official code's), so -1 and +1 are the
centres of the first and last pixel.  A transform ``theta_XY`` maps points of image Y's frame to
image X's frame (it warps X onto Y).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def l2_normalize_channels(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``x / sqrt(sum_c x^2 + eps)`` over dim 1 (``featureL2Norm``)."""
    return x / torch.sqrt((x * x).sum(dim=1, keepdim=True) + eps)


def correlation(f_x: torch.Tensor, f_y: torch.Tensor) -> torch.Tensor:
    """Dense correlation with X on the channels and Y on the grid, then ReLU and channel L2 norm.

    Channel ``k`` is X's cell ``(y, x)`` with ``k = x * h + y`` (column-major, as the official
    code; the first regressor layer's weights depend on it).  Returns a contiguous (B, h*w, h, w).
    """
    batch, channels, height, width = f_y.shape
    x_cols = f_x.transpose(2, 3).reshape(batch, channels, -1)  # column-major cells of X
    y_cells = f_y.reshape(batch, channels, -1)
    corr = torch.bmm(x_cols.transpose(1, 2), y_cells).reshape(batch, -1, height, width)
    return l2_normalize_channels(F.relu(corr)).contiguous()


def grid_points(size: int, device: torch.device | None = None) -> torch.Tensor:
    """(size*size, 2) normalised (x, y) of a ``linspace(-1, 1, size)`` grid, row-major."""
    axis = torch.linspace(-1.0, 1.0, size, device=device)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def identity_affine(batch: int = 1, device: torch.device | None = None) -> torch.Tensor:
    return torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], device=device).repeat(batch, 1)


def apply_affine(theta: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """``[x'; y'] = [[t0, t1], [t3, t4]] [x; y] + [t2; t5]`` for theta (B, 6), points (B, N, 2)."""
    matrix = theta.view(-1, 2, 3)
    return points @ matrix[:, :, :2].transpose(1, 2) + matrix[:, :, 2].unsqueeze(1)


def tps_control_points(grid: int = 3, device: torch.device | None = None) -> torch.Tensor:
    """(n, 2) control points; x varies slowest (``P_X[i] = a[i // g]``, ``P_Y[i] = a[i % g]``)."""
    axis = torch.linspace(-1.0, 1.0, grid, device=device)
    px = axis.repeat_interleave(grid)
    py = axis.repeat(grid)
    return torch.stack([px, py], dim=1)


def identity_tps(batch: int = 1, grid: int = 3, device: torch.device | None = None) -> torch.Tensor:
    """theta = [Q_X, Q_Y] equal to the control points: the identity TPS."""
    control = tps_control_points(grid, device)
    return torch.cat([control[:, 0], control[:, 1]]).repeat(batch, 1)


def _tps_radial(d2: torch.Tensor) -> torch.Tensor:
    """U(d^2) = d^2 log d^2 with U(0) = 0."""
    return d2 * torch.log(torch.where(d2 == 0, torch.ones_like(d2), d2))


def tps_inverse_kernel(control: torch.Tensor, reg: float) -> torch.Tensor:
    """``inverse(L)`` with ``L = [[K + reg I, P], [P^T, 0]]`` (float64 solve, returned as float32)."""
    c = control.double()
    n = c.shape[0]
    kernel = _tps_radial(((c[:, None, :] - c[None, :, :]) ** 2).sum(-1)) + reg * torch.eye(n, dtype=c.dtype, device=c.device)
    poly = torch.cat([torch.ones(n, 1, dtype=c.dtype, device=c.device), c], dim=1)
    top = torch.cat([kernel, poly], dim=1)
    bottom = torch.cat([poly.t(), torch.zeros(3, 3, dtype=c.dtype, device=c.device)], dim=1)
    return torch.linalg.inv(torch.cat([top, bottom], dim=0)).float()


def apply_tps(theta: torch.Tensor, points: torch.Tensor, reg: float) -> torch.Tensor:
    """Thin-plate spline through the control points to ``theta`` (B, 2n), at points (B, N, 2)."""
    n = theta.shape[1] // 2
    grid = int(round(n ** 0.5))
    control = tps_control_points(grid, theta.device)
    inverse = tps_inverse_kernel(control, reg).to(theta.dtype)
    targets = theta.view(-1, 2, n).transpose(1, 2)  # (B, n, 2): images of the control points
    radial_w = inverse[:n, :n] @ targets  # (B, n, 2)
    affine_w = inverse[n:, :n] @ targets  # (B, 3, 2)
    d2 = ((points[:, :, None, :] - control[None, None]) ** 2).sum(-1)  # (B, N, n)
    mapped = affine_w[:, :1] + points[..., :1] * affine_w[:, 1:2] + points[..., 1:] * affine_w[:, 2:3]
    return mapped + _tps_radial(d2) @ radial_w


def compose_points(theta_aff: torch.Tensor, theta_tps: torch.Tensor | None, points: torch.Tensor,
                   reg: float) -> torch.Tensor:
    """The official evaluation composition ``Aff(theta_aff, TPS(theta_tps, p))``."""
    if theta_tps is not None:
        points = apply_tps(theta_tps, points, reg)
    return apply_affine(theta_aff, points)


def warp_image(image: torch.Tensor, theta_aff: torch.Tensor) -> torch.Tensor:
    """``image`` resampled at ``theta_aff(p)`` for every output pixel p (zeros outside)."""
    grid = F.affine_grid(theta_aff.view(-1, 2, 3), list(image.shape), align_corners=True)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def sample_at(values: torch.Tensor, points: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``values`` (B, C, H, W) bilinearly sampled at normalised points (B, H'*W', 2) -> (B, C, H', W')."""
    grid = points.view(points.shape[0], size[0], size[1], 2)
    return F.grid_sample(values, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
