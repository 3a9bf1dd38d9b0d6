"""Missed bands: wrong hyperparameters or the wrong model? Refits with reference hyperparameters.

A GP's 95 % bands can miss for two reasons: the kernel hyperparameters fitted to the few
training points are off (then better inference of the hyperparameters would fix them), or no
setting of the hyperparameters gives both accurate means and calibrated bands with that kernel
(then only another model would). This script separates the two on the standard test functions.
For every problem, seed and model it scores three fits at the same 1000 top-level test inputs
as ``accuracy_test_functions.py``:

- ``fitted``: the model fitted on the benchmark's design (the accuracy benchmark's row);
- ``reference``: the same model on the same design, with its hyperparameters taken from a fit
  to a ``--factor`` times larger nested design of the same function (an independent Sobol
  design, seed ``1000 + seed``) and kept as they are (``fit(..., warm_start=large,
  restarts=1, maxiter=0)``): the hyperparameters the function calls for, conditioned on the
  benchmark's points;
- ``large_design``: the model fitted on the larger design itself.

Hyperparameters live in each fit's own units (features scaled to the unit cube of the design,
outputs standardised with the design's statistics); the larger design spans the same cube and
its output statistics differ by a few per cent, so ``reference`` carries them over with that
approximation. An AR1 model with ``log_transform="auto"`` keeps the larger fit's choice.

Scores: NRMSE, coverage of the 95 % interval, ``z_rms`` (root mean square of ``(y - mean) /
sd``: 1 for calibrated bands, above 1 too narrow) and NLPD, as in ``calibration_by_level.py``.

Usage::

    .venv/bin/python benchmarks/hyperparameter_oracle.py                 # 7 problems, 5 seeds
    .venv/bin/python benchmarks/hyperparameter_oracle.py --problems currin --seeds 2 \\
        --models ar1_sim_plugin --factor 3 --out /tmp/oracle

Writes ``hyperparameter_oracle.{csv,json,md}`` into ``--out`` (default ``benchmarks/results/``)
after every seed, so an interrupted run keeps what it finished, and the figure
``hyperparameter_oracle.png`` at the end.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from mfgp.benchmarks.functions import DEFAULT_SIZES, FUNCTIONS, get_function, make_problem
from mfgp.benchmarks.harness import parse_seeds
from mfgp.models.base import ScaleUpModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
import calibration_by_level as cal  # noqa: E402 - a sibling script: same metrics and models

OUT = Path(__file__).resolve().parent / "results"
NAME = "hyperparameter_oracle"
# plug-in models only: a refit keeps one hyperparameter vector per level (not "ar1" either:
# its leave-one-out rescaling would change the kept variances at the refit)
DEFAULT_MODELS = ("ar1_sim_plugin", "nargp")
PLUGIN_MODELS = ("ar1_sim_plugin", "nargp")
VARIANTS = ("fitted", "reference", "large_design")
PROBLEM_ORDER = ("forrester", "nonlinear_pair", "currin", "park", "hartmann3", "branin", "borehole")


def refit_with(large: ScaleUpModel, data: tuple[torch.Tensor, torch.Tensor], seed: int):
    """A model of ``large``'s class and configuration conditioned on ``data`` with ``large``'s
    fitted hyperparameters kept as they are (an AR1 ``log_transform="auto"`` keeps
    ``large``'s choice)."""
    cfg = dict(large.get_config())
    if cfg.get("log_transform") == "auto":
        cfg["log_transform"] = bool(large.log_transform_)
    model = type(large)(**cfg)
    return model.fit(data, seed=seed, warm_start=large, restarts=1, maxiter=0)


def score(model: ScaleUpModel, Xt: torch.Tensor, Yt: torch.Tensor) -> dict[str, float]:
    """Scores of ``model`` at the top-level test inputs ``Xt`` against ``Yt``."""
    y = Yt.reshape(-1).double().cpu()
    with torch.no_grad():
        pred = model.predict(Xt)
    mean = pred.mean.detach().reshape(-1).double().cpu()
    var = pred.variance.detach().reshape(-1).double().cpu()
    # NLPD and coverage under the model's own predictive distribution (NARGP: its mixture)
    return cal.level_metrics(y, mean, var, scale=float(y.std(unbiased=False)), prediction=pred)


def run_one(
    name: str, fn: Any, sizes: tuple[int, ...], seed: int, factor: int, n_test: int, quick: bool
) -> list[dict[str, Any]]:
    """The three variants' scores for model ``name`` on problem ``fn`` and one seed."""
    acc = cal._accuracy_script()
    factory = acc.make_model(name, quick).factory
    X, Y, Xt, Yt = make_problem(fn, sizes, seed=seed, n_test=n_test)
    Xl, Yl, _, _ = make_problem(fn, [factor * n for n in sizes], seed=1000 + seed, n_test=2)
    rows = []
    t0 = time.perf_counter()
    fitted = factory().fit((X, Y), seed=seed)
    rows.append(("fitted", fitted, time.perf_counter() - t0))
    t0 = time.perf_counter()
    large = factory().fit((Xl, Yl), seed=seed)
    rows.append(("large_design", large, time.perf_counter() - t0))
    t0 = time.perf_counter()
    rows.append(("reference", refit_with(large, (X, Y), seed), time.perf_counter() - t0))
    return [
        {"variant": v, **score(m, Xt, Yt), "fit_s": secs, "fit_info": _choices(m)}
        for v, m, secs in sorted(rows, key=lambda r: VARIANTS.index(r[0]))
    ]


def _choices(model: ScaleUpModel) -> str:
    return "; ".join(f"{k}={v}" for k, v in sorted(model.fit_choices().items()))


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Median over seeds of every score, per problem, model and variant."""
    ok = rows[rows["status"] == "ok"]
    cols = ["nrmse", "coverage95", "z_rms", "nlpd"]
    keys = ["problem", "model", "variant"]
    out = ok.groupby(keys, sort=False)[cols].median()
    out["seeds"] = ok.groupby(keys, sort=False)["seed"].nunique()
    return out.reset_index()


def markdown(rows: pd.DataFrame, meta: dict[str, Any]) -> str:
    summ = summarise(rows)
    sizes = "; ".join(f"{p} {'/'.join(map(str, n))}" for p, n in meta["sizes"].items())
    lines = [
        "# Fitted against reference hyperparameters",
        "",
        f"Date: {meta['date']}. Command: `{meta['command']}` (mfgp revision "
        f"{meta['revision']}, torch threads {meta['threads']}).",
        "",
        f"Median over seeds {meta['seeds']} at {meta['n_test']} top-level test inputs. "
        "`fitted`: the model fitted on the benchmark design (sizes per level: "
        f"{sizes}). `reference`: the same design, with the hyperparameters of a fit to a "
        f"{meta['factor']}x larger design kept fixed. `large_design`: that larger fit itself. "
        "`z_rms` is the root mean square of the standardised errors (1 calibrated, above 1 "
        "bands too narrow, below 1 too wide).",
        "",
        f"![NRMSE against coverage, fitted and reference hyperparameters]({NAME}.png)",
        "",
        "| problem | model | variant | NRMSE | coverage | z_rms | NLPD | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in summ.itertuples():
        lines.append(
            f"| {r.problem} | {r.model} | {r.variant} | {r.nrmse:.3g} | {r.coverage95:.3f} | "
            f"{r.z_rms:.3g} | {r.nlpd:.3f} | {r.seeds} |"
        )
    failed = rows[rows["status"] != "ok"]
    if len(failed):
        lines += ["", "Not scored:", ""]
        for r in failed.itertuples():
            lines.append(f"- {r.problem} seed {r.seed} {r.model}: {r.status}")
    return "\n".join(lines) + "\n"


def plot(rows: pd.DataFrame, path: Path) -> None:
    """NRMSE (log) against coverage, one panel per problem: every seed's fitted (circle) and
    reference (triangle) fit of a model joined by a line; the target band shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    from mfgp.report import save_figure

    ok = rows[(rows["status"] == "ok") & rows["variant"].isin(["fitted", "reference"])]
    problems = [p for p in PROBLEM_ORDER if p in set(ok["problem"])]
    if not problems:
        return
    models = list(dict.fromkeys(ok["model"]))
    ncol = min(4, len(problems))
    nrow = -(-len(problems) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.2 * nrow), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[len(problems) :]:
        ax.set_visible(False)
    for ax, p in zip(flat, problems, strict=False):
        sub = ok[ok["problem"] == p]
        for i, m in enumerate(models):
            sm = sub[sub["model"] == m]
            for _, pair in sm.groupby("seed"):
                f = pair[pair["variant"] == "fitted"]
                r = pair[pair["variant"] == "reference"]
                if len(f) and len(r):
                    ax.plot(
                        [f.nrmse.iloc[0], r.nrmse.iloc[0]],
                        [f.coverage95.iloc[0], r.coverage95.iloc[0]],
                        "-",
                        color=f"C{i}",
                        lw=0.6,
                        alpha=0.5,
                    )
            for variant, marker in (("fitted", "o"), ("reference", "^")):
                sv = sm[sm["variant"] == variant]
                ax.scatter(
                    sv["nrmse"],
                    sv["coverage95"],
                    marker=marker,
                    s=16,
                    color=f"C{i}",
                    label=f"{m} {variant}",
                )
        ax.axhspan(0.90, 0.98, color="0.85", zorder=0)
        ax.set_xscale("log")
        lo, hi = ax.get_xlim()
        if hi / lo < 100:  # label 2x and 5x ticks only on axes spanning under two decades
            ax.xaxis.set_minor_formatter(FuncFormatter(_minor_label))
        else:
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("NRMSE")
        ax.set_title(p)
    for row in axes:
        row[0].set_ylabel("95 % coverage (band 0.90-0.98)")
    flat[len(problems) - 1].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def _minor_label(value: float, _pos: int) -> str:
    """Label the minor log ticks at 2 and 5 times a power of ten only (no overlaps)."""
    return f"{value:.0e}".replace("e-0", "e-") if f"{value:.0e}"[0] in "25" else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="5", help="number of seeds (0..N-1) or a comma list")
    ap.add_argument(
        "--problems",
        default=",".join(PROBLEM_ORDER),
        help=f"comma list from {', '.join(sorted(FUNCTIONS))}",
    )
    ap.add_argument(
        "--models",
        default=",".join(DEFAULT_MODELS),
        help=f"comma list from {', '.join(PLUGIN_MODELS)} (plug-in hyperparameters)",
    )
    ap.add_argument("--factor", type=int, default=5, help="size of the larger design (x)")
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="1 restart per fit (a smoke run)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.factor < 2:
        ap.error(f"--factor must be >= 2, got {args.factor}")
    seeds = parse_seeds(args.seeds)
    problems = [p.strip() for p in args.problems.split(",") if p.strip()]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for p in problems:
        get_function(p)  # raises a clear error for unknown names
    unknown = sorted(set(models) - set(PLUGIN_MODELS))
    if unknown:
        ap.error(f"unknown or non-plug-in models {unknown}; choose from {', '.join(PLUGIN_MODELS)}")
    meta = cal.run_meta(
        NAME,
        argv,
        seeds=seeds,
        n_test=args.n_test,
        factor=args.factor,
        quick=args.quick,
        sizes={p: list(DEFAULT_SIZES[p]) for p in problems},
    )
    args.out.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    for p in problems:
        fn = get_function(p)
        for seed in seeds:
            for m in models:
                base = {"problem": p, "seed": seed, "model": m}
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        rows = run_one(
                            m, fn, DEFAULT_SIZES[p], seed, args.factor, args.n_test, args.quick
                        )
                except Exception as err:  # noqa: BLE001 - a failed fit is a result, recorded
                    records.append({**base, "status": f"failed: {type(err).__name__}: {err}"})
                    print(f"{p:15s} seed {seed} {m:15s} {records[-1]['status'][:100]}")
                    continue
                records.extend({**base, "status": "ok", **r} for r in rows)
                print(
                    f"{p:15s} seed {seed} {m:15s} "
                    + "  ".join(
                        f"{r['variant']} {r['nrmse']:.3g}/{r['coverage95']:.3f}" for r in rows
                    ),
                    flush=True,
                )
            cal.write_results(args.out, NAME, records, meta, summarise, markdown)
    plot(pd.DataFrame(records), args.out / f"{NAME}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
