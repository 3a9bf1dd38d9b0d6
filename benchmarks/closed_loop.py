"""Closed-loop benchmark of the acquisition layer: a process model plays the lab.

Two processes (``--process``; :mod:`mfbench.closed_loop_problems`), each with two free
operating variables and a simplified level computed up front (free: 5 Sobol points at each of
2 L ... 100 m3):

- ``ecoli`` (default): end-point titer (g/L at 36 h) of the E. coli-like fed-batch of
  :mod:`mfgp.simulate` against ``vvm`` in [0.5, 2] and the maximum feed rate ``feed_gLh`` in
  [3, 12] g/L/h (stirrer speed by constant P/V from 10 L at 1000 rpm). Simplified level: the
  one-compartment simulator without heat limit; measured level: the full simulator (feed-zone
  gradients, jacket heat limit) with 3 % log-normal noise. The 10 m3 jacket must cool the OUR
  of the feed (``16 * feed_gLh`` mmol/L/h; feed <= ~8.3 g/L/h there).
- ``cho``: end-point titer (g/L after 14 days, cell line A) of the independent CHO fed-batch
  of ``benchmarks/processes/cho_fedbatch.py`` against power per volume ``pv_W_m3`` in [10, 80]
  W/m3 (each vessel's stirrer speed from constant P/V) and ``vvm`` in [0.01, 0.1]. Simplified
  level: the same culture with ideal mixing and no hydrostatic CO2 effect; measured: the full
  model with 4 % noise. The 10 m3 titer is below the 200 L titer at every grid point.

The user can run ``lab`` (2 L, cost 1) or ``pilot`` (200 L, cost 20); the target is production
at 10 m3 (never run). Every strategy starts from the same 3 lab runs (cost 3) and proposes one
run per round until its cumulative cost reaches the budget ``--budget`` (the last run may pass
it) or it has made ``--max-rounds`` proposals (a cap that keeps lab-heavy strategies
affordable in time; the outputs count the seeds it stopped):

================= ============================================================================
mf_optimise       AR1 co-kriging + cost-aware multi-fidelity max-value entropy (lab or pilot)
mf_learn          AR1 + cost-weighted integrated-variance reduction at 10 m3 (lab or pilot)
random            AR1 + a random option and a random operating point
lab_only          AR1 + max-value entropy, lab runs only
pilot_only        AR1 + max-value entropy, pilot runs only (adaptive)
sf_bo             single-fidelity GP on measured rows + qLogEI at pilot scale
fixed_pilot       AR1 + a fixed plan: pilot runs only, operating points from a scrambled Sobol
                  sequence (seeded per seed)
fixed_lab_pilot   AR1 + a fixed plan: lab and pilot runs with half the cost each (the next
                  vessel keeps the lab cost closest to half the total; from the 3 initial lab
                  runs: 7 lab, 1 pilot, 20 lab, 1 pilot, ...), Sobol points per vessel
fixed_learn_split the same plan with the lab share of the cost that ``mf_learn`` ended with:
                  for seed s, the median over the other seeds' ``mf_learn`` runs (run after
                  them; never the same seed's result)
================= ============================================================================

The fixed designs refit the same AR1 model every round (for its production prediction); their
runs do not depend on it. Their lab points continue the Sobol sequence of the initial lab runs.

Tracked after each round against the cumulative cost: the RMSE and mean 95 % interval width of
the model's production-scale (10 m3, measured level) prediction on a 6 x 6 grid of operating
points (feasible ones only; truth: the noise-free full model), and the true production titer
at the model's recommended point (the argmax of the predicted 10 m3 mean over 128 feasible
Sobol points, whose true titers are computed once). Costs to reach an error and errors at a
budget are read at equal cost from each seed's step function of cost
(:mod:`mfbench.closed_loop_report`).

Usage (the defaults are the full benchmark: 9 strategies, 10 seeds, budget 200, at most 100
proposals; the AR1 model has rho and delta mean linear in log10 V, the `hybrid` defaults)::

    python benchmarks/closed_loop.py [--process ecoli|cho] [--seeds 10] [--budget 200]
        [--max-rounds 100] [--workers 2] [--out DIR]

Writes ``closed_loop.{csv,json,md,png}`` (``ecoli``) or ``closed_loop_cho.*`` (``cho``): one
CSV row per strategy, seed and round; settings and summary; tables; curves with the spread
over seeds. A run with fewer seeds, a smaller budget or cap, or fewer strategies than the
defaults is labelled "reduced" in every output.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import time
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from mfbench import closed_loop_problems as P
from mfbench.closed_loop_report import (
    BUDGETS,
    GOAL_RATIO,
    budget_table,
    cost_to_reach,
    goal_table,
    median_curve,
    plot,
    sf_bo_table,
    summarise,
    value_at_cost,
)

from mfgp import io
from mfgp.acquisition import suggest
from mfgp.models import AR1MultiFidelityGP, SingleFidelityGP

__all__ = ["BUDGETS", "cost_to_reach", "goal_table", "median_curve", "sf_bo_table"]
__all__ += ["value_at_cost", "plan_vessel", "learn_split_shares", "run_one", "main"]

log = logging.getLogger("closed_loop")

RESULTS = Path(__file__).resolve().parent / "results"
ADAPTIVE = ("mf_optimise", "mf_learn", "random", "lab_only", "pilot_only", "sf_bo")
FIXED_SHARES = {"fixed_pilot": 0.0, "fixed_lab_pilot": 0.5}
STRATEGIES = ADAPTIVE + ("fixed_pilot", "fixed_lab_pilot", "fixed_learn_split")
DEFAULTS = {"seeds": 10, "budget": 200.0, "max_rounds": 100}
plan_vessel = P.plan_vessel


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


def _vessel(new: list[float]) -> str:
    return "lab" if abs(new[0] - math.log10(P.LAB_L)) < 1e-6 else "pilot"


def propose(
    strategy: str,
    model: Any,
    sp: Any,
    rnd: int,
    seed: int,
    rng: np.random.Generator,
    plan: P.FixedPlan,
    spent: dict[str, float],
    lab_share: float | None,
    opts: dict[str, Any],
) -> list[float]:
    """The strategy's next run (a model input row at the measured level)."""
    proc = plan.proc
    if lab_share is not None:  # a fixed design: the plan, not the model, chooses
        vessel = P.plan_vessel(spent["lab"], spent["pilot"], lab_share)
        return P.row(P.VOLUMES[vessel], *plan.next_point(vessel), 1)
    if strategy == "random":
        o = sp.options[int(rng.integers(len(sp.options)))]
        a, b = (float(rng.uniform(*proc.bounds[k])) for k in proc.free)
        return P.row(o.volume_L, a, b, 1)
    sub = {"lab_only": ["lab"], "pilot_only": ["pilot"], "sf_bo": ["pilot"]}
    s = sp.restrict(sub[strategy]) if strategy in sub else sp
    goal = {"mf_learn": "learn", "sf_bo": "ei"}.get(strategy, "optimise")
    res = suggest(
        model, s, goal=goal, q=1, seed=seed * 1000 + rnd, n_candidates=opts["n_candidates"], n_mc=64
    )
    return res.X[0].tolist()


