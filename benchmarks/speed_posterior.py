"""Batched posterior and knowledge-gradient time of AR1: mfgp against the method before.

Acquisition optimisers query a model with large batches (``raw_samples x q x d``) and, for
knowledge gradient, condition it on fantasies at every step. AR1 answers such queries with
triangular solves against each unbatched training factor with the batch folded into the columns
(:func:`mfgp.models.gp_linalg.solve_lower`), and its joint-mode and fantasy posteriors from one
Cholesky factor of the training rows, cached per parameter state and shared with its fantasy
models, plus a block update for the fantasy rows (``condition_on_observations``). The
reference, ``before``, is the same code with what mfgp did before, patched in: torch's broadcast
triangular solve (a copy of the factor per batch element), and one dense factorisation of
training plus fantasy rows per batch element and call (:func:`dense_latent`). Both methods give
the same numbers; the script checks that and reports the largest difference.

On Borehole (8D, two levels, ``n_HF = n_LF / 5``, nested Sobol design, seed 0), with an AR1
fitted once (recursive mode, defaults, one restart), per size it times:

- ``recursive_posterior_512x1`` and ``joint_posterior_512x1``: the recursive model's and a
  joint-mode copy's posterior at 512 single points (``512 x 1 x 9``, the shape of an
  acquisition optimiser's raw samples), on warm caches (the first call, which factorises, is
  reported separately as ``first_call_s``);
- ``qmfkg_forward_backward``: BoTorch's ``qMultiFidelityKnowledgeGradient`` (16 fantasies,
  ``project`` to the top level, cost-aware) forward and backward on 8 one-shot candidate sets
  (``8 x 17 x 9``): what each gradient step of ``optimize_acqf`` with 8 restarts costs.

A ``before`` cell that would need more than ``--max-dense-gb`` of memory is skipped, and
recorded as skipped. Times are medians of ``--repeats`` runs.

Usage::

    .venv/bin/python benchmarks/speed_posterior.py                     # sizes 100,400,1600
    .venv/bin/python benchmarks/speed_posterior.py --sizes 100 --repeats 1 --out /tmp/sp

Writes ``OUT/speed_posterior.{csv,json,md}`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pandas as pd
import torch
from botorch.acquisition import qMultiFidelityKnowledgeGradient
from botorch.acquisition.cost_aware import InverseCostWeightedUtility
from botorch.models.cost import AffineFidelityCostModel
from mfbench.harness import machine_info
from torch import Tensor

from mfgp import io
from mfgp.models.ar1 import AR1MultiFidelityGP
from mfgp.models.ar1 import joint as ar1_joint
from mfgp.models.ar1 import recursive as ar1_recursive
from mfgp.models.gp_linalg import jittered_cholesky
from mfgp.test_functions import Borehole, make_problem

OUT = Path(__file__).resolve().parent / "results"
CELLS = ("recursive_posterior_512x1", "joint_posterior_512x1", "qmfkg_forward_backward")


def dense_latent(model: AR1MultiFidelityGP, X: Tensor) -> tuple[Tensor, Tensor]:
    """Reference joint posterior: one dense factorisation of training plus conditioned rows,
    broadcast to the query's batch shape (mfgp's method before the cached block update), from
    the model's joint GP (``joint_gp``: its rows, mean, KOH kernel and level noise)."""
    gp = model.joint_gp()
    Xa, ya = gp.train_inputs[0], gp.train_targets
    na = gp.likelihood.noise_covar(Xa).diagonal()
    batch = torch.broadcast_shapes(Xa.shape[:-2], X.shape[:-2])
    Xa, X = Xa.expand(*batch, *Xa.shape[-2:]), X.expand(*batch, *X.shape[-2:])
    ya, na = ya.expand(*batch, ya.shape[-1]), na.expand(*batch, na.shape[-1])
    kernel, mean_fn = model.covar_module, model.mean_module
    L = jittered_cholesky(kernel(Xa, Xa).to_dense() + torch.diag_embed(na))
    alpha = torch.cholesky_solve((ya - mean_fn(Xa)).unsqueeze(-1), L)
    Kts = kernel(Xa, X).to_dense()
    mean = mean_fn(X) + (Kts.transpose(-1, -2) @ alpha).squeeze(-1)
    V = torch.linalg.solve_triangular(L, Kts, upper=False)
    return mean, kernel(X, X).to_dense() - V.transpose(-1, -2) @ V


