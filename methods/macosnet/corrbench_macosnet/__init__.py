"""MaCoSNet ("Show, Match and Segment", Chen et al., TPAMI 2020) as a corrbench method plugin.

Nothing is imported here: the method class lives in :mod:`corrbench_macosnet.method` and is
loaded through the ``corrbench.methods`` entry point only when asked for.
"""

from __future__ import annotations

__all__: list[str] = []