def run_one(job: tuple[str, int, dict[str, Any]]) -> list[dict[str, Any]]:
    """One strategy and seed: proposals until the budget or the round cap; one record per
    round (0 = the start)."""
    strategy, seed, shared = job
    torch.set_num_threads(1)
    proc = P.get_process(shared["process"])
    budget, max_rounds = shared["budget"], shared["max_rounds"]
    lab_share = FIXED_SHARES.get(strategy)
    if strategy == "fixed_learn_split":
        lab_share = shared["learn_split"][seed]
    rng = np.random.default_rng(seed)
    sp = P.space(proc)
    plan = P.FixedPlan(proc, seed)
    Xg, yg = shared["grid_X"], shared["grid_y"]
    X = [list(r) for r in shared["low_X"]]
    Y = list(shared["low_Y"])
    for a, b in plan.initial_lab():
        X.append(P.row(P.LAB_L, a, b, 1))
        Y.append(proc.run(P.LAB_L, a, b, simplified=False, rng=rng))
    spent = {"lab": P.N_INITIAL_LAB * P.COSTS["lab"], "pilot": 0.0}
    n_runs = {"lab": P.N_INITIAL_LAB, "pilot": 0}
    reco_pts, reco_y = shared["reco_X"], shared["reco_y"]
    records = []
    model = None
    rnd = 0
    while True:
        t0 = time.perf_counter()
        cost = spent["lab"] + spent["pilot"]
        Xt = torch.tensor(X, dtype=torch.float64)
        Yt = torch.tensor(Y, dtype=torch.float64).unsqueeze(-1)
        model = fit(strategy, Xt, Yt, seed + 100 * rnd, shared["model_options"], model)
        with torch.no_grad():
            pred = model.predict(Xg)
            reco = model.predict(reco_pts).mean
        mean = pred.mean.numpy()
        width = (pred.upper - pred.lower).numpy()
        i_best = int(torch.argmax(reco))
        best = reco_pts[i_best]
        rec = {
            "strategy": strategy,
            "seed": seed,
            "round": rnd,
            "cost": cost,
            "rmse": float(np.sqrt(np.mean((mean - yg) ** 2))),
            "width95": float(np.mean(width)),
            "coverage95": float(np.mean((yg >= pred.lower.numpy()) & (yg <= pred.upper.numpy()))),
            "reco_a": float(best[1]),
            "reco_b": float(best[2]),
            "titer_at_reco": float(reco_y[i_best]),
            "n_lab": n_runs["lab"],
            "n_pilot": n_runs["pilot"],
            "lab_share_target": lab_share,
        }
        if cost >= budget or rnd >= max_rounds:
            rec["stop"] = "budget" if cost >= budget else "max_rounds"
            rec["seconds"] = time.perf_counter() - t0
            records.append(rec)
            break
        opts = shared["model_options"]
        new = propose(strategy, model, sp, rnd, seed, rng, plan, spent, lab_share, opts)
        vessel = _vessel(new)
        X.append(new)
        Y.append(proc.run(P.VOLUMES[vessel], new[1], new[2], simplified=False, rng=rng))
        spent[vessel] += P.COSTS[vessel]
        n_runs[vessel] += 1
        rec["seconds"] = time.perf_counter() - t0
        rec["next_volume_L"] = P.VOLUMES[vessel]
        records.append(rec)
        log.info("%s seed %d round %d: cost %g rmse %.3f", strategy, seed, rnd, cost, rec["rmse"])
        rnd += 1
    return records


