"""``corrbench list [methods|datasets|protocols]``: what is installed, without importing plugins."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("list", help="list installed methods, datasets and protocols")
    parser.add_argument("what", nargs="?", default="all", choices=("all", "methods", "datasets", "protocols"))
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from corrbench.registry import DATASET_GROUP, METHOD_GROUP, available

    console = Console()
    for what, group in (("methods", METHOD_GROUP), ("datasets", DATASET_GROUP)):
        if args.what in ("all", what):
            table = Table(title=what)
            for column in ("name", "distribution", "version", "entry point"):
                table.add_column(column)
            infos = available(group)
            for info in infos:
                name = f"{info.name} [red](clash)[/red]" if info.clash else info.name
                table.add_row(name, info.distribution, info.version, info.target)
            console.print(table)
            clashes = sorted({info.name for info in infos if info.clash})
            if clashes:
                console.print(f"[red]name clash[/red]: {', '.join(clashes)} registered by more than one "
                              "distribution; runs using these names fail until one is uninstalled or renamed")
    if args.what in ("all", "protocols"):
        from corrbench.eval.protocols import list_protocols

        table = Table(title="protocols")
        for column in ("name", "direction", "threshold", "frame", "cmp", "description"):
            table.add_column(column)
        for protocol in list_protocols():
            frame = protocol.frame + (f" {protocol.frame_size}" if protocol.frame_size else "")
            table.add_row(protocol.name, protocol.direction, f"{protocol.threshold} ({protocol.threshold_side})",
                          frame, "<=" if protocol.comparison == "le" else "<", protocol.description)
        console.print(table)
    return 0
