"""Zero-shot feature matchers: per-image dense features plus a named readout.

:class:`corrbench.matching.base.FeatureMatcher` owns what every such method shares (the per-image
feature cache, batching over the distinct images of a batch, memory-bounded similarity between
feature grids, dense fields and point answers); a subclass supplies only its features.  The
readouts live in :mod:`.readouts`, the input resolution policies and grid geometry in
:mod:`.resolution`.
"""

from __future__ import annotations
