"""Generate the default multi-fidelity data set ``mfgp/datasets/bioreactor_multifidelity.csv``.

Three fidelity levels of an E. coli-like fed-batch across scales (see ``data/README.md``):

- ``scaling_law`` (level 0): a :class:`~mfgp.scaling.bases.ScalingLawSurrogate` (Baranyi curve
  for biomass, Gompertz for titer, parameters as power laws of V plus linear effects of vvm and
  feed rate) fitted on the lab + pilot ``measured`` rows only, evaluated densely;
- ``simplified_model`` (level 1): the simulator with ``simplified=True`` (no feed-zone gradient,
  no heat limit), nominal kinetics, no noise;
- ``measured`` (level 2): the full simulator with run-to-run kinetic variability and 5 %
  log-normal measurement noise, at lab (1, 10 L), pilot (100, 1000 L) and production
  (10,000, 50,000 L; the largest volumes, held out with ``--holdout-largest 2``).

Usage::

    python scripts/make_dataset.py [--out mfgp/datasets/bioreactor_multifidelity.csv] [--report]

The output is bit-for-bit reproducible (fixed seed, ``%.6g`` floats). ``--report`` also prints
the RMSE/NRMSE of the two low-fidelity levels against the held-out production measurements.
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mfgp import datasets
from mfgp.io import atomic_write_text
from mfgp.scaling.bases import ScalingLawSurrogate
from mfgp.scaling.criteria import Vessel, scale_up
from mfgp.simulate import Kinetics, kinetics_with, simulate

log = logging.getLogger("make_dataset")

SEED = 20260611
HOURS = 36.0
TIMES = np.arange(0.0, HOURS + 1e-9, 3.0)  # 13 sampling times
RULE = "constant-P/V"
REFERENCE_VOLUME_L, REFERENCE_RPM = 10.0, 1000.0
NOISE = 0.05
#: measured volumes (L) -> number of runs; the two production volumes are held out
MEASURED_RUNS = {1.0: 4, 10.0: 4, 100.0: 3, 1000.0: 3, 10000.0: 2, 50000.0: 2}
TRAIN_MAX_VOLUME_L = 1000.0
#: extra volumes where only the cheap levels are computed (2 runs each)
LOWFID_VOLUMES = (3.0, 30.0, 300.0, 3000.0, 30000.0, 100000.0)
LOWFID_RUNS_PER_VOLUME = 2
LEVELS = ("scaling_law", "simplified_model", "measured")
OPERATING = ("rpm", "vvm", "feed_gLh")
TARGETS = ("biomass_gL", "titer_gL")
COLUMNS = ("run_id", "fidelity", "volume_L", "time_h", *OPERATING, *TARGETS)


def _operating_point(volume_L: float, rng: np.random.Generator) -> dict[str, float]:
    """A varied operating point around the constant-P/V rule: vvm, feed and +-10 % rpm."""
    vvm = round(float(rng.uniform(0.8, 1.5)), 2)
    feed = round(float(rng.uniform(5.5, 7.5)), 2)
    factor = float(rng.uniform(0.9, 1.1))
    ref = Vessel(REFERENCE_VOLUME_L, h_over_t=1.0)
    rule_rpm = float(scale_up(ref, REFERENCE_RPM, Vessel(volume_L), RULE, vvm=vvm).rpm)
    return {"rpm": round(rule_rpm * factor, 1), "vvm": vvm, "feed_gLh": feed}


def _run_kinetics(rng: np.random.Generator) -> Kinetics:
    """Run-to-run biological variability of a few kinetic parameters."""
    base = Kinetics()
    return kinetics_with(
        q_crit=base.q_crit * math.exp(rng.normal(0.0, 0.03)),
        Y_ox=base.Y_ox * math.exp(rng.normal(0.0, 0.02)),
        alpha=base.alpha * math.exp(rng.normal(0.0, 0.05)),
        beta=base.beta * math.exp(rng.normal(0.0, 0.05)),
    )


def _frame(run_id: str, level: str, volume_L: float, op: dict[str, float], X, P) -> pd.DataFrame:
    n = len(TIMES)
    return pd.DataFrame(
        {
            "run_id": [run_id] * n,
            "fidelity": [level] * n,
            "volume_L": np.full(n, volume_L),
            "time_h": TIMES,
            "rpm": np.full(n, op["rpm"]),
            "vvm": np.full(n, op["vvm"]),
            "feed_gLh": np.full(n, op["feed_gLh"]),
            "biomass_gL": np.asarray(X, dtype=float),
            "titer_gL": np.asarray(P, dtype=float),
        }
    )


def fit_scaling_law(measured: pd.DataFrame, target: str) -> ScalingLawSurrogate:
    """Fit the level-0 surrogate for ``target`` on lab + pilot measured rows only."""
    train = measured[measured["volume_L"] <= TRAIN_MAX_VOLUME_L]
    growth = "baranyi" if target == "biomass_gL" else "gompertz"
    # X_feat columns: log10_volume_L, time_h, rpm, vvm, feed_gLh -> vvm (3), feed (4);
    # rpm is left out: under the scale-up rule it is confounded with volume.
    surrogate = ScalingLawSurrogate(growth, "power", operating_columns=(3, 4), ridge=1e-2)
    return surrogate.fit(
        torch.tensor(np.log10(train["volume_L"].to_numpy())),
        torch.tensor(train["time_h"].to_numpy()),
        torch.tensor(train[target].to_numpy()),
        operating=torch.tensor(train[["vvm", "feed_gLh"]].to_numpy()),
        groups=train["run_id"].tolist(),
    )


def features(frame: pd.DataFrame) -> torch.Tensor:
    """``n x 5`` feature tensor in ScaleUpData order: log10 volume, time, rpm, vvm, feed."""
    cols = [np.log10(frame["volume_L"].to_numpy()), frame["time_h"].to_numpy()]
    cols += [frame[c].to_numpy() for c in OPERATING]
    return torch.tensor(np.stack(cols, axis=-1), dtype=torch.float64)


def build_dataset(seed: int = SEED) -> pd.DataFrame:
    """Simulate every run and return the long-format data set (rows ordered by level, run,
    time)."""
    rng = np.random.default_rng(seed)
    designs: list[tuple[str, float, dict[str, float], bool]] = []  # id, V, op, measured?
    i = 0
    for volume, n_runs in MEASURED_RUNS.items():
        for _ in range(n_runs):
            i += 1
            designs.append((f"{i:03d}", volume, _operating_point(volume, rng), True))
    for volume in LOWFID_VOLUMES:
        for _ in range(LOWFID_RUNS_PER_VOLUME):
            i += 1
            designs.append((f"{i:03d}", volume, _operating_point(volume, rng), False))

    measured, simplified = [], []
    for rid, volume, op, is_measured in designs:
        kw = dict(rpm=op["rpm"], vvm=op["vvm"], feed_gLh=op["feed_gLh"], times=TIMES, hours=HOURS)
        if is_measured:
            r = simulate(
                volume,
                kinetics=_run_kinetics(rng),
                noise=NOISE,
                seed=rng,
                **kw,  # type: ignore[arg-type]
            )
            measured.append(_frame(f"M{rid}", "measured", volume, op, r.biomass_gL, r.titer_gL))
        s = simulate(volume, simplified=True, **kw)  # type: ignore[arg-type]
        simplified.append(
            _frame(f"S{rid}", "simplified_model", volume, op, s.biomass_gL, s.titer_gL)
        )
    meas = pd.concat(measured, ignore_index=True)
    simp = pd.concat(simplified, ignore_index=True)
    law = simp.copy()
    law["run_id"] = law["run_id"].str.replace("S", "L", n=1)
    law["fidelity"] = "scaling_law"
    X = features(law)
    for target in TARGETS:
        surrogate = fit_scaling_law(meas, target)
        with torch.no_grad():
            law[target] = surrogate(X).numpy()
    out = pd.concat([law, simp, meas], ignore_index=True)
    return out[list(COLUMNS)]


def to_csv_text(frame: pd.DataFrame) -> str:
    """The CSV text written to disk (fixed float format, ``\\n`` line endings)."""
    return frame.to_csv(index=False, float_format="%.6g", lineterminator="\n")


def low_fidelity_errors(frame: pd.DataFrame) -> pd.DataFrame:
    """RMSE and NRMSE (RMSE / std of the held-out values) of each low level against the
    held-out production measurements (volumes > the training maximum), per target."""
    keys = ["volume_L", "time_h", *OPERATING]
    held = frame[(frame["fidelity"] == "measured") & (frame["volume_L"] > TRAIN_MAX_VOLUME_L)]
    rows = []
    for level in LEVELS[:2]:
        low = frame[frame["fidelity"] == level]
        merged = held.merge(low, on=keys, suffixes=("", "_low"))
        for target in TARGETS:
            err = merged[f"{target}_low"] - merged[target]
            rmse = float(np.sqrt(np.mean(err**2)))
            sd = float(held[target].std(ddof=0))
            rows.append(
                {
                    "level": level,
                    "target": target,
                    "n": len(merged),
                    "rmse": rmse,
                    "nrmse": rmse / sd,
                    "bias": float(err.mean()),
                }
            )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=datasets.file("bioreactor_multifidelity"),
        help="output CSV (default: mfgp/datasets/bioreactor_multifidelity.csv)",
    )
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--report", action="store_true", help="print the low-fidelity errors at production scale"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    frame = build_dataset(args.seed)
    atomic_write_text(args.out, to_csv_text(frame))
    counts = frame.groupby("fidelity", sort=False).size().to_dict()
    log.info("wrote %s: %d rows %s", args.out, len(frame), counts)
    if args.report:
        log.info("%s", low_fidelity_errors(frame).to_string(index=False, float_format="%.3f"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
