"""Entry point of the ``corrbench`` command.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``, which creates the
subparser and sets ``handler=<function(args) -> int>``.  Modules are imported only to build the
parser; heavy imports (torch, plugins) happen inside handlers.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from corrbench import __version__
from corrbench.errors import CorrbenchError

COMMAND_MODULES = (
    "corrbench.cli.list_cmd",
    "corrbench.cli.run_cmd",
    "corrbench.cli.train_cmd",
    "corrbench.cli.leaderboard_cmd",
    "corrbench.cli.plot_cmd",
    "corrbench.cli.download_cmd",
    "corrbench.cli.evaluate_cmd",
    "corrbench.cli.compare_cmd",
    "corrbench.cli.weights_cmd",
    "corrbench.cli.demo_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="corrbench", description="Benchmark semantic correspondence methods."
    )
    parser.add_argument("--version", action="version", version=f"corrbench {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback behind an error (also CORRBENCH_DEBUG=1)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except CorrbenchError as error:
        if args.debug or os.environ.get("CORRBENCH_DEBUG") == "1":
            traceback.print_exc()
        print(f"corrbench: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("corrbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
