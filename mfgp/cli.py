"""The ``mfgp`` command line: a thin argparse layer over the library.

Subcommands:
    run       fit models on the training volumes, evaluate on the held-out largest volumes.
    simulate  simulate one fed-batch run at a volume under a scale-up rule (mfgp.simulate).
    suggest   propose the next runs (cost-aware acquisition, mfgp.acquisition).

Errors in the user's input print one line (``error: ...``) and exit with status 2; Ctrl-C
prints one line and exits with status 130, leaving every output folder as it was. Warnings
about the data print as ``warning: ...`` lines. Progress shows as bars on a terminal and as one
line per step otherwise; ``-q`` prints errors only, ``-v`` adds mfgp's INFO detail and ``-vv``
its DEBUG detail (other libraries' log output stays at warnings).
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from mfgp import progress
from mfgp.exceptions import InputDataError, MFGPError, MFGPWarning

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 needs the tomli backport (pip install tomli)
    import tomli as tomllib

__all__ = ["build_parser", "main"]


def _csv_list(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _option_value(text: str) -> Any:
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


def _model_option(text: str) -> tuple[str, str, Any]:
    """``[MODEL.]KEY=VALUE`` -> (model or ``"*"``, key, value)."""
    key, sep, raw = text.partition("=")
    model, _, name = key.strip().rpartition(".")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(
            f"expected [MODEL.]KEY=VALUE, e.g. ar1.hyperparameter_samples=16, got {text!r}"
        )
    return (model.strip() or "*", name.strip(), _option_value(raw))


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
        type=_model_option,
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


def _data_options(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "fidelity_order": args.fidelity_order,
        "features": args.features,
        "ignore": args.ignore,
    }
    if args.max_rows_per_level is not None:
        opts["max_rows_per_level"] = args.max_rows_per_level
    return opts


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
    _add_max_rows(p)
    p.add_argument(
        "--suggest-costs",
        metavar="NAME=COST,...",
        help="also propose the next runs (e.g. lab=1,pilot=20), as if the held-out volumes "
        "had not been run; see mfgp suggest",
    )
    p.add_argument("--suggest-q", type=int, default=3, help="runs to propose (default 3)")
    p.add_argument("--suggest-goal", default="learn", choices=("learn", "optimise"))
    p.add_argument("--target-volume", type=float, help="production volume for --suggest-costs")
    _add_model_option(p, prefixed=True)
    p.set_defaults(func=_cmd_run)


def _cmd_run(args: argparse.Namespace) -> int:
    from mfgp.workflow import format_table, run

    result = run(
        args.data,
        target=args.target,
        models=args.model,
        model_options=_options_by_model(args.model_option),
        holdout_largest=args.holdout_largest,
        device=args.device,
        out=args.out,
        seed=args.seed,
        data_options=_data_options(args),
        suggest=None
        if not args.suggest_costs
        else {
            "costs": args.suggest_costs,
            "q": args.suggest_q,
            "goal": args.suggest_goal,
            "target_volume_L": args.target_volume,
        },
    )
    d = result.metrics["data"]
    print(
        f"{d['target']} from {d['features']} at fidelities {d['fidelities']}: trained on "
        f"{d['train_volumes_L']} L, held out {d['test_volumes_L']} L ({d['test_rows']} rows)"
    )
    print(format_table(result.table))
    if result.suggestions is not None:
        from mfgp.acquisition import format_suggestions

        print("next runs:")
        print(format_suggestions(result.suggestions))
    print(f"wrote {result.out_dir}/: metrics.json, predictions.csv, report.md, figures/, models/")
    return 0


def _add_simulate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate one fed-batch run at a volume under a scale-up rule",
        description="Carry a reference run (10 L, H/T = 1) to --volume with a scale-up rule and "
        "simulate the fed-batch time course (biomass, glucose, acetate, DO, titer). Prints CSV, "
        "or writes it atomically to --out.",
    )
    p.add_argument("--volume", type=float, required=True, help="working volume in litres")
    p.add_argument(
        "--rule",
        default="constant-P/V",
        help="constant-P/V (default), constant-tip-speed, constant-kLa, constant-mixing-time, "
        "constant-Re",
    )
    p.add_argument("--rpm", type=float, help="stirrer speed (overrides --rule)")
    p.add_argument("--reference-volume", type=float, default=10.0, help="litres (default 10)")
    p.add_argument("--reference-rpm", type=float, default=1000.0, help="default 1000")
    p.add_argument("--vvm", type=float, default=1.0, help="aeration (default 1)")
    p.add_argument("--feed", type=float, default=6.5, help="max glucose feed, g/L/h (6.5)")
    p.add_argument("--hours", type=float, default=36.0, help="duration (default 36)")
    p.add_argument("--n-times", type=int, default=13, help="sampling times (default 13)")
    p.add_argument("--simplified", action="store_true", help="no feed-zone gradient/heat limit")
    p.add_argument("--noise", type=float, default=0.0, help="relative noise (default 0)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="CSV file to write (default: print to stdout)")
    p.set_defaults(func=_cmd_simulate)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from mfgp.io import atomic_write_csv, check_output_file
    from mfgp.simulate import simulate

    result = simulate(
        args.volume,
        rule=args.rule,
        rpm=args.rpm,
        vvm=args.vvm,
        feed_gLh=args.feed,
        hours=args.hours,
        n_times=args.n_times,
        reference_volume_L=args.reference_volume,
        reference_rpm=args.reference_rpm,
        simplified=args.simplified,
        noise=args.noise,
        seed=args.seed,
    )
    frame = result.to_frame().round(6)
    c = result.conditions
    logging.getLogger("mfgp.cli").info(
        "%.6g L: %.1f rpm, P/V %.0f W/m3, tip speed %.2f m/s, kLa %.0f 1/h, mixing time %.1f s, "
        "feed cap %.2f g/L/h (limited by %s)",
        args.volume,
        float(c.rpm),
        float(c.p_per_v),
        float(c.tip_speed),
        float(c.kla_per_h),
        float(c.mixing_time_s),
        result.feed_cap_gLh,
        result.limited_by,
    )
    if args.out:
        check_output_file(args.out)
        atomic_write_csv(args.out, frame)
        print(f"wrote {args.out} ({len(frame)} rows)")
    else:
        print(frame.to_csv(index=False), end="")
    return 0


def _add_suggest(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "suggest",
        help="propose the next runs (scale and operating point), cost-aware",
        description="Fit a model and propose the next --q runs among the scale options of "
        "--costs: 'learn' reduces the variance of the prediction at --target-volume per unit "
        "cost, 'optimise' seeks the best response there (cost-aware multi-fidelity max-value "
        "entropy). Writes suggestions.csv and suggestions.json into --out. Scale names: lab = "
        "the largest measured volume <= 10 L in the data, pilot = the largest in (10, 1000] L, "
        "a fidelity name = that level at the target volume; or give --scales lab=2,pilot=200.",
    )
    p.add_argument("--data", required=True, help="CSV file in the long format (see README)")
    p.add_argument("--target", required=True, help="response column, e.g. titer_gL")
    p.add_argument("--goal", choices=("learn", "optimise", "optimize", "ei"), help="default learn")
    p.add_argument("--q", type=int, help="number of runs to propose (default 1)")
    p.add_argument("--costs", help="cost of each scale option: lab=1,pilot=20")
    p.add_argument("--target-volume", type=float, help="production volume in litres")
    p.add_argument("--scales", help="volume of each named option in litres: lab=2,pilot=200")
    p.add_argument("--config", help="TOML file: bounds, fixed values, options, constraints")
    p.add_argument("--model", help="model name (default ar1)")
    _add_model_option(p, prefixed=False)
    p.add_argument("--seed", type=int, help="default 0")
    p.add_argument("--candidates", type=int, help="candidate points per option (default 512)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--out", default="outputs", help="output folder (default outputs/)")
    p.add_argument("--fidelity-order", type=_csv_list, help="levels, cheapest first: a,b,c")
    p.add_argument("--features", type=_csv_list, help="operating variables to use: a,b")
    p.add_argument("--ignore", type=_csv_list, default=[], help="columns to drop: a,b")
    _add_max_rows(p)
    p.set_defaults(func=_cmd_suggest)


def _suggest_options(items: Sequence[tuple[str, str, Any]] | None) -> dict[str, Any]:
    by_model = _options_by_model(items)
    named = sorted(set(by_model) - {"*"})
    if named:
        raise InputDataError(
            f"mfgp suggest fits one model: write its options as KEY=VALUE, without the model "
            f"name (got options for {named})"
        )
    return by_model.get("*", {})


def _cmd_suggest(args: argparse.Namespace) -> int:
    from mfgp.acquisition import format_suggestions, run_suggest

    result = run_suggest(
        args.data,
        target=args.target,
        goal=args.goal,
        q=args.q,
        costs=args.costs,
        target_volume_L=args.target_volume,
        scales=args.scales,
        config=args.config,
        model=args.model,
        model_options=_suggest_options(args.model_option),
        seed=args.seed,
        n_candidates=args.candidates,
        out=args.out,
        device=args.device,
        data_options=_data_options(args),
    )
    frame = result.suggestions.frame
    print(f"goal {result.suggestions.goal}: gain = {frame.attrs.get('gain_unit')}")
    print(format_suggestions(frame))
    print(f"wrote {result.out_dir}/suggestions.csv, suggestions.json")
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
    _add_simulate(sub)
    _add_suggest(sub)
    return parser


class _Formatter(logging.Formatter):
    """``warning: ...`` / ``error: ...`` for users; INFO as the bare message; DEBUG named."""

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if record.exc_info and record.levelno <= logging.DEBUG:
            msg += "\n" + self.formatException(record.exc_info)
        if record.levelno >= logging.ERROR:
            return f"error: {msg}"
        if record.levelno >= logging.WARNING:
            return f"warning: {msg}"
        if record.levelno >= logging.INFO:
            return msg
        return f"debug {record.name}: {msg}"


def _configure_logging(verbose: int, quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(logging.ERROR if quiet else logging.WARNING)  # other libraries' output
    mfgp_level = logging.ERROR if quiet else [logging.WARNING, logging.INFO][min(verbose, 1)]
    if verbose > 1 and not quiet:
        mfgp_level = logging.DEBUG
    logging.getLogger("mfgp").setLevel(mfgp_level)
    logging.getLogger("mfgp.progress").setLevel(logging.ERROR if quiet else logging.INFO)
    progress.configure(enabled=not quiet)


@contextmanager
def _warnings_as_lines(verbose: int, quiet: bool) -> Iterator[None]:
    """Show mfgp's warnings as one ``warning: ...`` line each (not ``-q``); other libraries'
    warnings (numerical jitter, deprecations) only with ``-v``."""
    log = logging.getLogger("mfgp")

    def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if quiet:
            return
        if issubclass(category, MFGPWarning) or verbose > 0:
            log.warning("%s", message)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show  # restored by catch_warnings
        yield


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mfgp`` console script; returns the exit status (0 done, 2 bad
    input or a failed fit, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, args.quiet)
    try:
        with _warnings_as_lines(args.verbose, args.quiet):
            return int(args.func(args) or 0)
    except MFGPError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted: stopped before the end; no output was written or changed", file=sys.stderr
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
