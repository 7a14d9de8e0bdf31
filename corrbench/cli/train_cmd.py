"""``corrbench train``: train a method with its paper's recipe (or any dataset), checkpoints and resume.

Without ``--dataset`` the recipe's own data is used (``--recipe`` picks another recipe of the
method's preset, ``--show-recipe`` prints it).  Under ``torchrun --nproc-per-node N -m corrbench
train ...`` every process trains its share of each batch (see :mod:`corrbench.training.ddp`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, fields, replace

#: Command-line flags that override a field of the recipe (flag dest -> TrainConfig field).
OVERRIDES = ("epochs", "batch_size", "lr", "max_minutes", "pairs_per_epoch", "seed", "accumulate", "precision",
             "save_every_steps", "workers")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from corrbench.cli.run_cmd import add_common_method_args, add_dataset_option_arg

    parser = subparsers.add_parser("train", help="train a method (paper recipes, validation, checkpoints + resume)")
    add_common_method_args(parser)
    parser.add_argument("--recipe", default=None,
                        help="PRESET (its default recipe) or PRESET:NAME, e.g. paper:spair (default: the preset's own)")
    parser.add_argument("--show-recipe", action="store_true", help="print the recipe that would run, then exit")
    parser.add_argument("--dataset", default=None, help="training data (default: the recipe's)")
    add_dataset_option_arg(parser)
    parser.add_argument("--split", default=None, help="training split (default: the recipe's, else train)")
    parser.add_argument("--root", default=None)
    parser.add_argument("--out", default=None, help="checkpoint folder (default: runs/<method>-<dataset>)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None, help="pairs per update, over all processes")
    parser.add_argument("--accumulate", type=int, default=None, help="micro-batches per update (same update, less memory)")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default=None,
                        help="autocast for training (fp16 with a gradient scaler); default: the recipe's (fp32)")
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--max-minutes", type=float, default=None, help="wall-clock budget")
    parser.add_argument("--pairs-per-epoch", type=int, default=None)
    parser.add_argument("--save-every-steps", type=int, default=None, help="also checkpoint every N updates mid-epoch")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None,
                        help="threads reading the next updates' pairs ahead (default 0; 4-8 keep a GPU busy)")
    parser.add_argument("--no-resume", action="store_true", help="start over even if OUT/last.pth exists")
    val = parser.add_argument_group("validation (best.pth)")
    val.add_argument("--no-val", action="store_true", help="no validation, even if the recipe has one")
    val.add_argument("--val-dataset", default=None, help="validate on this dataset (default: the recipe's)")
    val.add_argument("--val-split", default=None)
    val.add_argument("--val-root", default=None)
    val.add_argument("--val-dataset-option", "-D", action="append", default=[], metavar="KEY=VALUE",
                     help="option of the validation dataset, repeatable")
    val.add_argument("--val-protocol", default=None)
    val.add_argument("--val-metric", default=None, help="summary key to select on (default pck@0.1)")
    val.add_argument("--val-every", type=int, default=None, help="validate every N epochs")
    val.add_argument("--val-every-steps", type=int, default=None, help="validate every N updates instead")
    val.add_argument("--val-limit", type=int, default=None, help="validate on the first N pairs only")
    parser.set_defaults(handler=handle)


def recipe_config(args: argparse.Namespace, method):
    """The recipe with the command line's overrides; validation as the recipe says unless told otherwise."""
    from corrbench.training import Validation

    config = method.train_recipe(args.recipe)
    known = {f.name for f in fields(config)}
    config = replace(config, **{k: getattr(args, k) for k in OVERRIDES if getattr(args, k) is not None and k in known})
    validation = None if args.no_val else config.validation
    if args.val_dataset is not None:
        validation = Validation(dataset=args.val_dataset, options={})
    if validation is not None:
        from corrbench.cli.run_cmd import parse_options

        changes = {"split": args.val_split, "protocol": args.val_protocol, "metric": args.val_metric,
                   "every": args.val_every, "every_steps": args.val_every_steps, "limit": args.val_limit}
        validation = replace(validation, **{k: v for k, v in changes.items() if v is not None},
                             options={**validation.options,
                                      **parse_options(args.val_dataset_option, flag="--val-dataset-option")})
    return replace(config, validation=validation)


def training_data(args: argparse.Namespace, config):
    """``--dataset`` (with ``--split`` and ``-d``), else the recipe's dataset, split and options."""
    import corrbench
    from corrbench.cli.run_cmd import parse_options
    from corrbench.errors import UsageError

    options = parse_options(args.dataset_option, flag="--dataset-option")
    name = args.dataset or config.dataset
    if name is None:
        raise UsageError(f"the recipe of '{args.method}' names no training data; give --dataset")
    own = name == config.dataset
    split = args.split or (config.split if own else "train")
    return corrbench.load_dataset(name, root=args.root, split=split,
                                  **{**(config.dataset_options if own else {}), **options})


def handle(args: argparse.Namespace) -> int:
    from corrbench.cli.run_cmd import build_method, parse_options
    from corrbench.errors import UsageError
    from corrbench.eval.distributed import env_world
    from corrbench.registry import METHOD_GROUP, resolve
    from corrbench.training import TrainableMethod, train
    from corrbench.training.selection import load_validation_data

    resolve(METHOD_GROUP, args.method)
    method = build_method(args)
    if not isinstance(method, TrainableMethod):
        raise UsageError(f"method '{args.method}' has nothing to train")
    config = recipe_config(args, method)
    explicit = parse_options(args.option)
    needed = {k: v for k, v in config.method_options.items() if k not in explicit and method.options.get(k) != v}
    if needed:  # the recipe's method options (e.g. RTN's stage), under the user's own -o
        args.option = [*args.option, *(f"{k}={json.dumps(v)}" for k, v in needed.items())]
        method = build_method(args)
    if args.show_recipe:
        print(json.dumps({"method": args.method, "config": method.options.get("config"), "recipe": args.recipe,
                          "train": asdict(config)}, indent=1, default=str))
        return 0
    dataset = training_data(args, config)
    val_data = None
    if config.validation is not None:
        val_data = load_validation_data(config.validation, root=args.val_root)
    out = args.out or f"runs/{args.method}-{dataset.name}"
    summary = train(method, dataset, config, out, resume=not args.no_resume, progress=sys.stderr.isatty(),
                    val_data=val_data)
    if env_world()[0] != 0:
        return 0
    budget = " (stopped by the time budget)" if summary.stopped_by_budget else ""
    processes = f" on {summary.world_size} processes" if summary.world_size > 1 else ""
    print(f"trained {args.method} for {summary.epochs_done} epoch(s), {summary.steps} steps{processes} in "
          f"{summary.seconds:.0f}s{budget}; last loss {summary.last_loss:.4f}; checkpoint {summary.checkpoint}")
    if summary.best is not None:
        best = summary.best
        print(f"best {best['metric']} {best['value']:.4g} on {best['dataset']}/{best['split']} ({best['protocol']}) "
              f"after {best['epoch']:g} epoch(s), step {best['step']}: {out}/best.pth")
    return 0
