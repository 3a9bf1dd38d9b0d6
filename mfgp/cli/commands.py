"""The ``mfgp`` subcommands: each one's parser (``_add_*``) and what it does (``_cmd_*``), a thin
layer over :mod:`mfgp.jobs`, :mod:`mfgp.simulate` and :mod:`mfgp.acquisition`."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mfgp import datasets
from mfgp.acquisition import format_suggestions, run_suggest
from mfgp.cli.arguments import (
    _add_auto_arguments,
    _add_model_option,
    _float_list,
    _options_by_model,
    _setting,
    add_data_arguments,
    data_options,
)
from mfgp.exceptions import InputDataError
from mfgp.io import atomic_write_bytes, atomic_write_csv, check_output_file
from mfgp.jobs import format_table, run
from mfgp.jobs.predict import predict
from mfgp.simulate import simulate


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
        data_options=data_options(args),
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
        print("next runs:")
        print(format_suggestions(result.suggestions))
    print(f"wrote {result.out_dir}/: metrics.json, predictions.csv, report.md, figures/, models/")
    return 0


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="fit on every row and predict production-scale volumes and conditions",
        description="Fit on every row of --data and predict the target at --volume (or at the "
        "conditions of --conditions FILE), with 95 % bands, the probability of meeting "
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
        data_options=data_options(args),
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
        description="Fit a model and propose the next --q runs among the vessels of --costs, "
        "each inside its own operating window (its runs' range plus 10 % each side) and the "
        "engineering limits: 'learn' narrows the prediction at --target-volume most per unit "
        "cost, 'optimise' seeks the best response there (cost-aware multi-fidelity max-value "
        "entropy) and recommends a production set point. Vessels are named by volume (2L, "
        "200L, 10m3); a cheap level's name means that level at the target volume; lab and "
        "pilot mean the largest measured vessel of <= 10 L and of (10, 1000] L. Writes "
        "suggestions.csv (the runs as rows of the data, response blank, and mfgp_ notes) and "
        "suggestions.json into --out.",
    )
    p.add_argument("--data", required=True, help="CSV file in the long format (see README)")
    p.add_argument("--target", required=True, help="response column, e.g. titer_gL")
    p.add_argument("--goal", choices=("learn", "optimise", "optimize", "ei"), help="default learn")
    p.add_argument("--q", type=int, help="number of runs to propose (default 1)")
    p.add_argument("--costs", help="cost of one run in each vessel: 2L=1,200L=20")
    p.add_argument("--cost-unit", help="what the costs are in, for the output (EUR, h, ...)")
    p.add_argument(
        "--pending", help="CSV of runs already planned (e.g. an earlier suggestions.csv)"
    )
    p.add_argument("--spec", type=float, help="optimise: P(response >= SPEC) at the set point")
    p.add_argument(
        "--operating",
        help="the operating variables to choose, comma-separated (default: every feature "
        "but volume and time; the others are held at each vessel's median)",
    )
    p.add_argument("--target-volume", type=float, help="production volume in litres")
    p.add_argument("--scales", help="volume of each named option in litres: lab=2,pilot=200")
    p.add_argument("--config", help="TOML file: bounds, fixed values, options, constraints")
    p.add_argument("--model", help="model name, or auto (default: hybrid or ar1, by validation)")
    _add_model_option(p, prefixed=False)
    p.add_argument("--seed", type=int, help="default 0")
    p.add_argument("--candidates", type=int, help="candidate points per vessel (default 256)")
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
        data_options=data_options(args),
        pending=args.pending,
        spec=args.spec,
        cost_unit=args.cost_unit,
        operating=None if args.operating is None else _names(args.operating),
    )
    res = result.suggestions
    frame = res.frame
    summary = res.summary
    print(
        f"goal {res.goal}: next {len(frame)} run(s), total cost {summary['total_cost']:g}"
        + (f" {summary['cost_unit']}" if summary.get("cost_unit") else "")
    )
    print(format_suggestions(frame))
    print(
        f"mean 95 % band width at {summary['target_volume_L']:g} L over the production window: "
        f"{summary['window_width95_now']:.3g} now, {summary['window_width95_after']:.3g} "
        "expected after these runs"
    )
    if res.set_point is not None:
        sp = res.set_point
        settings = ", ".join(f"{k} {v}" for k, v in sp.settings.items())
        line = (
            f"recommended set point at {summary['target_volume_L']:g} L: {settings}; predicted "
            f"{sp.mean:.3g} [{sp.lower:.3g}, {sp.upper:.3g}]"
        )
        if sp.probability is not None:
            line += f"; P(>= {sp.spec:g}) = {sp.probability:.2f}"
        print(line)
    print(f"wrote {result.out_dir}/suggestions.csv, suggestions.json")
    return 0


def _names(text: str) -> list[str]:
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    if not names:
        raise InputDataError("--operating needs column names separated by commas, e.g. rpm,vvm")
    return names


def _add_example(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "example",
        help="list the data sets shipped with mfgp, or copy one into a file of your own",
        description="Without NAME, list the shipped data sets. With NAME, copy that data set to "
        "--out (default NAME.csv in the current folder; an existing file is never replaced) and "
        "print a command to try on it.",
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="a shipped data set")
    p.add_argument("--out", help="CSV file to write (default NAME.csv)")
    p.set_defaults(func=_cmd_example)


def _cmd_example(args: argparse.Namespace) -> int:
    if args.name is None:
        for name in datasets.names():
            print(f"{name:26s} {datasets.DESCRIPTIONS[name]}")
        print("copy one with: mfgp example NAME [--out FILE]")
        return 0
    source = datasets.file(args.name)
    out = Path(args.out or f"{args.name}.csv")
    if out.exists():
        raise InputDataError(
            f"--out {out} exists; mfgp never replaces a file of yours: give another --out "
            "or remove it"
        )
    check_output_file(out)
    atomic_write_bytes(out, source.read_bytes())
    target, options = datasets.TARGETS[args.name]
    rows = len(datasets.load(args.name))
    print(f"wrote {out} ({rows} rows, target {target})")
    print(f"try: mfgp run --data {out} --target {target} {options}".rstrip())
    return 0
