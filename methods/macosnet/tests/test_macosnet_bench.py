"""The bench's own arithmetic (both sides must query the same points) and its run without the official code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np


def _bench():
    spec = importlib.util.spec_from_file_location("bench_macosnet", Path(__file__).resolve().parents[1] / "bench_macosnet.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_official_csv_coordinates_read_as_our_query_pixels():
    """PFPascalVal's 'scnet' reading (x * 224 / W, then the 1-based normalisation over 224 of
    geotnf/point_tnf.py) of the CSV value must be the normalised coordinate of our 0-based query pixel."""
    bench = _bench()
    size = (427, 640)
    ours = bench.grid_keypoints(size)
    assert ours.shape == (10, 2) and (ours == np.round(ours)).all()
    assert (ours >= 0).all() and (ours[:, 0] <= 639).all() and (ours[:, 1] <= 426).all()
    csv = bench.to_scnet_csv(ours, size)
    frame = csv * [224 / size[1], 224 / size[0]]
    official = (frame - 1 - (224 - 1) / 2) * 2 / (224 - 1)
    np.testing.assert_allclose(official, ours * 2 / [size[1] - 1, size[0] - 1] - 1, atol=1e-12)
    pair = {"src_size": [300, 451], "trg_size": list(size), "trg_kps": [[0, 0], [639, 426]]}
    np.testing.assert_allclose(bench.relative_position(pair), [[0, 0], [450, 299]])


def test_without_the_official_code_it_writes_a_note(tmp_path, monkeypatch):
    monkeypatch.delenv("MACOSNET_OFFICIAL_SRC", raising=False)
    out = tmp_path / "macosnet.md"
    assert _bench().main(["--out", str(out)]) == 0
    assert "Skipped: set MACOSNET_OFFICIAL_SRC" in out.read_text()
