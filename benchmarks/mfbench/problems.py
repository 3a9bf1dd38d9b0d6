"""Benchmark problems as :class:`~mfgp.data.ScaleUpData`: one shape for every source.

A problem is named by a short, picklable **spec string** (what ``--problems`` takes), and
:func:`load_problem` turns it into a :class:`Problem` holding a validated ``ScaleUpData``. The
harness (:mod:`mfbench.harness`) only ever sees ``ScaleUpData``, so extrapolation,
leave-one-scale-out and learning-curve splits work the same on every problem.

Specs:

- ``default`` / ``default:TARGET``: the default multi-fidelity data set
  ``mfgp/datasets/bioreactor_multifidelity.csv`` (levels ``scaling_law``, ``simplified_model``,
  ``measured``; target ``titer_gL`` by default). The other response column is dropped (it is not
  known at production scale before the run). Production volumes: the two largest measured.
  Caveat: that file's ``scaling_law`` level was fitted on the measured rows up to 1000 L, so in
  extrapolation splits that train on less than 1000 L it carries information from test volumes.
- ``default-nolaw`` / ``default-nolaw:TARGET``: the same without the ``scaling_law`` level
  (two levels, no leakage in any split).
- ``simulator`` / ``simulator:TARGET``: a small two-level data set generated on the fly with
  :func:`mfgp.simulate.simulate` (``simplified_model`` at every volume, noisy ``measured`` runs
  with run-to-run kinetic variability at every volume), seeded, ~10 s to build.
- ``csv:PATH:TARGET``: any CSV in the data convention (fidelity names known to
  :data:`mfgp.data.DEFAULT_FIDELITY_ORDER` or integer levels).
- a test-function name from :data:`mfgp.test_functions.FUNCTIONS` (``forrester``,
  ``branin``, ...): the first input is mapped to a log-volume axis, ``log10 V = 4 u_1`` with
  ``u_1`` the first input scaled to ``[0, 1]``; the lower levels use a scrambled Sobol design over
  the whole box (like a scaling law, available at every scale), and the top level is measured at
  ``n_scales`` log-spaced volumes (default 5: the decades 1 L to 10 m3) with Sobol points in the
  other inputs. Every top-level point is its own run.

>>> p = load_problem("forrester")
>>> p.data.fidelity_names, p.data.volumes().tolist()[:3]
(['0', '1'], [1.0, 10.0, 100.0])
"""

from __future__ import annotations

import functools
import logging
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import qmc

from mfgp import datasets
from mfgp.data import ScaleUpData
from mfgp.exceptions import InputDataError
from mfgp.scaling.criteria import Vessel, scale_up
from mfgp.simulate import Kinetics, kinetics_with, simulate
from mfgp.test_functions import FUNCTIONS, get_function

__all__ = [
    "DEFAULT_DATA",
    "Problem",
    "function_problem",
    "load_problem",
    "problem_names",
    "simulator_frame",
]

log = logging.getLogger(__name__)

#: the default multi-fidelity data set of the repository.
DEFAULT_DATA = datasets.file("bioreactor_multifidelity")

_DEFAULT_TARGETS = ("titer_gL", "biomass_gL")


@dataclass(frozen=True)
class Problem:
    """A benchmark problem.

    Attributes:
        name: the spec string it was loaded from (the ``problem`` column of results).
        data: the validated data, every fidelity level.
        n_production: how many of the largest top-level volumes count as production scale
            (the test set of learning curves).
        description: one line for reports.
    """

    name: str
    data: ScaleUpData
    n_production: int = 1
    description: str = ""

    def production_volumes(self) -> list[float]:
        """The ``n_production`` largest top-level volumes (litres)."""
        return [float(v) for v in self.data.volumes()[-self.n_production :]]


def problem_names() -> list[str]:
    """Spec strings that need no argument (``csv:PATH:TARGET`` takes a path).

    >>> "default" in problem_names()
    True
    """

    return ["default", "default-nolaw", "simulator", *sorted(FUNCTIONS)]


