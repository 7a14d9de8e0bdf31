"""How each tool of the TSS kit resizes images, reproduced to the arithmetic.

* C++ tool (OpenCV 3.1 ``cv::resize(..., INTER_LINEAR)``): half-pixel centres, two taps, no
  antialiasing, edge pixels replicated; float images are computed in float32 (horizontal pass,
  then vertical), 8-bit images in fixed point with 11-bit weights.
* MATLAB tool (``imresize(..., 'bilinear')``): half-pixel centres, triangle kernel widened by
  1/scale when shrinking (antialiasing), weights normalised, symmetric border, computed in
  double, the dimension with the smaller scale first.
"""

from __future__ import annotations

import numpy as np

COEF_BITS = 11
COEF_SCALE = 1 << COEF_BITS  # OpenCV INTER_RESIZE_COEF_SCALE


def _cv_taps(src_len: int, dst_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV's (index, index + 1, fraction) per output position, fraction in float32."""
    scale = src_len / dst_len
    pos = ((np.arange(dst_len, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    left = np.floor(pos).astype(np.int64)
    frac = (pos - left.astype(np.float32)).astype(np.float32)
    low = left < 0
    left[low], frac[low] = 0, 0.0
    high = left >= src_len - 1
    left[high], frac[high] = src_len - 1, 0.0
    right = np.minimum(left + 1, src_len - 1)
    return left, right, frac


def cv_resize_linear_f32(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``cv::resize(image, (W, H), INTER_LINEAR)`` for float images (any channel count).

    ``size`` is ``(H, W)``.  Each pass computes ``a*w0 + b*w1`` in float32, exactly as OpenCV.
    """
    src = np.asarray(image, dtype=np.float32)
    height, width = size
    x0, x1, fx = _cv_taps(src.shape[1], width)
    y0, y1, fy = _cv_taps(src.shape[0], height)
    extra = (None,) * (src.ndim - 2)
    ax0 = (np.float32(1) - fx)[(None, slice(None), *extra)]
    ax1 = fx[(None, slice(None), *extra)]
    rows = src[:, x0] * ax0 + src[:, x1] * ax1
    by0 = (np.float32(1) - fy)[(slice(None), None, *extra)]
    by1 = fy[(slice(None), None, *extra)]
    return (rows[y0] * by0 + rows[y1] * by1).astype(np.float32)


def cv_resize_linear_u8(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``cv::resize(image, (W, H), INTER_LINEAR)`` for a single-channel 8-bit image.

    OpenCV rounds the weights to 11 bits, sums the horizontal pass in int32 and, for all but the
    last few columns (its SSE2 path), combines rows as ``((hi(a>>4 * b0) + hi(c>>4 * b1)) + 2) >> 2``;
    the remaining columns use ``(a*b0 + c*b1 + 2**21) >> 22``.
    """
    src = np.asarray(image, dtype=np.int64)
    if src.ndim != 2:
        raise ValueError("cv_resize_linear_u8 expects a single-channel image")
    height, width = size
    x0, x1, fx = _cv_taps(src.shape[1], width)
    y0, y1, fy = _cv_taps(src.shape[0], height)
    ax0 = np.rint((np.float32(1) - fx) * np.float32(COEF_SCALE)).astype(np.int64)
    ax1 = np.rint(fx * np.float32(COEF_SCALE)).astype(np.int64)
    by0 = np.rint((np.float32(1) - fy) * np.float32(COEF_SCALE)).astype(np.int64)
    by1 = np.rint(fy * np.float32(COEF_SCALE)).astype(np.int64)
    rows = src[:, x0] * ax0 + src[:, x1] * ax1  # int32 range
    top, bottom = rows[y0], rows[y1]
    b0, b1 = by0[:, None], by1[:, None]
    vec = (((top >> 4) * b0 >> 16) + ((bottom >> 4) * b1 >> 16) + 2) >> 2
    scalar = (top * b0 + bottom * b1 + (1 << 21)) >> 22
    out = vec
    first_scalar = _cv_u8_scalar_start(width)
    out[:, first_scalar:] = scalar[:, first_scalar:]
    return np.clip(out, 0, 255).astype(np.uint8)


def _cv_u8_scalar_start(width: int) -> int:
    """First column OpenCV 3.1 computes without SSE2 in the vertical 8-bit pass."""
    x = (width // 16) * 16 if width >= 16 else 0
    while x < width - 4:
        x += 4
    return x


def _triangle(x: np.ndarray) -> np.ndarray:
    return np.where((x >= -1) & (x < 0), 1 + x, 0.0) + np.where((x >= 0) & (x <= 1), 1 - x, 0.0)


def _matlab_contributions(in_len: int, out_len: int, antialias: bool) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB imresize's (indices, weights) for one dimension, bilinear kernel, 0-based indices."""
    scale = out_len / in_len
    width = 2.0
    if scale < 1 and antialias:
        kernel = lambda x: scale * _triangle(scale * x)  # noqa: E731
        width = width / scale
    else:
        kernel = _triangle
    x = np.arange(1, out_len + 1, dtype=np.float64)[:, None]
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(np.ceil(width)) + 2
    indices = left + np.arange(taps)[None, :]
    weights = kernel(u - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(1, in_len + 1), np.arange(in_len, 0, -1)])
    indices = mirror[(indices.astype(np.int64) - 1) % len(mirror)]
    keep = np.any(weights != 0, axis=0)
    return indices[:, keep] - 1, weights[:, keep]


def _matlab_resize_axis(image: np.ndarray, out_len: int, axis: int, antialias: bool) -> np.ndarray:
    indices, weights = _matlab_contributions(image.shape[axis], out_len, antialias)
    moved = np.moveaxis(image, axis, 0)
    extra = (slice(None),) + (None,) * (moved.ndim - 1)
    out = np.zeros((out_len,) + moved.shape[1:], dtype=np.float64)
    for k in range(indices.shape[1]):  # MATLAB accumulates the taps in order
        out = out + weights[:, k][extra] * moved[indices[:, k]]
    return np.moveaxis(out, 0, axis)


def matlab_imresize_bilinear(image: np.ndarray, size: tuple[int, int], antialias: bool = True) -> np.ndarray:
    """``imresize(double(image), [H W], 'bilinear')`` (antialiased when shrinking), in float64."""
    out = np.asarray(image, dtype=np.float64)
    height, width = size
    scale = (height / out.shape[0], width / out.shape[1])
    order = (0, 1) if scale[0] <= scale[1] else (1, 0)
    for axis in order:
        out = _matlab_resize_axis(out, (height, width)[axis], axis, antialias)
    return out
