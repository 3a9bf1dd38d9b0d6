"""The ``mfgp`` command line: a thin argparse layer over the library.

Subcommands:
    run       fit models on the training volumes, evaluate on the held-out largest volumes.

Errors in the user's input print one line (``error: ...``) and exit with status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from mfgp.exceptions import MFGPError

__all__ = ["build_parser", "main"]


def _csv_list(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="fit models and evaluate them on the held-out largest volumes",
        description="Fit on all but the K largest measured volumes, predict those, and write "
        "metrics.json, predictions.csv and the fitted models into --out.",
    )
    p.add_argument("--data", required=True, help="CSV file in the long format (see README)")
    p.add_argument("--target", required=True, help="response column, e.g. C or titer_gL")
    p.add_argument(
        "--model", default="gp", help="model name, comma-separated names, or 'all' (default gp)"
    )
    p.add_argument("--holdout-largest", type=int, default=1, metavar="K", help="default 1")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--out", default="outputs", help="output folder (default outputs/)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fidelity-order", type=_csv_list, help="levels, cheapest first: a,b,c")
    p.add_argument("--features", type=_csv_list, help="operating variables to use: a,b")
    p.add_argument("--ignore", type=_csv_list, default=[], help="columns to drop: a,b")
    p.set_defaults(func=_cmd_run)


def _cmd_run(args: argparse.Namespace) -> int:
    from mfgp.workflow import format_table, run

    result = run(
        args.data,
        target=args.target,
        models=args.model,
        holdout_largest=args.holdout_largest,
        device=args.device,
        out=args.out,
        seed=args.seed,
        data_options={
            "fidelity_order": args.fidelity_order,
            "features": args.features,
            "ignore": args.ignore,
        },
    )
    d = result.metrics["data"]
    print(
        f"{d['target']}: trained on {d['train_volumes_L']} L, "
        f"held out {d['test_volumes_L']} L ({d['test_rows']} rows)"
    )
    print(format_table(result.table))
    print(f"wrote {result.out_dir}/metrics.json, predictions.csv, models/")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``mfgp`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="mfgp", description="Multi-fidelity GP co-kriging for bioreactor scale-up."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mfgp`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.ERROR if args.quiet else (logging.DEBUG if args.verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except MFGPError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
