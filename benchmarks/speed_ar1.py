"""Fit and predict time of AR1 co-kriging, recursive vs joint, against BoTorch, on Borehole.

Borehole (8D, two levels) with ``n_LF`` in {400, 1600, 6400} and ``n_HF = n_LF / 5`` (nested
Sobol design, seed 0), 1000 test points at the top level. Every cell (model x size x device) runs
in its own subprocess, which first fits the same model untimed on a tiny problem (one-off
import and initialisation costs stay out of the times), with a wall-clock budget (``--budget``,
default 300 s): a cell that runs out of time or memory is recorded with the reason, never with
an invented number, and larger sizes of that model are then skipped.

Models, all with one marginal-likelihood optimisation (``--restarts 1``) so that the times compare
like with like:

- ``ar1_recursive``: ``AR1MultiFidelityGP(mode="recursive")`` with its defaults (Le Gratiet &
  Garnier 2014, cost ``O(sum n_k^3)``; a level with more than ``fit_rows=1000`` rows fits its
  hyperparameters on a seeded subset of 1000 rows and conditions on all of them);
- ``ar1_recursive_all``: the same with ``fit_rows=None`` (every row in every likelihood
  evaluation), to show what the subset buys and costs;
- ``ar1_joint``: ``AR1MultiFidelityGP(mode="joint")`` (Kennedy & O'Hagan 2000, one GP over all
  rows, ``O((sum n_k)^3)`` per step; its first restart starts from a recursive fit on every row,
  included in its time: mfgp's fastest joint fit);
- ``ar1_joint_textbook``: the same with ``joint_start="default"``: the textbook joint fit, all
  hyperparameters optimised together from the data-driven start, which the issue's goal has in
  mind;
- ``botorch_stmf``: BoTorch's ``SingleTaskMultiFidelityGP`` (one GP over all rows).

Goals (issue 4): the recursive fit is at least 5x faster than the joint fit at ``n_LF = 1600``,
and ``n_LF = 6400`` fits within 2 minutes on 2 CPU cores.

Usage::

    .venv/bin/python benchmarks/speed_ar1.py                    # CPU, all sizes
    .venv/bin/python benchmarks/speed_ar1.py --device all       # CPU and CUDA when available
    .venv/bin/python benchmarks/speed_ar1.py --sizes 400 --budget 60

Writes ``benchmarks/results/speed_ar1.{csv,json,md,png}`` (``--replot``: only the figure, from
the CSV of an earlier run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from mfgp import io, metrics
from mfgp.test_functions import Borehole, make_problem

OUT = Path(__file__).resolve().parent / "results"
MODELS = ("ar1_recursive", "ar1_recursive_all", "ar1_joint", "ar1_joint_textbook", "botorch_stmf")
MARK = "@@RESULT@@"


def run_cell(
    model: str, n_lf: int, device: str, restarts: int, n_test: int, warmup: bool = True
) -> dict[str, Any]:
    """Fit and predict one model on one size; returns times (s) and the test NRMSE.

    With ``warmup``, the same model is first fitted untimed on a 20/4-row Borehole problem, so
    that the timed fit excludes one-off costs of a fresh process (lazy imports such as
    ``torch._dynamo`` on the first optimiser step, about 1.2 s here; CUDA context creation)."""
    if warmup:
        run_cell(model, 20, device, restarts, 10, warmup=False)
    dev = torch.device(device)
    X, Y, Xt, Yt = make_problem(Borehole(), (n_lf, n_lf // 5), seed=0, n_test=n_test)
    X, Y, Xt, Yt = (t.to(dev) for t in (X, Y, Xt, Yt))
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    warnings.simplefilter("ignore")
    if model.startswith("ar1"):
        from mfgp.models.ar1 import AR1MultiFidelityGP

        mode = "joint" if model.startswith("ar1_joint") else "recursive"
        fit_rows = None if model == "ar1_recursive_all" else 1000
        start = "default" if model == "ar1_joint_textbook" else "recursive"
        m = AR1MultiFidelityGP(mode=mode, restarts=restarts, fit_rows=fit_rows, joint_start=start)
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        m.fit((X, Y), seed=0)
        sync()
        t1, c1 = time.perf_counter(), time.process_time()
        pred = m.predict(Xt)
        mean = pred.mean
        sync()
        t2, c2 = time.perf_counter(), time.process_time()
    elif model == "botorch_stmf":
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskMultiFidelityGP
        from botorch.models.transforms.input import Normalize
        from botorch.models.transforms.outcome import Standardize
        from gpytorch.mlls import ExactMarginalLogLikelihood

        d = X.shape[-1] - 1
        bounds = torch.stack([X.min(0).values, X.max(0).values])
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        gp = SingleTaskMultiFidelityGP(
            X,
            Y,
            data_fidelities=[d],
            input_transform=Normalize(d + 1, bounds=bounds),
            outcome_transform=Standardize(1),
        )
        fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
        sync()
        t1, c1 = time.perf_counter(), time.process_time()
        with torch.no_grad():
            mean = gp.posterior(Xt).mean.squeeze(-1)
        sync()
        t2, c2 = time.perf_counter(), time.process_time()
    else:
        raise ValueError(f"unknown model {model!r}")
    return {
        "fit_s": t1 - t0,
        "predict_s": t2 - t1,
        "fit_cpu_s": c1 - c0,
        "predict_cpu_s": c2 - c1,
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "nrmse": metrics.nrmse(Yt.squeeze(-1).cpu(), mean.detach().cpu()),
        "n_train": int(X.shape[0]),
    }


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(0)
    return info


def markdown(rows: pd.DataFrame, meta: dict[str, Any], goal_rows: list[dict[str, Any]]) -> str:
    lines = [
        "# AR1 speed on Borehole: recursive vs joint vs BoTorch",
        "",
        f"Date: {meta['date']}. Machine: {meta['machine']['platform']}, "
        f"{meta['machine']['cpu_count']} CPU cores, torch threads "
        f"{meta['machine']['torch_threads']}; load average at start "
        f"{meta['machine']['load_average_at_start']}. Command: `{meta['command']}`.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
        "",
        f"n_HF = n_LF / 5, {meta['n_test']} test points, {meta['restarts']} restart(s) per model, "
        f"per-cell budget {meta['budget_s']} s (subprocess; cells over budget are reported, "
        "never estimated). Each cell first fits its model untimed on a 20/4-row problem, so "
        "that one-off import costs are not timed.",
        "",
        "Wall-clock seconds depend on the other jobs on the machine; CPU seconds (all threads of",
        "the cell's process) are less sensitive to them. `load` is the 1-minute load average",
        "when the cell finished.",
        "",
        "| device | model | n_LF | n_HF | fit s | fit CPU s | predict s | NRMSE | load | status |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in rows.iterrows():
        fit = "-" if pd.isna(r.get("fit_s")) else f"{r['fit_s']:.1f}"
        pr = "-" if pd.isna(r.get("predict_s")) else f"{r['predict_s']:.2f}"
        nr = "-" if pd.isna(r.get("nrmse")) else f"{r['nrmse']:.4f}"
        cpu = "-" if pd.isna(r.get("fit_cpu_s")) else f"{r['fit_cpu_s']:.1f}"
        ld = "-" if pd.isna(r.get("load_average")) else f"{r['load_average']:.1f}"
        lines.append(
            f"| {r['device']} | {r['model']} | {r['n_lf']} | {r['n_hf']} | {fit} | {cpu} | {pr} "
            f"| {nr} | {ld} | {r['status']} |"
        )
    lines.append("")
    if goal_rows:
        lines += ["## Goals of issue 4", "", "| goal | met | detail |", "|---|---|---|"]
        lines += [f"| {g['goal']} | {g['met']} | {g['detail']} |" for g in goal_rows]
        lines.append("")
    return "\n".join(lines)


def goals(rows: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    cpu = rows[(rows.device == "cpu") & (rows.status == "ok")].set_index(["model", "n_lf"])

    def fit(model: str, n: int) -> float | None:
        return float(cpu.loc[(model, n), "fit_s"]) if (model, n) in cpu.index else None

    rec = fit("ar1_recursive", 1600)
    for jm, what in (("ar1_joint", "mfgp joint mode"), ("ar1_joint_textbook", "textbook joint")):
        joint = fit(jm, 1600)
        if rec is not None and joint is not None:
            ratio = joint / rec
            met, detail = ("yes" if ratio >= 5 else "no"), f"{jm}/ar1_recursive = {ratio:.1f}x"
        elif rec is not None and 1600 in set(rows.n_lf):
            st = rows[(rows.model == jm) & (rows.n_lf == 1600)].status.tolist()
            met = "yes (joint did not finish)" if st and st[0].startswith("timeout") else "n/a"
            detail = f"recursive {rec:.1f} s; {jm}: {st[0] if st else 'not run'}"
        else:
            met, detail = "n/a", f"ar1_recursive or {jm} at n_LF=1600 not measured"
        out.append(
            {
                "goal": f"recursive fit >= 5x faster than joint at n_LF=1600 (CPU; {what})",
                "met": met,
                "detail": detail,
            }
        )
    r6400 = fit("ar1_recursive", 6400)
    if r6400 is not None:
        out.append(
            {
                "goal": "recursive fit at n_LF=6400 within 120 s (CPU)",
                "met": "yes" if r6400 <= 120 else "no",
                "detail": f"{r6400:.1f} s",
            }
        )
    else:
        st = rows[(rows.model == "ar1_recursive") & (rows.n_lf == 6400)].status.tolist()
        out.append(
            {
                "goal": "recursive fit at n_LF=6400 within 120 s (CPU)",
                "met": "not measured" if st else "n/a",
                "detail": st[0] if st else "not run",
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="400,1600,6400", help="comma list of n_LF")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda", "all"))
    ap.add_argument("--budget", type=float, default=300.0, help="seconds per cell")
    ap.add_argument("--restarts", type=int, default=1)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--cell", default=None, help=argparse.SUPPRESS)  # internal: model,n,device
    ap.add_argument("--replot", action="store_true", help="redraw the figure from the CSV")
    args = ap.parse_args(argv)
    if args.replot:
        meta = json.loads((args.out / "speed_ar1.json").read_text())["meta"]
        plot(pd.read_csv(args.out / "speed_ar1.csv"), args.out / "speed_ar1.png", meta["budget_s"])
        return 0

    if args.cell:  # child process: run one cell, print the result as JSON
        model, n, device = args.cell.split(",")
        res = run_cell(model, int(n), device, args.restarts, args.n_test)
        print(MARK + json.dumps(res), flush=True)
        return 0

    devices = ["cpu"] if args.device == "cpu" else ["cuda"] if args.device == "cuda" else ["cpu"]
    if args.device == "all" and torch.cuda.is_available():
        devices.append("cuda")
    if "cuda" in devices and not torch.cuda.is_available():
        ap.error("--device cuda: CUDA is not available on this machine")
    sizes = [int(s) for s in args.sizes.split(",")]
    models = [m for m in args.models.split(",") if m]
    meta = {
        "script": "benchmarks/speed_ar1.py",
        "command": "python " + " ".join(["benchmarks/speed_ar1.py", *sys.argv[1:]]),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "versions": io.versions(),
        "budget_s": args.budget,
        "restarts": args.restarts,
        "n_test": args.n_test,
        "problem": "borehole, nested Sobol design seed 0, n_HF = n_LF / 5",
    }
    records: list[dict[str, Any]] = []
    blocked_by: dict[tuple[str, str], str] = {}
    for device in devices:
        for n in sizes:  # size-major: the small sizes of every model first
            for model in models:
                base = {"device": device, "model": model, "n_lf": n, "n_hf": n // 5}
                blocked = blocked_by.get((device, model))
                if blocked:
                    records.append({**base, "status": blocked})
                    print(f"{device} {model:14s} n_LF={n:5d} {blocked}", flush=True)
                    continue
                cmd = [
                    sys.executable,
                    __file__,
                    "--cell",
                    f"{model},{n},{device}",
                    "--restarts",
                    str(args.restarts),
                    "--n-test",
                    str(args.n_test),
                ]
                t0 = time.perf_counter()
                try:
                    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.budget)
                except subprocess.TimeoutExpired:
                    st = f"timeout: not finished within the {args.budget:.0f} s budget"
                    records.append({**base, "status": st})
                    blocked_by[(device, model)] = (
                        f"skipped: n_LF={n} exceeded the {args.budget:.0f} s budget"
                    )
                    write(args.out, pd.DataFrame(records), meta)
                    print(f"{device} {model:14s} n_LF={n:5d} {st}", flush=True)
                    continue
                wall = time.perf_counter() - t0
                lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
                if proc.returncode != 0 or not lines:
                    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
                    why = "out of memory" if proc.returncode in (-9, 137) else tail
                    st = f"failed (exit {proc.returncode}): {why}"
                    records.append({**base, "status": st, "wall_s": wall})
                    blocked_by[(device, model)] = f"skipped: n_LF={n} failed"
                    write(args.out, pd.DataFrame(records), meta)
                    print(f"{device} {model:14s} n_LF={n:5d} {st}", flush=True)
                    continue
                res = json.loads(lines[-1][len(MARK) :])
                records.append({**base, "status": "ok", **res, "wall_s": wall})
                print(
                    f"{device} {model:14s} n_LF={n:5d} fit {res['fit_s']:.1f}s "
                    f"predict {res['predict_s']:.2f}s nrmse {res['nrmse']:.4f}",
                    flush=True,
                )
                rows = pd.DataFrame(records)
                write(args.out, rows, meta)
    rows = pd.DataFrame(records)
    write(args.out, rows, meta)
    return 0


def write(out: Path, rows: pd.DataFrame, meta: dict[str, Any]) -> None:
    for col in ("fit_s", "predict_s", "fit_cpu_s", "load_average", "nrmse", "n_train", "wall_s"):
        if col not in rows:
            rows[col] = float("nan")
    goal_rows = goals(rows)
    io.atomic_write_csv(out / "speed_ar1.csv", rows)
    io.atomic_write_json(
        out / "speed_ar1.json",
        {"meta": meta, "goals": goal_rows, "rows": rows.to_dict(orient="records")},
    )
    io.atomic_write_text(out / "speed_ar1.md", markdown(rows, meta, goal_rows))
    plot(rows, out / "speed_ar1.png", float(meta["budget_s"]))


def plot(rows: pd.DataFrame, path: Path, budget: float) -> None:
    """Fit seconds against n_LF (log-log), one line per model and device; a cell over the
    budget is drawn as an open triangle at the budget (its time is unknown, only larger)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mfgp.report import save_figure

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, ((device, model), g) in enumerate(rows.groupby(["device", "model"], sort=False)):
        ok = g[g.status == "ok"].sort_values("n_lf")
        over = g[g.status.astype(str).str.startswith("timeout")]
        (line,) = ax.plot(ok["n_lf"], ok["fit_s"], marker="o", label=f"{model} ({device})")
        if len(over):  # spread the markers of models over budget at the same size
            x = over["n_lf"] * (1 + 0.05 * i)
            ax.plot(x, [budget] * len(over), ls="", marker="^", mfc="none", color=line.get_color())
    ax.axhline(120, color="k", ls=":", lw=1, label="2 min (goal at n_LF = 6400)")
    ax.axhline(budget, color="grey", ls="--", lw=0.8, label=f"budget {budget:.0f} s (^: over)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n_LF (n_HF = n_LF / 5), Borehole")
    ax.set_ylabel("fit seconds")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
