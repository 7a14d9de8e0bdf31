"""Memory-bounded matching between two feature grids.

Similarities are only ever formed between feature grids (e.g. 60x60 DINOv2 tokens, never pixels),
and queries are taken in chunks so that one ``(chunk, K)`` block stays under a byte budget: a
benchmark image at stride 4 has ~12k cells, and the full 12k x 12k block alone would be ~0.6 GB.
"""

from __future__ import annotations

import torch

from corrbench.matching.readouts import Readout


def rows_per_chunk(n_reference: int, budget_bytes: int, element_size: int = 4) -> int:
    """How many query rows fit one ``(rows, n_reference)`` similarity block in ``budget_bytes``."""
    return max(1, int(budget_bytes) // max(1, n_reference * element_size))


def match_cells(query: torch.Tensor, reference: torch.Tensor, grid: tuple[int, int], readout: Readout,
                budget_bytes: int, with_best: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Matched fractional cells ``(Q, 2)`` on ``reference``'s ``grid`` and, ``with_best``, each query's
    best cell ``(Q,)`` (for mutual filtering).

    ``query`` (Q, C) and ``reference`` (K, C) are feature rows; similarity is their dot product
    (cosine for L2-normalised features).
    """
    rows = rows_per_chunk(len(reference), budget_bytes, reference.element_size())
    cells, best = [], []
    for start in range(0, len(query), rows):
        similarity = query[start: start + rows] @ reference.T
        cells.append(readout.cells(similarity, grid))
        if with_best:
            best.append(similarity.argmax(dim=1))
    if not cells:
        return query.new_zeros((0, 2)), torch.zeros(0, dtype=torch.long, device=query.device)
    return torch.cat(cells), (torch.cat(best) if with_best else None)


def best_matches(query: torch.Tensor, reference: torch.Tensor, budget_bytes: int) -> torch.Tensor:
    """``(Q,)`` index of each query row's most similar reference row, in chunks."""
    rows = rows_per_chunk(len(reference), budget_bytes, reference.element_size())
    return torch.cat([(query[start: start + rows] @ reference.T).argmax(dim=1)
                      for start in range(0, len(query), rows)])


def mutual(best: torch.Tensor, query_cells: torch.Tensor, query_grid_features: torch.Tensor,
           reference: torch.Tensor, budget_bytes: int) -> torch.Tensor:
    """True where the reference cell a query matched matches back to the query's own cell.

    ``query_cells`` (Q,) are the queries' cells on their grid, whose features are
    ``query_grid_features``; only the reference cells actually matched are scored backwards.
    """
    if len(best) == 0:
        return torch.zeros(0, dtype=torch.bool, device=best.device)
    matched, inverse = torch.unique(best, return_inverse=True)
    back = best_matches(reference[matched], query_grid_features, budget_bytes)
    return back[inverse] == query_cells
