"""An independent multi-scale process: CHO fed-batch whose titer falls at production scale.

Written apart from ``mfgp.simulate`` (an E. coli model with overflow metabolism) and from
``mfgp.scaling``, so that mfgp's models can be judged on a process they were not built on. It
shares no code and no equations with them beyond textbook correlations, written out again here.

The culture (14 days, 37 C; Xing et al. 2009, Biotechnol. Bioeng. 103:733 for the CHO
parameters; Mostafa & Gu 2003, Biotechnol. Prog. 19:45 and Zhu et al. 2005, Biotechnol. Prog.
21:1183 for CO2 at scale):

- viable cells ``X`` (1e6 cells/mL), glucose ``G`` (mM), lactate ``L`` (mM), product ``P``
  (g/L), with a continuous glucose feed from day 3;
- growth ``mu = mu_max G/(K_G + G) K_L/(K_L + L) f_CO2``, death ``k_d (1 + L/L_tox)``;
  glucose uptake ``q_G``; lactate made at ``Y_L q_G (1 + a_mix t_mix/t_ref)`` (glucose
  gradients in a slowly mixed tank raise lactate; Sweere et al. 1987 regime analysis) and
  consumed when glucose runs low; product ``q_P X f_CO2^0.5`` (Luedeking-Piret, non-growth
  associated);
- dissolved CO2 at quasi-steady state: ``pCO2 = 35 + (p_CO2,gas,out + CER / (kLa_CO2 H))``,
  the exit gas term ``760 CER R T / (p vvm 60)`` set by the aeration rate, multiplied by the mean
  hydrostatic pressure of the liquid column (tall production tanks hold more CO2 in
  solution); ``f_CO2 = 1 / (1 + (pCO2 / K_CO2)^n)``, so productivity and growth fall above
  ~150 mmHg as reported for CHO.

The vessel: geometric similarity at ``H/T = 1`` up to 20 L, ``H/T = 2`` above 200 L (two
impellers), one Rushton-like impeller per tank diameter, ``D/T = 0.4``, ``Np = 1.5``
(pitched blade, cell culture). Power per volume ``Np rho N^3 D^5 n / V``; mixing time
``theta95 = 5.2 Np^(-1/3) (T/D)^2 (H/T)^2.5 / N`` (Grenville, with the usual (H/T)^2.5 for tall
tanks); ``kLa_O2 = 0.075 (P/V)^0.47 u_s^0.8`` (a cell-culture correlation of the van 't Riet
type, Xing et al. 2009; SI, 1/s); ``kLa_CO2 = 0.89 kLa_O2 + 0.5 / H`` (1/h, H in m: the liquid
surface strips CO2 too, which matters in small vessels only).

Operating variables: stirrer speed (rpm), aeration (vvm) and the cell line (A, B: B grows
slower, makes more product and is more sensitive to CO2).

>>> row = simulate_run(200.0, rpm=120.0, vvm=0.05, cell_line="A")
>>> 1.0 < row["titer_gL"] < 10.0
True
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.integrate import solve_ivp

CELL_LINES = {
    "A": {"mu_max": 0.036, "q_P": 0.0011, "K_CO2": 190.0, "n_CO2": 3.0},
    "B": {"mu_max": 0.030, "q_P": 0.0016, "K_CO2": 150.0, "n_CO2": 3.5},
}
COMMON = {
    "K_G": 1.0,  # mM
    "K_L": 40.0,  # mM
    "L_tox": 60.0,  # mM
    "k_d": 0.002,  # 1/h
    "X_max": 22.0,  # 1e6 cells/mL: space and nutrient limit (logistic)
    "q_G": 0.12,  # mmol/L/h per 1e6 cells/mL (3 pmol/cell/day)
    "Y_L": 0.30,  # mol lactate per mol glucose at short mixing times
    "a_mix": 1.0,  # lactate rise per unit t_mix / t_ref
    "t_ref": 100.0,  # s
    "q_Lc": 0.025,  # mmol/L/h per 1e6 cells/mL: lactate consumption
    "q_CO2": 0.4,  # mmol CO2 per 1e9 cells per h (respiration and bicarbonate buffer)
}
RHO, G_ACC, R_GAS, T_K = 1000.0, 9.81, 8.314, 310.15
H_CO2 = 0.040  # mmol/L/mmHg: solubility of CO2 at 37 C (0.0307 M/atm)


def vessel(volume_L: float) -> dict[str, float]:
    """Geometry of the vessel of ``volume_L`` litres (see the module docstring)."""
    aspect = 1.0 if volume_L <= 20 else 2.0
    V = volume_L / 1000.0
    T = (4.0 * V / (math.pi * aspect)) ** (1.0 / 3.0)
    return {"V": V, "T": T, "H": aspect * T, "D": 0.4 * T, "n": max(1, round(aspect))}


def physics(volume_L: float, rpm: float, vvm: float) -> dict[str, float]:
    """P/V (W/m3), kLa (1/h), mixing time (s), superficial gas velocity (m/s), mean pressure
    (atm) and gas flow (m3/h) of a run."""
    g = vessel(volume_L)
    N = rpm / 60.0
    pv = 1.5 * RHO * N**3 * g["D"] ** 5 * g["n"] / g["V"]
    u_s = vvm * g["V"] / 60.0 / (math.pi * g["T"] ** 2 / 4.0)
    kla = 0.075 * pv**0.47 * u_s**0.8 * 3600.0
    theta = 5.2 * 1.5 ** (-1.0 / 3.0) * (1 / 0.4) ** 2 * (g["H"] / g["T"]) ** 2.5 / N
    p_mean = 1.0 + RHO * G_ACC * g["H"] / 2.0 / 101325.0
    return {"pv": pv, "kla": kla, "t_mix": theta, "u_s": u_s, "p_mean": p_mean,
            "Q": vvm * g["V"] * 60.0}  # fmt: skip


def simulate_run(
    volume_L: float,
    *,
    rpm: float,
    vvm: float,
    cell_line: str = "A",
    days: float = 14.0,
    seed: int | None = None,
    noise: float = 0.0,
    times_h: np.ndarray | None = None,
    ideal_mixing: bool = False,
    hydrostatic: bool = True,
) -> dict[str, float] | pd.DataFrame:
    """One fed-batch run: the harvest values (a dict) or, with ``times_h``, the time course.

    ``ideal_mixing=True`` drops the mixing-time lactate rise (a perfectly mixed tank) and
    ``hydrostatic=False`` the hydrostatic pressure on dissolved CO2 (mean pressure 1 atm): the
    simplified culture model an engineer could have without scale-down data (see
    :func:`simplified_titer`). The defaults are the full model.
    """
    p = {**COMMON, **CELL_LINES[cell_line]}
    ph = physics(volume_L, rpm, vvm)
    if not hydrostatic:
        ph = {**ph, "p_mean": 1.0}
    t_mix = 0.0 if ideal_mixing else ph["t_mix"]
    lactate_boost = 1.0 + p["a_mix"] * t_mix / p["t_ref"]
    # CO2 leaves through the bubbles and, in small vessels, the liquid surface (1/H)
    kla_co2 = 0.89 * ph["kla"] + 0.5 / vessel(volume_L)["H"]

    def pco2(X: float) -> float:
        cer = p["q_CO2"] * X  # mmol/L/h = mol/m3/h (X in 1e6 cells/mL = 1e9 cells/L)
        y_out = cer * R_GAS * T_K / (101325.0 * vvm * 60.0)  # CO2 fraction of the exit gas
        liquid = cer / (kla_co2 * H_CO2)  # driving force across the bubbles, mmHg
        return 35.0 + (760.0 * y_out + liquid) * ph["p_mean"]

    def rhs(t: float, s: np.ndarray) -> list[float]:
        X, G, L, P = (max(v, 0.0) for v in s)
        f_co2 = 1.0 / (1.0 + (pco2(X) / p["K_CO2"]) ** p["n_CO2"])
        mu = p["mu_max"] * G / (p["K_G"] + G) * p["K_L"] / (p["K_L"] + L) * f_co2
        mu *= max(0.0, 1.0 - X / p["X_max"])
        death = p["k_d"] * (1.0 + L / p["L_tox"]) * (1.0 + t / 240.0)
        qg = p["q_G"] * G / (p["K_G"] + G)
        feed = qg * X if t > 72.0 else 0.0  # fed-batch: glucose fed as fast as it is used
        lac = p["Y_L"] * qg * lactate_boost - p["q_Lc"] * L / (L + 5.0)
        return [
            (mu - death) * X,
            -qg * X + feed,
            lac * X * (1.0 if L > 0 or lac > 0 else 0.0),
            p["q_P"] * X * math.sqrt(f_co2),
        ]

    t_end = days * 24.0
    sol = solve_ivp(
        rhs, (0.0, t_end), [0.4, 35.0, 2.0, 0.0], method="LSODA", rtol=1e-8, atol=1e-10,
        t_eval=None if times_h is None else np.asarray(times_h, float),
    )  # fmt: skip
    rng = np.random.default_rng(seed)

    def noisy(x: np.ndarray) -> np.ndarray:
        return x * (1.0 + noise * rng.standard_normal(np.shape(x))) if noise else x

    if times_h is None:
        X, G, L, P = sol.y[:, -1]
        return {
            "titer_gL": float(noisy(np.array(P))),
            "viable_cells_e6_mL": float(noisy(np.array(X))),
            "lactate_mM": float(L),
            "pCO2_mmHg": float(pco2(X)),
            "mixing_time_s": ph["t_mix"],
            "p_per_v_W_m3": ph["pv"],
            "kla_per_h": ph["kla"],
        }
    return pd.DataFrame({"time_h": sol.t, "titer_gL": noisy(sol.y[3]), "cells": noisy(sol.y[0])})


def constant_pv_rpm(volume_L: float, pv: float) -> float:
    """The stirrer speed that gives ``pv`` W/m3 in the vessel of ``volume_L``."""
    g = vessel(volume_L)
    N = (pv * g["V"] / (1.5 * RHO * g["D"] ** 5 * g["n"])) ** (1.0 / 3.0)
    return 60.0 * N


def titer_at_pv(
    volume_L: float,
    pv: float,
    vvm: float,
    *,
    cell_line: str = "A",
    seed: int | None = None,
    noise: float = 0.0,
) -> float:
    """End-point titer (g/L) of a run at power per volume ``pv`` (W/m3; the stirrer speed from
    :func:`constant_pv_rpm`) and aeration ``vvm``; ``noise``: relative measurement noise."""
    rpm = constant_pv_rpm(volume_L, pv)
    out = simulate_run(volume_L, rpm=rpm, vvm=vvm, cell_line=cell_line, seed=seed, noise=noise)
    return float(out["titer_gL"])


def simplified_titer(volume_L: float, pv: float, vvm: float, *, cell_line: str = "A") -> float:
    """The noise-free titer of the simplified model: the same culture with ideal mixing (no
    lactate rise from glucose gradients) and no hydrostatic CO2 effect; gas transfer (kLa,
    surface stripping, exit gas) still follows the vessel."""
    rpm = constant_pv_rpm(volume_L, pv)
    out = simulate_run(
        volume_L, rpm=rpm, vvm=vvm, cell_line=cell_line, ideal_mixing=True, hydrostatic=False
    )
    return float(out["titer_gL"])


def endpoint_dataset(seed: int = 0, noise: float = 0.04) -> pd.DataFrame:
    """One row per run at 2, 20, 200 and 1000 L (development) and 10 and 50 m3 (production):
    three P/V levels, two aeration rates (lower at large scale, as plants do against foam)
    and two cell lines; ``noise`` relative measurement noise."""
    rng = np.random.default_rng(seed)
    rows = []
    plan = {2.0: 8, 20.0: 6, 200.0: 4, 1000.0: 4, 10000.0: 3, 50000.0: 3}
    for volume, n_runs in plan.items():
        for i in range(n_runs):
            pv = float(rng.choice([20.0, 35.0, 60.0]))
            vvm = float(rng.choice([0.05, 0.1] if volume <= 200 else [0.02, 0.04]))
            line = "A" if i % 2 == 0 else "B"
            rpm = round(constant_pv_rpm(volume, pv) * float(rng.uniform(0.95, 1.05)), 0)
            seed_i = int(rng.integers(1 << 31))
            out = simulate_run(volume, rpm=rpm, vvm=vvm, cell_line=line, seed=seed_i, noise=noise)
            rows.append(
                {
                    "run": f"{line}-{volume:g}L-{i + 1}",
                    "Working volume (L)": volume,
                    "Agitation (rpm)": rpm,
                    "Aeration (vvm)": vvm,
                    "cell_line": line,
                    "titer_gL": round(out["titer_gL"], 4),
                }
            )
    return pd.DataFrame(rows)


def timecourse_dataset(seed: int = 0, noise: float = 0.04) -> pd.DataFrame:
    """Viable-cell time courses in the seed project's format (columns ``scale, V, t, C``: scale
    index, volume in L, time in h, viable cells in 1e6 cells/mL), sampled daily over 14 days:
    two runs at each of 10 L, 100 L and 4 m3 (development) and 100 m3 (production), cell line
    A, run at constant P/V (35 W/m3 within +-10 %) and 0.05 vvm up to 200 L, 0.03 above. As in
    such files, the operating point is not written down: only scale, time and the value."""
    rng = np.random.default_rng(seed)
    times = np.arange(0.0, 14 * 24 + 1, 24.0)
    frames = []
    for index, volume in enumerate([10.0, 100.0, 4000.0, 100000.0], start=1):
        for _ in range(2):
            pv = 35.0 * float(rng.uniform(0.9, 1.1))
            vvm = 0.05 if volume <= 200 else 0.03
            course = simulate_run(
                volume, rpm=constant_pv_rpm(volume, pv), vvm=vvm, times_h=times,
                seed=int(rng.integers(1 << 31)), noise=noise,
            )  # fmt: skip
            frames.append(
                pd.DataFrame(
                    {
                        "scale": index,
                        "V": volume,
                        "t": course["time_h"],
                        "C": course["cells"].round(4),
                    }
                )  # fmt: skip
            )
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="CSV to write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--kind", choices=["endpoint", "timecourse"], default="endpoint",
        help="end-point titer per run (default) or seed-format viable-cell time courses",
    )  # fmt: skip
    args = p.parse_args()
    if args.kind == "timecourse":
        frame = timecourse_dataset(seed=args.seed)
        frame.to_csv(args.out, index=False)
        print(frame.pivot_table(index="t", columns="V", values="C").round(2))
        return
    frame = endpoint_dataset(seed=args.seed)
    frame.to_csv(args.out, index=False)
    print(frame.groupby("Working volume (L)")["titer_gL"].describe().round(3))


if __name__ == "__main__":
    main()
