"""Method configurations: a named preset (a frozen dataclass) with some fields overridden.

Every learned method has presets (``paper``, ``embedded``, ...) and takes ``-o key=value``
overrides from the CLI or from the options stored in a checkpoint; the checks and the
one-line errors live here so that every plugin answers a typo the same way.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, Mapping, TypeVar

from corrbench.errors import UsageError

Config = TypeVar("Config")


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
    clean = {key: tuple(value) if isinstance(value, list) else value for key, value in options.items()}
    return replace(base, **clean)
