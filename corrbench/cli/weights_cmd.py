"""``corrbench weights [list|fetch|path]``: the official weights registry and the local cache."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "weights", help="list official weights (and backbones) by tag; fetch them into the cache",
        description="Official checkpoints and ImageNet backbones by tag, cached in $CORRBENCH_CACHE/weights "
                    "(default ~/.cache/corrbench/weights); CORRBENCH_MIRROR replaces every origin.")
    parser.add_argument("action", nargs="?", default="list", choices=("list", "fetch", "path"),
                        help="list the registry (default), fetch tags into the cache, or print cached paths")
    parser.add_argument("tags", nargs="*", help="weights tags (fetch/path), e.g. sfnet:pfpascal")
    parser.add_argument("--method", default=None, help="only this method's (or library's) entries")
    parser.add_argument("--all", action="store_true", help="list the backbones too")
    parser.set_defaults(handler=handle)


def _size(value: int | None) -> str:
    return "?" if value is None else f"{value / 2**20:.0f} MB"


def handle(args: argparse.Namespace) -> int:
    from corrbench.errors import UsageError
    from corrbench.weights.registry import all_entries, find_entry
    from corrbench.weights.store import cache_root, cached_path, fetch_entry, is_cached

    if args.action == "list":
        if args.tags:
            raise UsageError("`corrbench weights list` takes no tags; use --method NAME to filter")
        return _list(all_entries(), args, cache_root(), is_cached)
    if not args.tags:
        raise UsageError(f"`corrbench weights {args.action}` needs at least one tag (see `corrbench weights`)")
    entries = [find_entry(tag) for tag in args.tags]  # every tag checked before anything is fetched
    for entry in entries:
        path = fetch_entry(entry) if args.action == "fetch" else cached_path(entry)
        if args.action == "path" and not is_cached(entry):
            raise UsageError(f"{entry.tag} is not in the cache; `corrbench weights fetch {entry.tag}` first")
        print(path)
    return 0


def _list(entries, args: argparse.Namespace, root, is_cached) -> int:
    from rich.table import Table

    from corrbench.cli.report import console as make_console

    shown = [e for e in entries.values()
             if (args.method is None or e.method == args.method) and (args.all or args.method or e.kind == "official")]
    table = Table(title=f"weights (cache: {root / 'weights'})")
    table.add_column("tag", no_wrap=True)  # what the user types: never cut
    for column in ("method", "trained on", "preset", "protocol", "size", "sha256", "licence", "cached", "source"):
        table.add_column(column, overflow="fold")
    for entry in shown:
        fetch = "" if all(f.automatic for f in entry.files) else "manual"
        table.add_row(entry.tag, entry.method, entry.trained_on, entry.preset or "", entry.protocol or "",
                      _size(entry.total_size), entry.checksums + (f" ({fetch})" if fetch else ""), entry.licence,
                      "yes" if is_cached(entry) else "no", entry.source)
    console = make_console()
    console.print(table)
    if not args.all and not args.method:
        console.print("backbones (ImageNet, DINOv2): `corrbench weights --all`; "
                      "sha256 'none' = recorded on first download and verified after")
    return 0
