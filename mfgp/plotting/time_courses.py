"""Predicted time courses, one per run: the prediction of each run (line and 95 % band) with
that run's measurements in the same colour, never averaged over runs with different settings.

A run is a ``run_id`` of the predictions; without one, each distinct operating point (volume
and operating variables) is a run.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> import pandas as pd
>>> pred = pd.DataFrame({"model": "gp", "run_id": ["a", "a", "b", "b"],
...                      "volume_L": 1e4, "time_h": [0.0, 10.0, 0.0, 10.0],
...                      "observed": [0.1, 2.0, 0.1, 3.0], "mean": [0.1, 2.1, 0.1, 2.9],
...                      "lower95": [0.0, 1.5, 0.0, 2.3], "upper95": [0.2, 2.7, 0.2, 3.5]})
>>> fig, ax = plt.subplots()
>>> len(time_courses(ax, pred, target="titer").get_lines())  # a line and points per run
4
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from mfgp.plotting.style import format_volume, legend_outside, model_grid

__all__ = ["operating_columns", "run_groups", "time_course_grid", "time_courses"]

#: columns of ``predictions.csv`` that are not operating variables.
RESERVED = frozenset(
    {
        "model",
        "run_id",
        "fidelity",
        "volume_L",
        "time_h",
        "observed",
        "mean",
        "sd",
        "variance",
        "lower95",
        "upper95",
        "set",
        "split",
        "residual",
        "z",
    }
)
_FAMILIES = ("Blues", "Oranges", "Greens", "Purples", "Reds", "Greys")


def operating_columns(frame: pd.DataFrame) -> list[str]:
    """The numeric columns of a predictions frame that are operating variables (all but
    :data:`RESERVED`).

    Example:
        >>> operating_columns(pd.DataFrame({"model": ["m"], "volume_L": [1.0], "rpm": [300]}))
        ['rpm']
    """
    return [
        c for c in frame.columns if c not in RESERVED and pd.api.types.is_numeric_dtype(frame[c])
    ]


def _run_label(key: Any, cols: list[str]) -> str:
    key = key if isinstance(key, tuple) else (key,)
    if cols == ["run_id"]:
        return f"run {key[0]}"
    parts = [
        f"{c}={v:g}" if isinstance(v, float) else f"{c}={v}" for c, v in zip(cols, key, strict=True)
    ]
    return ", ".join(parts[:3]) + (", ..." if len(parts) > 3 else "") if parts else "all rows"


def run_groups(frame: pd.DataFrame) -> list[tuple[float, str, pd.DataFrame]]:
    """The runs of a predictions frame as ``(volume_L, label, rows)``, ordered by volume:
    grouped by ``run_id`` when it has one, else by volume and operating variables.

    Example:
        >>> f = pd.DataFrame({"volume_L": [1.0, 1.0], "time_h": [0.0, 0.0], "rpm": [300, 500]})
        >>> [label for _, label, _ in run_groups(f)]
        ['rpm=300', 'rpm=500']
    """
    if "run_id" in frame.columns and frame["run_id"].notna().any():
        cols = ["run_id"]
    else:
        cols = operating_columns(frame)
    keys = ["volume_L", *cols]
    out = []
    for key, g in frame.groupby(keys, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        out.append((float(key[0]), _run_label(key[1:], cols), g))
    return out


def _course(g: pd.DataFrame) -> pd.DataFrame:
    """One run's prediction by time (repeated times of the run share one prediction)."""
    return g.groupby("time_h", as_index=False)[["mean", "lower95", "upper95"]].mean()


def _select_model(predictions: pd.DataFrame, model: str | None) -> pd.DataFrame:
    if model is not None:
        return predictions[predictions["model"].astype(str) == str(model)]
    if "model" in predictions.columns and predictions["model"].nunique() > 1:
        names = ", ".join(map(str, predictions["model"].unique()))
        raise ValueError(f"predictions hold several models ({names}): pass model=")
    return predictions


def _ylabel(target: str | None, units: str) -> str:
    name = target or "target"
    return f"{name} ({units})" if units else name


def _draw_run(ax: Axes, g: pd.DataFrame, color: Any) -> None:
    c = _course(g)
    ax.fill_between(c["time_h"], c["lower95"], c["upper95"], color=color, alpha=0.15, lw=0)
    ax.plot(c["time_h"], c["mean"], "-", color=color, lw=1.6)
    if "observed" in g.columns:
        ax.plot(g["time_h"], g["observed"], "o", ms=3.5, color=color, mec="white", mew=0.4)


