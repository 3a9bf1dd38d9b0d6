"""Closed-loop benchmark of the acquisition layer: the simulator plays the lab.

Problem: end-point titer (g/L at 36 h) of the E. coli-like fed-batch of :mod:`mfgp.simulate`
as a function of the working volume (input ``log10_volume_L``), the aeration ``vvm`` in
[0.5, 2] and the maximum feed rate ``feed_gLh`` in [3, 12] g/L/h; the stirrer speed follows the
constant-P/V rule from 10 L at 1000 rpm. Two fidelity levels:

- ``simplified_model`` (level 0): the one-compartment simulator without heat limit, no noise;
  computed up front on a Sobol design at 2 L ... 100 m3 (free, 30 runs);
- ``measured`` (level 1): the full simulator (feed-zone gradients, jacket heat limit) with 3 %
  log-normal measurement noise: what a real run at the chosen scale returns.

The user can run ``lab`` (2 L, cost 1) or ``pilot`` (200 L, cost 20); the target is production
at 10 m3 (never run), inside the heat-removal limit of the 10 m3 jacket (engineering
constraint: ``16 * feed_gLh`` mmol/L/h of OUR must be coolable, feed <= ~8.3 g/L/h there).
Every strategy starts from the same 3 lab runs (cost 3) and proposes one
run per round:

========== ==================================================================================
mf_optimise AR1 co-kriging + cost-aware multi-fidelity max-value entropy (lab or pilot)
mf_learn    AR1 + cost-weighted integrated-variance reduction at 10 m3 (lab or pilot)
random      AR1 + a random option and a random operating point
lab_only    AR1 + max-value entropy, lab runs only
pilot_only  AR1 + max-value entropy, pilot runs only
sf_bo       single-fidelity GP on measured rows + qLogEI at pilot scale (incumbent: measured)
========== ==================================================================================

Tracked after each round against the cumulative cost: the RMSE and mean 95 % interval width of
the model's production-scale (10 m3, measured level) prediction on a 6 x 6 grid of operating
points (heat-feasible ones only; truth: the noise-free full simulator), and the true
production titer at the model's recommended point (the argmax of the predicted production-scale
mean over 128 feasible Sobol points at 10 m3, whose true titers are computed once).

Usage (the defaults are the full benchmark: 6 strategies, 10 seeds, 10 rounds; the AR1 model
has rho and delta mean linear in log10 V, the defaults of the `hybrid` model)::

    python benchmarks/closed_loop.py [--seeds 5] [--rounds 10] [--workers 2] [--out DIR]

Writes ``closed_loop.csv`` (one row per strategy, seed and round), ``closed_loop.json``
(settings and summary), ``closed_loop.md`` (tables) and ``closed_loop.png`` (curves with the
spread over seeds) into ``benchmarks/results/``. A run with fewer seeds or rounds than the
defaults is labelled "reduced" in every output.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.quasirandom import SobolEngine

from mfgp import io
from mfgp.acquisition import EngineeringConstraints, ScaleOption, SearchSpace, suggest
from mfgp.models import AR1MultiFidelityGP, SingleFidelityGP
from mfgp.simulate import simulate

log = logging.getLogger("closed_loop")

RESULTS = Path(__file__).resolve().parent / "results"
FEATURES = ["log10_volume_L", "vvm", "feed_gLh"]
BOUNDS = {"vvm": (0.5, 2.0), "feed_gLh": (3.0, 12.0)}
HOURS = 36.0
NOISE = 0.03
LAB_L, PILOT_L, TARGET_L = 2.0, 200.0, 10_000.0
#: heat removal: the OUR a feed needs (16 mmol O2 per g glucose) must be coolable by the jacket
CONSTRAINTS = EngineeringConstraints(our_per_feed=16.0)
#: RMSE thresholds as fractions of the standard deviation of the true titer on the grid
RMSE_THRESHOLDS = (1.0, 0.75, 0.5)
COSTS = {"lab": 1.0, "pilot": 20.0}
LOWFID_VOLUMES = (2.0, 20.0, 200.0, 2000.0, 10000.0, 100000.0)
LOWFID_PER_VOLUME = 5
N_INITIAL_LAB = 3
#: cost budgets of the equal-cost comparison (RMSE after the last round within the budget)
BUDGETS = (25.0, 50.0, 100.0, 200.0)
STRATEGIES = ("mf_optimise", "mf_learn", "random", "lab_only", "pilot_only", "sf_bo")
DEFAULTS = {"seeds": 10, "rounds": 10}


def titer(volume_L: float, vvm: float, feed: float, *, simplified: bool, rng=None) -> float:
    """End-point titer of one simulated run (measured: noisy when ``rng`` is given)."""
    r = simulate(
        volume_L,
        vvm=float(vvm),
        feed_gLh=float(feed),
        hours=HOURS,
        n_times=2,
        simplified=simplified,
        noise=NOISE if rng is not None else 0.0,
        seed=rng,
    )
    return float(r.titer_gL[-1])


def space() -> SearchSpace:
    """The benchmark's search space (lab and pilot options; target 10 m3)."""
    return SearchSpace(
        feature_names=list(FEATURES),
        bounds=dict(BOUNDS),
        fixed={},
        options=[
            ScaleOption("lab", 1, LAB_L, COSTS["lab"]),
            ScaleOption("pilot", 1, PILOT_L, COSTS["pilot"]),
        ],
        target_volume_L=TARGET_L,
        top_fidelity=1,
        constraints=CONSTRAINTS,
    )


