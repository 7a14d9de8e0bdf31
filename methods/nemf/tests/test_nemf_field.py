"""The matching field: harmonic embedding, 4-D sampling, decoder scoring."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from corrbench_nemf.field import (NeuralMatchingField, Volumes, harmonic_embedding, harmonic_frequencies,
                                  sample_volume)


def test_harmonic_embedding_shape_and_values():
    freqs = harmonic_frequencies(10)
    assert torch.allclose(freqs, torch.linspace(1, 512, 10))
    point = torch.tensor([[0.25, -0.5]])
    out = harmonic_embedding(point, freqs)
    assert out.shape == (1, 42)
    x, y = 2 * 0.25 + 3, 2 * -0.5 + 3  # NeMF maps u -> 2u + 3
    assert math.isclose(out[0, 0].item(), math.sin(x * 1.0), abs_tol=1e-6)
    assert math.isclose(out[0, 9].item(), math.sin(x * 512.0), abs_tol=1e-4)
    assert math.isclose(out[0, 10].item(), math.sin(y * 1.0), abs_tol=1e-6)
    assert math.isclose(out[0, 20].item(), math.cos(x * 1.0), abs_tol=1e-6)
    assert math.isclose(out[0, 31].item(), math.cos(y * freqs[1].item()), abs_tol=1e-5)
    assert torch.allclose(out[0, 40:], torch.tensor([x, y]))
    batch = harmonic_embedding(torch.rand(3, 7, 2), freqs)
    assert batch.shape == (3, 7, 42)


def _two_stage_grid_sample(volume: torch.Tensor, src: torch.Tensor, trg: torch.Tensor) -> torch.Tensor:
    """The official sampling: grid_sample over the source dims, then over the target dims."""
    b, c, hs, ws, ht, wt = volume.shape
    n = src.shape[0]
    flat = volume.permute(0, 1, 4, 5, 2, 3).reshape(1, c * ht * wt, hs, ws)
    first = F.grid_sample(flat, src.view(1, 1, n, 2), mode="bilinear", align_corners=True)
    first = first.reshape(c, ht, wt, n).permute(3, 0, 1, 2)
    second = F.grid_sample(first, trg.view(n, 1, 1, 2), mode="bilinear", align_corners=True)
    return second.view(n, c)


def test_quadrilinear_gather_equals_two_stage_grid_sample_inside_and_outside():
    torch.manual_seed(0)
    side, channels = 5, 3
    volume = torch.randn(1, channels, side, side, side, side)
    src = torch.rand(200, 2) * 2.6 - 1.3  # some points outside [-1, 1]: zero padding
    trg = torch.rand(200, 2) * 2.6 - 1.3
    table = Volumes(volume.permute(0, 2, 3, 4, 5, 1).reshape(-1, channels), side)
    ours = sample_volume(table, torch.zeros(200, dtype=torch.long), src, trg)
    assert torch.allclose(ours, _two_stage_grid_sample(volume, src, trg), atol=1e-5)


def test_sampling_picks_each_pairs_own_volume_and_grid_points_exactly():
    side = 3
    volume = torch.randn(2, 2, side, side, side, side)
    table = Volumes(volume.permute(0, 2, 3, 4, 5, 1).reshape(-1, 2), side)
    src = torch.tensor([[1.0, -1.0], [0.0, 0.0]])  # cells (x=2, y=0) and (1, 1)
    trg = torch.tensor([[-1.0, 1.0], [1.0, 1.0]])
    got = sample_volume(table, torch.tensor([1, 0]), src, trg)
    assert torch.allclose(got[0], volume[1, :, 0, 2, 2, 0], atol=1e-6)
    assert torch.allclose(got[1], volume[0, :, 1, 1, 2, 2], atol=1e-6)


def test_score_is_pointwise_and_chunk_independent():
    torch.manual_seed(1)
    field = NeuralMatchingField(channels=8, hidden=16, blocks=2, harmonics=4)
    side = 4
    volumes = field.volumes(torch.randn(2, 8, side * side, side * side), torch.randn(2, side * side, side * side), side)
    pair = torch.tensor([0, 1, 1, 0, 1])
    src, trg = torch.rand(5, 2) * 2 - 1, torch.rand(5, 2) * 2 - 1
    with torch.no_grad():
        whole = field.score(volumes, pair, src, trg)
        chunks = field.score(volumes, pair, src, trg, chunk=2)
        single = torch.cat([field.score(volumes, pair[i:i + 1], src[i:i + 1], trg[i:i + 1]) for i in range(5)])
    assert whole.shape == (5,)
    assert torch.allclose(whole, chunks, atol=1e-6) and torch.allclose(whole, single, atol=1e-6)
