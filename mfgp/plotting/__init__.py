"""Matplotlib figures for an engineer: the scale-up figure first, then time courses per run and
the comparison of many models.

Every function draws on a given ``ax`` and returns it, or, for small multiples (one panel per
model or per volume), fills a figure (a new one sized for the grid, or ``fig=``) and returns
it; nothing is saved here (the reports save the figures). The functions take plain arrays,
tensors or the tidy frames the jobs write (``predictions.csv``: columns ``model, run_id (if
any), fidelity, volume_L, time_h (if any), observed, mean, sd, lower95, upper95`` plus the
operating variables; the per-volume metrics table), so they work on saved results as well as
live ones. A model has the same colour in every figure (:func:`model_colors`); volume axes are
logarithmic with ticks that read ``1 L``, ``100 L``, ``10 m³`` (:func:`volume_axis`).

- :mod:`~mfgp.plotting.scale_up`: :func:`scale_up`, the end point against working volume;
- :mod:`~mfgp.plotting.time_courses`: :func:`time_courses` (one axes) and
  :func:`time_course_grid` (one panel per volume), one line and band per run;
- :mod:`~mfgp.plotting.comparison`: :func:`parity`, :func:`calibration`, :func:`residuals`,
  :func:`error_vs_volume` and, for many models, :func:`parity_grid`,
  :func:`calibration_comparison`, :func:`calibration_grid`, :func:`residuals_grid` and
  :func:`comparison_figures`;
- :mod:`~mfgp.plotting.diagnostics`: :func:`learning_curve`, :func:`fidelity_correlation`,
  :func:`acquisition_proposals`;
- :mod:`~mfgp.plotting.style`: :func:`model_colors`, :func:`model_grid`,
  :func:`volume_axis`, :func:`format_volume`.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> fig, ax = plt.subplots()
>>> ax = parity(ax, [1.0, 2.0], [1.1, 1.9])
"""

from __future__ import annotations

from mfgp.plotting.comparison import (
    calibration,
    calibration_comparison,
    calibration_grid,
    comparison_figures,
    coverage_curve,
    error_vs_volume,
    parity,
    parity_grid,
    residuals,
    residuals_grid,
    volume_errors,
)
from mfgp.plotting.diagnostics import acquisition_proposals, fidelity_correlation, learning_curve
from mfgp.plotting.physics import capacity_vs_demand
from mfgp.plotting.scale_up import is_held_out, scale_up
from mfgp.plotting.style import (
    GREY,
    format_volume,
    highlighted,
    model_colors,
    model_grid,
    ranked,
    volume_axis,
)
from mfgp.plotting.time_courses import run_groups, time_course_grid, time_courses

__all__ = [
    "capacity_vs_demand",
    "GREY",
    "acquisition_proposals",
    "calibration",
    "calibration_comparison",
    "calibration_grid",
    "comparison_figures",
    "coverage_curve",
    "error_vs_volume",
    "fidelity_correlation",
    "format_volume",
    "highlighted",
    "is_held_out",
    "learning_curve",
    "model_colors",
    "model_grid",
    "parity",
    "parity_grid",
    "ranked",
    "residuals",
    "residuals_grid",
    "run_groups",
    "scale_up",
    "time_course_grid",
    "time_courses",
    "volume_axis",
    "volume_errors",
]