def _before_latent(model: AR1MultiFidelityGP, X: Tensor) -> tuple[Tensor, Tensor]:
    """``latent_posterior`` as before: joint-mode and conditioned models (always joint) by
    :func:`dense_latent`, recursive ones as they are."""
    if model.config["mode"] == "joint":
        return dense_latent(model, X)
    return _LATENT(model, X)


_LATENT = AR1MultiFidelityGP.latent_posterior


def _median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def run_size(n_lf: int, repeats: int, max_dense_gb: float) -> list[dict[str, Any]]:
    """Both cells, both methods, at one size; returns result rows."""
    warnings.simplefilter("ignore")
    X, Y, _, _ = make_problem(Borehole(), (n_lf, n_lf // 5), seed=0, n_test=10)
    n_rows, d = X.shape
    t0 = time.perf_counter()
    model = AR1MultiFidelityGP(restarts=1).fit((X, Y), seed=0)
    fit_s = time.perf_counter() - t0
    model.eval()
    g = torch.Generator().manual_seed(0)
    queries = torch.rand(512, 1, d, generator=g, dtype=X.dtype)
    queries[..., -1] = 1.0
    cands = torch.rand(8, 17, d, generator=g, dtype=X.dtype)
    cands[..., -1] = (torch.arange(8) % 2).to(X.dtype).view(8, 1)  # cheap and pilot runs
    cands[:, 1:, -1] = 1.0  # the one-shot fantasy solutions live at the top level
    cost = InverseCostWeightedUtility(
        cost_model=AffineFidelityCostModel(fidelity_weights={d - 1: 4.0}, fixed_cost=1.0)
    )

    def project(Z: Tensor) -> Tensor:
        Z = Z.clone()
        Z[..., -1] = 1.0
        return Z

    joint = model.as_joint()

    def recursive_cell() -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            post = model.posterior(queries)
        return post.mean.reshape(-1), post.variance.reshape(-1)

    def joint_cell() -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            post = joint.posterior(queries)
        return post.mean.reshape(-1), post.variance.reshape(-1)

    def kg_cell() -> tuple[Tensor, Tensor]:
        kg = qMultiFidelityKnowledgeGradient(
            model,
            num_fantasies=16,
            current_value=torch.tensor(0.0, dtype=X.dtype),
            cost_aware_utility=cost,
            project=project,
        )
        Xc = cands.clone().requires_grad_(True)
        torch.manual_seed(0)  # BoTorch's fantasy sampler draws its base samples once, globally
        values = kg(Xc)
        values.sum().backward()
        return values.detach(), Xc.grad.reshape(-1)

    # (cell, function, the method before as a patch, GB the method before needs): the dense
    # joint posterior holds about 3 batch x (N + 17)^2 matrices, KG's backward about 12, and
    # the broadcast triangular solve one batch x N^2 copy of each level's factor
    plan = (
        ("recursive_posterior_512x1", recursive_cell, _broadcast_solves, 512 * n_rows**2 * 8),
        ("joint_posterior_512x1", joint_cell, _dense_joint, 512 * (n_rows + 1) ** 2 * 8 * 3),
        ("qmfkg_forward_backward", kg_cell, _dense_joint, 8 * 16 * (n_rows + 17) ** 2 * 8 * 12),
    )
    rows: list[dict[str, Any]] = []
    for cell, fn, before, nbytes in plan:
        base = {"n_lf": n_lf, "n_rows": n_rows, "cell": cell, "fit_s": round(fit_s, 3)}
        first, _ = _median_time(fn, 1)  # builds the caches (factors of the training rows)
        new_s, new_out = _median_time(fn, repeats)
        new = {**base, "method": "mfgp", "seconds": new_s, "first_call_s": first, "status": "ok"}
        if nbytes / 1e9 > max_dense_gb:
            old = {**base, "method": "before", "status": f"skipped: needs ~{nbytes / 1e9:.0f} GB"}
        else:
            with before():
                old_s, old_out = _median_time(fn, repeats)
            old = {**base, "method": "before", "seconds": old_s, "status": "ok"}
            new["max_abs_diff"] = max(
                float((a - b).abs().max()) for a, b in zip(new_out, old_out, strict=True)
            )
            new["speedup"] = old_s / new_s
        rows += [new, old]
        for r in (new, old):
            print(
                f"n_LF {n_lf:5d} {cell:26s} {r['method']:6s} "
                + (f"{r['seconds']:8.3f} s" if r["status"] == "ok" else r["status"]),
                flush=True,
            )
    return rows


def _dense_joint() -> Any:
    return mock.patch.object(AR1MultiFidelityGP, "latent_posterior", _before_latent)


def _broadcast_solves() -> Any:
    stack = contextlib.ExitStack()
    for module in (ar1_recursive, ar1_joint):  # the submodules that call solve_lower
        stack.enter_context(
            mock.patch.object(
                module, "solve_lower", lambda L, B: torch.linalg.solve_triangular(L, B, upper=False)
            )
        )
    return stack


def markdown(rows: pd.DataFrame, meta: dict[str, Any]) -> str:
    lines = [
        "# Batched posterior and knowledge-gradient time of AR1: mfgp vs the method before",
        "",
        f"Command: `{meta['command']}`  ",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in meta["machine"].items()) + "  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        "",
        "Borehole, `n_HF = n_LF / 5`, AR1 recursive defaults (one restart); 512 single-point "
        "queries (`512 x 1 x 9`) and qMFKG forward + backward on `8 x 17 x 9` (16 fantasies). "
        "`mfgp`: triangular solves against an unbatched factor with the batch folded into the "
        "columns; joint and fantasy posteriors from one cached factor of the training rows plus "
        "a block update per fantasy. `before`: the same code with torch's broadcast triangular "
        "solves (a copy of the factor per batch element; recursive cell) or with one dense "
        "factorisation of training plus fantasy rows per batch element (joint and KG cells). "
        f"Seconds are medians of {meta['repeats']} runs; `first_call_s`: the first call, which "
        "builds the caches. `max_abs_diff`: largest difference between the two methods' "
        "outputs (posterior mean and variance, or KG values and gradients), in data units; "
        "`before` cells that would need more than `--max-dense-gb` are skipped.",
        "",
        rows.to_markdown(index=False, floatfmt=".4g"),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,400,1600", help="comma list of n_LF")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per cell (median)")
    ap.add_argument("--max-dense-gb", type=float, default=6.0, help="skip larger dense cells")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--out", type=Path, default=OUT, help="output folder")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    rows: list[dict[str, Any]] = []
    run_size(20, 1, args.max_dense_gb)  # warm-up, untimed: lazy imports, first optimiser step
    for n in sizes:
        rows.extend(run_size(n, args.repeats, args.max_dense_gb))
    frame = pd.DataFrame(rows)
    meta = {
        "command": "python " + " ".join(["benchmarks/speed_posterior.py", *sys.argv[1:]]),
        "machine": machine_info(),
        "versions": io.versions(),
        "repeats": args.repeats,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    io.atomic_write_csv(args.out / "speed_posterior.csv", frame)
    io.atomic_write_json(args.out / "speed_posterior.json", {"meta": meta, "rows": rows})
    io.atomic_write_text(args.out / "speed_posterior.md", markdown(frame, meta))
    print(f"wrote {args.out}/speed_posterior.{{csv,json,md}}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
