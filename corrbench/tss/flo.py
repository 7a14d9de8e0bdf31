"""Middlebury ``.flo`` optical-flow files, the format of TSS ground truth and predictions.

Layout (little-endian): float32 tag 202021.25 (the bytes ``PIEH``), int32 width, int32 height,
then ``height*width*2`` float32 values, row-major, interleaved ``u, v``.  Unknown flow is stored as
1e10; readers treat ``|u| > 1e9`` or ``|v| > 1e9`` as unknown.  Like the Middlebury reference
readers, width and height must be in 1..99999 and the file must have exactly the announced size.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from corrbench.errors import CorrbenchError

TAG_FLOAT = np.float32(202021.25)
TAG_BYTES = b"PIEH"
UNKNOWN_FLOW = 1e10
UNKNOWN_THRESHOLD = 1e9
MAX_SIDE = 99999


class FloError(CorrbenchError):
    """A ``.flo`` file is missing, truncated or not a flow file."""


def read_flo(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a ``.flo`` file into a ``(H, W, 2)`` float32 array of displacements ``(u, v)``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FloError(f"flow file not found: {path}") from None
    except OSError as error:
        raise FloError(f"cannot read flow file {path}: {error.strerror}") from None
    if len(data) < 12:
        raise FloError(f"corrupt flow file {path}: {len(data)} bytes, shorter than the 12-byte header")
    if data[:4] != TAG_BYTES:
        raise FloError(f"corrupt flow file {path}: tag {data[:4]!r} is not {TAG_BYTES!r} (not a Middlebury .flo)")
    width, height = (int(v) for v in np.frombuffer(data, dtype="<i4", count=2, offset=4))
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise FloError(f"corrupt flow file {path}: illegal size {width}x{height}")
    expected = 12 + 8 * width * height
    if len(data) != expected:
        raise FloError(
            f"corrupt flow file {path}: {len(data)} bytes, expected {expected} for {width}x{height}"
        )
    flow = np.frombuffer(data, dtype="<f4", offset=12).reshape(height, width, 2)
    return flow.astype(np.float32)


def encode_flo(flow: np.ndarray) -> bytes:
    """The bytes of a ``.flo`` file holding ``flow`` (H, W, 2); NaN is written as unknown (1e10)."""
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must be (H, W, 2), got {flow.shape}")
    height, width = flow.shape[:2]
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise ValueError(f"flow size {width}x{height} outside 1..{MAX_SIDE}")
    body = np.where(np.isnan(flow), UNKNOWN_FLOW, flow).astype("<f4")
    header = TAG_BYTES + np.array([width, height], dtype="<i4").tobytes()
    return header + body.tobytes()


def write_flo(path: str | os.PathLike[str], flow: np.ndarray) -> None:
    """Write ``flow`` (H, W, 2) atomically as a ``.flo`` file."""
    from corrbench.io import atomic_write_bytes

    atomic_write_bytes(path, encode_flo(flow))


def valid_flow_mask(flow: np.ndarray) -> np.ndarray:
    """Known pixels: both components finite-ish (``|u| <= 1e9`` and ``|v| <= 1e9``; NaN is unknown)."""
    flow = np.asarray(flow)
    with np.errstate(invalid="ignore"):
        return (np.abs(flow[..., 0]) <= UNKNOWN_THRESHOLD) & (np.abs(flow[..., 1]) <= UNKNOWN_THRESHOLD)
