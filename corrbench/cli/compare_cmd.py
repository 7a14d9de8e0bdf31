"""``corrbench compare A.json B.json``: the paired difference of two runs, with its interval and p-value."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("compare", help="is B better than A? paired difference of two --json results")
    parser.add_argument("a", help="result JSON of run A (`corrbench run --json`)")
    parser.add_argument("b", help="result JSON of run B")
    parser.add_argument("--alpha", type=float, default=None, help="only this PCK threshold (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and permutation draws")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from rich.table import Table

    from corrbench.cli.report import console as make_console
    from corrbench.eval.compare import compare

    result = compare(args.a, args.b, seed=args.seed)
    console = make_console()

    def wanted(metric: str) -> bool:
        return args.alpha is None or metric.endswith(f"@{args.alpha:g}")

    table = Table(title=f"B − A on {result.n_shared} shared pairs — A: {result.a}, B: {result.b} (%)")
    for column in ("metric", "A", "B", "B − A", "95 % interval", "p (paired permutation)"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for d in result.overall:
        if wanted(d.metric):
            name = d.metric.replace("pck@", "pck (mean of classes) @").replace("pck_pairs@", "pck (all pairs) @")
            table.add_row(name, f"{100 * d.a:.1f}", f"{100 * d.b:.1f}", f"{100 * d.difference:+.1f}",
                          f"[{100 * d.interval[0]:+.1f}, {100 * d.interval[1]:+.1f}]", f"{d.p_value:.4f}")
    console.print(table)
    per_class = Table(title="per class (all pairs of the class)")
    for column in ("class", "metric", "B − A", "95 % interval", "p"):
        per_class.add_column(column, justify="left" if column in ("class", "metric") else "right")
    for category, diffs in result.per_class.items():
        for d in diffs:
            if wanted(d.metric):
                per_class.add_row(category, d.metric.replace("pck_pairs", "pck"), f"{100 * d.difference:+.1f}",
                                  f"[{100 * d.interval[0]:+.1f}, {100 * d.interval[1]:+.1f}]", f"{d.p_value:.4f}")
    console.print(per_class)
    return 0
