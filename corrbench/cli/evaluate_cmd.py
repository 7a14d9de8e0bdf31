"""``corrbench evaluate``: score a predictions folder written by any code, as the official kit would.

    corrbench evaluate --dataset tss --root TSS_CVPR2016 --predictions results/ [--kit-csv OUT]
"""

from __future__ import annotations

import argparse

DATASETS = ("tss",)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score a predictions folder in a benchmark's official layout",
        description=(
            "Score predictions written by any code. TSS: DIR/<subset>/<pair>/{flow1.flo, flow2.flo, "
            "mask1.png, mask2.png} (flow1 maps image1 -> image2), scored exactly as the official "
            "TSS evaluation kit (Taniai et al., CVPR'16)."
        ),
    )
    parser.add_argument("--dataset", required=True, choices=DATASETS, help="benchmark of the predictions")
    parser.add_argument("--root", required=True, help="dataset root (TSS: the TSS_CVPR2016 folder or one subset folder)")
    parser.add_argument("--predictions", required=True, metavar="DIR", help="predictions folder in the kit layout")
    parser.add_argument("--kit-csv", metavar="OUT", help="also write OUT/<subset>/scores.csv in the kit's format")
    parser.add_argument("--kit", choices=("cpp", "matlab"), default="cpp",
                        help="which tool of the kit to follow where they differ (default: cpp, the one "
                             "that scored the kit's sample results)")
    parser.add_argument("--auto-flip", action="store_true",
                        help="invert both masks of a pair when that scores better (not official scores)")
    parser.add_argument("--missing", choices=("error", "skip", "absent"), default="error",
                        help="pairs without a prediction folder: fail (default), leave out (the kit's "
                             "behaviour) or score as 0")
    parser.add_argument("--cpp-row-names", action="store_true",
                        help="in --kit-csv, name both rows of a pair '_1to2' as the C++ tool does")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from corrbench.tss.evaluate import evaluate_folder

    result = evaluate_folder(args.root, args.predictions, kit=args.kit, auto_flip=args.auto_flip,
                             missing=args.missing)
    console = Console()
    shown = (1, 3, 5, 10, 20)
    for name, scores in result.subsets.items():
        table = Table(title=f"TSS {name}: {scores.n_pairs} pairs, kit={result.kit}"
                      + (", auto-flip" if result.auto_flip else ""))
        for column in ("Row", "Flip", "SegIUR", *(f"T{t}" for t in shown)):
            table.add_column(column, justify="left" if column == "Row" else "right")
        average, no_flip = scores.summary
        for index, row in enumerate([*scores.rows, average, no_flip]):
            if index == len(scores.rows):
                table.add_section()
            cells = [row.name, str(row.flip), f"{row.seg_iou:.4f}", *(f"{row.acc[t - 1]:.4f}" for t in shown)]
            style = "bold" if row.name in ("Average", "w/o flip") else None
            table.add_row(*cells, style=style)
        console.print(table)
    if len(result.subsets) > 1:
        summary = result.summary
        console.print(
            f"All (mean of {len(result.subsets)} subsets): T5 {summary['tss_T5']:.4f}  "
            f"SegIUR {summary['seg_iou']:.4f}  (w/o flip: T5 {summary['tss_T5_wo_flip']:.4f})"
        )
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if args.kit_csv:
        for path in result.write_kit_csv(args.kit_csv, cpp_row_names=args.cpp_row_names):
            console.print(f"wrote {path}", highlight=False)
    return 0
