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


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """Add the flags that say how to read the data file (``--fidelity-order``, ``--features``,
    ``--ignore``, ``--max-rows-per-level``, the column, decimal, sheet, cheap-level and factor
    flags); :func:`_data_options` turns them into :class:`~mfgp.data.ScaleUpData` options."""
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


def _data_options(args: argparse.Namespace) -> dict[str, Any]:
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
        "--model",
        default="auto",
        help="'auto' (default: chosen by forward-chaining validation over the training "
        "volumes), a model name, comma-separated names (auto,hybrid,gp), or 'all'",
    )
    p.add_argument("--holdout-largest", type=int, default=1, metavar="K", help="default 1")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--out", default="outputs", help="output folder (default outputs/)")
    p.add_argument("--seed", type=int, default=0)
    add_data_arguments(p)
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
    _add_auto_arguments(p)
    p.set_defaults(func=_cmd_run)


def _cmd_run(args: argparse.Namespace) -> int:
    from mfgp.jobs import format_table, run

    result = run(
        args.data,
        target=args.target,
        models=args.model,
        candidates=args.candidates,
        n_jobs=args.n_jobs,
        scheduler=args.scheduler,
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
    if result.selection is not None:
        sel = result.selection
        scores = ", ".join(
            f"{n} {v:.3g}" for n, v in sorted(sel.scores.items(), key=lambda kv: kv[1])
        )
        print(f"auto chose {sel.chosen} (mean validation {sel.metric.upper()}: {scores or 'none'})")
    print("at harvest (the end point of each held-out run):")
    print(format_table(result.table))
    if result.suggestions is not None:
        from mfgp.acquisition import format_suggestions

        print("next runs:")
        print(format_suggestions(result.suggestions))
    print(f"wrote {result.out_dir}/: metrics.json, predictions.csv, report.md, figures/, models/")
    return 0


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


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="fit on every row and predict production-scale volumes and conditions",
        description="Fit on every row of --data and predict the target at --volume (or at the "
        "conditions of --conditions FILE), with 95 %% bands, the probability of meeting "
        "--spec, and warnings wherever the request leaves the data. Settings not given with "
        "--at are the largest measured scale's set point carried to each volume by --rule. "
        "Writes predictions.csv, model/, report.md (with the scale-up figure) and metrics.json "
        "into --out.",
    )
    p.add_argument("--data", required=True, help="data file (CSV or .xlsx; see README)")
    p.add_argument("--target", required=True, help="response column, e.g. titer_gL")
    p.add_argument("--volume", type=_float_list, help="volumes to predict, litres: 20000,50000")
    p.add_argument(
        "--at",
        action="append",
        type=_setting,
        metavar="NAME=VALUE",
        help="a setting at the predicted volumes (repeatable): --at rpm=120 --at vvm=0.8",
    )
    p.add_argument("--conditions", help="a file of conditions to predict, in the data's columns")
    p.add_argument("--time", type=float, help="culture time, hours (default: harvest)")
    p.add_argument("--spec", help="specification, e.g. '>=5.0' or '4..6': adds p_spec")
    p.add_argument("--model", default="auto", help="'auto' (default) or a model name")
    p.add_argument(
        "--rule",
        default="constant-P/V",
        help="scale-up rule that carries the stirrer speed: constant-P/V (default), "
        "constant-tip-speed, constant-kLa, constant-mixing-time, constant-Re",
    )
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--out", default="prediction", help="output folder (default prediction/)")
    p.add_argument("--seed", type=int, default=0)
    add_data_arguments(p)
    _add_model_option(p, prefixed=True)
    _add_auto_arguments(p)
    p.set_defaults(func=_cmd_predict)


def _cmd_predict(args: argparse.Namespace) -> int:
    from mfgp.jobs.predict import predict

    result = predict(
        args.data,
        target=args.target,
        volumes=args.volume,
        at=dict(args.at or []),
        conditions=args.conditions,
        time_h=args.time,
        spec=args.spec,
        model=args.model,
        model_options=_options_by_model(args.model_option),
        rule=args.rule,
        out=args.out,
        seed=args.seed,
        data_options=_data_options(args),
        device=args.device,
        candidates=args.candidates,
        n_jobs=args.n_jobs,
        scheduler=args.scheduler,
    )
    if result.selection is not None and result.selection.scores:
        print(f"auto chose {result.model_name} by forward-chaining validation over volumes")
    print(f"{args.target} predicted with {result.model_name} (95 % predictive bands):")
    print(result.predictions.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    for w in result.warnings:
        print(f"note: {w}")
    print(f"wrote {result.out_dir}/: predictions.csv, report.md, figures/, model/, metrics.json")
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
    p.add_argument("--model", help="model name, or auto (default: hybrid or ar1, by validation)")
    _add_model_option(p, prefixed=False)
    p.add_argument("--seed", type=int, help="default 0")
    p.add_argument("--candidates", type=int, help="candidate points per option (default 512)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--out", default="outputs", help="output folder (default outputs/)")
    add_data_arguments(p)
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
    _add_predict(sub)
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
    saved = _logging_state()
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
    finally:
        _restore_logging(saved)


_LOGGERS = ("", "mfgp", "mfgp.progress")


def _logging_state() -> dict[str, Any]:
    """The logging and progress settings that :func:`main` changes, to put back afterwards
    (``main`` called from Python, e.g. a notebook or a test, leaves no trace)."""
    state: dict[str, Any] = {n: logging.getLogger(n).level for n in _LOGGERS}
    state["handlers"] = list(logging.getLogger().handlers)
    state["progress"] = progress.setting()
    return state


def _restore_logging(state: dict[str, Any]) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in state["handlers"]:
        root.addHandler(h)
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(state[name])
    progress.configure(enabled=state["progress"])


if __name__ == "__main__":
    sys.exit(main())
