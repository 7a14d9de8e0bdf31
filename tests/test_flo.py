"""Middlebury .flo read/write: format details, round trip, one-line errors naming the file."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from corrbench.tss.flo import FloError, encode_flo, read_flo, valid_flow_mask, write_flo


def test_round_trip_and_layout(tmp_path):
    rng = np.random.default_rng(0)
    flow = rng.normal(size=(5, 7, 2)).astype(np.float32)
    flow[1, 2] = np.nan
    path = tmp_path / "f.flo"
    write_flo(path, flow)
    data = path.read_bytes()
    assert data[:4] == b"PIEH" and struct.unpack("<f", data[:4])[0] == 202021.25
    assert struct.unpack("<ii", data[4:12]) == (7, 5)  # width, then height
    assert len(data) == 12 + 8 * 7 * 5
    # row-major, u then v per pixel
    assert struct.unpack("<ff", data[12 + 8 * (0 * 7 + 3): 12 + 8 * (0 * 7 + 3) + 8]) == tuple(flow[0, 3])
    back = read_flo(path)
    assert back.dtype == np.float32 and back.shape == (5, 7, 2)
    assert np.array_equal(back[1, 2], [1e10, 1e10])  # NaN is written as unknown
    keep = np.ones((5, 7), bool)
    keep[1, 2] = False
    assert np.array_equal(back[keep], flow[keep])
    assert np.array_equal(valid_flow_mask(back), keep)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"PIE", "shorter than the 12-byte header"),
        (b"XXXX" + struct.pack("<ii", 2, 2) + bytes(32), "not a Middlebury"),
        (b"PIEH" + struct.pack("<ii", 0, 2), "illegal size"),
        (b"PIEH" + struct.pack("<ii", 2, 2) + bytes(31), "expected 44"),
        (b"PIEH" + struct.pack("<ii", 2, 2) + bytes(33), "expected 44"),
    ],
)
def test_corrupt_files_raise_naming_the_file(tmp_path, data, message):
    path = tmp_path / "bad.flo"
    path.write_bytes(data)
    with pytest.raises(FloError, match=message) as info:
        read_flo(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(FloError, match="not found"):
        read_flo(tmp_path / "nope.flo")


def test_encode_rejects_bad_shapes():
    with pytest.raises(ValueError):
        encode_flo(np.zeros((3, 3)))


@pytest.mark.shared
def test_real_tss_ground_truth(shared_data):
    from PIL import Image

    folder = shared_data / "tss" / "PASCAL" / "bike_01_02"
    for k in (1, 2):
        flow = read_flo(folder / f"flow{k}.flo")
        width, height = Image.open(folder / f"image{k}.png").size
        assert flow.shape == (height, width, 2)
        assert (folder / f"flow{k}.flo").stat().st_size == 12 + 8 * width * height
        raw = np.fromfile(folder / f"flow{k}.flo", dtype="<f4", offset=12).reshape(height, width, 2)
        assert np.array_equal(flow, raw)
        assert set(np.unique(flow[~valid_flow_mask(flow)])) == {np.float32(1e10)}