def _row(volume: float, vvm: float, feed: float, fid: int) -> list[float]:
    return [math.log10(volume), vvm, feed, float(fid)]


def low_fidelity_rows(seed: int) -> tuple[list[list[float]], list[float]]:
    """Level-0 rows: the simplified simulator on a Sobol design at every volume."""
    u = SobolEngine(2, scramble=True, seed=1000 + seed).draw(LOWFID_PER_VOLUME).double().numpy()
    X, Y = [], []
    for v in LOWFID_VOLUMES:
        for a, b in u:
            vvm = BOUNDS["vvm"][0] + a * (BOUNDS["vvm"][1] - BOUNDS["vvm"][0])
            feed = BOUNDS["feed_gLh"][0] + b * (BOUNDS["feed_gLh"][1] - BOUNDS["feed_gLh"][0])
            X.append(_row(v, vvm, feed, 0))
            Y.append(titer(v, vvm, feed, simplified=True))
    return X, Y


def test_grid() -> tuple[torch.Tensor, np.ndarray]:
    """Production-scale grid (6 x 6, heat-feasible points only) and its noise-free titers."""
    vv = np.linspace(*BOUNDS["vvm"], 6)
    ff = np.linspace(*BOUNDS["feed_gLh"], 6)
    pts = [(a, b) for a in vv for b in ff]
    X = torch.tensor([_row(TARGET_L, a, b, 1) for a, b in pts], dtype=torch.float64)
    X = X[space().feasible(X)]
    y = np.array([titer(TARGET_L, float(r[1]), float(r[2]), simplified=False) for r in X])
    return X, y


def fit(
    strategy: str,
    X: torch.Tensor,
    Y: torch.Tensor,
    seed: int,
    opts: dict[str, Any],
    previous: Any = None,
) -> Any:
    """Refit the strategy's model (hyperparameters re-estimated every round; with
    ``warm_start`` the AR1 fit starts from the previous round's hyperparameters)."""
    if strategy == "sf_bo":
        top = X[:, -1] == 1
        sf = SingleFidelityGP(restarts=opts["restarts"], maxiter=opts["maxiter"])
        return sf.fit((X[top], Y[top]), seed=seed)
    ar1 = AR1MultiFidelityGP(
        rho=opts["rho"],
        delta_mean=opts["delta_mean"],
        mean_features=[0] if opts["delta_mean"] == "linear" else None,
        rho_slope_sd=opts["rho_slope_sd"],
        restarts=opts["restarts"],
        maxiter=opts["maxiter"],
    )
    warm = previous if opts["warm_start"] and isinstance(previous, AR1MultiFidelityGP) else None
    return ar1.fit((X, Y), seed=seed, warm_start=warm)


