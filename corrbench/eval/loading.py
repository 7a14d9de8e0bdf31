"""Pairs loaded (and decoded) ahead of the method: a torch DataLoader over the runner's batches.

With ``workers > 0`` the next batches are read in worker processes while the method predicts the
current one (``prefetch_factor`` batches per worker), in the runner's order, so records, seeding
and resume are those of the in-process path.  Pairs hold numpy arrays, so there is nothing to pin:
a method moves its own tensors to its device.  An error inside a worker (a missing file, a bad
annotation) comes back as the loader's own one-line error, not as a worker traceback.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from corrbench.api import Dataset, Pair


class _Failed:
    """A worker's exception, carried back to the main process to be raised there."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _BatchesOf:
    """Map-style dataset whose item ``k`` is the list of pairs of batch ``k``."""

    def __init__(self, dataset: Dataset, batches: Sequence[Sequence[int]]) -> None:
        self.dataset = dataset
        self.batches = [list(b) for b in batches]

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, k: int) -> Any:
        try:
            return [self.dataset[i] for i in self.batches[k]]
        except Exception as error:  # re-raised in the main process, with its own message
            return _Failed(error)


def _as_is(item: Any) -> Any:
    return item


def load_batches(dataset: Dataset, batches: Sequence[Sequence[int]], workers: int = 0,
                 prefetch: int = 2) -> Iterator[list[Pair]]:
    """The pairs of each batch, in order; read ahead by ``workers`` processes when > 0."""
    if workers <= 0:
        for batch in batches:
            yield [dataset[i] for i in batch]
        return
    from torch.utils.data import DataLoader

    loader = DataLoader(_BatchesOf(dataset, batches), batch_size=None, shuffle=False, num_workers=int(workers),
                        prefetch_factor=max(1, int(prefetch)), collate_fn=_as_is)
    for item in loader:
        if isinstance(item, _Failed):
            raise item.error
        yield item
