"""Command line: python -m minidl reproduce | sweep (see --help)."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

import torch

from .checks import ArgumentError
from .experiment import ENGINES, Result, reproduce
from .recipes import RECIPES, REPORT_TEST_ERROR, REPORT_TRAIN_ERROR, Recipe, check_recipe
from .stats import best, describe, independent, load_results, write_json


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _momentum(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1), got {text}")
    return value


def _device(text: str) -> str:
    try:
        torch.empty(0, device=torch.device(text))
    except (RuntimeError, AssertionError) as error:
        raise argparse.ArgumentTypeError(f"no usable device {text!r} ({error})") from None
    return text


def _json_path(text: str) -> str:
    folder = os.path.dirname(text) or "."
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"no folder {folder!r} to write {text!r} in")
    return text


def _sweep_file(text: str) -> float:
    """The winning lr of a `sweep --json` file: lowest mean test error."""
    try:
        results = load_results(text)
    except (OSError, ValueError) as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if not isinstance(results, list) or not results:
        raise argparse.ArgumentTypeError(f"{text} is not the file of a sweep")
    return float(best(results).config["lr"])


def _recipe_change(text: str) -> tuple[str, Any]:
    """FIELD=VALUE for a field of Recipe, the value parsed as that field's type."""
    name, _, value = text.partition("=")
    kinds = {f.name: str(f.type) for f in dataclasses.fields(Recipe)}
    if name not in kinds or not value:
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE with FIELD in {list(kinds)}")
    kind = kinds[name]
    try:
        if kind == "bool":
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(value)
            return name, value.lower() in ("true", "1")
        if kind.startswith("tuple"):
            return name, tuple(value.split(","))
        return name, {"float": float, "int": int}.get(kind, str)(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name} is {kind}, got {value!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minidl",
        description="Train the EE-559 disk classifier many times and report error statistics.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--runs", type=_positive_int, default=100, help="networks (default 100)")
    common.add_argument("--epochs", type=_positive_int, default=100, help="default 100")
    common.add_argument(
        "--batch-size", type=_positive_int, default=100, help="points per step (default 100)"
    )
    common.add_argument("--momentum", type=_momentum, default=None, help="default: the recipe's")
    common.add_argument(
        "--seed", type=int, default=0, help="0 (default): the test runs; 1: the validation runs"
    )
    common.add_argument(
        "--engine",
        choices=ENGINES,
        default="replicas",
        help="replicas (default): all runs in one pass; loop: one at a time",
    )
    common.add_argument(
        "--recipe", choices=sorted(RECIPES), default="default", help="default: default"
    )
    common.add_argument("--device", type=_device, default="cpu", help="cpu (default), cuda, ...")
    common.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    common.add_argument("--json", type=_json_path, metavar="PATH", help="also write JSON here")
    common.add_argument(
        "--set",
        type=_recipe_change,
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change a recipe field, e.g. --set bias_std=1 --set hidden=relu,relu,relu",
    )
    rep = commands.add_parser("reproduce", parents=[common], help="the report's 100-run table")
    lr = rep.add_mutually_exclusive_group()
    lr.add_argument("--lr", type=_positive_float, default=None, help="default: the recipe's")
    lr.add_argument(
        "--lr-from",
        type=_sweep_file,
        metavar="PATH",
        help="the lr with the lowest mean test error in this sweep file (validation runs)",
    )
    sweep = commands.add_parser("sweep", parents=[common], help="the protocol for several lrs")
    sweep.add_argument("--lr", type=_positive_float, nargs="+", required=True)
    return parser


def _recipe(args: argparse.Namespace, lr: float | None) -> Recipe:
    """The named recipe with --set, then --lr (or --lr-from) and --momentum, applied."""
    changes = dict(args.set)
    if lr is not None:
        changes["lr"] = lr
    if args.momentum is not None:
        changes["momentum"] = args.momentum
    return check_recipe(dataclasses.replace(RECIPES[args.recipe], **changes), "the recipe")