def run_one(job: tuple[str, int, int, dict[str, Any]]) -> list[dict[str, Any]]:
    """One strategy and seed: ``rounds`` proposals; returns one record per round (0 = start)."""
    strategy, seed, rounds, shared = job
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    sp = space()
    Xg, yg = shared["grid_X"], shared["grid_y"]
    X = [list(r) for r in shared["low_X"]]
    Y = list(shared["low_Y"])
    u = SobolEngine(2, scramble=True, seed=seed).draw(N_INITIAL_LAB).double().numpy()
    for a, b in u:
        vvm = BOUNDS["vvm"][0] + a * (BOUNDS["vvm"][1] - BOUNDS["vvm"][0])
        feed = BOUNDS["feed_gLh"][0] + b * (BOUNDS["feed_gLh"][1] - BOUNDS["feed_gLh"][0])
        X.append(_row(LAB_L, vvm, feed, 1))
        Y.append(titer(LAB_L, vvm, feed, simplified=False, rng=rng))
    cost = N_INITIAL_LAB * COSTS["lab"]
    reco_pts, reco_y = shared["reco_X"], shared["reco_y"]
    records = []
    model = None
    for rnd in range(rounds + 1):
        t0 = time.perf_counter()
        Xt = torch.tensor(X, dtype=torch.float64)
        Yt = torch.tensor(Y, dtype=torch.float64).unsqueeze(-1)
        model = fit(strategy, Xt, Yt, seed + 100 * rnd, shared["model_options"], model)
        with torch.no_grad():
            pred = model.predict(Xg)
            reco = model.predict(reco_pts).mean
        mean = pred.mean.numpy()
        width = (pred.upper - pred.lower).numpy()
        i_best = int(torch.argmax(reco))
        best, true_best = reco_pts[i_best], float(reco_y[i_best])
        rec = {
            "strategy": strategy,
            "seed": seed,
            "round": rnd,
            "cost": cost,
            "rmse": float(np.sqrt(np.mean((mean - yg) ** 2))),
            "width95": float(np.mean(width)),
            "coverage95": float(np.mean((yg >= pred.lower.numpy()) & (yg <= pred.upper.numpy()))),
            "reco_vvm": float(best[1]),
            "reco_feed": float(best[2]),
            "titer_at_reco": true_best,
            "n_lab": sum(1 for r in X if r[-1] == 1 and abs(r[0] - math.log10(LAB_L)) < 1e-9),
            "n_pilot": sum(1 for r in X if r[-1] == 1 and abs(r[0] - math.log10(PILOT_L)) < 1e-9),
        }
        if rnd == rounds:
            rec["seconds"] = time.perf_counter() - t0
            records.append(rec)
            break
        if strategy == "random":
            o = sp.options[int(rng.integers(len(sp.options)))]
            vvm = float(rng.uniform(*BOUNDS["vvm"]))
            feed = float(rng.uniform(*BOUNDS["feed_gLh"]))
            new = _row(o.volume_L, vvm, feed, 1)
        else:
            sub = {"lab_only": ["lab"], "pilot_only": ["pilot"], "sf_bo": ["pilot"]}
            s = sp.restrict(sub[strategy]) if strategy in sub else sp
            goal = {"mf_learn": "learn", "sf_bo": "ei"}.get(strategy, "optimise")
            res = suggest(
                model, s, goal=goal, q=1, seed=seed * 1000 + rnd, n_candidates=128, n_mc=64
            )
            new = res.X[0].tolist()
        vol = 10.0 ** new[0]
        X.append(new)
        Y.append(titer(vol, new[1], new[2], simplified=False, rng=rng))
        cost += COSTS["lab"] if abs(vol - LAB_L) < 1e-6 else COSTS["pilot"]
        rec["seconds"] = time.perf_counter() - t0
        rec["next_volume_L"] = vol
        records.append(rec)
        log.info("%s seed %d round %d: cost %g rmse %.3f", strategy, seed, rnd, cost, rec["rmse"])
    return records


def cost_to_reach(df: pd.DataFrame, column: str, threshold: float, *, stay: bool = False) -> float:
    """Smallest median cumulative cost at which the median over seeds of ``column`` is <=
    ``threshold`` (with ``stay``: and remains so in every later round)."""
    med = df.groupby("round").agg(cost=("cost", "median"), v=(column, "median"))
    ok = (med["v"] <= threshold).to_numpy()
    if stay:
        ok = np.flip(np.logical_and.accumulate(np.flip(ok)))
    hit = med[ok]
    return float(hit["cost"].iloc[0]) if len(hit) else float("nan")


