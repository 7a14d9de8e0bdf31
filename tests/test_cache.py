"""The per-image feature cache: content keys, LRU eviction under a byte budget."""

from __future__ import annotations

import numpy as np
import torch

from corrbench.cache import FeatureCache, image_key


def test_same_content_hits_and_budget_evicts_oldest():
    cache = FeatureCache(max_bytes=2 * 400)
    calls = []

    def compute(tag):
        calls.append(tag)
        return torch.zeros(100)  # 400 bytes

    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 1
    cache.get_or_compute(image_key(a), lambda: compute("a"))
    cache.get_or_compute(image_key(a.copy()), lambda: compute("a2"))  # same content: hit
    cache.get_or_compute(image_key(b), lambda: compute("b"))
    cache.get_or_compute(image_key(a, "other-grid"), lambda: compute("a-grid"))  # evicts a
    cache.get_or_compute(image_key(a), lambda: compute("a3"))
    assert calls == ["a", "b", "a-grid", "a3"]
    assert cache.hits == 1 and cache.bytes <= 800 and len(cache) == 2


def test_dataclass_values_count_their_tensors_so_the_budget_holds():
    from corrbench.matching.base import FeatureMap
    from corrbench.matching.resolution import GridPlacement

    cache = FeatureCache(max_bytes=2 * 400)
    for index in range(3):
        image = np.full((4, 4, 3), index, np.uint8)
        cache.get_or_compute(image_key(image), lambda: FeatureMap(torch.zeros(100), GridPlacement.covering((4, 4), (2, 2))))
    assert cache.bytes == 800 and len(cache) == 2
