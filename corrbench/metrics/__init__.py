"""Metrics: pure kernels plus one aggregator per task, tested against references and used by the runner.

``pck`` (keypoint kernels, :class:`~corrbench.metrics.pck.PCKMetric`), ``masks`` (mask kernels,
:class:`~corrbench.metrics.masks.MaskMetric`), ``mask_scoring`` (a pair's masks as records),
``names`` (metric identities).  TSS flow accuracy is the official kit's arithmetic in
:mod:`corrbench.tss.kit` (``flow_accuracy``), aggregated by :class:`corrbench.tss.result.TSSResult`.
"""
