"""``corrbench run``: evaluate one method on one dataset, print the table, record the result."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from corrbench.errors import UsageError


def parse_options(pairs: list[str], flag: str = "--option") -> dict[str, Any]:
    """``KEY=VALUE`` strings to options (values parsed as YAML scalars: 3, 0.5, true)."""
    import yaml

    options: dict[str, Any] = {}
    for item in pairs:
        if "=" not in item:
            raise UsageError(f"bad {flag} '{item}': expected KEY=VALUE")
        key, value = item.split("=", 1)
        try:
            options[key.strip().replace("-", "_")] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise UsageError(f"bad {flag} '{item}': the value is not a number, word, list or mapping "
                             "(quote it, e.g. -o 'key=\"[1\"')") from None
    return options


def check_device(device: str) -> str:
    """``--device`` must name a torch device that exists here, checked before any model is built."""
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise UsageError(f"bad --device '{device}': expected cpu, cuda, cuda:N or mps") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"--device {device}: no CUDA GPU is available here; use --device cpu")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise UsageError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"--device {device}: MPS is not available here; use --device cpu")
    elif parsed.type not in ("cpu", "cuda", "mps"):
        raise UsageError(f"--device {device}: corrbench runs on cpu, cuda or mps")
    return device


def check_output_paths(args: argparse.Namespace) -> None:
    """Every place a run will write is checked before the first pair, so no work is lost at the end."""
    from pathlib import Path

    def writable_folder(folder: Path, what: str) -> None:
        existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise UsageError(f"{what} {folder}: {existing} is a file, not a folder; choose another path")
        if existing is not None and not os.access(existing, os.W_OK):
            raise UsageError(f"{what} {folder}: {existing} is not writable; choose another path")

    if getattr(args, "json_path", None):
        path = Path(args.json_path)
        if path.is_dir():
            raise UsageError(f"--json {path} is a folder; give a file name such as {path / 'result.json'}")
        writable_folder(path.parent if str(path.parent) else Path("."), "--json")
    if not getattr(args, "no_leaderboard", True) and getattr(args, "limit", None) is None:
        writable_folder(Path(args.leaderboard), "--leaderboard")
        from corrbench.leaderboard.reported import find_reported

        find_reported(args.leaderboard, args.dataset)  # a bad reported.yaml fails now, not after the run
    if getattr(args, "runs_dir", None) and not getattr(args, "no_resume", False):
        writable_folder(Path(args.runs_dir), "--runs-dir")
    if getattr(args, "save_predictions", None):
        writable_folder(Path(args.save_predictions), "--save-predictions")


def weights_entry(method: str, weights: str | None):
    """The registry entry ``--weights`` names (None for a file or no weights); nothing is fetched."""
    return check_weights(method, weights)


def paper_protocol(args: argparse.Namespace, entry) -> str | None:
    """``--protocol``, else the protocol the weights' paper evaluated with when it has a preset for this dataset."""
    if args.protocol is not None or entry is None or not entry.protocol:
        return args.protocol
    from corrbench.eval.protocols import PROTOCOLS

    try:
        PROTOCOLS.get(entry.protocol, dataset=args.dataset)
    except Exception:
        return None
    print(f"protocol {entry.protocol}: the paper's, for weights {entry.tag} (--protocol to choose another)",
          file=sys.stderr)
    return entry.protocol


def check_weights(method: str, weights: str | None):
    """``--weights`` must be a file or a registry tag of this method, and only for methods that take weights.

    Checked before any work (a tag's files are fetched only when the method is built); returns the
    tag's registry entry, None for a file.
    """
    from corrbench.registry import METHOD_GROUP, resolve
    from corrbench.weights.registry import resolve_weights

    if weights is None:
        return None
    if not getattr(resolve(METHOD_GROUP, method), "takes_weights", True):
        raise UsageError(f"method '{method}' takes no weights; drop --weights {weights}")
    return resolve_weights(method, weights, fetch=False).entry


def add_dataset_option_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset-option", "-d", action="append", default=[], metavar="KEY=VALUE",
                        help="dataset option, repeatable (e.g. -d pair_list=macosnet450); recorded in the result")


def load_dataset_from_args(args: argparse.Namespace):
    """The dataset named on the command line, with its root, split and -d options."""
    import corrbench

    options = parse_options(args.dataset_option, flag="--dataset-option")
    return corrbench.load_dataset(args.dataset, root=args.root, split=args.split, **options)


