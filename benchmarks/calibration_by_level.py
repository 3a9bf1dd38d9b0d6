"""Calibration of mfgp's multi-fidelity models level by level, on the standard test functions.

``accuracy_test_functions.py`` scores the top level only. When a model's top-level bands miss
(coverage of the 95 % interval far from 0.95), this script shows which level the miss comes
from: every model is fitted once per problem and seed, on the same nested Sobol design as the
accuracy benchmark, and predicts **every level** at the same 1000 Latin-hypercube test inputs,
scored against that level's true values. Per level it reports

- ``nrmse``: the level's RMSE over the standard deviation of the *top* level's test values (one
  scale for all levels, so the levels' errors can be compared with the top level's);
- ``coverage95``: coverage of the 95 % interval;
- ``z_rms``: the root mean square of the standardised errors ``(y - mean) / sd``; 1 for
  calibrated Gaussian bands, above 1 when the bands are too narrow, below 1 when too wide;
- ``nlpd``.

NLPD and coverage are under each model's own predictive distribution (``predict``: the mixture
over hyperparameter draws or NARGP's Monte Carlo paths, log-normal with a log transform);
``z_rms`` uses its mean and variance.

The top level's figures equal the accuracy benchmark's for the same model and seed (a test
checks it). Level 0 of an AR1 model is a GP on the cheapest data; a level above adds its
discrepancy (AR1) or its map of the level below (NARGP), so a miss that appears only at the
top level comes from the top level's own GP, and one present from level 0 is carried up.

Usage::

    .venv/bin/python benchmarks/calibration_by_level.py                  # 3 problems, 5 seeds
    .venv/bin/python benchmarks/calibration_by_level.py --problems park,branin \\
        --models ar1_sim,nargp --seeds 3 --threads 1 --out /tmp/cal

Writes ``calibration_by_level.{csv,json,md}`` into ``--out`` (default ``benchmarks/results/``)
after every seed, so an interrupted run keeps what it finished, and the figure
``calibration_by_level.png`` at the end.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import logging
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import torch

from mfgp import io, metrics
from mfgp.benchmarks.functions import DEFAULT_SIZES, FUNCTIONS, get_function, make_problem
from mfgp.benchmarks.harness import parse_seeds
from mfgp.prediction import Prediction

OUT = Path(__file__).resolve().parent / "results"
NAME = "calibration_by_level"
# the problems whose top-level coverage misses [0.90, 0.98] for some mfgp model
DEFAULT_PROBLEMS = ("forrester", "nonlinear_pair", "currin")
DEFAULT_MODELS = ("ar1_sim", "ar1_sim_plugin", "nargp", "nargp_mix")


@functools.cache
def _accuracy_script() -> ModuleType:
    """``accuracy_test_functions.py`` (its model settings and run provenance are reused, so
    that the two benchmarks fit exactly the same models), loaded once per process."""
    path = Path(__file__).resolve().parent / "accuracy_test_functions.py"
    spec = importlib.util.spec_from_file_location("accuracy_test_functions", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def level_metrics(
    y: torch.Tensor,
    mean: torch.Tensor,
    var: torch.Tensor,
    scale: float,
    prediction: Prediction | None = None,
) -> dict:
    """Scores of one level's prediction: ``nrmse`` (RMSE / ``scale``), ``coverage95``,
    ``z_rms`` (root mean square of ``(y - mean) / sd``) and ``nlpd``. Given the model's
    ``prediction``, NLPD and coverage are under its predictive distribution (its bounds);
    otherwise under the Gaussian of ``mean`` and ``var``.

    >>> y = torch.tensor([0.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    >>> m = torch.tensor([1.0, -1.0, 3.0, -3.0], dtype=torch.float64)
    >>> r = level_metrics(y, m, torch.ones(4, dtype=torch.float64), scale=2.0)
    >>> round(r["z_rms"], 6), r["coverage95"], round(r["nrmse"], 6)
    (2.236068, 0.5, 1.118034)
    """
    y, mean, var = y.double(), mean.double(), var.double().clamp_min(0)
    sd = var.sqrt()
    z = (y - mean) / sd.clamp_min(torch.finfo(torch.float64).tiny)
    if prediction is None:
        prediction = Prediction.gaussian(mean, var)
    prediction = prediction.to("cpu", torch.float64)
    return {
        "nrmse": metrics.rmse(y, mean) / scale,
        "coverage95": metrics.coverage(y, prediction.lower, prediction.upper),
        "z_rms": float(z.pow(2).mean().sqrt()),
        "nlpd": metrics.nlpd(y, prediction),
    }


def score_levels(model: Any, fn: Any, Xt: torch.Tensor, Yt: torch.Tensor) -> list[dict]:
    """Every level's scores for a fitted ``model`` at the test inputs ``Xt`` (fidelity column
    replaced level by level); ``Yt`` are the top level's test values (the NRMSE scale)."""
    scale = float(Yt.double().std(unbiased=False))
    rows = []
    for level in range(fn.n_levels):
        X = Xt.clone()
        X[:, -1] = level
        with torch.no_grad():
            pred = model.predict(X)
        truth = fn.evaluate(Xt[:, :-1], level).reshape(-1)
        mean = pred.mean.detach().reshape(-1).cpu()
        var = pred.variance.detach().reshape(-1).cpu()
        scores = level_metrics(truth.cpu(), mean, var, scale, prediction=pred)
        rows.append({"level": level, **scores})
    return rows


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Median over seeds of every score, per problem, model and level."""
    ok = rows[rows["status"] == "ok"]
    cols = ["nrmse", "coverage95", "z_rms", "nlpd"]
    out = ok.groupby(["problem", "model", "level"], sort=False)[cols].median()
    out["seeds"] = ok.groupby(["problem", "model", "level"], sort=False)["seed"].nunique()
    return out.reset_index()


def markdown(rows: pd.DataFrame, meta: dict[str, Any]) -> str:
    summ = summarise(rows)
    sizes = "; ".join(f"{p} {'/'.join(map(str, n))}" for p, n in meta["sizes"].items())
    lines = [
        "# Calibration level by level",
        "",
        f"Date: {meta['date']}. Command: `{meta['command']}` (mfgp revision "
        f"{meta['revision']}, torch threads {meta['threads']}).",
        "",
        f"Median over seeds {meta['seeds']} of each level's scores at the same "
        f"{meta['n_test']} test inputs: NRMSE (RMSE "
        "over the std of the top level's test values), 95 % coverage, `z_rms` (root mean square "
        "of the standardised errors: 1 for calibrated bands, above 1 too narrow, below 1 too "
        "wide) and NLPD. The top level's rows equal `accuracy_test_functions.md` for the same "
        f"seeds. Level 0 is the cheapest. Sizes per level: {sizes}.",
        "",
        f"![z_rms per level, every seed a dot]({NAME}.png)",
        "",
        "| problem | model | level | NRMSE | coverage | z_rms | NLPD | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in summ.itertuples():
        lines.append(
            f"| {r.problem} | {r.model} | {r.level} | {r.nrmse:.3g} | {r.coverage95:.3f} | "
            f"{r.z_rms:.3g} | {r.nlpd:.3f} | {r.seeds} |"
        )
    failed = rows[rows["status"] != "ok"]
    if len(failed):
        lines += ["", "Not scored:", ""]
        for r in failed.itertuples():
            lines.append(f"- {r.problem} seed {r.seed} {r.model}: {r.status}")
    return "\n".join(lines) + "\n"


def plot(rows: pd.DataFrame, path: Path) -> None:
    """``z_rms`` per level, one panel per problem, one colour per model, every seed a dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mfgp.report import save_figure

    ok = rows[rows["status"] == "ok"]
    problems = list(dict.fromkeys(ok["problem"]))
    if not problems:
        return
    models = list(dict.fromkeys(ok["model"]))
    fig, axes = plt.subplots(1, len(problems), figsize=(3.6 * len(problems), 3.4), squeeze=False)
    for ax, p in zip(axes[0], problems, strict=True):
        sub = ok[ok["problem"] == p]
        n_levels = int(sub["level"].max()) + 1
        for i, m in enumerate(models):
            sm = sub[sub["model"] == m]
            if sm.empty:
                continue
            dx = (i - (len(models) - 1) / 2) * 0.08
            ax.scatter(sm["level"] + dx, sm["z_rms"], s=12, alpha=0.6, color=f"C{i}")
            med = sm.groupby("level")["z_rms"].median()
            ax.plot(med.index + dx, med.values, "-", color=f"C{i}", label=m)
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
        ax.set_yscale("log")
        ax.set_xticks(range(n_levels))
        ax.set_xlabel("level (0 = cheapest)")
        ax.set_title(p)
    axes[0][0].set_ylabel("z_rms (1 = calibrated; > 1 bands too narrow)")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def run_meta(script: str, argv: list[str] | None, **extra: Any) -> dict[str, Any]:
    """Provenance of a run of ``benchmarks/<script>.py`` (command, date, revision, threads,
    load, machine, versions; the accuracy benchmark's :func:`new_run`) plus ``extra``, which
    may override any of them. Shared by the diagnostic scripts built on this one."""
    acc = _accuracy_script()
    args_list = sys.argv[1:] if argv is None else argv
    run = acc.new_run("python " + " ".join([f"benchmarks/{script}.py", *args_list]))
    meta = {
        "script": f"benchmarks/{script}.py",
        "command": run["command"],
        "date": run["date"],
        "revision": run["revision"],
        "threads": run["torch_threads"],
        "load_average_at_start": run["load_average_at_start"],
        "machine": acc.machine_info(),
        "versions": io.versions(),
    }
    return {**meta, **extra}


def write_results(
    out: Path,
    name: str,
    records: list[dict[str, Any]],
    meta: dict[str, Any],
    summarise: Callable[[pd.DataFrame], pd.DataFrame],
    markdown: Callable[[pd.DataFrame, dict[str, Any]], str],
) -> None:
    """Write ``<name>.csv`` (the records), ``.json`` (``meta`` and the summary) and ``.md``
    into ``out``, each atomically (temp file, then rename)."""
    frame = pd.DataFrame(records)
    io.atomic_write_csv(out / f"{name}.csv", frame)
    io.atomic_write_json(
        out / f"{name}.json",
        {**meta, "summary": summarise(frame).to_dict("records") if len(frame) else []},
    )
    io.atomic_write_text(out / f"{name}.md", markdown(frame, meta))


def main(argv: list[str] | None = None) -> int:
    acc = _accuracy_script()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="5", help="number of seeds (0..N-1) or a comma list")
    ap.add_argument(
        "--problems",
        default=",".join(DEFAULT_PROBLEMS),
        help=f"comma list from {', '.join(sorted(FUNCTIONS))}",
    )
    ap.add_argument(
        "--models",
        default=",".join(DEFAULT_MODELS),
        help=f"comma list from {', '.join(acc.MFGP_MODELS)}",
    )
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="1 restart per fit (a smoke run)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    seeds = parse_seeds(args.seeds)
    problems = [p.strip() for p in args.problems.split(",") if p.strip()]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for p in problems:
        get_function(p)  # raises a clear error for unknown names
    unknown = sorted(set(models) - set(acc.MFGP_MODELS))
    if unknown:
        ap.error(f"unknown models {unknown}; choose from {', '.join(acc.MFGP_MODELS)}")
    meta = run_meta(
        NAME,
        argv,
        seeds=seeds,
        n_test=args.n_test,
        quick=args.quick,
        sizes={p: list(DEFAULT_SIZES[p]) for p in problems},
    )
    args.out.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    for p in problems:
        fn = get_function(p)
        for seed in seeds:
            X, Y, Xt, Yt = make_problem(fn, DEFAULT_SIZES[p], seed=seed, n_test=args.n_test)
            for m in models:
                base = {"problem": p, "seed": seed, "model": m}
                t0 = time.perf_counter()
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        model = acc.make_model(m, args.quick).factory().fit((X, Y), seed=seed)
                        levels = score_levels(model, fn, Xt, Yt)
                except Exception as err:  # noqa: BLE001 - a failed fit is a result, recorded
                    records.append({**base, "status": f"failed: {type(err).__name__}: {err}"})
                    print(f"{p:15s} seed {seed} {m:15s} {records[-1]['status'][:100]}")
                    continue
                secs = time.perf_counter() - t0
                for r in levels:
                    records.append({**base, "status": "ok", **r, "fit_predict_s": secs})
                print(
                    f"{p:15s} seed {seed} {m:15s} "
                    + "  ".join(
                        f"L{r['level']} cov {r['coverage95']:.3f} z_rms {r['z_rms']:.3g}"
                        for r in levels
                    )
                    + f"  {secs:.1f}s",
                    flush=True,
                )
            write_results(args.out, NAME, records, meta, summarise, markdown)
    plot(pd.DataFrame(records), args.out / f"{NAME}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
