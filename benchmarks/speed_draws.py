"""Predict time of AR1 with hyperparameter draws (``AR1MultiFidelityGP.for_simulator()``).

``for_simulator()`` integrates over each level's kernel hyperparameters with 32 posterior draws
(``hyperparameter_samples=32``); its posterior is the mixture over the draws. The draws are
evaluated as one batch dimension of the level kernels (``batch_shape = (32,)``, as BoTorch's
fully Bayesian models hold their MCMC samples), and a level whose draws all equal its fitted
values (a level over ``fit_rows``, here the cheap level) is evaluated once for all draws.

Borehole (8 inputs, two levels), nested Sobol design with ``n_LF`` cheap rows and
``n_HF = n_LF / 5`` top rows (seed 0), one restart; per size it times the fit, the first
``predict`` at 1000 top-level test points (which builds the draws' factors) and a second one
(warm), and records the test NRMSE.

Usage::

    .venv/bin/python benchmarks/speed_draws.py                  # n_LF 1600, 6400
    .venv/bin/python benchmarks/speed_draws.py --sizes 400

Writes ``benchmarks/results/speed_draws.{csv,json,md}``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from mfbench.run_files import run_header, run_info, write_run

from mfgp import metrics
from mfgp.models import AR1MultiFidelityGP
from mfgp.test_functions import Borehole, make_problem

OUT = Path(__file__).resolve().parent / "results" / "speed_draws"


def run_size(n_lf: int, samples: int) -> dict[str, Any]:
    """Fit ``for_simulator(hyperparameter_samples=samples)`` on one size; times and NRMSE."""
    warnings.simplefilter("ignore")
    X, Y, Xt, Yt = make_problem(Borehole(), (n_lf, n_lf // 5), seed=0, n_test=1000)
    model = AR1MultiFidelityGP.for_simulator(restarts=1, hyperparameter_samples=samples)
    t0 = time.perf_counter()
    model.fit((X, Y), seed=0)
    t1 = time.perf_counter()
    first = model.predict(Xt)
    t2 = time.perf_counter()
    model.predict(Xt)
    t3 = time.perf_counter()
    return {
        "n_LF": n_lf,
        "n_HF": n_lf // 5,
        "draws": samples,
        "fit_s": t1 - t0,
        "predict_first_s": t2 - t1,
        "predict_warm_s": t3 - t2,
        "nrmse": float(metrics.nrmse(Yt.squeeze(-1), first.mean)),
    }


def _markdown(df: pd.DataFrame, command: str, info: dict[str, Any]) -> str:
    return "\n".join(
        [
            *run_header(
                "Predict time of AR1 with hyperparameter draws (for_simulator)", command, info
            ),
            "Borehole, nested Sobol design, n_HF = n_LF / 5, 1000 top-level test points, one "
            "restart; `predict_first_s` builds the draws' factors, `predict_warm_s` reuses them.",
            "",
            df.to_markdown(index=False, floatfmt=".4g"),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1600,6400", help="comma list of n_LF")
    parser.add_argument("--draws", type=int, default=32)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    info = run_info()
    rows = []
    for n_lf in [int(s) for s in args.sizes.split(",") if s]:
        row = run_size(n_lf, args.draws)
        print(", ".join(f"{k} {v:.4g}" for k, v in row.items()), flush=True)
        rows.append(row)
    write_run(args.out, rows, info, _markdown, __file__, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
