"""``corrbench plot`` (PCK-vs-alpha curves) and ``corrbench show`` (one pair, drawn)."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from corrbench.cli.run_cmd import add_common_method_args, add_dataset_option_arg

    plot = subparsers.add_parser("plot", help="PCK-vs-alpha curves per dataset, methods overlaid (PNG)")
    plot.add_argument("--dataset", action="append", default=None, help="dataset(s); default: all on the board")
    plot.add_argument("--leaderboard", default="leaderboards")
    plot.add_argument("--out", default="plots")
    plot.set_defaults(handler=handle_plot)

    show = subparsers.add_parser("show", help="draw one pair's keypoint transfer (and warp/flow) as PNG")
    add_common_method_args(show)
    show.add_argument("--dataset", required=True)
    add_dataset_option_arg(show)
    show.add_argument("--split", default="test")
    show.add_argument("--root", default=None)
    show.add_argument("--pair", required=True, help="pair id (see --json records) or index")
    show.add_argument("--protocol", default=None)
    show.add_argument("--seed", type=int, default=0, help="the seed of the run being looked at")
    show.add_argument("--out", default=None, help="PNG path (default: <method>-<pair>.png)")
    show.set_defaults(handler=handle_show)


def handle_plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from corrbench.errors import UsageError
    from corrbench.leaderboard.plots import plot_pck_curves

    datasets = args.dataset or sorted(p.parent.name for p in Path(args.leaderboard).glob("*/results.csv"))
    if not datasets:
        raise UsageError(f"no leaderboard CSV under {args.leaderboard}; run `corrbench run` first")
    for dataset in datasets:
        for path in plot_pck_curves(args.leaderboard, dataset, args.out):
            print(f"wrote {path}")
    board = Path(args.leaderboard).resolve()
    if board in Path(args.out).resolve().parents:  # pictures inside the board are listed in its index
        from corrbench.leaderboard.tables import write_index

        write_index(args.leaderboard)
    return 0


def handle_show(args: argparse.Namespace) -> int:
    import corrbench
    from corrbench.cli.run_cmd import build_method
    from corrbench.errors import UsageError
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