def rmse_within_budget(df: pd.DataFrame, budget: float) -> float:
    """Median over seeds of the RMSE after the last round whose cumulative cost is <= budget."""
    vals = []
    for _, g in df.groupby("seed"):
        ok = g[g["cost"] <= budget]
        if len(ok):
            vals.append(float(ok.sort_values("round")["rmse"].iloc[-1]))
    return float(np.median(vals)) if vals else float("nan")


def cost_to_titer(df: pd.DataFrame, level: float) -> float:
    """Smallest cumulative cost at which the median true titer at the recommendation >= level."""
    med = df.groupby("round").agg(cost=("cost", "median"), v=("titer_at_reco", "median"))
    hit = med[med["v"] >= level]
    return float(hit["cost"].iloc[0]) if len(hit) else float("nan")


def summarise(
    df: pd.DataFrame, optimum: float, truth_sd: float
) -> tuple[pd.DataFrame, dict[str, float]]:
    thresholds = {f"rmse<={t:g}sd": float(t * truth_sd) for t in RMSE_THRESHOLDS}
    if "sf_bo" in set(df["strategy"]):
        # matched accuracy: the error single-fidelity BO ends with after its whole budget
        sf = df[df["strategy"] == "sf_bo"]
        thresholds["rmse<=sf_bo_final"] = float(sf[sf["round"] == sf["round"].max()].rmse.median())
    rows = []
    for s, g in df.groupby("strategy", sort=False):
        last = g[g["round"] == g["round"].max()]
        row: dict[str, Any] = {"strategy": s}
        for name, th in thresholds.items():
            row[f"cost_to_{name}"] = cost_to_reach(g, "rmse", th)
            row[f"cost_stay_{name}"] = cost_to_reach(g, "rmse", th, stay=True)
        row["cost_to_titer>=99%opt"] = cost_to_titer(g, 0.99 * optimum)
        for budget in BUDGETS:
            row[f"rmse_at_cost<={budget:g}"] = rmse_within_budget(g, budget)
        row.update(
            {
                "final_cost": float(last["cost"].median()),
                "final_rmse": float(last["rmse"].median()),
                "final_width95": float(last["width95"].median()),
                "final_coverage95": float(last["coverage95"].mean()),
                "final_titer_at_reco": float(last["titer_at_reco"].median()),
                "best_titer_found": float(g.groupby("seed")["titer_at_reco"].max().median()),
                "s_per_round": float(g["seconds"].mean()),
            }
        )
        rows.append(row)
    return pd.DataFrame(rows), thresholds


def goal_table(table: pd.DataFrame) -> pd.DataFrame:
    """Cost ratios of the multi-fidelity strategies to single-fidelity BO, per criterion."""
    t = table.set_index("strategy")
    cols = [c for c in t.columns if c.startswith(("cost_to_", "cost_stay_"))]
    rows = []
    for s in ("mf_learn", "mf_optimise", "pilot_only"):
        if s not in t.index or "sf_bo" not in t.index:
            continue
        for c in cols:
            mine, ref = float(t.loc[s, c]), float(t.loc["sf_bo", c])
            if math.isnan(mine):
                ratio, met = float("nan"), "no (never reached)"
            elif math.isnan(ref):
                ratio, met = 0.0, "yes (sf_bo never reached)"
            else:
                ratio = mine / ref
                met = "yes" if ratio <= 0.5 else "no"
            rows.append(
                {"strategy": s, "criterion": c, "cost": mine, "sf_bo cost": ref, "ratio": ratio}
                | {"goal met": met if s != "pilot_only" else "(reference)"}
            )
    return pd.DataFrame(rows)


