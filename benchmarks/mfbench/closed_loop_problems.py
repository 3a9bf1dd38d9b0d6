"""The processes of the closed-loop benchmark (``benchmarks/closed_loop.py``).

Each process has two free operating variables, a measured level (a noisy run of the full
model at the chosen scale), a simplified level (computed up front on a Sobol design at several
volumes, free) and the same vessels: lab 2 L (cost 1), pilot 200 L (cost 20), production 10 m3
(never run; the model's prediction there is scored against the noise-free full model).

- ``ecoli``: the E. coli-like fed-batch of :mod:`mfgp.simulate` (end-point titer at 36 h;
  ``vvm`` in [0.5, 2], maximum feed ``feed_gLh`` in [3, 12] g/L/h, stirrer speed by constant
  P/V from 10 L at 1000 rpm; heat-removal constraint of the 10 m3 jacket). Simplified level:
  the one-compartment simulator without heat limit (``simplified=True``). Noise 3 %.
- ``cho``: the independent CHO fed-batch of ``benchmarks/processes/cho_fedbatch.py`` (end-point
  titer after 14 days, cell line A; power per volume ``pv_W_m3`` in [10, 80] W/m3, the stirrer
  speed of each vessel from constant P/V, aeration ``vvm`` in [0.01, 0.1]; no engineering
  constraint). Simplified level: the same culture with ideal mixing and no hydrostatic CO2
  effect (:func:`processes.cho_fedbatch.simplified_titer`): it predicts titer that *rises* with
  volume (better CO2 stripping in tall tanks), while the full model's falls (slow mixing raises
  lactate). Noise 4 % (the noise of the CHO end-point data set of ``auto_selection.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from processes import cho_fedbatch as cho
from torch.quasirandom import SobolEngine

from mfgp.acquisition import EngineeringConstraints, ScaleOption, SearchSpace
from mfgp.simulate import simulate

LAB_L, PILOT_L, TARGET_L = 2.0, 200.0, 10_000.0
COSTS = {"lab": 1.0, "pilot": 20.0}
VOLUMES = {"lab": LAB_L, "pilot": PILOT_L}
LOWFID_VOLUMES = (2.0, 20.0, 200.0, 2000.0, 10000.0, 100000.0)
LOWFID_PER_VOLUME = 5
N_INITIAL_LAB = 3


@dataclass(frozen=True)
class Process:
    """One closed-loop problem: names, bounds and the two levels of one run."""

    name: str
    title: str
    features: list[str]
    bounds: dict[str, tuple[float, float]]
    noise: float
    unit: str = "g/L"
    constraints: EngineeringConstraints = field(default_factory=EngineeringConstraints)

    @property
    def free(self) -> list[str]:
        return self.features[1:]

    def run(self, volume_L: float, a: float, b: float, *, simplified: bool, rng=None) -> float:
        """End-point titer of one run at operating point ``(a, b)`` (the free variables in
        feature order); measured (noisy) when ``rng`` is given."""
        raise NotImplementedError

    def scale_point(self, u: np.ndarray) -> tuple[float, float]:
        """Operating point from a unit-square point."""
        (lo_a, hi_a), (lo_b, hi_b) = (self.bounds[k] for k in self.free)
        return lo_a + float(u[0]) * (hi_a - lo_a), lo_b + float(u[1]) * (hi_b - lo_b)


class EColi(Process):
    def run(self, volume_L: float, a: float, b: float, *, simplified: bool, rng=None) -> float:
        r = simulate(
            volume_L,
            vvm=float(a),
            feed_gLh=float(b),
            hours=36.0,
            n_times=2,
            simplified=simplified,
            noise=self.noise if rng is not None else 0.0,
            seed=rng,
        )
        return float(r.titer_gL[-1])


class CHO(Process):
    def run(self, volume_L: float, a: float, b: float, *, simplified: bool, rng=None) -> float:
        if simplified:
            return cho.simplified_titer(volume_L, float(a), float(b))
        if rng is None:
            return cho.titer_at_pv(volume_L, float(a), float(b))
        seed = int(rng.integers(2**31))
        return cho.titer_at_pv(volume_L, float(a), float(b), seed=seed, noise=self.noise)


PROCESSES: dict[str, Process] = {
    "ecoli": EColi(
        name="ecoli",
        title="E. coli fed-batch (mfgp.simulate)",
        features=["log10_volume_L", "vvm", "feed_gLh"],
        bounds={"vvm": (0.5, 2.0), "feed_gLh": (3.0, 12.0)},
        noise=0.03,
        # heat removal: the OUR a feed needs (16 mmol O2 per g glucose) must be coolable
        constraints=EngineeringConstraints(our_per_feed=16.0),
    ),
    "cho": CHO(
        name="cho",
        title="CHO fed-batch (benchmarks/processes/cho_fedbatch.py, cell line A)",
        features=["log10_volume_L", "pv_W_m3", "vvm"],
        bounds={"pv_W_m3": (10.0, 80.0), "vvm": (0.01, 0.1)},
        noise=0.04,
    ),
}


def get_process(name: str) -> Process:
    try:
        return PROCESSES[name]
    except KeyError:
        raise SystemExit(f"unknown process {name!r}; have {sorted(PROCESSES)}") from None


def row(volume: float, a: float, b: float, fid: int) -> list[float]:
    """One model input row: log10 volume, the two operating variables, the fidelity."""
    return [math.log10(volume), float(a), float(b), float(fid)]


def space(proc: Process) -> SearchSpace:
    """The search space (lab and pilot options at the measured level; target 10 m3)."""
    return SearchSpace(
        feature_names=list(proc.features),
        bounds=dict(proc.bounds),
        fixed={},
        options=[
            ScaleOption("lab", 1, LAB_L, COSTS["lab"]),
            ScaleOption("pilot", 1, PILOT_L, COSTS["pilot"]),
        ],
        target_volume_L=TARGET_L,
        top_fidelity=1,
        constraints=proc.constraints,
    )


def low_fidelity_rows(proc: Process, seed: int) -> tuple[list[list[float]], list[float]]:
    """Level-0 rows: the simplified model on a Sobol design at every volume."""
    u = SobolEngine(2, scramble=True, seed=1000 + seed).draw(LOWFID_PER_VOLUME).double().numpy()
    X, Y = [], []
    for v in LOWFID_VOLUMES:
        for p in u:
            a, b = proc.scale_point(p)
            X.append(row(v, a, b, 0))
            Y.append(proc.run(v, a, b, simplified=True))
    return X, Y


def test_grid(proc: Process) -> tuple[torch.Tensor, np.ndarray]:
    """Production-scale grid (6 x 6, feasible points only) and its noise-free titers."""
    (lo_a, hi_a), (lo_b, hi_b) = (proc.bounds[k] for k in proc.free)
    pts = [(a, b) for a in np.linspace(lo_a, hi_a, 6) for b in np.linspace(lo_b, hi_b, 6)]
    X = torch.tensor([row(TARGET_L, a, b, 1) for a, b in pts], dtype=torch.float64)
    X = X[space(proc).feasible(X)]
    y = np.array([proc.run(TARGET_L, float(r[1]), float(r[2]), simplified=False) for r in X])
    return X, y


def recommendation_set(proc: Process) -> tuple[torch.Tensor, np.ndarray]:
    """128 feasible Sobol points at 10 m3 (the model's argmax among them is its
    recommendation) and their noise-free titers."""
    X = space(proc).target_points(128, seed=7)
    y = np.array([proc.run(TARGET_L, float(r[1]), float(r[2]), simplified=False) for r in X])
    return X, y


class FixedPlan:
    """Operating points of the fixed designs: one scrambled Sobol sequence per vessel, seeded
    per seed. The lab sequence is the one the 3 initial lab runs come from (its next points);
    points infeasible at the vessel's volume are skipped."""

    def __init__(self, proc: Process, seed: int) -> None:
        self.proc = proc
        self.space = space(proc)
        self.engines = {
            "lab": SobolEngine(2, scramble=True, seed=seed),
            "pilot": SobolEngine(2, scramble=True, seed=seed + 10_000),
        }

    def next_point(self, vessel: str) -> tuple[float, float]:
        for _ in range(1000):
            a, b = self.proc.scale_point(self.engines[vessel].draw(1).double().numpy()[0])
            X = torch.tensor([row(VOLUMES[vessel], a, b, 1)], dtype=torch.float64)
            if bool(self.space.feasible(X)[0]):
                return a, b
        raise RuntimeError(f"no feasible {vessel} point in 1000 Sobol draws")

    def initial_lab(self, n: int = N_INITIAL_LAB) -> list[tuple[float, float]]:
        """The initial lab runs every strategy starts from (not checked for feasibility, as
        before: every lab point is feasible)."""
        u = self.engines["lab"].draw(n).double().numpy()
        return [self.proc.scale_point(p) for p in u]


def plan_vessel(lab_cost: float, pilot_cost: float, lab_share: float) -> str:
    """The next vessel of a fixed design with a lab share ``lab_share`` of the cost: the one
    after which the lab cost is closest to ``lab_share`` times the total (ties: lab).

    With the 50/50 split and costs 1 and 20, from the 3 initial lab runs: 7 lab runs (lab cost
    10), a pilot run, 20 lab runs, a pilot run, 20 lab runs, ...
    """
    if lab_share <= 0.0:
        return "pilot"
    if lab_share >= 1.0:
        return "lab"

    def miss(lab: float, pilot: float) -> float:
        return abs(lab - lab_share * (lab + pilot))

    lab = miss(lab_cost + COSTS["lab"], pilot_cost)
    pilot = miss(lab_cost, pilot_cost + COSTS["pilot"])
    return "lab" if lab <= pilot else "pilot"
