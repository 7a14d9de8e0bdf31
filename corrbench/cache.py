"""A bounded LRU cache of per-image features, keyed by image content.

Benchmarks reuse images across many pairs (SPair-71k: ~1,800 images in 12,234 test pairs), so a
method that computes per-image features once per run saves most of its backbone time.  Keys are
content hashes, so two loads of the same file hit the same entry; memory stays under ``max_bytes``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import OrderedDict
from typing import Any, Callable, Hashable

import numpy as np


def image_key(image: np.ndarray, *extra: Hashable) -> tuple:
    """Content fingerprint of an image (plus whatever else changes the features)."""
    digest = hashlib.blake2b(np.ascontiguousarray(image).view(np.uint8).data, digest_size=16).hexdigest()
    return (digest, image.shape, str(image.dtype), *extra)


def _nbytes(value: Any) -> int:
    if hasattr(value, "element_size") and hasattr(value, "nelement"):
        return int(value.element_size() * value.nelement())
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (tuple, list)):
        return sum(_nbytes(v) for v in value)
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(_nbytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    return 0


class FeatureCache:
    """LRU of computed features; ``get_or_compute(key, fn)``; counts hits and misses."""

    def __init__(self, max_bytes: int = 512 * 2**20) -> None:
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if key in self._items:
            self._items.move_to_end(key)
            self.hits += 1
            return self._items[key][0]
        self.misses += 1
        value = compute()
        size = _nbytes(value)
        if self.max_bytes > 0 and size <= self.max_bytes:
            self._items[key] = (value, size)
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, (_, old) = self._items.popitem(last=False)
                self.bytes -= old
        return value

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        """Membership without touching the LRU order or the counters (lets callers batch misses)."""
        return key in self._items

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0