def plot(df: pd.DataFrame, path: Path, title: str, optimum: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for s, g in df.groupby("strategy", sort=False):
        agg = g.groupby("round").agg(
            cost=("cost", "median"),
            rmse_med=("rmse", "median"),
            rmse_lo=("rmse", lambda v: v.quantile(0.25)),
            rmse_hi=("rmse", lambda v: v.quantile(0.75)),
            w=("width95", "median"),
            t_med=("titer_at_reco", "median"),
            t_lo=("titer_at_reco", lambda v: v.quantile(0.25)),
            t_hi=("titer_at_reco", lambda v: v.quantile(0.75)),
        )
        (line,) = axes[0].plot(agg["cost"], agg["rmse_med"], marker="o", ms=3, label=s)
        axes[0].fill_between(
            agg["cost"], agg["rmse_lo"], agg["rmse_hi"], alpha=0.15, color=line.get_color()
        )
        axes[1].plot(agg["cost"], agg["w"], marker="o", ms=3, color=line.get_color(), label=s)
        axes[2].plot(agg["cost"], agg["t_med"], marker="o", ms=3, color=line.get_color(), label=s)
        axes[2].fill_between(
            agg["cost"], agg["t_lo"], agg["t_hi"], alpha=0.15, color=line.get_color()
        )
    axes[2].axhline(optimum, color="k", ls=":", lw=1, label="optimum")
    for ax, lab in zip(
        axes,
        (
            "RMSE at 10 m3 (g/L)",
            "mean 95 % interval width at 10 m3 (g/L)",
            "true 10 m3 titer at recommended point (g/L)",
        ),
        strict=True,
    ):
        ax.set_xscale("log")
        ax.set_xlabel("cumulative cost (lab run = 1)")
        ax.set_ylabel(lab)
    axes[0].legend(fontsize=8)
    fig.suptitle(title + "  (median over seeds, band: interquartile range)")
    fig.tight_layout()
    io.atomic_write_bytes(path, _png(fig))
    plt.close(fig)


def _png(fig: Any) -> bytes:
    import io as _io

    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=DEFAULTS["seeds"])
    p.add_argument("--rounds", type=int, default=DEFAULTS["rounds"])
    p.add_argument("--strategies", default=",".join(STRATEGIES))
    p.add_argument("--workers", type=int, default=1)
    p.add_argument(
        "--rho", default="linear", help="AR1 rho: linear in log10 V (default, as in hybrid)"
    )
    p.add_argument("--restarts", type=int, default=2, help="fit restarts per round (2)")
    p.add_argument("--maxiter", type=int, default=100, help="L-BFGS iterations (100)")
    p.add_argument(
        "--delta-mean",
        default="linear",
        choices=("constant", "linear", "zero"),
        help="AR1 delta mean (default linear in log10 V, as the hybrid model's default)",
    )
    p.add_argument(
        "--rho-slope-sd",
        type=float,
        default=None,
        help="sd of a Normal(0, sd) prior on the slope of a linear rho (default: none)",
    )
    p.add_argument(
        "--no-warm-start",
        dest="warm_start",
        action="store_false",
        help="refit from the default start every round (default: start from the last round)",
    )
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    reduced = (
        args.seeds < DEFAULTS["seeds"]
        or args.rounds < DEFAULTS["rounds"]
        or set(strategies) != set(STRATEGIES)
    )
    label = "REDUCED run" if reduced else "full run"
    t0 = time.perf_counter()
    low_X, low_Y = low_fidelity_rows(0)
    grid_X, grid_y = test_grid()
    reco_X = space().target_points(128, seed=7)
    reco_y = np.array([titer(TARGET_L, float(r[1]), float(r[2]), simplified=False) for r in reco_X])
    shared = {"low_X": low_X, "low_Y": low_Y, "grid_X": grid_X, "grid_y": grid_y}
    shared |= {"reco_X": reco_X, "reco_y": reco_y}
    shared["model_options"] = {
        "rho": args.rho,
        "delta_mean": args.delta_mean,
        "warm_start": args.warm_start,
        "rho_slope_sd": args.rho_slope_sd,
        "restarts": args.restarts,
        "maxiter": args.maxiter,
    }
    jobs = [(s, seed, args.rounds, shared) for seed in range(args.seeds) for s in strategies]
    if args.workers > 1:
        with get_context("spawn").Pool(args.workers) as pool:
            parts = pool.map(run_one, jobs, chunksize=1)
    else:
        parts = [run_one(j) for j in jobs]
    df = pd.DataFrame([r for part in parts for r in part])
    order = {s: i for i, s in enumerate(strategies)}
    df = df.sort_values(
        ["strategy", "seed", "round"], key=lambda c: c.map(order) if c.name == "strategy" else c
    ).reset_index(drop=True)
    optimum = float(max(grid_y.max(), reco_y.max()))
    table, thresholds = summarise(df, optimum, float(grid_y.std()))
    args.out.mkdir(parents=True, exist_ok=True)
    title = f"closed loop, {label}: {args.seeds} seeds x {args.rounds} rounds"
    io.atomic_write_csv(args.out / "closed_loop.csv", df)
    settings = {
        "label": label,
        "reduced": reduced,
        "seeds": args.seeds,
        "rounds": args.rounds,
        "defaults": DEFAULTS,
        "strategies": strategies,
        "costs": COSTS,
        "scales_L": {"lab": LAB_L, "pilot": PILOT_L, "target": TARGET_L},
        "bounds": BOUNDS,
        "noise": NOISE,
        "model_options": shared["model_options"],
        "initial": f"{N_INITIAL_LAB} lab runs + {len(low_Y)} simplified-simulator runs",
        "optimum_titer": optimum,
        "grid_titer_range": [float(grid_y.min()), optimum],
        "thresholds": thresholds,
        "wall_seconds": time.perf_counter() - t0,
        "command": "python benchmarks/closed_loop.py "
        f"--seeds {args.seeds} --rounds {args.rounds} --workers {args.workers} --rho {args.rho} "
        f"--restarts {args.restarts} --maxiter {args.maxiter} --delta-mean {args.delta_mean}"
        + ("" if args.warm_start else " --no-warm-start")
        + ("" if args.rho_slope_sd is None else f" --rho-slope-sd {args.rho_slope_sd:g}")
        + (f" --strategies {','.join(strategies)}" if set(strategies) != set(STRATEGIES) else ""),
    }
    io.atomic_write_json(
        args.out / "closed_loop.json",
        {
            "settings": settings,
            "summary": table.to_dict(orient="records"),
            "goal": goal_table(table).to_dict(orient="records"),
            "versions": io.versions(),
        },
    )
    md = [
        f"# Closed-loop benchmark ({label})",
        "",
        f"`{settings['command']}` ({settings['wall_seconds'] / 60:.1f} min). "
        "Costs: lab (2 L) = 1, pilot (200 L) = 20; target 10 m3 (heat-feasible region). "
        f"Start: {settings['initial']}. "
        f"{args.seeds} seeds x {args.rounds} rounds (defaults: {DEFAULTS['seeds']} x "
        f"{DEFAULTS['rounds']}). Optimum of the true 10 m3 titer (grid and recommendation "
        f"set): {optimum:.3f} g/L "
        f"(range {grid_y.min():.3f}-{optimum:.3f}).",
        "",
        "Columns `cost_to_*`: the median cumulative cost at which the median over seeds of the "
        "RMSE on the 10 m3 grid first reaches (`cost_stay_*`: and stays below) the threshold "
        "(a fraction of the sd of the true titer on the grid, or the median error single-"
        "fidelity BO ends with after its whole budget, `sf_bo_final`: "
        + ", ".join(f"{k} = {v:.3f} g/L" for k, v in thresholds.items())
        + "), or the median true 10 m3 titer "
        "at the recommended point first reaches 99 % of the grid optimum (nan: not reached; the "
        "start costs 3). `rmse_at_cost<=B`: median over seeds of the RMSE after the last round "
        "that fits in a budget B (equal-cost comparison). `final_*`: medians after the last "
        "round (coverage: mean). `best_titer_found`: median over seeds of the best true titer "
        "at any recommendation.",
        "",
        table.to_markdown(index=False, floatfmt=".3g"),
        "",
        "## Goal of issue 6",
        "",
        "Cost of each cost-aware multi-fidelity strategy over the cost of single-fidelity BO "
        "(`sf_bo`, the single-fidelity strategy; goal: <= 0.5), per criterion; `pilot_only` "
        "(the same multi-fidelity model, pilot runs only) is shown for reference. "
        "nan: a strategy never met the criterion (a multi-fidelity strategy that meets it when "
        "`sf_bo` never does counts as met).",
        "",
        goal_table(table).to_markdown(index=False, floatfmt=".3g"),
        "",
    ]
    io.atomic_write_text(args.out / "closed_loop.md", "\n".join(md))
    plot(df, args.out / "closed_loop.png", title, optimum)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
