"""Argument types and the flag groups that several ``mfgp`` subcommands share (data reading,
model options, auto's validation), and their translation into library options."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 needs the tomli backport (pip install tomli)
    import tomli as tomllib

__all__ = ["add_data_arguments"]


def _csv_list(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def parse_option_value(text: str) -> Any:
    """A ``--model-option`` value: a TOML literal (``16``, ``0.5``, ``true``, ``"x"``,
    ``[0, 1]``), ``none`` for None, else the text itself (``linear``)."""
    raw = text.strip()
    if raw.lower() in ("none", "null"):
        return None
    if raw in ("True", "False"):
        return raw == "True"
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def parse_model_option(text: str) -> tuple[str, str, Any]:
    """``[MODEL.]KEY=VALUE`` -> (model or ``"*"``, key, value)."""
    key, sep, raw = text.partition("=")
    model, _, name = key.strip().rpartition(".")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(
            f"expected [MODEL.]KEY=VALUE, e.g. ar1.hyperparameter_samples=16, got {text!r}"
        )
    return (model.strip() or "*", name.strip(), parse_option_value(raw))


def _options_by_model(items: Sequence[tuple[str, str, Any]] | None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for model, key, value in items or []:
        out.setdefault(model, {})[key] = value
    return out


def _add_model_option(p: argparse.ArgumentParser, *, prefixed: bool) -> None:
    what = "[MODEL.]KEY=VALUE" if prefixed else "KEY=VALUE"
    p.add_argument(
        "--model-option",
        action="append",
        type=parse_model_option,
        metavar=what,
        help="a constructor option of the model (repeatable), e.g. hyperparameter_samples=16, "
        "rho=linear, log_transform=true, trend_uncertainty=none (values are TOML literals or "
        "plain words); an unknown KEY is an error that lists the model's options"
        + ("; without MODEL. it applies to every model run" if prefixed else ""),
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _add_max_rows(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-rows-per-level",
        type=_positive_int,
        metavar="N",
        help="use a seeded random subset of at most N rows of each cheap level (the "
        "measurements are never thinned): exact GPs need memory ~ rows^2",
    )


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """Add the flags that say how to read the data file (``--fidelity-order``, ``--features``,
    ``--ignore``, ``--max-rows-per-level``, the column, decimal, sheet, cheap-level and factor
    flags); :func:`data_options` turns them into :class:`~mfgp.data.ScaleUpData` options."""
    p.add_argument("--fidelity-order", type=_csv_list, help="levels, cheapest first: a,b,c")
    p.add_argument("--features", type=_csv_list, help="operating variables to use: a,b")
    p.add_argument("--ignore", type=_csv_list, default=[], help="columns to drop: a,b")
    _add_max_rows(p)
    for role, what in (
        ("volume", "the working volume (litres, or the unit in its name: 'Size [mL]')"),
        ("time", "the culture time (hours, or the unit in its name: 'Age (d)')"),
        ("run", "the run of every row"),
        ("fidelity", "the fidelity level of every row"),
    ):
        p.add_argument(
            f"--{role}-col",
            metavar="NAME",
            help=f"the column of {what}; wins over the names mfgp recognises",
        )
    p.add_argument(
        "--decimal",
        choices=(",", "."),
        help="decimal mark of the file's numbers (default: ',' recognised in a file separated "
        "by ';' or tabs whose numbers all use it)",
    )
    p.add_argument(
        "--sheet", metavar="NAME|INDEX", help="sheet of an .xlsx workbook (default: the first)"
    )
    p.add_argument(
        "--low-fidelity-col",
        dest="low_fidelity_cols",
        type=_csv_list,
        action="extend",
        metavar="A[,B]",
        help="columns of cheap predictions beside the measured target, cheapest first; each "
        "becomes a fidelity level named by the column",
    )
    p.add_argument(
        "--categorical",
        type=_csv_list,
        action="extend",
        metavar="A[,B]",
        help="text or integer-coded columns to encode as 0/1 indicators (cell line, medium)",
    )


def data_options(args: argparse.Namespace) -> dict[str, Any]:
    """The data flags of :func:`add_data_arguments` as ScaleUpData keyword options, plus
    ``max_rows_per_level`` (for :meth:`~mfgp.data.ScaleUpData.thin_levels`)."""
    return {
        "fidelity_order": args.fidelity_order,
        "features": args.features,
        "ignore": args.ignore,
        "volume_col": args.volume_col,
        "time_col": args.time_col,
        "run_col": args.run_col,
        "fidelity_col": args.fidelity_col,
        "decimal": args.decimal,
        "sheet": args.sheet,
        "low_fidelity_cols": args.low_fidelity_cols,
        "categorical": args.categorical,
        "max_rows_per_level": args.max_rows_per_level,
    }


def _add_auto_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--candidates",
        type=_csv_list,
        metavar="A,B,...",
        help="the models auto compares (default: every applicable one; see the README)",
    )
    p.add_argument(
        "--n-jobs",
        type=int,
        metavar="N",
        help="parallel processes of auto's validation fits (default: one per core; 1: none)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run auto's validation fits on a Dask cluster (tcp://host:8786)",
    )


def _float_list(text: str) -> list[float]:
    try:
        return [float(v) for v in _csv_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas, e.g. 20000,50000, got {text!r}"
        ) from None


def _setting(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep or not name.strip() or not raw.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, e.g. rpm=120, got {text!r}")
    value: Any = raw.strip()
    try:
        value = float(value)
    except ValueError:
        pass  # a categorical level, e.g. cell_line=B
    return name.strip(), value
