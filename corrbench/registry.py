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
    except (Exception, SystemExit) as error:  # a broken plugin must not look like a corrbench bug
        dist = ep.dist
        label = f"{dist.metadata['Name']} {dist.version}" if dist else ep.value
        raise PluginImportError(
            f"{kind} plugin '{name}' from {label} failed to import "
            f"({type(error).__name__}: {error}); reinstall or upgrade that distribution."
        ) from error


def check_options(kind: str, name: str, constructor: Any, options: dict[str, Any]) -> dict[str, Any]:
    """Refuse option names the constructor does not take, before calling it.

    Only this is reported as "bad option": an error raised *inside* a constructor is a bug (or the
    plugin's own one-line error) and surfaces as it is, with its traceback.
    """
    import inspect

    try:
        signature = inspect.signature(constructor)
    except (TypeError, ValueError):  # a builtin or C type: let the call speak for itself
        return options
    parameters = signature.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return options  # **options: the plugin checks its own keys
    known = [n for n, p in parameters.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL
             and n not in ("self", "root", "split", "weights", "device")]
    unknown = sorted(set(options) - set(parameters))
    if unknown:
        hints = "".join(suggest(key, known) for key in unknown[:1])
        raise UsageError(f"bad option for {kind} '{name}': it has no option(s) {', '.join(unknown)}.{hints} "
                         f"Known: {', '.join(known) or 'none'}")
    from corrbench.training.config import check_option

    checked = dict(options)
    for key, value in options.items():
        if key not in ("root", "split", "weights", "device") and value is not None:
            checked[key] = check_option(name, constructor, key, value, kind=kind)  # annotation = option type
    return checked


def method_defaults(cls: Any, for_dataset: str | None, options: dict[str, Any]) -> dict[str, Any]:
    """The method's per-benchmark option defaults for ``for_dataset`` that ``options`` does not set."""
    defaults = dict(getattr(cls, "benchmark_options", {}).get(for_dataset, {})) if for_dataset else {}
    return {key: value for key, value in defaults.items() if key not in options}


def load_method(name: str, for_dataset: str | None = None, **options: Any):
    """Build method ``name``; ``weights=`` may be a file or a tag of the weights registry.

    A tag is fetched into the weights cache (verified) and its entry's paper preset and options
    apply unless given explicitly, so ``--weights nemf:pfpascal`` runs the paper's test path;
    ``for_dataset`` applies the method's per-benchmark test-path options the same way.
    """
    cls = resolve(METHOD_GROUP, name)
    options = {**method_defaults(cls, for_dataset, options), **options}
    entry = None
    weights = options.get("weights")
    if weights is not None and getattr(cls, "takes_weights", True):
        from corrbench.weights.registry import resolve_weights

        resolved = resolve_weights(name, str(weights))
        options["weights"] = str(resolved.path)
        entry = resolved.entry
        if entry is not None:
            defaults = {"config": entry.preset, **entry.options}
            options = {**{k: v for k, v in defaults.items() if v is not None}, **options}
    method = cls(**check_options("method", name, cls.__init__, options))
    if entry is not None:
        method.weights_entry = entry.tag
    return method


def load_dataset(name: str, root: str | None = None, split: str = "test", **options: Any):
    cls = resolve(DATASET_GROUP, name)
    checked = check_options("dataset", name, cls.__init__, {"root": root, "split": split, **options})
    return cls(**checked)
