"""Make ``mfgp/datasets/bioreactor_scales.csv``: the small seed-format data set (columns
``scale, V, t, C``).

Biomass ``C`` (g/L) over culture time ``t`` (h) in batch cultures at five working volumes ``V``
(litres; ``scale`` is the scale index 1-5, not litres). Each curve is the Baranyi-Roberts (1994)
growth model, whose parameters worsen with scale the way PHYSICS.md describes (longer mixing
times and lower oxygen transfer per volume at scale):

- maximum specific growth rate ``mu = 0.55 * (V / 1 L)^-0.035`` 1/h,
- lag ``lambda = 2.0 + 0.6 * log10(V / 1 L)`` h,
- plateau ``Cmax = 32 * (1 - 0.045 * log10(V / 1 L))`` g/L, start ``C0 = 0.1`` g/L,

sampled every 4 h from 0 to 48 h, two runs per scale, with 4 % multiplicative log-normal
measurement noise (seed 20261127). The production-scale rows (V = 20,000 L) are the natural
hold-out for an extrapolation test. Run ``python scripts/make_seed_dataset.py`` to regenerate
the file bit for bit.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

VOLUMES_L = (2.0, 20.0, 200.0, 2000.0, 20000.0)
TIMES_H = np.arange(0.0, 49.0, 4.0)
RUNS_PER_SCALE = 2
NOISE_CV = 0.04
SEED = 20261127


def baranyi_roberts(t: np.ndarray, c0: float, cmax: float, mu: float, lag: float) -> np.ndarray:
    """Baranyi & Roberts (1994) growth curve in concentration units (ln form, m = 1)."""
    y0, ymax = np.log(c0), np.log(cmax)
    h0 = mu * lag
    a = t + np.log(np.exp(-mu * t) + np.exp(-h0) - np.exp(-mu * t - h0)) / mu
    y = y0 + mu * a - np.log(1.0 + (np.exp(mu * a) - 1.0) / np.exp(ymax - y0))
    return np.exp(y)


def make_frame(seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for scale, v in enumerate(VOLUMES_L, start=1):
        lv = np.log10(v)
        mu = 0.55 * v**-0.035
        lag = 2.0 + 0.6 * lv
        cmax = 32.0 * (1.0 - 0.045 * lv)
        for _ in range(RUNS_PER_SCALE):
            c = baranyi_roberts(TIMES_H, 0.1, cmax, mu, lag)
            c = c * np.exp(rng.normal(0.0, NOISE_CV, size=c.shape))
            rows += [(scale, v, t, ci) for t, ci in zip(TIMES_H, c, strict=True)]
    return pd.DataFrame(rows, columns=["scale", "V", "t", "C"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("mfgp/datasets/bioreactor_scales.csv"))
    args = parser.parse_args()
    frame = make_frame()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False, float_format="%.6g")
    print(f"wrote {len(frame)} rows to {args.out}")


if __name__ == "__main__":
    main()