def time_courses(
    ax: Axes,
    predictions: pd.DataFrame,
    *,
    model: str | None = None,
    train: pd.DataFrame | None = None,
    target: str | None = None,
    units: str = "",
    max_legend_runs: int = 12,
) -> Axes:
    """Predicted time courses per run, each with its 95 % band, and the run's measurements as
    points in the same colour; the training data as faint grey points.

    Runs are grouped by ``run_id`` (or, without it, by volume and operating variables) and
    never averaged together. Each volume has a colour family (blues, oranges, ...), its runs
    shades of it; the legend (outside, right) names every run, or, with more than
    ``max_legend_runs`` runs, every volume and its number of runs
    (:func:`time_course_grid` draws one panel per volume instead).

    Args:
        ax: the axes.
        predictions: rows of ``predictions.csv`` (``volume_L``, ``time_h``, ``mean``,
            ``lower95``, ``upper95``, ``observed``, optionally ``run_id`` and operating
            variables).
        model: the model to draw (required when the frame holds several).
        train: training rows with ``time_h`` and ``target`` columns.
        target: the target column of ``train`` (also the y label).
        units: the target's units, for the y label.
        max_legend_runs: name runs in the legend up to this many.

    Returns:
        ``ax``.

    Raises:
        ValueError: several models in ``predictions`` and no ``model``.
    """
    frame = _select_model(predictions, model)
    runs = run_groups(frame)
    volumes = sorted({v for v, _, _ in runs})
    handles: list[Any] = []
    per_run = len(runs) <= max_legend_runs
    for iv, v in enumerate(volumes):
        in_v = [(label, g) for vol, label, g in runs if vol == v]
        cmap = colormaps[_FAMILIES[iv % len(_FAMILIES)]]
        shades = np.linspace(0.55, 0.95, len(in_v)) if len(in_v) > 1 else [0.75]
        for (label, g), s in zip(in_v, shades, strict=True):
            color = cmap(float(s))
            _draw_run(ax, g, color)
            if per_run:
                handles.append(
                    Line2D(
                        [],
                        [],
                        color=color,
                        lw=1.6,
                        marker="o",
                        ms=3.5,
                        label=f"{format_volume(v)}: {label}",
                    )
                )
        if not per_run:
            n = len(in_v)
            handles.append(
                Line2D(
                    [],
                    [],
                    color=cmap(0.75),
                    lw=1.6,
                    marker="o",
                    ms=3.5,
                    label=f"{format_volume(v)}: {n} run{'s' if n > 1 else ''}",
                )
            )
    handles.append(Patch(color="0.5", alpha=0.25, label="95 % band"))
    if "observed" in frame.columns and frame["observed"].notna().any():
        point = Line2D([], [], color="0.3", ls="", marker="o", ms=3.5, label="measured")
        handles.append(point)
    if train is not None and target is not None and len(train):
        ax.plot(train["time_h"], train[target], ".", ms=2.5, alpha=0.35, color="grey", zorder=0)
        handles.append(
            Line2D([], [], color="grey", ls="", marker=".", alpha=0.6, label="training data")
        )
    ax.set_xlabel("culture time (h)")
    ax.set_ylabel(_ylabel(target, units))
    name = model or (str(frame["model"].iloc[0]) if "model" in frame.columns and len(frame) else "")
    ax.set_title(f"{name}: predicted time courses per run".strip(": "))
    legend_outside(ax, handles)
    return ax


def time_course_grid(
    predictions: pd.DataFrame,
    *,
    model: str | None = None,
    target: str | None = None,
    units: str = "",
    fig: Figure | None = None,
    max_legend_runs: int = 8,
) -> Figure:
    """Small multiples of :func:`time_courses`: one panel per volume (shared time and target
    axes), the runs of each volume in distinct colours with their 95 % bands and measured
    points, named in the panel's legend (up to ``max_legend_runs`` runs).

    Args:
        predictions: rows of ``predictions.csv``.
        model: the model to draw (required when the frame holds several).
        target: the target's name (y label).
        units: the target's units (y label).
        fig: draw into this figure (default: a new one sized for the grid).
        max_legend_runs: name runs in each panel's legend up to this many.

    Returns:
        The figure.
    """
    frame = _select_model(predictions, model)
    runs = run_groups(frame)
    volumes = sorted({v for v, _, _ in runs})
    fig, axes = model_grid(
        [format_volume(v) for v in volumes], fig=fig, panel_size=(3.6, 2.8), titles=False
    )
    palette = colormaps["tab10"].colors
    for ax, v in zip(axes, volumes, strict=True):
        in_v = [(label, g) for vol, label, g in runs if vol == v]
        handles = []
        for i, (label, g) in enumerate(in_v):
            color = palette[i % len(palette)]
            _draw_run(ax, g, color)
            handles.append(Line2D([], [], color=color, lw=1.6, marker="o", ms=3, label=label))
        ax.set_title(
            f"{format_volume(v)} ({len(in_v)} run{'s' if len(in_v) > 1 else ''})", fontsize=9
        )
        if len(in_v) <= max_legend_runs:
            ax.legend(
                handles=handles, fontsize=6.5, loc="upper left", frameon=False, handlelength=1.2
            )
    for idx, ax in enumerate(axes):
        _, ncols, start, _ = ax.get_subplotspec().get_geometry()
        ax.set_xlabel("culture time (h)" if idx + ncols >= len(axes) else "")
        ax.set_ylabel(_ylabel(target, units) if start % ncols == 0 else "")
    name = model or (str(frame["model"].iloc[0]) if "model" in frame.columns and len(frame) else "")
    fig.suptitle(
        f"{name}: predicted time courses per run (lines, 95 % bands) and measurements "
        "(points)".strip(": "),
        fontsize=10,
    )
    return fig
