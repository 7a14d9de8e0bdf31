"""The inference fast paths give the same numbers as the plain formulations (they only reorganise work)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import corrbench_nemf.aggregator as aggregator
from corrbench_nemf.conv4d import Conv4d, _over_source, _over_target
from corrbench_nemf.method import NeMFMethod
from nemf_fakes import TINY, textured_pair


def test_chunked_inference_blocks_equal_the_autograd_path(monkeypatch):
    torch.manual_seed(0)
    model = aggregator.CostAggregator(levels=2, level_channels=3, side=4, proj_dim=8, depth=2, heads=4, mlp_ratio=2.0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    cost = torch.randn(2, 6, 16, 16)
    src, trg = torch.randn(2, 2, 16, 8), torch.randn(2, 2, 16, 8)
    plain = model(cost, src, trg)  # grad enabled: the plain reshape/transpose path
    monkeypatch.setattr(aggregator, "CHUNK_TOKENS", 40)  # several uneven chunks over slices and positions
    with torch.no_grad():
        chunked = model(cost, src, trg)
    assert torch.equal(plain.detach(), chunked)


def test_strided_max_pooling_equals_maxpool2d_branches():
    torch.manual_seed(1)
    conv = Conv4d(2, 3, stride=2)
    x = torch.randn(2, 2, 6, 8, 4, 6)
    with torch.no_grad():
        fast = conv(x)
        pool = nn.MaxPool2d(2, 2, ceil_mode=True)
        plain = _over_source(_over_target(x, pool), conv.query_conv) + _over_target(_over_source(x, pool), conv.supp_conv)
        odd = torch.randn(1, 2, 5, 6, 7, 4)  # odd sides keep the MaxPool2d (ceil mode) path
        assert conv(odd).shape == (1, 3, 3, 3, 4, 2)
    assert torch.equal(fast, plain)


def test_repeated_predictions_are_identical_under_a_seed():
    pairs = [textured_pair("a", seed=0), textured_pair("b", (44, 52), (36, 40), seed=2)]
    first = NeMFMethod(seed=5, **TINY).predict(pairs)
    second = NeMFMethod(seed=5, **TINY).predict(pairs)
    for one, two in zip(first, second):
        for direction in ("trg_to_src", "src_to_trg"):
            np.testing.assert_array_equal(one.points[direction], two.points[direction])
            np.testing.assert_array_equal(getattr(one, direction).coords, getattr(two, direction).coords)


@pytest.mark.slow
def test_bench_writes_its_table_without_the_official_code(tmp_path, monkeypatch):
    monkeypatch.delenv("NEMF_OFFICIAL_SRC", raising=False)
    spec = importlib.util.spec_from_file_location("bench_nemf", Path(__file__).resolve().parents[1] / "bench_nemf.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--threads", "1", "--out", str(tmp_path / "nemf.md")]) == 0
    text = (tmp_path / "nemf.md").read_text()
    from corrbench_nemf.config import PRESETS
    from corrbench_nemf.method import grid_shape

    rows, cols = grid_shape((200, 232), PRESETS["embedded"].config.grid_max_side)  # the preset's search grid
    assert "| paper | 256² | 16 |" in text and f"| embedded | 200x232 | {rows}x{cols} | 20 |" in text
    assert "Skipped" in text
