"""Per-image encoder outputs, computed once per distinct image and kept in a bounded cache.

Benchmarks reuse images across pairs (30 ordered pairs of 6 images: 12 encoder passes for the
two sides of the pairs instead of 60), so inference encodes each distinct image of a batch once,
in one batched call, and remembers it by content.  The skip features (strides 2-8, most of the
bytes) are only kept when a mask is asked for: matching needs the L2-normalised layer3 alone.  The
resized network input is kept too, since the affine stage warps the source's input for every pair.
Entries are valid for the module's current weights: training clears the cache.
"""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import numpy as np
import torch

from corrbench.cache import FeatureCache, image_key
from corrbench.training.learned import Preprocessing
from corrbench_macosnet.model import Encoded, MaCoSNetModel
from corrbench_macosnet.preprocess import to_input


class EncoderCache:
    """``encode(images, skips)``: a batched :class:`Encoded` of ``images``, each distinct one encoded once."""

    def __init__(self, max_bytes: int, *feature_config: Hashable) -> None:
        self.cache = FeatureCache(max_bytes)
        self.feature_config = feature_config  # everything besides the weights that changes the features

    def clear(self) -> None:
        self.cache.clear()

    def encode(self, module: MaCoSNetModel, images: Sequence[np.ndarray], skips: bool, size: int,
               preprocessing: Preprocessing, device: Any) -> Encoded:
        """Missing images go through ``module.encode`` in one batch, in first-seen order (so a batch
        without repeats or hits is exactly the batch the network saw before caching existed)."""
        keys = [image_key(image, *self.feature_config) for image in images]
        pending: dict[Hashable, np.ndarray] = {}
        for key, image in zip(keys, images):
            if key not in pending and not self._has(key, skips):
                pending[key] = image
        # Hits are read before anything is inserted, so that no insertion can evict them first.
        values = {key: self._get(key, skips) for key in dict.fromkeys(keys) if key not in pending}
        if pending:
            encoded = module.encode(self.inputs(list(pending.values()), size, preprocessing, device))
            for index, key in enumerate(pending):  # clones: a slice would keep the whole batch alive
                match = encoded.match[index].clone()
                levels = tuple(level[index].clone() for level in encoded.skips) if skips else ()
                values[key] = (self.cache.get_or_compute((key, "match"), lambda: match),
                               self.cache.get_or_compute((key, "skips"), lambda: levels) if skips else ())
        per_image = [values[key] for key in keys]
        stacked = [torch.stack([image[1][level] for image in per_image]) for level in range(len(per_image[0][1]))]
        return Encoded(skips=stacked, match=torch.stack([image[0] for image in per_image]))

    def inputs(self, images: Sequence[np.ndarray], size: int, preprocessing: Preprocessing, device: Any) -> torch.Tensor:
        """The network inputs of ``images`` (resized, normalised), batched; each image's is kept too: the
        affine stage warps the source's input again for every pair."""
        keys = [image_key(image, *self.feature_config) for image in images]
        return torch.stack([self.cache.get_or_compute((key, "input"), lambda image=image: to_input(image, size, preprocessing))
                            for key, image in zip(keys, images)]).to(device)

    def _get(self, key: Hashable, skips: bool) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        def missing() -> Any:
            raise KeyError(key)  # never: callers ask only for what _has found

        match = self.cache.get_or_compute((key, "match"), missing)
        return match, (self.cache.get_or_compute((key, "skips"), missing) if skips else ())

    def _has(self, key: Hashable, skips: bool) -> bool:
        return (key, "match") in self.cache and (not skips or (key, "skips") in self.cache)
