"""Third images for the transitivity loss: another image of the same category, from the dataset.

Only images and category labels are used (weak supervision).  The choice for (seed, step, slot)
is a pure function of the dataset, so a resumed run draws the same triplets as an uninterrupted
one; the per-index category cache only makes the scan cheaper.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from corrbench.api import Dataset, Pair


class TripletSampler:
    def __init__(self, dataset: Dataset, seed: int = 0) -> None:
        self.dataset = dataset
        self.seed = int(seed)
        self._categories: dict[int, str] = {}
        self._last: tuple[int, Pair] | None = None

    def _pair(self, index: int) -> Pair:
        if self._last is None or self._last[0] != index:
            self._last = (index, self.dataset[index])
            self._categories[index] = self._last[1].category
        return self._last[1]

    def _category(self, index: int) -> str:
        if index not in self._categories:
            self._pair(index)
        return self._categories[index]

    def third_image(self, pair: Pair, step: int, slot: int) -> np.ndarray | None:
        """An image of ``pair.category`` from another pair, or None when the dataset has none."""
        size = len(self.dataset)
        if size < 2:
            return None
        rng = np.random.default_rng([self.seed, step, slot])
        start = int(rng.integers(size))
        side = "src" if rng.random() < 0.5 else "trg"
        for offset in range(size):
            index = (start + offset) % size
            if self._category(index) == pair.category:
                other = self._pair(index)
                if other.pair_id != pair.pair_id:
                    return other.image(side)
        return None


def batch_third_images(pairs: Sequence[Pair]) -> list[np.ndarray | None]:
    """Fallback without a dataset: an image of another pair of the same category in the batch."""
    thirds: list[np.ndarray | None] = []
    for index, pair in enumerate(pairs):
        others = [p for j, p in enumerate(pairs) if j != index and p.category == pair.category]
        thirds.append(others[0].src_image if others else None)
    return thirds
