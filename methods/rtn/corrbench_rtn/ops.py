"""RTN's building blocks as plain functions: L2 norm, constrained correlation, the local-affine
feature transformer and the fixed "bilinear" transposed-conv upsampling.

Affine fields are ``(B, 6, H, W)`` in the official channel order (spec §1.2):
``[a_vv, a_vh, t_v, a_hv, a_hh, t_h]``; translations are in normalised coordinates, the linear
terms are per feature-pixel step.  The identity field has ``a_vv = a_hh = 1`` and zeros elsewhere.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Channel indices of the affine field (0-based).
A_VV, A_VH, T_V, A_HV, A_HH, T_H = range(6)


def l2_normalize(x: torch.Tensor, eps: float = 0.01) -> torch.Tensor:
    """``x / sqrt(sum_c x² + eps)`` over channels (MatConvNet ``vl_nnnormalizelp`` with eps 0.01)."""
    return x / torch.sqrt((x * x).sum(dim=1, keepdim=True) + eps)


def pixel_step(size: int, align_corners: bool) -> float:
    """One feature pixel in normalised units."""
    return 2.0 / (size - 1) if align_corners else 2.0 / size


def base_grid(height: int, width: int, align_corners: bool, device=None) -> torch.Tensor:
    """(H, W, 2) normalised (x, y) positions of the pixel centres of an (H, W) map."""
    def axis(n: int) -> torch.Tensor:
        if align_corners:
            return torch.linspace(-1.0, 1.0, n, device=device) if n > 1 else torch.zeros(1, device=device)
        return (torch.arange(n, device=device, dtype=torch.float32) * 2 + 1) / n - 1

    ys, xs = torch.meshgrid(axis(height), axis(width), indexing="ij")
    return torch.stack([xs, ys], dim=-1)


def identity_field(batch: int, height: int, width: int, device=None) -> torch.Tensor:
    """The identity affine field (the official ``init`` input)."""
    field = torch.zeros(batch, 6, height, width, device=device)
    field[:, A_VV] = 1.0
    field[:, A_HH] = 1.0
    return field


def constrained_correlation(f1: torch.Tensor, f2: torch.Tensor, max_disp: int = 9) -> torch.Tensor:
    """Local correlation ``C[k] = <f1(p), f2(p + (dv, dw))>`` with zeros outside ``f2``.

    Channel order is the official one (spec §2.2): horizontal offset slow, vertical fast,
    ``k = max_disp * (dw + r) + (dv + r)`` with ``r = max_disp // 2``; the centre is ``k = len // 2``.
    """
    radius = max_disp // 2
    height, width = f1.shape[-2:]
    padded = F.pad(f2, (radius, radius, radius, radius))
    volumes = []
    for dw in range(-radius, radius + 1):
        for dv in range(-radius, radius + 1):
            shifted = padded[..., radius + dv: radius + dv + height, radius + dw: radius + dw + width]
            volumes.append((f1 * shifted).sum(dim=1))
    return torch.stack(volumes, dim=1)


def affine_taps(field: torch.Tensor, align_corners: bool) -> torch.Tensor:
    """Sampling positions of the 3x3 taps under each local affine: (B, 3, 3, H, W, 2) as (x, y).

    Tap (r, c) of pixel (v, u) reads ``v + a_vv r sv + a_vh c sh + t_v`` and
    ``u + a_hv r sv + a_hh c sh + t_h`` (spec §2.4).
    """
    batch, _, height, width = field.shape
    grid = base_grid(height, width, align_corners, device=field.device)
    sv, sh = pixel_step(height, align_corners), pixel_step(width, align_corners)
    rows = []
    for r in (-1, 0, 1):
        cols = []
        for c in (-1, 0, 1):
            v = grid[..., 1] + field[:, A_VV] * (r * sv) + field[:, A_VH] * (c * sh) + field[:, T_V]
            u = grid[..., 0] + field[:, A_HV] * (r * sv) + field[:, A_HH] * (c * sh) + field[:, T_H]
            cols.append(torch.stack([u, v], dim=-1))
        rows.append(torch.stack(cols, dim=1))
    return torch.stack(rows, dim=1)


def transform_features(features: torch.Tensor, field: torch.Tensor, conv: torch.nn.Conv2d,
                       align_corners: bool) -> torch.Tensor:
    """The RTN transformer: a 3x3 conv whose taps are read at affinely warped positions.

    Official layout: the 9 bilinear samples of every pixel are written into a (3H, 3W) map and a
    stride-3 convolution with the backbone's conv weights is applied (spec §2.4).  ``features``
    and ``field`` must share their spatial size.
    """
    batch, channels, height, width = features.shape
    taps = affine_taps(field, align_corners)  # (B, 3, 3, H, W, 2)
    grid = taps.permute(0, 3, 1, 4, 2, 5).reshape(batch, 3 * height, 3 * width, 2)
    sampled = F.grid_sample(features, grid, mode="bilinear", padding_mode="zeros", align_corners=align_corners)
    return F.conv2d(sampled, conv.weight, conv.bias, stride=3)


def bilinear_kernel(channels: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """The fixed diagonal 4x4 kernel bank of MatConvNet's ``bilinear_u(4, 1, C)`` (grouped form)."""
    taps = torch.tensor([0.25, 0.75, 0.75, 0.25], device=device, dtype=dtype)
    return torch.outer(taps, taps).expand(channels, 1, 4, 4).contiguous()


def deconv_upsample2(x: torch.Tensor) -> torch.Tensor:
    """x2 up-sampling by the fixed transposed conv (stride 2, crop 1): NOT interpolation.

    Border rows and columns come out as 0.75 x the edge value (corners 0.5625 x) because of the
    implicit zero padding; the official model relies on it (spec §2.6, §6.1).
    """
    channels = x.shape[1]
    return F.conv_transpose2d(x, bilinear_kernel(channels, x.device, x.dtype), stride=2, padding=1, groups=channels)


def upsample2(x: torch.Tensor, mode: str, size: tuple[int, int] | None = None) -> torch.Tensor:
    """x2 up-sampling with the official deconv (``"deconv"``) or plain bilinear interpolation."""
    if mode == "deconv":
        out = deconv_upsample2(x)
        if size is None or tuple(out.shape[-2:]) == tuple(size):
            return out
        if out.shape[-2] >= size[0] and out.shape[-1] >= size[1]:
            return out[..., : size[0], : size[1]]  # odd skip sizes: ceil-mode pooling made 2N = S + 1
        return F.interpolate(out, size=size, mode="bilinear", align_corners=False)
    target = size if size is not None else (2 * x.shape[-2], 2 * x.shape[-1])
    return F.interpolate(x, size=target, mode="bilinear", align_corners=False)
