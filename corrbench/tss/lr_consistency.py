"""Foreground masks estimated from two flows when a prediction has no masks (kit behaviour).

A pixel p of image X is foreground iff the flow of the other image, sampled where p lands,
brings it back within 20 px: ``||F_X(p) + F_Y(p + F_X(p))|| < 20``.

* C++ tool: ``cv::remap`` bilinear with coordinates rounded to 1/32 px and a constant border of
  1e10 (so samples touching the outside are background); endpoint error set to 1000 where
  exactly one of ``F_X(p)`` and ``-F_Y(...)`` is unknown.
* MATLAB tool: ``interp2(..., 'bicubic')`` on the 1-based grid with sample points clamped into
  the image; points outside image Y are background.  ``interp2``'s bicubic is taken to be Keys'
  cubic convolution (a = -0.5) with its linear-extrapolation border [inferred, not checked
  against MATLAB].
"""

from __future__ import annotations

import numpy as np

TAB = 32  # OpenCV INTER_TAB_SIZE


def _warp_cpp(flow: np.ndarray, image: np.ndarray, border: float) -> np.ndarray:
    """``cv::remap(image, x + u, y + v, INTER_LINEAR, BORDER_CONSTANT, border)`` in float32."""
    f32 = np.float32
    height, width = flow.shape[:2]
    map_x = flow[..., 0].astype(f32) + np.arange(width, dtype=f32)[None, :]
    map_y = flow[..., 1].astype(f32) + np.arange(height, dtype=f32)[:, None]
    limit = np.float64(np.iinfo(np.int32).max)
    with np.errstate(invalid="ignore"):
        fx = np.clip(np.rint(map_x.astype(np.float64) * TAB), -limit - 1, limit)
        fy = np.clip(np.rint(map_y.astype(np.float64) * TAB), -limit - 1, limit)
    fx = np.where(np.isnan(fx), -limit - 1, fx).astype(np.int64)  # NaN -> INT_MIN as cvRound does
    fy = np.where(np.isnan(fy), -limit - 1, fy).astype(np.int64)
    ix = np.clip(fx >> 5, -32768, 32767)
    iy = np.clip(fy >> 5, -32768, 32767)
    ax = (fx & (TAB - 1)).astype(f32) / f32(TAB)
    ay = (fy & (TAB - 1)).astype(f32) / f32(TAB)
    wx = (f32(1) - ax, ax)
    wy = (f32(1) - ay, ay)
    src = image.astype(f32)
    h2, w2 = src.shape[:2]
    out = None
    for dy in (0, 1):
        for dx in (0, 1):
            x, y = ix + dx, iy + dy
            inside = (x >= 0) & (x < w2) & (y >= 0) & (y < h2)
            value = np.full(flow.shape[:2] + src.shape[2:], f32(border), dtype=f32)
            value[inside] = src[y[inside], x[inside]]
            weight = (wy[dy] * wx[dx]).astype(f32)[..., None]
            term = value * weight
            out = term if out is None else out + term
    return out


def _endpoint_error_cpp(flow: np.ndarray, other: np.ndarray) -> np.ndarray:
    diff = flow - other
    error = np.sqrt(diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1])
    with np.errstate(invalid="ignore"):
        known_a = (np.abs(flow) <= 1e9).all(axis=-1)
        known_b = (np.abs(other) <= 1e9).all(axis=-1)
    error[known_a != known_b] = np.float32(1000)
    return error


def masks_cpp(flow1: np.ndarray, flow2: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    f1, f2 = flow1.astype(np.float32), flow2.astype(np.float32)
    back1 = _warp_cpp(f1, f2, 1e10)
    back2 = _warp_cpp(f2, f1, 1e10)
    with np.errstate(invalid="ignore", over="ignore"):
        return (_endpoint_error_cpp(f1, -back1) < threshold, _endpoint_error_cpp(f2, -back2) < threshold)


def _keys(t: np.ndarray) -> tuple[np.ndarray, ...]:
    """Keys (a = -0.5) weights of the taps at offsets -1, 0, 1, 2 for fraction t."""
    a = -0.5
    def w(d):
        d = np.abs(d)
        return np.where(d <= 1, (a + 2) * d**3 - (a + 3) * d**2 + 1,
                        np.where(d < 2, a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a, 0.0))
    return w(t + 1), w(t), w(1 - t), w(2 - t)


def _pad_keys(image: np.ndarray, axis: int) -> np.ndarray:
    """Keys' border: one extra sample each side, f[-1] = 3f[0] - 3f[1] + f[2]."""
    img = np.moveaxis(image, axis, 0)
    first = 3 * img[0] - 3 * img[1] + img[2]
    last = 3 * img[-1] - 3 * img[-2] + img[-3]
    return np.moveaxis(np.concatenate([first[None], img, last[None]]), 0, axis)


def _interp_bicubic(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Keys bicubic interpolation of ``image`` (H, W, C) at 0-based points inside the image."""
    with np.errstate(invalid="ignore", over="ignore"):
        padded = _pad_keys(_pad_keys(image.astype(np.float64), 0), 1)
        h, w = image.shape[:2]
        x0 = np.clip(np.floor(xs).astype(np.int64), 0, w - 2)
        y0 = np.clip(np.floor(ys).astype(np.int64), 0, h - 2)
        wx = _keys(xs - x0)
        wy = _keys(ys - y0)
        out = np.zeros(xs.shape + image.shape[2:])
        for j, wyj in enumerate(wy):
            for i, wxi in enumerate(wx):
                sample = padded[y0 + j, x0 + i]  # padded index = original + 1, offsets -1..2
                weight = np.where((wyj * wxi) == 0, 0.0, wyj * wxi)[..., None]
                out += np.where(weight == 0, 0.0, weight * sample)
    return out


def _mask_matlab(flow: np.ndarray, other: np.ndarray, threshold: float) -> np.ndarray:
    h1, w1 = flow.shape[:2]
    h2, w2 = other.shape[:2]
    xs = np.arange(w1)[None, :] + flow[..., 0]
    ys = np.arange(h1)[:, None] + flow[..., 1]
    with np.errstate(invalid="ignore"):
        outside = (xs < 0) | (xs > w2 - 1) | (ys < 0) | (ys > h2 - 1)
    xs = np.clip(np.nan_to_num(xs, nan=0.0), 0, w2 - 1)
    ys = np.clip(np.nan_to_num(ys, nan=0.0), 0, h2 - 1)
    back = _interp_bicubic(other, xs, ys)
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.sqrt(((flow + back) ** 2).sum(axis=-1))
        mask = error < threshold
    mask[outside] = False
    return mask


def masks_matlab(flow1: np.ndarray, flow2: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    f1, f2 = flow1.astype(np.float64), flow2.astype(np.float64)
    return _mask_matlab(f1, f2, threshold), _mask_matlab(f2, f1, threshold)