def _run(args: argparse.Namespace, lr: float | None) -> Result:
    progress: Any = None
    if not args.no_progress:
        try:
            from tqdm import tqdm
        except ImportError:  # tqdm comes with the notebooks extra; no bar without it
            tqdm = None
        if tqdm is not None:
            desc = f"lr={lr}" if lr else "epochs"
            progress = tqdm(total=args.epochs, desc=desc, file=sys.stderr)
    try:
        return reproduce(
            runs=args.runs,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=lr,
            recipe=_recipe(args, lr),
            seed=args.seed,
            engine=args.engine,
            device=args.device,
            on_epoch=None if progress is None else lambda e: progress.update(),
        )
    finally:
        if progress is not None:
            progress.close()


def _row(
    name: str, train: tuple[float, float], test: tuple[float, float], extra: str, runs: int = 100
) -> str:
    def cell(mean_sd: tuple[float, float]) -> str:
        sd = f"{mean_sd[1]:<5.2f}" if runs >= 2 else "-    "  # one run has no spread
        return f"{mean_sd[0]:5.2f} ± {sd}"

    return f"{name:<34} {cell(train)}  {cell(test)}  {extra}"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, run, print the table (errors in percent), write --json.

    Args:
        argv: the arguments after `python -m minidl` (None: sys.argv's).

    Returns:
        0, the exit status.

    Raises:
        SystemExit: status 2 with a usage message for bad arguments (argparse's way).

    Derived in notebooks/10_reproduction.ipynb.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    lrs = (
        args.lr if args.command == "sweep" else [args.lr if args.lr_from is None else args.lr_from]
    )
    for lr in lrs:
        try:  # every recipe is checked before any training starts
            _recipe(args, lr)
        except ArgumentError as error:
            parser.error(str(error))  # usage and exit status 2
    torch.set_grad_enabled(False)
    header = f"{'':<34} {'train error %':>14}   {'test error %':>13}"
    if args.command == "reproduce":
        result = _run(args, args.lr if args.lr_from is None else args.lr_from)
        cfg = result.config
        changes = "".join(f", {k}={v}" for k, v in args.set)
        print(
            f"{args.runs} run{'s' * (args.runs != 1)}, recipe {args.recipe!r} (lr "
            f"{cfg['lr']}, momentum {cfg['momentum']}{changes}), engine {args.engine}"
        )
        print(header)
        print(_row("report (Ferrot & Richter, 2021)", REPORT_TRAIN_ERROR, REPORT_TEST_ERROR, ""))
        restarts = sum(result.restarts)
        extra = f"restarts {restarts}, {result.seconds:.1f} s"
        print(
            _row("minidl", result.train_error_mean_sd, result.test_error_mean_sd, extra, args.runs)
        )
        if args.runs >= 2:
            diff, se = independent(result.test_error_mean_sd, args.runs, REPORT_TEST_ERROR, 100)
            print(f"test error - the report's: {describe(diff, se)} (independent means)")
            if (args.runs, args.epochs, args.batch_size) != (100, 100, 100):
                print(
                    "(the report's figures are for 100 runs of 100 epochs with batches of "
                    "100; with other settings this comparison is only indicative)"
                )
        payload: Any = result.to_json()
    else:
        results = [_run(args, lr) for lr in args.lr]
        print(f"{args.runs} runs per point, recipe {args.recipe!r}, engine {args.engine}")
        print(header)
        for lr, r in zip(args.lr, results, strict=True):
            extra = f"restarts {sum(r.restarts)}, {r.seconds:.1f} s"
            print(
                _row(f"lr {lr:g}", r.train_error_mean_sd, r.test_error_mean_sd, extra, args.runs)
            )
        payload = [r.to_json() for r in results]
    if args.json:
        write_json(payload, args.json)  # whole or not at all
    return 0


if __name__ == "__main__":
    sys.exit(main())