def learn_split_shares(df: pd.DataFrame, seeds: list[int]) -> dict[int, float]:
    """For each seed, the median over the *other* seeds of the lab share of the cost that
    ``mf_learn`` ended with (lab cost / total cost after its last round, initial runs
    included)."""
    g = df[df["strategy"] == "mf_learn"].sort_values("round").groupby("seed").tail(1)
    share = dict(zip(g["seed"], g["n_lab"] * P.COSTS["lab"] / g["cost"], strict=True))
    out = {}
    for s in seeds:
        others = [v for k, v in share.items() if k != s]
        if not others:
            raise ValueError("fixed_learn_split needs mf_learn runs of at least one other seed")
        out[s] = float(np.median(others))
    return out


def _run_jobs(jobs: list[tuple[str, int, dict[str, Any]]], workers: int) -> list[dict[str, Any]]:
    if not jobs:
        return []
    if workers > 1:
        with get_context("spawn").Pool(workers) as pool:
            parts = pool.map(run_one, jobs, chunksize=1)
    else:
        parts = [run_one(j) for j in jobs]
    return [r for part in parts for r in part]


#: rough proposals per run to the default budget, to start the long jobs first
_EXPECTED_ROUNDS = {"lab_only": 200, "fixed_lab_pilot": 100, "fixed_learn_split": 50}


def _pilot_check(proc: P.Process, grid_X: torch.Tensor, grid_y: np.ndarray) -> dict[str, float]:
    """The noise-free 200 L titer at the production grid points against the 10 m3 one."""
    pilot = np.array(
        [proc.run(P.PILOT_L, float(r[1]), float(r[2]), simplified=False) for r in grid_X]
    )
    return {
        "fraction_of_grid_below_pilot": float(np.mean(grid_y < pilot)),
        "median_ratio_production_to_pilot": float(np.median(grid_y / pilot)),
        "pilot_grid_max": float(pilot.max()),
    }


