"""What sets Forrester's 95 % bands: recomputing the level-0 GP beyond float64 with mpmath.

On Forrester (50 cheap / 10 expensive points) ``ar1_sim`` predicts the top level to about 3e-7
of its standard deviation, and its 95 % bands cover 1.000 of the test points: they are about
ten times wider than the errors (``calibration_by_level.md``), already at level 0. This script
shows where that width comes from. For every seed it fits the accuracy benchmark's
``ar1_sim_plugin`` model and takes its level-0 GP: the squared-exponential outputscale and
lengthscale, and the fitted noise variance, which sits at its floor (``min_noise``, 1e-12 in
standardised units). It then predicts level 0 at the 1000 test inputs with those kernel
hyperparameters and a nugget ``s2`` on the diagonal, for ``s2`` from that floor down to 1e-32:

- at ``--digits`` decimal digits with mpmath (exact for this purpose);
- in float64 with the same formulas (``torch.linalg.cholesky_ex``), which shows where float64
  fails: a Cholesky factorisation that breaks down, or negative predictive variances.

The GP has a constant mean estimated by generalised least squares (flat prior; mfgp's AR1 puts
a N(0, 1) prior on it: at the fitted nugget the two agree to about 10 % in NRMSE and ``z_rms``,
see the results table), and the nugget is added to the
predictive variance, as the model's ``nugget="misfit"`` does. A first row per seed is the
fitted model's own level-0 prediction. Scores against the true level-0 values: NRMSE (over the
test values' standard deviation), coverage of the 95 % interval and ``z_rms`` (root mean square
of ``(y - mean) / sd``: 1 calibrated, below 1 bands too wide).

The point: the band is set by the nugget, and the nugget at which this GP is calibrated lies
far below what a float64 factorisation of its kernel matrix tolerates. mpmath is pure Python
(about 3 s per seed and nugget at 100 digits); this is a diagnostic, not a way to fit models.

Usage::

    .venv/bin/python benchmarks/round_off_bands.py                # 5 seeds, 11 nuggets
    .venv/bin/python benchmarks/round_off_bands.py --seeds 1 --nuggets 1e-12,1e-30 \\
        --digits 60 --out /tmp/roundoff

Writes ``round_off_bands.{csv,json,md}`` into ``--out`` (default ``benchmarks/results/``)
after every seed, and the figure ``round_off_bands.png`` at the end.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import mpmath
import pandas as pd
import torch

from mfgp import io, metrics
from mfgp.benchmarks.functions import DEFAULT_SIZES, get_function, make_problem
from mfgp.benchmarks.harness import parse_seeds
from mfgp.models.base import Z95

sys.path.insert(0, str(Path(__file__).resolve().parent))
import calibration_by_level as cal  # noqa: E402 - a sibling script: same metrics and models

OUT = Path(__file__).resolve().parent / "results"
NAME = "round_off_bands"
PROBLEM = "forrester"
MODEL = "ar1_sim_plugin"
DEFAULT_NUGGETS = "1e-12,1e-13,1e-14,1e-16,1e-20,1e-24,1e-28,1e-29,1e-30,1e-31,1e-32"


def se_gp_mp(
    x: list[float],
    y: list[float],
    xt: list[float],
    outputscale: float,
    lengthscale: float,
    nugget: float,
    digits: int,
) -> tuple[list[float], list[float]]:
    """Predictive mean and variance (nugget included) of a 1-D squared-exponential GP with a
    GLS constant mean, at ``xt``, computed with ``digits`` decimal digits (mpmath).

    >>> m, v = se_gp_mp([0.0, 1.0], [1.0, 1.0], [0.0, 0.5], 1.0, 0.5, 1e-20, 30)
    >>> [round(a, 12) for a in m], v[0] < 1e-15 < v[1]
    ([1.0, 1.0], True)
    """
    with mpmath.workdps(digits):
        mp = mpmath.mpf
        s2, two_l2, nug = mp(outputscale), 2 * mp(lengthscale) ** 2, mp(nugget)
        xs = [mp(v) for v in x]
        n = len(xs)

        def k(a: Any, b: Any) -> Any:
            return s2 * mpmath.exp(-((a - b) ** 2) / two_l2)

        K = mpmath.matrix(n, n)
        for i in range(n):
            for j in range(n):
                K[i, j] = k(xs[i], xs[j])
            K[i, i] += nug
        L = mpmath.cholesky(K)

        def solve(b: list[Any]) -> list[Any]:  # L^-1 b
            out: list[Any] = []
            for i in range(n):
                s = b[i] - mpmath.fsum(L[i, j] * out[j] for j in range(i))
                out.append(s / L[i, i])
            return out

        one = solve([mp(1)] * n)
        yy = solve([mp(v) for v in y])
        oo = mpmath.fsum(a * a for a in one)
        beta = mpmath.fsum(a * b for a, b in zip(one, yy, strict=True)) / oo
        r = [a - beta * b for a, b in zip(yy, one, strict=True)]
        means, variances = [], []
        for t in xt:
            v = solve([k(mp(t), xi) for xi in xs])
            u = 1 - mpmath.fsum(a * b for a, b in zip(v, one, strict=True))
            var = s2 - mpmath.fsum(a * a for a in v) + u * u / oo + nug
            means.append(float(beta + mpmath.fsum(a * b for a, b in zip(v, r, strict=True))))
            variances.append(float(var))
    return means, variances


def se_gp_float64(
    x: torch.Tensor,
    y: torch.Tensor,
    xt: torch.Tensor,
    outputscale: float,
    lengthscale: float,
    nugget: float,
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """:func:`se_gp_mp` in float64 (no jitter); ``None`` when the Cholesky factorisation of
    the kernel matrix fails."""
    x, y, xt = x.double(), y.double(), xt.double()

    def k(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return outputscale * torch.exp(-((a[:, None] - b[None, :]) ** 2) / (2 * lengthscale**2))

    K = k(x, x) + nugget * torch.eye(len(x), dtype=torch.float64)
    L, info = torch.linalg.cholesky_ex(K)
    if int(info) != 0:
        return None
    one = torch.linalg.solve_triangular(L, torch.ones(len(x), 1, dtype=torch.float64), upper=False)
    yy = torch.linalg.solve_triangular(L, y.reshape(-1, 1), upper=False)
    oo = (one * one).sum()
    beta = (one * yy).sum() / oo
    V = torch.linalg.solve_triangular(L, k(x, xt), upper=False)
    u = 1 - (V * one).sum(0)
    mean = beta + V.T @ (yy - beta * one).squeeze(-1)
    var = outputscale - V.pow(2).sum(0) + u * u / oo + nugget
    return mean, var


def scores(y: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> dict[str, Any]:
    """NRMSE, coverage, ``z_rms`` and the number of negative variances (scored as 0)."""
    y, mean, var = y.double(), mean.double(), var.double()
    negative = int((var < 0).sum())
    sd = var.clamp_min(0).sqrt()
    z = (y - mean) / sd.clamp_min(torch.finfo(torch.float64).tiny)
    return {
        "nrmse": metrics.rmse(y, mean) / float(y.std(unbiased=False)),
        "coverage95": metrics.coverage(y, mean - Z95 * sd, mean + Z95 * sd),
        "z_rms": float(z.pow(2).mean().sqrt()),
        "median_sd_over_abs_error": float((sd / (y - mean).abs()).median()),
        "negative_variances": negative,
    }


def run_seed(seed: int, nuggets: list[float], digits: int, n_test: int) -> list[dict[str, Any]]:
    """Rows for one seed: the fitted model's level 0, then both computations per nugget."""
    acc = cal._accuracy_script()
    fn = get_function(PROBLEM)
    X, Y, Xt, _ = make_problem(fn, DEFAULT_SIZES[PROBLEM], seed=seed, n_test=n_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = acc.make_model(MODEL, quick=False).factory().fit((X, Y), seed=seed)
    if model.log_transform_:
        raise RuntimeError("the fit chose a log transform; this diagnostic assumes none")
    X0 = Xt.clone()
    X0[:, -1] = 0
    truth = fn.evaluate(Xt[:, :-1], 0).reshape(-1).double()
    lvl = model.levels_["0"]
    hyper = {
        "outputscale": float(lvl.kernel.outputscale.detach()),
        "lengthscale": float(lvl.kernel.base_kernel.lengthscale.detach()),
        "fitted_noise": float(lvl.likelihood.noise.detach()),
    }
    ysd, ymu = float(model.y_sd), float(model.y_mu)
    with torch.no_grad():
        pred = model.predict(X0)
    base = {"seed": seed, **hyper}
    rows = [
        {
            **base,
            "computation": "fitted model (float64)",
            "nugget": float(f"{hyper['fitted_noise']:.3g}"),  # one group across seeds
            "status": "ok",
            **scores(truth, pred.mean.reshape(-1), pred.variance.reshape(-1)),
        }
    ]
    z, lev = model._z(X)
    zt, _ = model._z(X0)
    sel = lev == 0
    x, xt = z[sel, 0].double(), zt[:, 0].double()
    ys = ((Y.reshape(-1)[sel] - ymu) / ysd).double()
    for s2 in nuggets:
        t0 = time.perf_counter()
        m, v = se_gp_mp(
            x.tolist(),
            ys.tolist(),
            xt.tolist(),
            hyper["outputscale"],
            hyper["lengthscale"],
            s2,
            digits,
        )
        mean = torch.tensor(m, dtype=torch.float64) * ysd + ymu
        var = torch.tensor(v, dtype=torch.float64) * ysd**2
        rows.append(
            {
                **base,
                "computation": f"{digits} digits",
                "nugget": s2,
                "status": "ok",
                **scores(truth, mean, var),
                "seconds": time.perf_counter() - t0,
            }
        )
        f64 = se_gp_float64(x, ys, xt, hyper["outputscale"], hyper["lengthscale"], s2)
        row = {**base, "computation": "float64", "nugget": s2}
        if f64 is None:
            rows.append({**row, "status": "Cholesky failed"})
        else:
            rows.append(
                {**row, "status": "ok", **scores(truth, f64[0] * ysd + ymu, f64[1] * ysd**2)}
            )
    return rows


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Per computation and nugget: median scores over the seeds where it ran (``seeds_ok``
    of ``seeds``) and, where it failed on some seed, why (``failure``)."""
    cols = ["nrmse", "coverage95", "z_rms", "median_sd_over_abs_error", "negative_variances"]
    keys = ["computation", "nugget"]
    groups = rows.groupby(keys, sort=False)
    out = groups["seed"].nunique().rename("seeds").to_frame()
    ok = rows[rows["status"] == "ok"]
    out = out.join(ok.groupby(keys, sort=False)[cols].median())
    out["seeds_ok"] = ok.groupby(keys, sort=False)["seed"].nunique()
    out["seeds_ok"] = out["seeds_ok"].fillna(0).astype(int)
    failed = rows[rows["status"] != "ok"]
    out["failure"] = failed.groupby(keys, sort=False)["status"].first()
    out["failure"] = out["failure"].fillna("")
    return out.reset_index()


def markdown(rows: pd.DataFrame, meta: dict[str, Any]) -> str:
    summ = summarise(rows)
    hyper = rows.drop_duplicates("seed")[["seed", "outputscale", "lengthscale", "fitted_noise"]]
    lines = [
        "# Forrester's level-0 bands beyond float64",
        "",
        f"Date: {meta['date']}. Command: `{meta['command']}` (mfgp revision {meta['revision']}).",
        "",
        f"Level 0 of `{MODEL}` on Forrester ({'/'.join(map(str, meta['sizes']))} points), "
        f"predicted at {meta['n_test']} test inputs with the fitted squared-exponential "
        "hyperparameters and nugget `s2` (standardised units; in the training covariance and "
        f"the predictive variance), at {meta['digits']} digits (mpmath) and in float64. "
        f"Medians over seeds {meta['seeds']} (over the seeds where the computation ran: "
        "`seeds ok`). `sd/|err|` is the median ratio of the predictive sd to the absolute "
        "error; `z_rms` below 1 means bands too wide.",
        "",
        f"![coverage and z_rms against the nugget]({NAME}.png)",
        "",
        "| computation | nugget | NRMSE | coverage | z_rms | sd/abs err | negative variances "
        "| seeds ok |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in summ.itertuples():
        head = f"| {r.computation} | {r.nugget:.0e} | "
        if r.seeds_ok == 0:
            lines.append(head + f"{r.failure} | | | | | 0/{r.seeds} |")
            continue
        lines.append(
            head + f"{r.nrmse:.2e} | {r.coverage95:.3f} | {r.z_rms:.3g} | "
            f"{r.median_sd_over_abs_error:.3g} | {r.negative_variances:g} | "
            f"{r.seeds_ok}/{r.seeds} |"
        )
    lines += ["", "Fitted level-0 hyperparameters (standardised units):", ""]
    lines += ["| seed | outputscale | lengthscale | fitted noise |", "|---|---|---|---|"]
    for r in hyper.itertuples():
        lines.append(
            f"| {r.seed} | {r.outputscale:.4g} | {r.lengthscale:.4g} | {r.fitted_noise:.3g} |"
        )
    return "\n".join(lines) + "\n"


def plot(rows: pd.DataFrame, path: Path) -> None:
    """Coverage and ``z_rms`` against the nugget, both computations, every seed a dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mfgp.report import save_figure

    ok = rows[(rows["status"] == "ok") & (rows["computation"] != "fitted model (float64)")]
    if ok.empty:
        return
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for i, (comp, sub) in enumerate(ok.groupby("computation", sort=False)):
        for ax, col in zip(axes, ("coverage95", "z_rms"), strict=True):
            ax.scatter(sub["nugget"], sub[col], s=12, alpha=0.6, color=f"C{i}", label=comp)
            med = sub.groupby("nugget")[col].median()
            ax.plot(med.index, med.values, "-", color=f"C{i}")
    axes[0].axhspan(0.90, 0.98, color="0.85", zorder=0)
    axes[0].set_ylabel("95 % coverage (band 0.90-0.98)")
    axes[1].axhline(1.0, color="k", lw=0.8, ls="--")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("z_rms (1 calibrated, < 1 too wide)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("nugget s2 (standardised)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="5", help="number of seeds (0..N-1) or a comma list")
    ap.add_argument("--nuggets", default=DEFAULT_NUGGETS, help="comma list of nuggets > 0")
    ap.add_argument("--digits", type=int, default=100, help="mpmath decimal digits")
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        nuggets = [float(v) for v in args.nuggets.split(",") if v.strip()]
    except ValueError:
        ap.error(f"--nuggets must be a comma list of numbers, got {args.nuggets!r}")
    if not nuggets or any(not (v > 0 and math.isfinite(v)) for v in nuggets):
        ap.error(f"--nuggets must be positive and finite, got {args.nuggets!r}")
    if args.digits < 20:
        ap.error(f"--digits must be >= 20 (float64 carries about 16), got {args.digits}")
    seeds = parse_seeds(args.seeds)
    meta = cal.run_meta(
        NAME,
        argv,
        versions={**io.versions(), "mpmath": mpmath.__version__},
        seeds=seeds,
        nuggets=nuggets,
        digits=args.digits,
        n_test=args.n_test,
        sizes=list(DEFAULT_SIZES[PROBLEM]),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    for seed in seeds:
        t0 = time.perf_counter()
        rows = run_seed(seed, nuggets, args.digits, args.n_test)
        records.extend(rows)
        for r in rows:
            if r["status"] != "ok":
                print(f"seed {seed} {r['computation']:24s} s2 {r['nugget']:.0e}  {r['status']}")
                continue
            print(
                f"seed {seed} {r['computation']:24s} s2 {r['nugget']:.0e}  "
                f"nrmse {r['nrmse']:.2e} coverage {r['coverage95']:.3f} z_rms {r['z_rms']:.3g} "
                f"negative var {r['negative_variances']}",
                flush=True,
            )
        print(f"seed {seed} done in {time.perf_counter() - t0:.0f}s", flush=True)
        cal.write_results(args.out, NAME, records, meta, summarise, markdown)
    plot(pd.DataFrame(records), args.out / f"{NAME}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
