"""PatchMatch and coordinate optimisation: against a per-point reference of the official loop."""

from __future__ import annotations

import pytest
import torch

from corrbench_nemf.field import NeuralMatchingField
from corrbench_nemf.search import (align_corners_grid, cosine_lrs, initial_field, optimise_points, patchmatch,
                                   soft_argmax)

SIDE = 4


@pytest.fixture(scope="module")
def scorer():
    torch.manual_seed(3)
    field = NeuralMatchingField(channels=8, hidden=32, blocks=2, harmonics=4)
    for p in field.decoder.parameters():  # fc_1 starts at zero: make the field non-trivial
        torch.nn.init.normal_(p, std=0.3)
    cost = torch.randn(2, 8, SIDE ** 2, SIDE ** 2)
    with torch.no_grad():
        volumes = field.volumes(cost, cost.mean(1), SIDE)

    def score(pair_ids, query, candidate):  # trg_to_src: the query is the target point
        return field.score(volumes, pair_ids, candidate, query)

    return score


def _reference_patchmatch(score, init, pair, iterations, radius, clamp, generator):
    """One cell at a time, as the official forward_patchmatch describes it (reflect at borders)."""
    h, w = init.shape[:2]
    grid = align_corners_grid(h, w)
    field = init.clone()
    one = lambda s, t: score(torch.tensor([pair]), t.view(1, 2), s.view(1, 2))[0]
    for _ in range(iterations):
        noise = torch.rand((1, h, w, 2), generator=generator)[0]
        new = field.clone()
        for y in range(h):
            for x in range(w):
                refl = lambda i, n: 1 if i < 0 else (n - 2 if i >= n else i)
                cands = [field[y, x], field[y, refl(x - 1, w)], field[y, refl(x + 1, w)],
                         field[refl(y - 1, h), x], field[refl(y + 1, h), x]]
                scores = [one(c, grid[y, x]) for c in cands]
                best = max(range(5), key=lambda k: (scores[k], -k))
                chosen, best_score = cands[best], scores[best]
                search = chosen + (noise[y, x] - 0.5) * 2 * radius
                if one(search, grid[y, x]) > best_score:
                    chosen = search
                new[y, x] = torch.clamp(chosen, init[y, x] - clamp, init[y, x] + clamp)
        field = new
    return field


def test_vectorised_patchmatch_equals_per_point_reference_for_same_draws(scorer):
    torch.manual_seed(0)
    inits = [torch.rand(3, 4, 2) * 2 - 1, torch.rand(4, 3, 2) * 2 - 1]
    gens = [torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)]
    with torch.no_grad():
        fast = patchmatch(scorer, inits, 3, 0.1, 0.1, gens).fields
        for pair, init in enumerate(inits):
            slow = _reference_patchmatch(scorer, init, pair, 3, 0.1, 0.1, torch.Generator().manual_seed(5))
            assert torch.allclose(fast[pair], slow, atol=1e-6)


def test_patchmatch_never_worsens_the_score_of_a_query(scorer):
    torch.manual_seed(1)
    inits = [torch.rand(5, 6, 2) * 2 - 1, torch.rand(4, 4, 2) * 2 - 1]
    history = []

    def field_scores(fields):
        out = []
        for pair, f in enumerate(fields):
            q = align_corners_grid(*f.shape[:2]).reshape(-1, 2)
            out.append(scorer(torch.full((len(q),), pair), q, f.reshape(-1, 2)))
        return torch.cat(out)

    field_scores = torch.no_grad()(field_scores)
    history.append(field_scores(inits))
    gens = [torch.Generator().manual_seed(s) for s in (0, 1)]
    # No clamp (it is a constraint, not a search step): every iteration keeps or improves each cell.
    patchmatch(scorer, inits, 6, 0.3, 1e9, gens, on_iteration=lambda it, fields: history.append(field_scores(fields)))
    for before, after in zip(history, history[1:]):
        assert bool((after >= before - 1e-5).all())
    assert float((history[-1] - history[0]).mean()) > 0


def test_coordinate_optimisation_increases_the_score(scorer):
    torch.manual_seed(2)
    fields = [torch.rand(4, 5, 2) * 1.6 - 0.8, torch.rand(3, 3, 2) * 1.6 - 0.8]
    queries = [torch.rand(6, 2) * 2 - 1, torch.rand(3, 2) * 2 - 1]
    starts = optimise_points(scorer, fields, queries, steps=0, lr=0.0, eta_min=0.0, weight_decay=0.0, clamp=0.1)
    moved = optimise_points(scorer, fields, queries, steps=20, lr=1e-2, eta_min=1e-4, weight_decay=0.01, clamp=0.1)
    ids = torch.tensor([0] * 6 + [1] * 3)
    q = torch.cat(queries)
    with torch.no_grad():
        before = torch.nn.functional.logsigmoid(scorer(ids, q, torch.cat(starts)))
        after = torch.nn.functional.logsigmoid(scorer(ids, q, torch.cat(moved)))
    assert float(after.mean()) > float(before.mean())
    assert float((torch.cat(moved) - torch.cat(starts)).abs().max()) <= 0.1 + 1e-6  # the clamp


def test_optimisation_of_a_batch_equals_one_pair_at_a_time(scorer):
    torch.manual_seed(4)
    fields = [torch.rand(4, 5, 2) * 2 - 1, torch.rand(3, 3, 2) * 2 - 1]
    queries = [torch.rand(4, 2) * 2 - 1, torch.rand(2, 2) * 2 - 1]
    both = optimise_points(scorer, fields, queries, 5, 1e-2, 1e-6, 0.01, 0.1)

    def pair_only(index):
        def score(ids, q, c):
            return scorer(torch.full_like(ids, index), q, c)
        return optimise_points(score, [fields[index]], [queries[index]], 5, 1e-2, 1e-6, 0.01, 0.1)[0]

    assert torch.allclose(both[0], pair_only(0), atol=1e-6) and torch.allclose(both[1], pair_only(1), atol=1e-6)


def test_cosine_schedule_is_the_official_closed_form_sequence():
    lrs = cosine_lrs(3e-4, 20, 1e-6)
    assert lrs[0] == lrs[1] == 3e-4
    assert lrs[2] == pytest.approx(2.9816e-4, rel=1e-4) and lrs[3] == pytest.approx(2.9268e-4, rel=1e-4)
    assert lrs[-1] == pytest.approx(8.317e-6, rel=1e-3)


def test_soft_argmax_and_initial_field():
    side = 4
    cost = torch.full((1, side * side, side, side), -1.0)
    cost[0, 2 * side + 3] = 1.0  # every query cell matches other-image cell (x=3, y=2)
    coarse = soft_argmax(cost, beta=0.02)
    assert torch.allclose(coarse[0, 0], torch.ones(side, side), atol=1e-5)
    assert torch.allclose(coarse[0, 1], torch.full((side, side), 1 / 3), atol=1e-5)
    dense = initial_field(coarse[0], (7, 9))
    assert dense.shape == (7, 9, 2)
