"""Method configurations: a named preset (a frozen dataclass) with some fields overridden, typed.

Every learned method has presets (``paper``, ``embedded``, ...) and takes ``-o key=value``
overrides from the CLI or from the options stored in a checkpoint; the checks and the
one-line errors live here so that every plugin answers a typo or a bad value the same way.

Each option is declared once, as a field of the method's config dataclass: its type annotation
is the option's type (``int``, ``float``, ``bool``, ``str``, ``Literal[...]``, fixed-length tuples,
``X | None``) and :func:`option` adds an allowed range.  Values are checked before any work with
one message style: ``method 'sfnet' option beta: expected a number > 0, got 'abc'``.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import fields, replace
from typing import Any, Literal, Mapping, TypeVar, Union

from corrbench.errors import UsageError

Config = TypeVar("Config")


def option(default: Any, *, gt: float | None = None, ge: float | None = None, le: float | None = None,
           why: str = "") -> Any:
    """A config field with an allowed range (``why`` says where a bound comes from, e.g. memory)."""
    return dataclasses.field(default=default, metadata={"range": (gt, ge, le, why)})


def _type_words(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return "true or false"
    if hint is int:
        return "an integer"
    if hint is float:
        return "a number"
    if hint is str:
        return "a word"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_type_words(args[0])}s"
        return f"a list of {len(args)} values ({', '.join(_type_words(a) for a in args)})"
    if origin in (Union, getattr(__import__('types'), 'UnionType', Union)):
        inner = [a for a in args if a is not type(None)]
        return " or ".join(_type_words(a) for a in inner) + (" or null" if len(inner) < len(args) else "")
    return getattr(hint, "__name__", str(hint))


def _range_words(bounds: tuple) -> str:
    gt, ge, le, _ = bounds
    parts = [f"> {gt:g}" if gt is not None else "", f">= {ge:g}" if ge is not None else "",
             f"<= {le:g}" if le is not None else ""]
    return " and ".join(p for p in parts if p)


class _Bad(Exception):
    pass


def _coerce(value: Any, hint: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Union or type(hint).__name__ == "UnionType":
        if value is None and type(None) in args:
            return None
        for candidate in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, candidate)
            except _Bad:
                continue
        raise _Bad
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _Bad
    if hint is int:
        if isinstance(value, bool):
            raise _Bad
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _Bad
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _Bad
        return float(value)
    if hint is str:
        if isinstance(value, str):
            return value
        raise _Bad
    if origin is Literal:
        if value in args:
            return value
        raise _Bad
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise _Bad
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0]) for v in value)
        if len(value) != len(args):
            raise _Bad
        return tuple(_coerce(v, a) for v, a in zip(value, args))
    return value  # a type this checker does not know: the config's own __post_init__ decides


def check_option(method: str, config_type: Any, name: str, value: Any, kind: str = "method") -> Any:
    """``value`` converted to the type of field ``name`` of ``config_type`` and checked against its range.

    ``config_type`` is a config dataclass, or any callable whose parameters are annotated (a
    constructor without a config dataclass: a baseline's or a dataset's ``__init__``).
    """
    try:
        hint = typing.get_type_hints(config_type).get(name, Any)
    except Exception:  # an annotation this module cannot resolve: the config's own checks decide
        hint = Any
    field_ = ({f.name: f for f in fields(config_type)}.get(name)
              if dataclasses.is_dataclass(config_type) else None)
    bounds = field_.metadata.get("range") if field_ is not None else None
    words = _type_words(hint)
    nullable = words.endswith(" or null")
    expected = (words[: -len(" or null")] if nullable else words) + (f" {_range_words(bounds)}" if bounds else "")
    expected += " or null" if nullable else ""
    try:
        converted = _coerce(value, hint)
    except _Bad:
        raise UsageError(f"{kind} '{method}' option {name}: expected {expected}, got {value!r}") from None
    if bounds and isinstance(converted, (int, float)) and not isinstance(converted, bool):
        gt, ge, le, why = bounds
        if (gt is not None and not converted > gt) or (ge is not None and not converted >= ge) or (
                le is not None and not converted <= le):
            reason = f" ({why})" if why else ""
            raise UsageError(f"{kind} '{method}' option {name}: expected {expected}, got {value!r}{reason}")
    return converted


def config_from_preset(method: str, presets: Mapping[str, Config], preset: str, options: Mapping[str, Any],
                       constructor_options: tuple[str, ...] = (), renamed: Mapping[str, str] | None = None) -> Config:
    """``presets[preset]`` with ``options`` replaced; lists (from YAML or the CLI) become tuples.

    ``constructor_options`` are the method's other keyword arguments, named in the error message so
    that a user who mistypes one sees every valid spelling; ``renamed`` maps an option's old name to
    its current one, for a hint (the old name is refused like any other unknown one).
    """
    from corrbench.registry import suggest

    if preset not in presets:
        raise UsageError(f"unknown {method} config '{preset}'; choose one of: {', '.join(presets)}."
                         f"{suggest(preset, list(presets))}")
    base = presets[preset]
    known = {field.name for field in fields(base)}
    unknown = sorted(set(options) - known)
    if unknown:
        valid = ["config", *constructor_options, *sorted(known)]
        renamed = renamed or {}
        hints = "".join(f" '{name}' is now '{renamed[name]}'." if name in renamed else suggest(name, valid)
                        for name in unknown)
        raise UsageError(f"method '{method}' has no option(s): {', '.join(unknown)}; known: {', '.join(valid)}.{hints}")
    clean = {key: check_option(method, type(base), key, value) for key, value in options.items()}
    return replace(base, **clean)


def typed_config(method: str, config_type: type[Config], options: Mapping[str, Any]) -> Config:
    """A config dataclass built from options, each checked like a preset override (for methods without presets)."""
    return config_type(**{key: check_option(method, config_type, key, value) for key, value in options.items()})