def _default_problem(spec: str, target: str | None, drop_law: bool) -> Problem:
    target = target or "titer_gL"
    if not DEFAULT_DATA.is_file():
        raise InputDataError(
            f"the default data set {DEFAULT_DATA} is missing; generate it with "
            "python scripts/make_dataset.py"
        )
    frame = pd.read_csv(DEFAULT_DATA)
    if drop_law:
        frame = frame[frame["fidelity"] != "scaling_law"].reset_index(drop=True)
    ignore = [c for c in _DEFAULT_TARGETS if c != target and c in frame.columns]
    data = ScaleUpData(frame, target=target, ignore=ignore)
    levels = "two levels" if drop_law else "three levels"
    return Problem(spec, data, n_production=2, description=f"default data set, {target}, {levels}")


def simulator_frame(
    volumes: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0, 10000.0),
    *,
    runs_per_volume: int = 2,
    seed: int = 0,
    noise: float = 0.05,
) -> pd.DataFrame:
    """A two-level long-format frame from the mechanistic simulator.

    Each run has a seeded operating point (vvm 0.8-1.5, feed 5.5-7.5 g/L/h, stirrer speed from
    the constant-P/V rule from 10 L at 1000 rpm, +-10 %), 13 samples over 36 h, and is simulated
    twice: ``simplified_model`` (one compartment, nominal kinetics, no noise) and ``measured``
    (full model, kinetic parameters varied run to run, ``noise`` log-normal measurement noise).

    Args:
        volumes: working volumes (L).
        runs_per_volume: runs at each volume.
        seed: seed of the design, the kinetics and the noise.
        noise: relative measurement noise of the measured level.

    Returns:
        A frame with ``run_id, fidelity, volume_L, time_h, rpm, vvm, feed_gLh, biomass_gL,
        titer_gL``; ``2 * len(volumes) * runs_per_volume * 13`` rows.

    >>> simulator_frame((1.0, 10.0), runs_per_volume=1).shape
    (52, 9)
    """

    rng = np.random.default_rng(seed)
    times = np.arange(0.0, 36.0 + 1e-9, 3.0)
    frames = []
    base = Kinetics()
    ref = Vessel(10.0, h_over_t=1.0)
    for v in volumes:
        for r in range(runs_per_volume):
            vvm = round(float(rng.uniform(0.8, 1.5)), 2)
            feed = round(float(rng.uniform(5.5, 7.5)), 2)
            rpm = float(scale_up(ref, 1000.0, Vessel(float(v)), "constant-P/V", vvm=vvm).rpm)
            rpm = round(rpm * float(rng.uniform(0.9, 1.1)), 1)
            kin = kinetics_with(
                q_crit=base.q_crit * math.exp(rng.normal(0.0, 0.03)),
                alpha=base.alpha * math.exp(rng.normal(0.0, 0.05)),
            )
            kw = {"rpm": rpm, "vvm": vvm, "feed_gLh": feed, "times": times, "hours": 36.0}
            for level, res in (
                ("simplified_model", simulate(float(v), simplified=True, **kw)),
                ("measured", simulate(float(v), kinetics=kin, noise=noise, seed=rng, **kw)),
            ):
                frames.append(
                    pd.DataFrame(
                        {
                            "run_id": f"{level[:1].upper()}{v:g}-{r}",
                            "fidelity": level,
                            "volume_L": float(v),
                            "time_h": times,
                            "rpm": rpm,
                            "vvm": vvm,
                            "feed_gLh": feed,
                            "biomass_gL": res.biomass_gL,
                            "titer_gL": res.titer_gL,
                        }
                    )
                )
    return pd.concat(frames, ignore_index=True)


