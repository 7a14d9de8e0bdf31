"""corrbench: a benchmark framework for semantic correspondence.

The public API is small and imports nothing heavy until used::

    import corrbench
    method = corrbench.load_method("identity")
    dataset = corrbench.load_dataset("synthetic", split="test")
    result = corrbench.evaluate(method, dataset)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

if TYPE_CHECKING:  # pragma: no cover
    from corrbench.api import Dataset, Method
    from corrbench.eval.result import EvaluationResult


def load_method(name: str, for_dataset: str | None = None, **options: Any) -> "Method":
    """Build the method registered under ``name`` (entry point group ``corrbench.methods``).

    ``weights=`` is a file or a registry tag (``corrbench weights``); ``for_dataset=`` turns on the
    paper's own test-path options for that benchmark (e.g. NeMF's padding on PF-PASCAL).
    """
    from corrbench.registry import load_method as _load

    return _load(name, for_dataset=for_dataset, **options)


def load_dataset(name: str, root: str | None = None, split: str = "test", **options: Any) -> "Dataset":
    """Build the dataset registered under ``name`` (entry point group ``corrbench.datasets``)."""
    from corrbench.registry import load_dataset as _load

    return _load(name, root=root, split=split, **options)


def evaluate(method: "Method", dataset: "Dataset", protocol: Any = None, limit: int | None = None,
             **kwargs: Any) -> "EvaluationResult":
    """Score ``method`` on ``dataset`` under ``protocol`` (name, object or None = dataset default).

    The one runner behind every entry point (:func:`corrbench.eval.runner.evaluate`): the method sees
    blinded copies of the pairs; ``runs_dir=`` keeps per-pair records for resume; under torchrun the
    pairs are sharded over ranks.  Keyword arguments are that function's.
    """
    from corrbench.eval.runner import evaluate as _evaluate

    return _evaluate(method, dataset, protocol=protocol, limit=limit, **kwargs)


def compare(a: Any, b: Any, **kwargs: Any):
    """B minus A on the pairs both scored: paired-bootstrap intervals and a paired permutation test."""
    from corrbench.eval.compare import compare as _compare

    return _compare(a, b, **kwargs)


__all__ = ["__version__", "compare", "evaluate", "load_dataset", "load_method"]
