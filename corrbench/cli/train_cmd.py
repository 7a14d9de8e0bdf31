"""``corrbench train``: train a method on a dataset with checkpoints and resume."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields, replace


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from corrbench.cli.run_cmd import add_common_method_args, add_dataset_option_arg

    parser = subparsers.add_parser("train", help="train a method (checkpoints + resume)")
    add_common_method_args(parser)
    parser.add_argument("--dataset", required=True)
    add_dataset_option_arg(parser)
    parser.add_argument("--split", default="train")
    parser.add_argument("--root", default=None)
    parser.add_argument("--out", default=None, help="checkpoint folder (default: runs/<method>-<dataset>)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--max-minutes", type=float, default=None, help="wall-clock budget")
    parser.add_argument("--pairs-per-epoch", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--no-resume", action="store_true", help="start over even if OUT/last.pth exists")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import corrbench
    from corrbench.cli.run_cmd import build_method
    from corrbench.errors import UsageError
    from corrbench.registry import METHOD_GROUP, resolve
    from corrbench.training import TrainableMethod, train

    resolve(METHOD_GROUP, args.method)
    from corrbench.cli.run_cmd import load_dataset_from_args

    dataset = load_dataset_from_args(args)
    method = build_method(args)
    if not isinstance(method, TrainableMethod):
        raise UsageError(f"method '{args.method}' has nothing to train")
    config = method.default_train_config()
    overrides = {name: getattr(args, name) for name in ("epochs", "batch_size", "lr", "max_minutes",
                                                        "pairs_per_epoch", "seed")
                 if getattr(args, name) is not None}
    known = {f.name for f in fields(config)}
    config = replace(config, **{k: v for k, v in overrides.items() if k in known})
    out = args.out or f"runs/{args.method}-{args.dataset}"
    summary = train(method, dataset, config, out, resume=not args.no_resume, progress=sys.stderr.isatty())
    budget = " (stopped by the time budget)" if summary.stopped_by_budget else ""
    print(f"trained {args.method} for {summary.epochs_done} epoch(s), {summary.steps} steps in "
          f"{summary.seconds:.0f}s{budget}; last loss {summary.last_loss:.4f}; checkpoint {summary.checkpoint}")
    return 0