def add_common_method_args(parser: argparse.ArgumentParser, method_required: bool = True) -> None:
    parser.add_argument("--method", required=method_required, help="method name (see `corrbench list methods`)")
    parser.add_argument("--weights", default=None,
                        help="checkpoint file, or a registry tag such as sfnet:pfpascal (see `corrbench weights`)")
    parser.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE",
                        help="method option, repeatable (e.g. -o stride=4)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="evaluate a method on a dataset")
    add_common_method_args(parser)
    parser.add_argument("--dataset", required=True, help="dataset name (see `corrbench list datasets`)")
    add_dataset_option_arg(parser)
    parser.add_argument("--split", default="test")
    parser.add_argument("--root", default=None, help="dataset root (default: $CORRBENCH_DATA/<name>)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pairs (no leaderboard update)")
    parser.add_argument("--protocol", default=None, help="protocol preset (see `corrbench list protocols`)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--workers", type=int, default=0,
                        help="DataLoader processes reading and decoding pairs ahead of the method (default 0: inline)")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32",
                        help="autocast around the method's predict (default fp32); recorded, and keys the leaderboard row")
    parser.add_argument("--json", dest="json_path", default=None, help="write the result as JSON here")
    parser.add_argument("--leaderboard", default="leaderboards", metavar="DIR",
                        help="leaderboard folder updated by full runs (default: ./leaderboards)")
    parser.add_argument("--no-leaderboard", action="store_true", help="do not touch any leaderboard")
    parser.add_argument("--runs-dir", default=None,
                        help="where per-pair records are kept for resume (default: ~/.cache/corrbench/runs)")
    parser.add_argument("--no-resume", action="store_true", help="neither reuse nor keep per-pair records")
    tss = parser.add_argument_group("dense flow benchmarks (TSS)")
    tss.add_argument("--save-predictions", default=None, metavar="DIR",
                     help="also write predictions in the TSS kit layout (<subset>/<pair>/flow1.flo ...)")
    tss.add_argument("--kit", choices=("cpp", "matlab"), default="cpp", help="which official kit tool's rules")
    tss.add_argument("--auto-flip", action="store_true", help="the kit's auto-flip of labels")
    parser.set_defaults(handler=handle)


def build_method(args: argparse.Namespace):
    """The method named on the command line, with its weights, -o options and this rank's device."""
    import corrbench
    from corrbench.eval.distributed import rank_device

    from corrbench.registry import METHOD_GROUP, method_defaults, resolve

    options = parse_options(args.option)
    check_weights(args.method, args.weights)
    device = check_device(rank_device(args.device))
    dataset = getattr(args, "dataset", None)
    for key, value in method_defaults(resolve(METHOD_GROUP, args.method), dataset, options).items():
        print(f"{args.method} on {dataset}: {key}={json.dumps(value)}, as the paper's test path "
              f"(-o {key}=... to change)", file=sys.stderr)
    return corrbench.load_method(args.method, for_dataset=dataset, weights=args.weights, device=device, **options)


def handle(args: argparse.Namespace) -> int:
    import corrbench
    from corrbench.eval.distributed import env_world
    from corrbench.eval.records import default_runs_dir
    from corrbench.eval.runner import evaluate, resolve_protocol
    from corrbench.io import atomic_write_text
    from corrbench.registry import METHOD_GROUP, resolve

    # Resolve every name before any work or write: a typo fails fast and leaves nothing behind.
    resolve(METHOD_GROUP, args.method)
    entry = weights_entry(args.method, args.weights)
    check_output_paths(args)
    dataset = load_dataset_from_args(args)
    protocol = resolve_protocol(dataset, paper_protocol(args, entry))
    method = build_method(args)
    is_main = env_world()[0] == 0
    result = evaluate(
        method, dataset, protocol, limit=args.limit, batch_size=args.batch_size, seed=args.seed,
        progress=sys.stderr.isatty() and is_main,
        runs_dir=None if args.no_resume else str(args.runs_dir or default_runs_dir()),
        kit=args.kit, auto_flip=args.auto_flip, save_predictions=args.save_predictions, precision=args.precision,
        workers=args.workers,
    )
    if not is_main:  # a non-zero rank of a distributed run: rank 0 reports
        return 0
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print_result(result)
    if args.json_path:
        atomic_write_text(args.json_path, json.dumps(result.to_dict(), indent=1, default=float) + "\n")
    if not args.no_leaderboard:
        if args.limit is not None or dataset.init_options().get("subset"):
            print("leaderboard not updated: a --limit or subset run is not comparable with full runs", file=sys.stderr)
        else:
            from corrbench.leaderboard.tables import update_leaderboard

            update_leaderboard(args.leaderboard, result)
    return 0


def print_result(result) -> None:
    from corrbench.cli.report import bucket_tables, console as make_console, notes, per_class_table

    console = make_console()
    console.print(per_class_table(result))
    for table in bucket_tables(result):
        console.print(table)
    for line in notes(result):
        console.print(f"note: {line}")
