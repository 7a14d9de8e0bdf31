"""``corrbench plot`` (PCK curves, per-class bars) and ``corrbench show`` (one pair, or a run's worst pairs)."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from corrbench.cli.run_cmd import add_common_method_args, add_dataset_option_arg

    plot = subparsers.add_parser("plot", help="PCK-vs-alpha curves and per-class bars at alpha 0.1 per dataset, "
                                              "methods overlaid (PNG)")
    plot.add_argument("--dataset", action="append", default=None, help="dataset(s); default: all on the board")
    plot.add_argument("--leaderboard", default="leaderboards")
    plot.add_argument("--out", default="plots")
    plot.set_defaults(handler=handle_plot)

    show = subparsers.add_parser("show", help="draw one pair's keypoint transfer (and warp/flow), or a run's "
                                              "worst pairs on one sheet, as PNG")
    add_common_method_args(show, method_required=False)
    show.add_argument("--dataset", default=None)
    add_dataset_option_arg(show)
    show.add_argument("--split", default=None, help="default: test")
    show.add_argument("--root", default=None)
    show.add_argument("--pair", default=None, help="pair id (see --json records) or index")
    show.add_argument("--protocol", default=None)
    show.add_argument("--seed", type=int, default=None, help="the seed of the run being looked at (default 0)")
    show.add_argument("--run", default=None, metavar="RESULT.json",
                      help="a `corrbench run --json` result: draw its worst pairs (method, options, seed, dataset "
                           "and protocol come from it)")
    show.add_argument("--worst", type=int, default=None, metavar="N",
                      help="with --run: how many pairs (lowest PCK@α, then largest mean error / L; default 6)")
    show.add_argument("--out", default=None, help="PNG path (default: <method>-<pair>.png or "
                                                  "<method>-<dataset>-worst<N>.png)")
    show.set_defaults(handler=handle_show)


def handle_plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from corrbench.errors import UsageError
    from corrbench.leaderboard.plots import plot_leaderboard

    datasets = args.dataset or sorted(p.parent.name for p in Path(args.leaderboard).glob("*/results.csv"))
    if not datasets:
        raise UsageError(f"no leaderboard CSV under {args.leaderboard}; run `corrbench run` first")
    for dataset in datasets:
        for path in plot_leaderboard(args.leaderboard, dataset, args.out):
            print(f"wrote {path}")
    board = Path(args.leaderboard).resolve()
    if board in Path(args.out).resolve().parents:  # pictures inside the board are listed in its index
        from corrbench.leaderboard.tables import write_index

        write_index(args.leaderboard)
    return 0


def handle_worst(args: argparse.Namespace) -> int:
    """``show --run R.json --worst N``: everything but the weights, device and root comes from the run."""
    import sys
    from pathlib import Path

    from corrbench.cli.run_cmd import check_device
    from corrbench.errors import UsageError
    from corrbench.leaderboard.gallery import load_run, worst_pairs_sheet

    given = [flag for flag, value in (("--method", args.method), ("--dataset", args.dataset), ("--pair", args.pair),
                                      ("--split", args.split), ("--protocol", args.protocol), ("--seed", args.seed),
                                      ("--option", args.option), ("--dataset-option", args.dataset_option))
             if value not in (None, [])]
    if given:
        raise UsageError(f"{given[0]} cannot be combined with --run: the run file says which method, options, "
                         "seed, dataset and protocol it used")
    args.worst = 6 if args.worst is None else args.worst
    if args.worst < 1:
        raise UsageError(f"--worst must be at least 1, got {args.worst}")
    data = load_run(args.run)
    out = args.out or f"{data['method']}-{data['dataset']}-worst{args.worst}.png"
    if Path(out).is_dir():
        raise UsageError(f"--out {out} is a folder; give a file name such as {Path(out) / 'worst.png'}")
    sheet = worst_pairs_sheet(args.run, args.worst, out, weights=args.weights, root=args.root,
                              device=check_device(args.device))
    for warning in sheet.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {sheet.path} ({len(sheet.pair_ids)} pairs: {', '.join(sheet.pair_ids)})")
    return 0


def handle_show(args: argparse.Namespace) -> int:
    import corrbench
    from corrbench.cli.run_cmd import build_method
    from corrbench.errors import UsageError

    if args.run is not None:
        return handle_worst(args)
    missing = [flag for flag, value in (("--method", args.method), ("--dataset", args.dataset), ("--pair", args.pair))
               if not value]
    if missing:
        raise UsageError(f"`corrbench show` needs --method, --dataset and --pair (one pair; {missing[0]} is "
                         "missing), or --run RESULT.json --worst N (a run's worst pairs)")
    if args.worst is not None:
        raise UsageError("--worst needs --run RESULT.json (the run whose worst pairs to draw)")
    args.split = args.split or "test"
    args.seed = 0 if args.seed is None else args.seed
    from corrbench.eval.runner import predict_pair, resolve_protocol
    from corrbench.leaderboard.plots import show_pair
    from corrbench.registry import METHOD_GROUP, resolve

    resolve(METHOD_GROUP, args.method)
    from corrbench.cli.run_cmd import load_dataset_from_args

    dataset = load_dataset_from_args(args)
    if dataset.task != "keypoints":
        raise UsageError(f"`corrbench show` draws keypoint transfers; dataset '{args.dataset}' is scored as "
                         f"'{dataset.task}'")
    protocol = resolve_protocol(dataset, args.protocol)
    ids = dataset.pair_ids()
    if args.pair in ids:
        index = ids.index(args.pair)
    elif args.pair.isdigit() and int(args.pair) < len(ids):
        index = int(args.pair)
    else:
        from corrbench.registry import suggest

        raise UsageError(f"no pair '{args.pair}' in {args.dataset}/{args.split}.{suggest(args.pair, ids)}")
    method = build_method(args)
    pair, prediction, protocol = predict_pair(method, dataset, index, protocol, seed=args.seed)
    out = args.out or f"{args.method}-{pair.pair_id.replace('/', '_')}.png"
    print(f"wrote {show_pair(pair, prediction, protocol, out)}")
    return 0