def function_problem(
    name: str,
    *,
    n_low: int = 60,
    n_top_per_scale: int | None = None,
    n_scales: int = 5,
    seed: int = 0,
) -> Problem:
    """A test function laid out as a scale-up problem (see the module docstring).

    Args:
        name: a test-function name (``forrester``, ``branin``, ...).
        n_low: points at each lower level (Sobol, nested: level ``k`` uses the first
            ``n_low // 2**k`` points, at least 2 * n_scales).
        n_top_per_scale: top-level points per volume (default 1 for 1-D functions, else
            ``2 * dim``).
        n_scales: number of top-level volumes.
        seed: seed of the designs.

    Returns:
        A :class:`Problem` whose data have columns ``volume_L``, ``x2..xd``, ``fidelity``
        (integer levels), ``run_id`` and target ``y``.

    >>> p = function_problem("branin", n_low=24, n_scales=3)
    >>> p.data.n_fidelities, len(p.data.volumes())
    (3, 3)
    """
    import torch

    fn = get_function(name)
    lo, hi = fn.bounds[0].numpy(), fn.bounds[1].numpy()
    d = fn.dim
    per_scale = n_top_per_scale or (1 if d == 1 else 2 * d)
    gen = np.random.default_rng([seed, 11])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Sobol balance for n != 2^m
        unit_low = qmc.Sobol(d, scramble=True, seed=gen).random(n_low)
        unit_top = (
            qmc.Sobol(d - 1, scramble=True, seed=gen).random(per_scale * n_scales)
            if d > 1
            else np.zeros((per_scale * n_scales, 0))
        )
    grid = np.linspace(0.0, 1.0, n_scales)
    top = np.column_stack([np.repeat(grid, per_scale), unit_top])
    rows = []
    for level in range(fn.n_levels):
        if level == fn.n_levels - 1:
            unit = top
        else:
            unit = unit_low[: max(2 * n_scales, n_low // 2**level)]
        x = torch.as_tensor(lo + unit * (hi - lo), dtype=torch.float64)
        y = fn.evaluate(x, level).numpy()
        frame = pd.DataFrame({"volume_L": 10.0 ** (4.0 * unit[:, 0])})
        for j in range(1, d):
            frame[f"x{j + 1}"] = x[:, j].numpy()
        frame["fidelity"] = level
        frame["run_id"] = [f"L{level}-{i}" for i in range(len(frame))]
        frame["y"] = y
        rows.append(frame)
    frame = pd.concat(rows, ignore_index=True)
    data = ScaleUpData(frame, target="y")
    return Problem(name, data, n_production=1, description=f"{name} test function on a V axis")


@functools.lru_cache(maxsize=16)
def load_problem(spec: str) -> Problem:
    """Build the problem named by ``spec`` (cached per process; see the module docstring).

    Raises:
        InputDataError: unknown spec, or a CSV that does not validate.

    >>> load_problem("default").data.fidelity_names
    ['scaling_law', 'simplified_model', 'measured']
    """

    head, _, rest = spec.partition(":")
    if head == "default":
        return _default_problem(spec, rest or None, drop_law=False)
    if head == "default-nolaw":
        return _default_problem(spec, rest or None, drop_law=True)
    if head == "simulator":
        target = rest or "titer_gL"
        frame = simulator_frame()
        other = [c for c in _DEFAULT_TARGETS if c != target]
        data = ScaleUpData(frame, target=target, ignore=other)
        return Problem(spec, data, n_production=1, description=f"simulator, {target}")
    if head == "csv":
        path, sep, target = rest.rpartition(":")
        if not sep or not path or not target:
            raise InputDataError(f"a CSV problem is 'csv:PATH:TARGET', got {spec!r}")
        data = ScaleUpData(path, target=target)
        return Problem(spec, data, n_production=1, description=f"{path}, {target}")
    if head in FUNCTIONS:
        return function_problem(head)
    raise InputDataError(
        f"unknown problem {spec!r}; choose one of {problem_names()} or 'csv:PATH:TARGET'"
    )