def _md(
    settings: dict[str, Any], table: pd.DataFrame, thresholds: dict[str, float], optimum: float
) -> str:
    s = settings
    cost_cols = ["strategy"] + [c for c in table.columns if c.startswith(("cost_to", "cost_stay"))]
    final_cols = ["strategy", "final_cost", "rmse_at_budget", "width95_at_budget"]
    final_cols += ["final_coverage95", "titer_at_reco_at_budget", "best_titer_found"]
    final_cols += ["s_per_round"]
    chk = s["production_vs_pilot"]
    split = s.get("learn_split_shares")
    lines = [
        f"# Closed-loop benchmark, {s['process_title']} ({s['label']})",
        "",
        f"`{s['command']}` ({s['wall_seconds'] / 60:.1f} min wall time, "
        f"{s['workers']} workers on a {s['cpus']}-CPU machine). "
        "Costs: lab (2 L) = 1, pilot (200 L) = 20; target 10 m3. "
        f"Start: {s['initial']}. {s['seeds']} seeds, budget {s['budget']:g}, at most "
        f"{s['max_rounds']} proposals per run (defaults: {DEFAULTS['seeds']} seeds, budget "
        f"{DEFAULTS['budget']:g}, {DEFAULTS['max_rounds']} proposals); the last run may pass the "
        "budget. Optimum of the true 10 m3 titer (grid and recommendation set): "
        f"{optimum:.3f} g/L (grid range {s['grid_titer_range'][0]:.3f}-"
        f"{s['grid_titer_range'][1]:.3f}). The noise-free 10 m3 titer is below the 200 L titer "
        f"at {100 * chk['fraction_of_grid_below_pilot']:.0f} % of the grid points (median "
        f"ratio {chk['median_ratio_production_to_pilot']:.2f}).",
        "",
        "Every value is read at equal cost: a seed's value at cost c is the one after its last "
        "round within c (undefined after a run stopped by the round cap); the median over seeds "
        "is the curve. `cost_to_*`: first cost where the median RMSE on the 10 m3 grid is at or "
        "below the threshold (`cost_stay_*`: and stays so up to the budget); thresholds are "
        "fractions of the sd of the true 10 m3 titer on the grid, or the error single-fidelity "
        "BO ends its budget with (`sf_bo_final`): "
        + ", ".join(f"{k} = {v:.3f} g/L" for k, v in thresholds.items())
        + ". `cost_to_titer>=99%opt`: the median true titer at the recommendation reaches 99 % "
        "of the optimum (the start costs 3). nan: not reached within the budget.",
        "",
    ]
    if split:
        vals = sorted(set(round(v, 4) for v in split.values()))
        lines += [
            "`fixed_learn_split`: lab share of the cost per seed (median over the other seeds' "
            f"final `mf_learn` split): {', '.join(f'{v:.3f}' for v in vals)}.",
            "",
        ]
    lines += [
        "## Cost to reach an error",
        "",
        table[cost_cols].to_markdown(index=False, floatfmt=".3g"),
        "",
        "## Equal budgets: RMSE at cost <= B, and the vessels each strategy ran",
        "",
        "Median RMSE over seeds after the last round within B (nan: more than half the seeds "
        "stopped by the round cap before B); median final number of lab and pilot runs "
        "(initial 3 lab runs included), lab share of the final cost, proposals, and the seeds "
        "stopped by the round cap.",
        "",
        budget_table(table).to_markdown(index=False, floatfmt=".3g"),
        "",
        f"## At the budget ({s['budget']:g})",
        "",
        table[final_cols].to_markdown(index=False, floatfmt=".3g"),
        "",
        "## Goal: learn against the fixed designs",
        "",
        "Cost of `mf_learn` and `mf_optimise` to reach each RMSE criterion over the cost of the "
        "best fixed design (the cheapest of `fixed_pilot`, `fixed_lab_pilot` and "
        f"`fixed_learn_split` that reaches it). The goal is a ratio <= {GOAL_RATIO:g} for "
        "`mf_learn` on the 1-sd rows; the other rows are for information (in brackets).",
        "",
        goal_table(table).to_markdown(index=False, floatfmt=".3g"),
        "",
    ]
    sfb = sf_bo_table(table)
    if len(sfb):
        lines += [
            "## Against single-fidelity BO (issue 6)",
            "",
            "Cost of each multi-fidelity strategy over the cost of `sf_bo` (goal <= 0.5); "
            "`pilot_only` for reference; a strategy that meets a criterion that `sf_bo` never "
            "meets counts as met.",
            "",
            sfb.to_markdown(index=False, floatfmt=".3g"),
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--process", default="ecoli", choices=sorted(P.PROCESSES))
    p.add_argument("--seeds", type=int, default=DEFAULTS["seeds"])
    p.add_argument(
        "--budget", type=float, default=DEFAULTS["budget"], help="cumulative cost per run (200)"
    )
    p.add_argument(
        "--max-rounds",
        type=int,
        default=DEFAULTS["max_rounds"],
        help="at most this many proposals per run, whatever the cost (100)",
    )
    p.add_argument("--strategies", default=",".join(STRATEGIES))
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--n-candidates", type=int, default=128, help="Sobol candidates per option")
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
    unknown = sorted(set(strategies) - set(STRATEGIES))
    if unknown:
        p.error(f"unknown strategies {unknown}; have {list(STRATEGIES)}")
    if "fixed_learn_split" in strategies and "mf_learn" not in strategies:
        p.error("fixed_learn_split needs mf_learn (its lab share comes from mf_learn's runs)")
    reduced = (
        args.seeds < DEFAULTS["seeds"]
        or args.budget < DEFAULTS["budget"]
        or args.max_rounds < DEFAULTS["max_rounds"]
        or set(strategies) != set(STRATEGIES)
    )
    label = "REDUCED run" if reduced else "full run"
    proc = P.get_process(args.process)
    t0 = time.perf_counter()
    low_X, low_Y = P.low_fidelity_rows(proc, 0)
    grid_X, grid_y = P.test_grid(proc)
    reco_X, reco_y = P.recommendation_set(proc)
    shared: dict[str, Any] = {"process": proc.name, "low_X": low_X, "low_Y": low_Y}
    shared |= {"grid_X": grid_X, "grid_y": grid_y, "reco_X": reco_X, "reco_y": reco_y}
    shared |= {"budget": args.budget, "max_rounds": args.max_rounds}
    shared["model_options"] = {
        "rho": args.rho,
        "delta_mean": args.delta_mean,
        "warm_start": args.warm_start,
        "rho_slope_sd": args.rho_slope_sd,
        "restarts": args.restarts,
        "maxiter": args.maxiter,
        "n_candidates": args.n_candidates,
    }
    seeds = list(range(args.seeds))
    first = [s for s in strategies if s != "fixed_learn_split"]
    first.sort(key=lambda s: -_EXPECTED_ROUNDS.get(s, 30))
    records = _run_jobs([(s, seed, shared) for s in first for seed in seeds], args.workers)
    split = None
    if "fixed_learn_split" in strategies:
        split = learn_split_shares(pd.DataFrame(records), seeds)
        shared["learn_split"] = split
        records += _run_jobs([("fixed_learn_split", seed, shared) for seed in seeds], args.workers)
    df = pd.DataFrame(records)
    order = {s: i for i, s in enumerate(strategies)}
    df = df.sort_values(
        ["strategy", "seed", "round"], key=lambda c: c.map(order) if c.name == "strategy" else c
    ).reset_index(drop=True)
    optimum = float(max(grid_y.max(), reco_y.max()))
    table, thresholds = summarise(df, optimum, float(grid_y.std()), args.budget)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "closed_loop" if proc.name == "ecoli" else f"closed_loop_{proc.name}"
    title = f"closed loop, {proc.name}, {label}: {args.seeds} seeds, budget {args.budget:g}"
    io.atomic_write_csv(args.out / f"{stem}.csv", df)

    settings = {
        "label": label,
        "reduced": reduced,
        "process": proc.name,
        "process_title": proc.title,
        "seeds": args.seeds,
        "budget": args.budget,
        "max_rounds": args.max_rounds,
        "defaults": DEFAULTS,
        "strategies": strategies,
        "costs": P.COSTS,
        "scales_L": {"lab": P.LAB_L, "pilot": P.PILOT_L, "target": P.TARGET_L},
        "bounds": proc.bounds,
        "noise": proc.noise,
        "model_options": shared["model_options"],
        "initial": f"{P.N_INITIAL_LAB} lab runs + {len(low_Y)} simplified-model runs",
        "optimum_titer": optimum,
        "grid_titer_range": [float(grid_y.min()), float(grid_y.max())],
        "production_vs_pilot": _pilot_check(proc, grid_X, grid_y),
        "thresholds": thresholds,
        "learn_split_shares": split,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "wall_seconds": time.perf_counter() - t0,
        "command": "python benchmarks/closed_loop.py "
        f"--process {proc.name} --seeds {args.seeds} --budget {args.budget:g} "
        f"--max-rounds {args.max_rounds} --workers {args.workers} "
        f"--n-candidates {args.n_candidates} --rho {args.rho} "
        f"--restarts {args.restarts} --maxiter {args.maxiter} --delta-mean {args.delta_mean}"
        + ("" if args.warm_start else " --no-warm-start")
        + ("" if args.rho_slope_sd is None else f" --rho-slope-sd {args.rho_slope_sd:g}")
        + (f" --strategies {','.join(strategies)}" if set(strategies) != set(STRATEGIES) else ""),
    }
    io.atomic_write_json(
        args.out / f"{stem}.json",
        {
            "settings": settings,
            "summary": table.to_dict(orient="records"),
            "goal": goal_table(table).to_dict(orient="records"),
            "sf_bo": sf_bo_table(table).to_dict(orient="records"),
            "versions": io.versions(),
        },
    )
    io.atomic_write_text(args.out / f"{stem}.md", _md(settings, table, thresholds, optimum))
    io.atomic_write_bytes(args.out / f"{stem}.png", plot(df, None, title, optimum, args.budget))
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print(goal_table(table).to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
