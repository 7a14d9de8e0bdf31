"""Official weights by name: a registry declared beside each plugin, one verified cache, mirrors.

``--weights sfnet:pfpascal`` resolves a tag of a plugin's table (:mod:`corrbench.weights.entry`),
fetches its files once into ``$CORRBENCH_CACHE/weights/<method>/`` (resumable, checksum verified,
``CORRBENCH_MIRROR`` honoured) and hands the method a local path; a path still works as before.
"""

from __future__ import annotations

from corrbench.weights.entry import WeightsEntry, WeightsFile
from corrbench.weights.registry import all_entries, find_entry, resolve_weights
from corrbench.weights.store import cache_root, cached_path, fetch_entry, is_cached

__all__ = ["WeightsEntry", "WeightsFile", "all_entries", "cache_root", "cached_path", "fetch_entry", "find_entry",
           "is_cached", "resolve_weights"]
