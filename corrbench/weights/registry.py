"""The weights tables of every installed distribution, found through ``corrbench.weights`` entry points.

Each entry point names a tuple of :class:`~corrbench.weights.entry.WeightsEntry` in a module that
imports nothing heavy, so listing the registry never builds a model.  A tag registered twice is a
one-line error naming both tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from corrbench.errors import CheckpointError, PluginImportError, UsageError
from corrbench.weights.entry import WeightsEntry

WEIGHTS_GROUP = "corrbench.weights"


def all_entries() -> dict[str, WeightsEntry]:
    """Tag -> entry over every installed table, in table order."""
    found: dict[str, tuple[WeightsEntry, str]] = {}
    seen_targets: set[str] = set()
    for ep in entry_points(group=WEIGHTS_GROUP):
        if ep.value in seen_targets:  # the same distribution seen twice (editable + site-packages)
            continue
        seen_targets.add(ep.value)
        try:
            table = ep.load()
        except Exception as error:
            raise PluginImportError(f"weights table '{ep.name}' ({ep.value}) failed to import "
                                    f"({type(error).__name__}: {error}); reinstall that distribution") from error
        for entry in table:
            if not isinstance(entry, WeightsEntry):
                raise PluginImportError(f"weights table '{ep.name}' ({ep.value}) holds {type(entry).__name__}, "
                                        "not WeightsEntry")
            if entry.tag in found and found[entry.tag][1] != ep.value:
                raise UsageError(f"weights tag '{entry.tag}' is declared by {found[entry.tag][1]} and {ep.value}; "
                                 "uninstall or rename one of them")
            found[entry.tag] = (entry, ep.value)
    return {tag: entry for tag, (entry, _) in found.items()}


def find_entry(tag: str, method: str | None = None) -> WeightsEntry:
    """The entry of ``tag``; unknown tags fail with close names (those of ``method`` first)."""
    from corrbench.registry import suggest

    entries = all_entries()
    if tag in entries:
        return entries[tag]
    own = sorted(t for t, e in entries.items() if method is None or e.method == method)
    hint = suggest(tag, own) or suggest(tag, sorted(entries))
    listed = f" Tags of {method}: {', '.join(own)}." if method and own else ""
    raise UsageError(f"unknown weights tag '{tag}'.{hint}{listed} See `corrbench weights`.")


def looks_like_tag(value: str) -> bool:
    """``name:thing`` without a path separator (``C:\\x`` and ``./a:b`` are paths)."""
    return ":" in value and "/" not in value and "\\" not in value and len(value.split(":", 1)[0]) > 1


@dataclass(frozen=True)
class ResolvedWeights:
    """What ``--weights`` named: a local file, and the registry entry it came from (if any)."""

    path: Path
    entry: WeightsEntry | None = None


def resolve_weights(method: str, value: str, fetch: bool = True) -> ResolvedWeights:
    """An existing file as is; a tag of ``method``'s table fetched into the cache (unless ``fetch=False``)."""
    from corrbench.weights.store import cached_path, fetch_entry

    path = Path(value).expanduser()
    if path.is_file():
        return ResolvedWeights(path)
    if not looks_like_tag(value):
        raise CheckpointError(f"--weights {value}: no such file (nor a weights tag; see `corrbench weights`)")
    entry = find_entry(value, method)
    if entry.kind != "official" or entry.method != method:
        raise UsageError(f"weights '{value}' are for {entry.method} ({entry.kind}), not method '{method}'; "
                         f"see `corrbench weights --method {method}`")
    return ResolvedWeights(fetch_entry(entry) if fetch else cached_path(entry), entry)
