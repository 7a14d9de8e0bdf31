"""Plugin discovery through entry points: the only place names are declared.

Nothing is imported until a name is asked for, so ``corrbench list`` stays fast and a broken
plugin only hurts the runs that use it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from corrbench.errors import PluginImportError, UsageError

METHOD_GROUP = "corrbench.methods"
DATASET_GROUP = "corrbench.datasets"


@dataclass(frozen=True)
class PluginInfo:
    """What the registry knows about a plugin without importing it."""

    name: str
    target: str
    distribution: str
    version: str
    clash: bool = False  # another distribution registers the same name


def _distribution_of(ep: EntryPoint) -> tuple[str, str]:
    dist = ep.dist
    return (dist.metadata["Name"], dist.version) if dist else ("?", "?")


def _entry_points(group: str) -> dict[str, list[EntryPoint]]:
    """Every registration of each name; more than one distribution per name is a clash."""
    found: dict[str, list[EntryPoint]] = {}
    for ep in entry_points(group=group):
        same = [other for other in found.get(ep.name, [])
                if _distribution_of(other)[0] == _distribution_of(ep)[0] and other.value == ep.value]
        if not same:
            found.setdefault(ep.name, []).append(ep)
    return found


def available(group: str) -> list[PluginInfo]:
    """Installed plugins of ``group``, sorted by name, clashing registrations each listed; imports none."""
    infos = []
    for name, eps in sorted(_entry_points(group).items()):
        for ep in eps:
            distribution, version = _distribution_of(ep)
            infos.append(PluginInfo(name=name, target=ep.value, distribution=distribution, version=version,
                                    clash=len(eps) > 1))
    return infos


def suggest(name: str, candidates: list[str]) -> str:
    """' Did you mean ...?' text for an unknown name (empty when nothing is close)."""
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def resolve(group: str, name: str) -> Any:
    """Import and return the object registered as ``name`` in ``group``."""
    kind = "method" if group == METHOD_GROUP else "dataset"
    eps = _entry_points(group)
    if name not in eps:
        names = sorted(eps)
        raise UsageError(
            f"unknown {kind} '{name}'.{suggest(name, names)} "
            f"Installed {kind}s: {', '.join(names) or 'none'} (see `corrbench list`)."
        )
    if len(eps[name]) > 1:
        owners = " and ".join(f"{d} {v} ({ep.value})" for ep in eps[name] for d, v in [_distribution_of(ep)])
        raise UsageError(
            f"{kind} name '{name}' is registered by more than one distribution: {owners}; "
            "uninstall or rename one of them (see `corrbench list`)"
        )
    ep = eps[name][0]
    try:
        return ep.load()
    except Exception as error:  # a broken plugin must not look like a corrbench bug
        dist = ep.dist
        label = f"{dist.metadata['Name']} {dist.version}" if dist else ep.value
        raise PluginImportError(
            f"{kind} plugin '{name}' from {label} failed to import "
            f"({type(error).__name__}: {error}); reinstall or upgrade that distribution."
        ) from error


def load_method(name: str, **options: Any):
    cls = resolve(METHOD_GROUP, name)
    try:
        return cls(**options)
    except TypeError as error:
        raise UsageError(f"bad option for method '{name}': {error}") from error


def load_dataset(name: str, root: str | None = None, split: str = "test", **options: Any):
    cls = resolve(DATASET_GROUP, name)
    try:
        return cls(root=root, split=split, **options)
    except TypeError as error:
        raise UsageError(f"bad option for dataset '{name}': {error}") from error
