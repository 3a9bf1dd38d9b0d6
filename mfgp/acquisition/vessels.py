"""Vessels as the unit of choice of the next runs: their operating windows and the precision
to which settings are rounded. Names, geometry and the physical roles of columns are in
:mod:`mfgp.scaling.vessels`.

A vessel's operating window (:func:`vessel_windows`) is, for each operating variable, the
range of the measured runs in that vessel widened by :data:`WINDOW_MARGIN` of the range on
each side (by :data:`WINDOW_MARGIN_SINGLE` of the value where every run used one value; never
below zero for a variable that is never negative). A vessel without runs (a bench vessel
named in the config, the production tank) takes the window of the nearest measured vessel in
log volume, with the stirrer speed carried over by the scale-up rule (constant P/V by
default) between the two geometries. The config's ``[vessels."VOLUME"]`` tables override windows and
geometry::

    [vessels."200"]            # litres, or "200 L", "10 m3"
    cost = 20                  # per run, in --cost-unit
    rpm = [140, 190]           # the window of an operating variable
    diameter_m = 0.55          # geometry: or h_over_t, d_over_t, n_impellers,
    n_impellers = 2            #   power_number, U (W/m2/K), coolant_delta_T (K)

Written by hand: no library knows bioreactor vessels; the correlations come from
:mod:`mfgp.scaling.criteria`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mfgp.data.columns import split_unit
from mfgp.exceptions import InputDataError
from mfgp.scaling.criteria import Vessel, scale_up
from mfgp.scaling.vessels import physics_role, vessel_label

__all__ = [
    "ScaleOption",
    "WINDOW_MARGIN",
    "WINDOW_MARGIN_SINGLE",
    "carry_window",
    "instrument_step",
    "step_digits",
    "vessel_windows",
]

#: fraction of a vessel's measured range added on each side of its operating window.
WINDOW_MARGIN = 0.10
#: fraction of the value added on each side where every run of the vessel used one value.
WINDOW_MARGIN_SINGLE = 0.05


@dataclass(frozen=True)
class ScaleOption:
    """A kind of run the user can do next: a vessel (measured level) or a cheap level.

    Attributes:
        name: label (``"2 L"``, ``"lab"``, a fidelity name, ...).
        fidelity: fidelity index of the run (0 = cheapest level; top = measured).
        volume_L: working volume of the run (litres).
        cost: cost of one run (any unit, e.g. lab runs = 1).
        bounds: this option's own window ``{variable: (lower, upper)}`` (None: the space's
            bounds); it replaces the space's bounds of the variables it names.
        fixed: this option's own values of variables the space fixes (e.g. its end time).
    """

    name: str
    fidelity: int
    volume_L: float
    cost: float
    bounds: Mapping[str, tuple[float, float]] | None = field(default=None, compare=False)
    fixed: Mapping[str, float] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not (self.volume_L > 0 and math.isfinite(self.volume_L)):
            raise InputDataError(f"option {self.name!r}: volume must be > 0 L, got {self.volume_L}")
        if not (self.cost > 0 and math.isfinite(self.cost)):
            raise InputDataError(f"option {self.name!r}: cost must be > 0, got {self.cost}")
        if self.fidelity < 0:
            raise InputDataError(f"option {self.name!r}: fidelity must be >= 0")
        for name, (lo, hi) in dict(self.bounds or {}).items():
            if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
                raise InputDataError(
                    f"option {self.name!r}: the window of {name!r} must be finite with lower "
                    f"<= upper, got [{lo}, {hi}]"
                )

    @property
    def vessel(self) -> str:
        """The vessel's name (:func:`vessel_label`)."""
        return vessel_label(self.volume_L)


def instrument_step(name: str, values: np.ndarray | None = None) -> float:
    """The precision a setting is given to: rpm to 1, vvm to 0.01, temperature to 0.1, pH to
    0.01; any other variable to three significant digits of its range in ``values``.

    >>> instrument_step("Agitation (rpm)"), instrument_step("vvm"), instrument_step("pH")
    (1.0, 0.01, 0.01)
    >>> instrument_step("Temperature (C)"), instrument_step("feed_gLh", np.array([3.0, 12.0]))
    (0.1, 0.01)
    """
    role = physics_role(name)
    if role == "rpm":
        return 1.0
    if role == "vvm":
        return 0.01
    stem = split_unit(str(name))[0].strip().lower()
    if stem in ("ph",) or stem.startswith("ph "):
        return 0.01
    if stem.startswith("temp") or stem in ("t", "t_c"):
        return 0.1
    if values is None or len(values) == 0:
        return 0.0
    span = float(np.nanmax(values) - np.nanmin(values))
    scale = span if span > 0 else float(np.nanmax(np.abs(values)))
    if not scale > 0:
        return 0.0
    return float(10.0 ** (math.floor(math.log10(scale)) - 2))


def step_digits(step: float) -> int | None:
    """Decimal places of an instrument step (``0.01`` -> 2, ``1`` -> 0; None for no step).

    >>> step_digits(0.01), step_digits(5.0), step_digits(0.0)
    (2, 0, None)
    """
    return max(0, -math.floor(math.log10(step))) if step > 0 else None


def _window(values: np.ndarray, margin: float) -> tuple[float, float]:
    lo, hi = float(np.min(values)), float(np.max(values))
    pad = margin * (hi - lo) if hi > lo else WINDOW_MARGIN_SINGLE * abs(lo)
    low = lo - pad
    if lo >= 0:
        low = max(low, 0.0)
    return low, hi + pad


def vessel_windows(
    frame: pd.DataFrame, names: Sequence[str], *, margin: float = WINDOW_MARGIN
) -> dict[float, dict[str, tuple[float, float]]]:
    """The operating window of every vessel of ``frame`` (its rows: the measured runs):
    ``{volume_L: {variable: (lower, upper)}}`` (see the module docstring).

    >>> df = pd.DataFrame({"volume_L": [2.0, 2.0, 200.0], "rpm": [650.0, 870.0, 150.0]})
    >>> vessel_windows(df, ["rpm"])
    {2.0: {'rpm': (628.0, 892.0)}, 200.0: {'rpm': (142.5, 157.5)}}
    """
    out: dict[float, dict[str, tuple[float, float]]] = {}
    vols = frame["volume_L"].to_numpy(float)
    for vol in np.unique(vols):
        rows = frame.loc[vols == vol]
        out[float(vol)] = {n: _window(rows[n].to_numpy(float), margin) for n in names}
    return out


def carry_window(
    window: Mapping[str, tuple[float, float]],
    source: Vessel,
    target: Vessel,
    *,
    rpm_name: str | None,
    rule: str = "constant-P/V",
) -> dict[str, tuple[float, float]]:
    """The window of ``source`` carried to ``target``: every variable as it is, the stirrer
    speed (``rpm_name``) scaled by the scale-up ``rule`` between the two geometries.

    >>> w = carry_window({"rpm": (600.0, 900.0)}, Vessel(2.0), Vessel(2000.0), rpm_name="rpm")
    >>> [round(v) for v in w["rpm"]]
    [157, 235]
    """
    out = dict(window)
    if rpm_name is not None and rpm_name in out:
        ref = 100.0
        factor = float(scale_up(source, ref, target, rule).rpm) / ref
        lo, hi = out[rpm_name]
        out[rpm_name] = (lo * factor, hi * factor)
    return out
