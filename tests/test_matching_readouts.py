"""Readouts against hand-made similarities with a known answer, and against independent formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corrbench.errors import UsageError
from corrbench.matching.readouts import READOUTS, Readout
from corrbench.matching.similarity import match_cells, mutual

GRID = (6, 7)


def one_hot_shift(grid: tuple[int, int], dy: int, dx: int) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """Query cell (r, c) is one-hot e_{r*w+c}; the reference holds it at (r+dy, c+dx), and the
    reference cells nothing lands on get a code of their own.  Returns features and the queries
    whose shifted cell is inside the grid."""
    rows, cols = grid
    n = rows * cols
    query = torch.eye(n, 2 * n)
    reference = torch.zeros(n, 2 * n)
    for k in range(n):
        reference[k, n + k] = 1.0  # "nowhere" codes
    inside = []
    for r in range(rows):
        for c in range(cols):
            if 0 <= r + dy < rows and 0 <= c + dx < cols:
                k = (r + dy) * cols + (c + dx)
                reference[k] = 0.0
                reference[k, r * cols + c] = 1.0
                inside.append(r * cols + c)
    return query, reference, inside


@pytest.mark.parametrize("name", READOUTS)
@pytest.mark.parametrize("shift", [(1, 2), (-2, 0), (0, -3)])
def test_every_readout_recovers_a_known_shift_on_one_hot_features(name, shift):
    dy, dx = shift
    query, reference, inside = one_hot_shift(GRID, dy, dx)
    readout = Readout(name, temperature=0.02, window=2, sigma=2.0)
    cells, best = match_cells(query[inside], reference, GRID, readout, budget_bytes=1 << 20)
    rows, cols = GRID
    expected = torch.tensor([[q % cols + dx, q // cols + dy] for q in inside], dtype=torch.float32)
    torch.testing.assert_close(cells, expected, atol=1e-5, rtol=0)
    assert torch.equal(best, (expected[:, 1] * cols + expected[:, 0]).long())


@pytest.mark.parametrize("name", ["softargmax", "window_softargmax", "kernel_softargmax"])
def test_soft_readouts_find_the_midpoint_of_two_equal_peaks_and_nn_does_not(name):
    rows, cols = GRID
    similarity = torch.full((1, rows * cols), 0.1)
    similarity[0, 2 * cols + 3] = similarity[0, 2 * cols + 4] = 0.9  # equal peaks at (3, 2) and (4, 2)
    # (a wide kernel: SFNet's Gaussian is centred on one of the two peaks and would favour it)
    soft = Readout(name, temperature=0.01, window=2, sigma=1e3).cells(similarity, GRID)
    torch.testing.assert_close(soft, torch.tensor([[3.5, 2.0]]), atol=1e-4, rtol=0)
    hard = Readout("nn").cells(similarity, GRID)
    assert float(hard[0, 0]) in (3.0, 4.0) and float(hard[0, 1]) == 2.0


def test_a_high_temperature_averages_over_the_grid():
    torch.manual_seed(0)
    similarity = torch.rand(5, GRID[0] * GRID[1])
    centre = torch.tensor([(GRID[1] - 1) / 2, (GRID[0] - 1) / 2])
    hot = Readout("softargmax", temperature=1e4).cells(similarity, GRID)
    torch.testing.assert_close(hot, centre.expand(5, 2), atol=1e-3, rtol=0)
    cold = Readout("softargmax", temperature=1e-4).cells(similarity, GRID)
    torch.testing.assert_close(cold, Readout("nn").cells(similarity, GRID), atol=1e-4, rtol=0)


def geoaware_window_reference(corr: np.ndarray, rows: int, cols: int, window: int, beta: float) -> np.ndarray:
    """GeoAware-SC's SOFT_EVAL path written out with loops: zero the correlation outside a
    (2w+1)² window (clamped) around the argmax, softmax((x - max) / beta) over all cells,
    expectation over linspace(-1, 1), then (x + 1) * (n - 1) / 2."""
    out = np.zeros((len(corr), 2))
    xs, ys = np.linspace(-1, 1, cols), np.linspace(-1, 1, rows)
    for q, row in enumerate(corr):
        best = int(np.argmax(row))
        by, bx = best // cols, best % cols
        mask = np.zeros(rows * cols)
        for oy in range(-window, window + 1):
            for ox in range(-window, window + 1):
                y, x = min(max(by + oy, 0), rows - 1), min(max(bx + ox, 0), cols - 1)
                mask[y * cols + x] = 1
        masked = row * mask
        e = np.exp((masked - masked.max()) / beta)
        p = (e / e.sum()).reshape(rows, cols)
        gx = (p.sum(axis=0) * xs).sum()
        gy = (p.sum(axis=1) * ys).sum()
        out[q] = [(gx + 1) * (cols - 1) / 2, (gy + 1) * (rows - 1) / 2]
    return out


def test_window_softargmax_is_geoaware_masked_softmax_on_random_correlations():
    rng = np.random.default_rng(0)
    rows, cols = 9, 11
    corr = rng.uniform(-0.2, 1.0, (20, rows * cols))
    ours = Readout("window_softargmax", temperature=0.05, window=2).cells(torch.from_numpy(corr), (rows, cols))
    expected = geoaware_window_reference(corr, rows, cols, window=2, beta=0.05)
    np.testing.assert_allclose(ours.numpy(), expected, atol=1e-9)


def test_window_exclude_disc_is_a_softmax_over_the_disc_only():
    rng = np.random.default_rng(1)
    rows, cols, radius = 8, 8, 2.0
    corr = rng.uniform(0, 1, (12, rows * cols))
    readout = Readout("window_softargmax", temperature=0.1, window=radius, window_shape="disc", window_outside="exclude")
    ours = readout.cells(torch.from_numpy(corr), (rows, cols)).numpy()
    for q, row in enumerate(corr):
        by, bx = divmod(int(np.argmax(row)), cols)
        cand = [(y, x) for y in range(rows) for x in range(cols) if (y - by) ** 2 + (x - bx) ** 2 <= radius ** 2]
        logits = np.array([row[y * cols + x] for y, x in cand]) / 0.1
        w = np.exp(logits - logits.max())
        w /= w.sum()
        expected = [sum(wi * x for wi, (_, x) in zip(w, cand)), sum(wi * y for wi, (y, _) in zip(w, cand))]
        np.testing.assert_allclose(ours[q], expected, atol=1e-9)


def test_chunking_does_not_change_the_answer_beyond_rounding():
    torch.manual_seed(3)
    query, reference = torch.randn(300, 16), torch.randn(42, 16)
    readout = Readout("window_softargmax", temperature=0.5, window=2)
    whole, best_whole = match_cells(query, reference, GRID, readout, budget_bytes=1 << 30)
    chunked, best_chunked = match_cells(query, reference, GRID, readout, budget_bytes=42 * 4 * 7)  # 7 rows a block
    torch.testing.assert_close(chunked, whole)
    assert torch.equal(best_chunked, best_whole)


def test_mutual_keeps_only_matches_that_match_back():
    # Queries 0 and 1 both prefer reference 0, which prefers query 0 back; query 2 and reference 1 pair up.
    query = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    reference = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    best = (query @ reference.T).argmax(dim=1)
    assert best.tolist() == [0, 0, 1]
    keep = mutual(best, torch.arange(3), query, reference, budget_bytes=1 << 20)
    assert keep.tolist() == [True, False, True]


def test_an_unknown_readout_is_a_one_line_error_with_a_suggestion():
    with pytest.raises(UsageError, match="unknown readout 'softargmx'.*Did you mean 'softargmax'"):
        Readout("softargmx")  # type: ignore[arg-type]
