"""Pairs already in memory as a dataset: evaluate or train on your own pairs without writing a loader."""

from __future__ import annotations

from typing import Sequence

from corrbench.api import Dataset, Pair


class PairList(Dataset):
    """A fixed list of :class:`Pair` (e.g. ``corrbench.evaluate(method, PairList(pairs))``).

    Categories are those of the pairs, sorted; the default protocol is the embedded benchmark's
    (target→source, threshold from the source box), so pairs need boxes for PCK.
    """

    name = "pairs"
    version = "1"
    default_protocol = "synthetic"
    not_options = ("root", "split", "pairs")  # the pairs are data, not an option

    def __init__(self, pairs: Sequence[Pair]) -> None:
        super().__init__()
        self.pairs = list(pairs)

    @property
    def categories(self) -> list[str]:
        return sorted({pair.category for pair in self.pairs})

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> Pair:
        return self.pairs[index]
