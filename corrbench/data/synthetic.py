"""``synthetic``: the embedded offline benchmark, generated lazily and deterministically.

Every pair is drawn from ``numpy.random.default_rng([seed, split_code, index])``, so pair ``i``
of a split is the same whatever else is read, in whatever order, on whatever machine.  The
card ``datasets/synthetic.yaml`` holds the categories, splits, split sizes, background photos
and version; this module only knows how to draw a pair (see ``render`` and ``shapes``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from corrbench.api import Dataset, Pair
from corrbench.data.cards import DatasetCard, load_card
from corrbench.data.pair_store import PairStore, generator_key
from corrbench.data.render import flow_between, render_view, tight_box
from corrbench.data.shapes import category_asset
from corrbench.errors import UsageError

CARD_NAME = "synthetic"


def _non_negative_int(option: str, value: Any) -> int:
    """Options may arrive as text from the command line."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0 or (isinstance(value, float) and not value.is_integer()):
        raise UsageError(f"synthetic: {option} must be a non-negative integer, got {value!r}")
    return number


class _FromCard:
    """Class attribute read lazily from the card (no file is read at import time)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __get__(self, instance: Any, owner: type) -> Any:
        return getattr(load_card(CARD_NAME), self.key)


class SyntheticDataset(Dataset):
    """Warped canonical objects on photo clutter, with exact keypoints, masks, boxes and flow.

    ``root`` is accepted for the common loader signature and ignored: nothing is read from
    disk but the photos inside scikit-image.  ``seed`` selects another draw of the whole
    benchmark; ``size`` overrides the number of pairs of the split (pair ``i`` does not depend
    on it, so a smaller size is a prefix and a larger one extends the split).
    """

    name = CARD_NAME
    version = _FromCard("version")  # type: ignore[assignment]
    splits = _FromCard("splits")  # type: ignore[assignment]
    default_protocol = _FromCard("default_protocol")  # type: ignore[assignment]
    task = "keypoints"

    def __init__(self, root: str | None = None, split: str = "test", seed: int = 0,
                 size: int | None = None) -> None:
        super().__init__(root=root, split=split)
        card = self.card
        self.seed = _non_negative_int("seed", seed)
        default_size = card.extra["split_sizes"][split]
        self.size = _non_negative_int("size", default_size if size is None else size)
        self.split_code = card.splits.index(split)
        self.backgrounds = [str(b) for b in card.extra["backgrounds"][split]]
        if len(self.backgrounds) < 2:
            raise UsageError(f"synthetic card: split '{split}' needs two or more background photos")

    @property
    def card(self) -> DatasetCard:
        return load_card(CARD_NAME)

    @property
    def categories(self) -> list[str]:
        return list(self.card.categories)

    def __len__(self) -> int:
        return self.size

    def pair_ids(self) -> list[str]:
        return [self._pair_id(i) for i in range(len(self))]

    def _pair_id(self, index: int) -> str:
        return f"{self.split}-{index:04d}"

    def __getitem__(self, index: int) -> Pair:
        index = int(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"synthetic {self.split} has {len(self)} pairs; no index {index}")
        return self._store().get(self._pair_id(index), lambda: self._render(index))

    def _store(self) -> PairStore:
        """Rendered pairs on disk, keyed by this generator's code, card, seed and library versions."""
        if getattr(self, "_pair_store", None) is None:
            import skimage

            from corrbench.data import render, shapes
            from corrbench.io import cache_root

            sources = (__file__, render.__file__, shapes.__file__)
            key = generator_key(sources, self.card.extra, list(self.card.categories), self.card.version, self.seed,
                                self.split, np.__version__, skimage.__version__)
            self._pair_store = PairStore(cache_root(), key)
        return self._pair_store

    def _render(self, index: int) -> Pair:
        rng = np.random.default_rng([self.seed, self.split_code, index])
        categories = self.categories
        category = categories[index % len(categories)]
        asset = category_asset(category)
        first, second = rng.choice(len(self.backgrounds), size=2, replace=False)
        src = render_view(asset, self.backgrounds[first], rng)
        trg = render_view(asset, self.backgrounds[second], rng)
        visible = src.inside(src.keypoints) & trg.inside(trg.keypoints)
        return Pair(
            pair_id=self._pair_id(index),
            category=category,
            src_image=src.image,
            trg_image=trg.image,
            src_kps=src.keypoints,
            trg_kps=trg.keypoints,
            kps_visible=visible,
            src_bbox=tight_box(src.mask),
            trg_bbox=tight_box(trg.mask),
            src_mask=src.mask,
            trg_mask=trg.mask,
            flow_src_to_trg=flow_between(src, trg),
            flow_trg_to_src=flow_between(trg, src),
            meta={"seed": self.seed, "split": self.split, "index": index,
                  "src": src.params, "trg": trg.params},
        )

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), "seed": self.seed, "size": self.size}
