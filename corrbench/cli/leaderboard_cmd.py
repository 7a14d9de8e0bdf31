"""``corrbench leaderboard check|update|render``."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("leaderboard", help="check, update or re-render the leaderboards")
    parser.add_argument("action", choices=("check", "update", "render"))
    parser.add_argument("--dir", default="leaderboards", help="leaderboard folder (default: ./leaderboards)")
    parser.add_argument("--repo-root", default=".", help="where checkpoint paths in runs.yaml are relative to")
    parser.add_argument("--no-rerun", action="store_true", help="check: only table sync and --base")
    parser.add_argument("--base", default=None, metavar="REV",
                        help="check: also fail on values changed since git REV without a version bump")
    parser.add_argument("--method", action="append", default=None, help="update: only these methods")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from rich.table import Table

    from corrbench.leaderboard import check as lb

    from corrbench.cli.report import console as make_console

    console = make_console()  # a diff table must stay readable in CI logs
    if args.action == "render":
        for dataset in lb.render_all(args.dir):
            console.print(f"rendered {args.dir}/{dataset}")
        return 0
    if args.action == "update":
        for line in lb.update(args.dir, methods=args.method, repo_root=args.repo_root):
            console.print(f"updated {line}")
        return 0
    report = lb.check(args.dir, rerun=not args.no_rerun, base=args.base, repo_root=args.repo_root)
    if report.ok:
        console.print("leaderboards OK: tables in sync, reported.yaml files valid, re-runnable rows reproduced")
        return 0
    if not report.moved.empty:
        table = Table(title="values that moved")
        columns = ["method", "dataset", "split", "protocol", "metric", "alpha", "category",
                   "value_committed", "value_now", "delta"]
        for column in columns:
            table.add_column(column, justify="right" if column.startswith(("value", "delta", "alpha")) else "left")
        for row in report.moved[columns].itertuples(index=False):
            table.add_row(*[f"{v:.6f}" if isinstance(v, float) else str(v) for v in row])
        console.print(table)
    from rich.markup import escape

    for problem in report.problems:  # one line each, whatever the width: CI logs are grepped
        console.print(f"[red]FAIL[/red] {escape(problem)}", soft_wrap=True)
    return 1
