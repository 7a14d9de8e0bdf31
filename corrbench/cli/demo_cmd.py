"""``corrbench demo``: every installed method on the embedded benchmark, one comparison table."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="run every installed method on the embedded benchmark and compare them (make demo)",
        description="Evaluates each run listed in <runs-dir>/runs.yaml on synthetic (baselines and the learned "
                    "methods with their committed checkpoints) in one process, prints one table and writes "
                    "pictures and JSON into --out; the committed leaderboard is not touched.")
    parser.add_argument("--out", default="demo", help="folder for the results and pictures (default: ./demo)")
    parser.add_argument("--runs-dir", default="leaderboards", help="folder holding runs.yaml (default: ./leaderboards)")
    parser.add_argument("--repo-root", default=".", help="where the checkpoint paths of runs.yaml are relative to")
    parser.add_argument("--jobs", type=int, default=None,
                        help="worker processes (default: 2 on a machine with 2+ cores; 1 = all in this process)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from corrbench.cli.report import console as make_console
    from corrbench.leaderboard.demo import run_demo

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        from corrbench.errors import UsageError

        raise UsageError(f"--out {out} is a file; give a folder")
    report = run_demo(args.runs_dir, out, repo_root=args.repo_root, jobs=args.jobs)
    console = make_console()
    board = out / "leaderboard" / "synthetic"
    for name in ("test__synthetic__pck@0.1.md", "test__synthetic__mask_iou.md"):
        path = board / name
        if path.is_file():
            lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
            console.print(("PCK@0.1 (%)" if "pck" in name else "foreground mask IoU (%)") + ", synthetic test:")
            console.print("\n".join(lines), markup=False, highlight=False)
    if report.skipped:
        console.print(f"not installed, skipped: {', '.join(report.skipped)}")
    console.print(f"{len(report.results)} methods in {report.total_seconds:.1f} s; pictures and JSON in {out}/: "
                  + ", ".join(p.name for p in report.files if p.suffix == ".png"))
    return 0
