"""Every answer of a method is checked before it is scored, and every failure names the plugin.

A method that returns too few predictions, ``None``, a field over the wrong image or the wrong
number of points would otherwise end in a traceback deep in the scorer, or worse in a silently
wrong number.  NaN/inf coordinates are not errors: they are scored as wrong (``n_nonfinite``).
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

from corrbench.api import CorrespondenceField, Direction, Method, Pair, Prediction
from corrbench.errors import CorrbenchError, MethodError


@functools.lru_cache(maxsize=None)
def _distributions(top_level: str) -> tuple[str, ...]:
    """Distributions that register a method in ``top_level`` (their entry points: ~10 ms), else every
    one that ships it (``packages_distributions`` reads every installed file list: ~0.3 s a process)."""
    from importlib.metadata import entry_points, packages_distributions

    from corrbench.registry import METHOD_GROUP

    registering: list[str] = []
    for ep in entry_points(group=METHOD_GROUP):
        name = ep.dist.metadata["Name"] if ep.dist is not None else None
        if name and ep.module.split(".", 1)[0] == top_level and name not in registering:
            registering.append(name)
    return tuple(registering) or tuple(packages_distributions().get(top_level, ()))


def method_distribution(method: Method) -> tuple[str, str]:
    """(distribution name, its version) of the code that defines ``method``'s class, or ('?', '?')."""
    from importlib.metadata import PackageNotFoundError, version

    top_level = type(method).__module__.split(".", 1)[0]
    for name in _distributions(top_level):
        try:
            return name, version(name)
        except PackageNotFoundError:
            continue
    return "?", "?"


def method_label(method: Method) -> str:
    """``method 'sfnet' (corrbench-sfnet 0.1.0, method version 3)``: who to blame, in one phrase."""
    dist, dist_version = method_distribution(method)
    where = f"{dist} {dist_version}" if dist != "?" else f"module {type(method).__module__}"
    return f"method '{method.name}' ({where}, method version {method.version})"


def call_predict(method: Method, pairs: Sequence[Pair], directions: Sequence[Direction]) -> list[Prediction]:
    """``method.predict`` with its answers checked; a crash inside it becomes one line naming it."""
    ids = ", ".join(p.pair_id for p in pairs[:3]) + (" ..." if len(pairs) > 3 else "")
    try:
        predictions = method.predict(pairs, directions=tuple(directions))
    except CorrbenchError:
        raise
    except MemoryError as error:
        raise MethodError(_out_of_memory(method, ids, error)) from error
    except Exception as error:
        if "out of memory" in str(error).lower() or "can't allocate memory" in str(error).lower():
            raise MethodError(_out_of_memory(method, ids, error)) from error
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise MethodError(
            f"{method_label(method)} raised {type(error).__name__}"
            + (f": {message}" if message else "")
            + f" on pair(s) {ids}; report it to the plugin's authors (--debug or CORRBENCH_DEBUG=1 "
            "shows the traceback)"
        ) from error
    if not isinstance(predictions, (list, tuple)):
        raise MethodError(f"{method_label(method)} returned {type(predictions).__name__} for pair(s) {ids}; "
                          "predict must return a list with one Prediction per pair")
    if len(predictions) != len(pairs):
        raise MethodError(f"{method_label(method)} returned {len(predictions)} predictions for "
                          f"{len(pairs)} pair(s) ({ids}); predict must return one Prediction per pair")
    for pair, prediction in zip(pairs, predictions):
        if not isinstance(prediction, Prediction):
            raise MethodError(f"{method_label(method)} returned {type(prediction).__name__} for pair "
                              f"{pair.pair_id}; expected a corrbench.api.Prediction")
    return list(predictions)


def _out_of_memory(method: Method, ids: str, error: BaseException) -> str:
    import re

    size = re.search(r"(?:allocate|alloc)\D*([\d.]+\s*[KMGT]i?B|\d+ bytes)", str(error))
    asked = f" (it asked for {size.group(1)})" if size else ""
    return (f"{method_label(method)} ran out of memory on pair(s) {ids} on {getattr(method, 'device', 'cpu')}"
            f"{asked}; lower --batch-size or the method's resolution options (see its README)")


def _fail(method: Method, pair: Pair, what: str) -> MethodError:
    return MethodError(f"{method_label(method)} on pair {pair.pair_id}: {what}")


def check_field(method: Method, pair: Pair, prediction: Prediction, direction: Direction) -> None:
    """A present field must be a CorrespondenceField of (h, w, 2) numbers over the query image."""
    field = prediction.field_for(direction)
    if field is None:
        return
    if not isinstance(field, CorrespondenceField):
        raise _fail(method, pair, f"{direction} is a {type(field).__name__}, not a CorrespondenceField")
    coords = np.asarray(field.coords)
    if coords.ndim != 3 or coords.shape[2] != 2 or coords.shape[0] < 1 or coords.shape[1] < 1:
        raise _fail(method, pair, f"{direction} field has shape {coords.shape}; expected (h, w, 2)")
    if not np.issubdtype(coords.dtype, np.number):
        raise _fail(method, pair, f"{direction} field holds {coords.dtype}, not numbers")
    grid_size = pair.trg_size if direction == "trg_to_src" else pair.src_size
    if tuple(field.image_size) != tuple(grid_size):
        side = "target" if direction == "trg_to_src" else "source"
        raise _fail(method, pair, f"{direction} field is over an image of size {tuple(field.image_size)}, "
                                  f"but the {side} image is {tuple(grid_size)} (H, W)")


def check_points(method: Method, pair: Pair, prediction: Prediction, direction: Direction,
                 n_queries: int) -> None:
    """Point answers must be (n_queries, 2) numbers."""
    if direction not in prediction.points:
        return
    value: Any = prediction.points[direction]
    try:
        points = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise _fail(method, pair, f"points[{direction!r}] is not an array of numbers") from None
    if points.shape != (n_queries, 2):
        raise _fail(method, pair, f"points[{direction!r}] has shape {points.shape}; expected "
                                  f"({n_queries}, 2), one (x, y) per query keypoint")


def check_masks(method: Method, pair: Pair, prediction: Prediction) -> None:
    for side in ("src", "trg"):
        mask = getattr(prediction, f"{side}_mask")
        if mask is None:
            continue
        try:
            array = np.asarray(mask, dtype=np.float64)
        except (TypeError, ValueError):
            raise _fail(method, pair, f"{side}_mask is not an array of numbers") from None
        if array.ndim != 2 or min(array.shape) < 1:
            raise _fail(method, pair, f"{side}_mask has shape {array.shape}; expected (h, w)")


def check_answer(method: Method, pair: Pair, prediction: Prediction, required: Sequence[Direction],
                 optional: Sequence[Direction] = ()) -> None:
    """Validate one prediction: ``required`` directions must be answered, all present parts well-formed."""
    for direction in (*required, *optional):
        query_side = "trg" if direction == "trg_to_src" else "src"
        check_field(method, pair, prediction, direction)
        check_points(method, pair, prediction, direction, len(pair.kps(query_side)))
    for direction in required:
        if direction not in prediction.points and prediction.field_for(direction) is None:
            raise _fail(method, pair, f"no {direction} answer (neither a field nor points); "
                                      f"the protocol needs {direction}")
    check_masks(method, pair, prediction)
