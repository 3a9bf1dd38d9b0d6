"""The physics level against volume: what each vessel can supply beside what the culture asks
for, and the limitation that follows.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> import pandas as pd
>>> curve = pd.DataFrame({"volume_L": [2.0, 1e3, 5e4], "otr_max": [30.0, 40.0, 50.0],
...     "heat_our_max": [2e3, 300.0, 80.0], "demand_our": [20.0] * 3, "f": [1.0, 0.9, 0.6],
...     "f_oxygen_heat": [1.0, 1.0, 0.95], "f_co2": [1.0, 0.95, 0.8], "f_mixing": [1.0, 0.95, 0.8]})
>>> fig, axes = plt.subplots(1, 2)
>>> axes = capacity_vs_demand(axes, curve)
>>> [t.get_text() for t in axes[0].get_legend().get_texts()]
['OTR_max (kLa C*)', 'cooling (as OUR)', 'oxygen demand']
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.axes import Axes

__all__ = ["capacity_vs_demand"]

_FACTORS = (
    ("f", "all limits", "-"),
    ("f_oxygen_heat", "oxygen and cooling", "--"),
    ("f_co2", "dissolved CO2", ":"),
    ("f_mixing", "mixing", "-."),
)


def capacity_vs_demand(axes: Sequence[Axes], curve: pd.DataFrame) -> Sequence[Axes]:
    """Draw a physics level's capacity-versus-demand table
    (:meth:`mfgp.physics.PhysicsLevel.capacity_curve`) on two axes: the oxygen transfer and
    cooling capacities against the calibrated oxygen demand (mmol/L/h, log scale; shaded: its
    95 % range over the calibration's parameter draws, when the table has it), and each
    limitation factor (the fraction of the unlimited culture that the vessel allows)."""
    left, right = axes[0], axes[1]
    v = curve["volume_L"]
    left.plot(v, curve["otr_max"], "o-", ms=3, label="OTR_max (kLa C*)")
    left.plot(v, curve["heat_our_max"], "s-", ms=3, label="cooling (as OUR)")
    left.plot(v, curve["demand_our"], "k--", label="oxygen demand")
    if {"demand_lower95", "demand_upper95"} <= set(curve):
        left.fill_between(
            v, curve["demand_lower95"], curve["demand_upper95"], color="k", alpha=0.12, lw=0
        )
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("working volume (L)")
    left.set_ylabel("mmol O2 / L / h")
    left.set_title("capacity against demand")
    left.legend(fontsize=8)
    for key, label, style in _FACTORS:
        if key in curve:
            right.plot(v, curve[key], style, label=label)
    right.set_xscale("log")
    right.set_ylim(0.0, 1.05)
    right.set_xlabel("working volume (L)")
    right.set_ylabel("fraction of the unlimited culture")
    right.set_title("limitation at scale")
    right.legend(fontsize=8)
    return axes
