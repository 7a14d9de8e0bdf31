"""``corrbench download NAME``: fetch a benchmark's official files into its dataset root."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "download",
        help="download, verify and extract a dataset (pfpascal, pfwillow, spair, tss, internet)",
        description=(
            "Fetch the files listed in the dataset card into $CORRBENCH_DATA/NAME (default "
            "~/.cache/corrbench/NAME), resuming broken downloads and checking sha256 where known."
        ),
    )
    parser.add_argument("name", help="dataset name (its card in datasets/NAME.yaml)")
    parser.add_argument("--root", default=None, help="dataset root to download into (overrides $CORRBENCH_DATA)")
    parser.add_argument("--force", action="store_true", help="download and extract again even if present")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    parser.set_defaults(handler=handle)


def available_cards() -> list[str]:
    from corrbench.data.cards import card_dirs

    names: set[str] = set()
    for folder in card_dirs():
        if folder.is_dir():
            names.update(path.stem for path in folder.glob("*.yaml"))
    return sorted(names)


def handle(args: argparse.Namespace) -> int:
    from corrbench.data.base import dataset_root
    from corrbench.data.download import fetch_dataset
    from corrbench.errors import UsageError
    from corrbench.registry import suggest

    names = available_cards()
    if args.name not in names:
        raise UsageError(
            f"no dataset '{args.name}' to download.{suggest(args.name, names)} Known: {', '.join(names) or 'none'}"
        )
    root = dataset_root(args.name, args.root)
    report = fetch_dataset(args.name, root, force=args.force, progress=False if args.no_progress else None)
    for line in report.manual:
        print(f"corrbench: manual step: {line}", file=sys.stderr)
    from corrbench.data.cards import load_card

    status = "ready" if not report.manual else "downloaded except the manual step(s) above"
    trainer = load_card(args.name).extra.get("training_only")  # the method whose recipe uses it
    hint = (f"corrbench train --method {trainer} -o pretrained=true" if trainer
            else f"corrbench run --method identity --dataset {args.name}")
    print(f"{args.name} {status} at {root}; try `{hint}`")
    return 0 if not report.manual else 1
