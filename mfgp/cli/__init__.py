"""The ``mfgp`` command line: a thin argparse layer over the library.

Subcommands:
    predict   fit on every row and predict the target at new (production) volumes.
    run       fit models on the training volumes, evaluate on the held-out largest volumes.
    simulate  simulate one fed-batch run at a volume under a scale-up rule (mfgp.simulate).
    suggest   propose the next runs (cost-aware acquisition, mfgp.acquisition).
    example   list the shipped data sets or copy one into a file (mfgp.datasets).

Errors in the user's input print one line (``error: ...``) and exit with status 2; Ctrl-C
prints one line and exits with status 130, leaving every output folder as it was. Warnings
about the data print as ``warning: ...`` lines. Progress shows as bars on a terminal and as one
line per step otherwise; ``-q`` prints errors only, ``-v`` adds mfgp's INFO detail and ``-vv``
its DEBUG detail (other libraries' log output stays at warnings).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mfgp.cli.arguments import add_data_arguments as add_data_arguments
from mfgp.cli.arguments import data_options as data_options
from mfgp.cli.arguments import parse_model_option as parse_model_option
from mfgp.cli.arguments import parse_option_value as parse_option_value
from mfgp.cli.commands import _add_example, _add_predict, _add_run, _add_simulate, _add_suggest
from mfgp.cli.console import (
    _configure_logging,
    _logging_state,
    _restore_logging,
    _warnings_as_lines,
)
from mfgp.exceptions import MFGPError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``mfgp`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="mfgp", description="Multi-fidelity GP co-kriging for bioreactor scale-up."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(sub)
    _add_predict(sub)
    _add_simulate(sub)
    _add_suggest(sub)
    _add_example(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mfgp`` console script; returns the exit status (0 done, 2 bad
    input or a failed fit, 130 interrupted)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C while the logging or warnings are being restored
        print(_INTERRUPTED, file=sys.stderr)
        return 130


_INTERRUPTED = "interrupted: stopped before the end; no output was written or changed"


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    saved = _logging_state()
    _configure_logging(args.verbose, args.quiet)
    try:
        with _warnings_as_lines(args.verbose, args.quiet):
            return int(args.func(args) or 0)
    except MFGPError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(_INTERRUPTED, file=sys.stderr)
        return 130
    finally:
        _restore_logging(saved)
