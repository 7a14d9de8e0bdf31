"""Evaluation: the one runner every entry point uses, and the seal around it.

``runner`` (the loop), ``tasks`` (what each benchmark scores), ``blinding`` (what a method may
see), ``validation`` (checking its answers), ``keypoints`` (query transfer and PCK records),
``identity`` (what makes two runs the same run), ``records`` (per-pair records for resume),
``distributed`` (torchrun sharding) and ``result`` (the result object).
"""

from __future__ import annotations

from corrbench.eval.result import EvaluationResult
from corrbench.eval.runner import evaluate

__all__ = ["EvaluationResult", "evaluate"]
