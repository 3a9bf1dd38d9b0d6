"""The scale-up figure: the end-point target against working volume, from the smallest vessel
to the largest asked volume, with the measured runs, the model's prediction and 95 % band at
the set point, the cheap levels' predictions and the asked production predictions.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> import pandas as pd
>>> fig, ax = plt.subplots()
>>> measured = pd.DataFrame({"volume_L": [1.0, 10.0, 100.0], "titer": [5.0, 4.8, 4.5]})
>>> curve = pd.DataFrame({"volume_L": [1.0, 1e4], "mean": [5.0, 4.0], "lower95": [4.5, 3.0],
...                       "upper95": [5.5, 5.0]})
>>> ax = scale_up(ax, measured=measured, curve=curve, target="titer", units="g/L")
>>> ax.get_xscale()
'log'
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from mfgp.plotting.style import format_volume, legend_outside, volume_axis

__all__ = ["is_held_out", "scale_up"]

_CHEAP_STYLES = (
    ("#e08214", (0, (5, 2))),
    ("#8073ac", (0, (1.5, 1.5))),
    ("#b35806", (0, (6, 2, 1.5, 2))),
    ("#542788", (0, (3, 1.5))),
)
_HELD_OUT = {"heldout", "holdout", "test", "validation", "production", "true", "1"}


def is_held_out(flags: Any) -> np.ndarray:
    """Which rows a ``set`` column marks as held out (``held-out``, ``held_out``, ``holdout``,
    ``test``, ``validation``, or ``True``); anything else is training.

    Example:
        >>> is_held_out(["train", "held-out", "test", "Train"]).tolist()
        [False, True, True, False]
    """
    s = pd.Series(flags).astype(str).str.lower().str.replace(r"[\s_\-]", "", regex=True)
    return s.isin(_HELD_OUT).to_numpy()


def _jitter(volumes: np.ndarray, *, step: float = 0.025) -> np.ndarray:
    """Spread the points of one volume sideways (multiplicatively, by ``step`` decades) so that
    runs at the same scale do not hide each other."""
    out = volumes.astype(float).copy()
    for v in np.unique(volumes):
        idx = np.flatnonzero(volumes == v)
        if idx.size > 1:
            k = np.arange(idx.size) - (idx.size - 1) / 2
            out[idx] = v * 10 ** (step * k * min(1.0, 4 / idx.size))
    return out


def _volumes(*frames: pd.DataFrame | None) -> np.ndarray:
    vs = [f["volume_L"].to_numpy(float) for f in frames if f is not None and len(f)]
    v = np.concatenate(vs) if vs else np.array([1.0])
    return v[np.isfinite(v) & (v > 0)]


def scale_up(
    ax: Axes,
    *,
    measured: pd.DataFrame,
    curve: pd.DataFrame,
    cheap: pd.DataFrame | None = None,
    target: str,
    units: str = "",
    asked: pd.DataFrame | None = None,
    volume_range: tuple[float, float] | None = None,
    label: str | None = None,
    color: Any = "#1f77b4",
) -> Axes:
    """The scale-up figure: end-point ``target`` (y) against working volume (x, log axis with
    ticks ``1 L``, ``10 L``, ``100 L``, ``1 m³``, ``10 m³``) from the smallest vessel to the
    largest asked volume.

    Draws the measured runs as points (filled: training, open: held out; runs at one volume
    spread slightly sideways), the model's prediction at the set point as a line with its
    shaded 95 % band, each cheap level as a dashed line, the asked production predictions as
    diamonds with 95 % error bars and their values, and the measured range as a light band
    ending in a dotted line at the largest measured scale. The legend is outside, on the
    right. A positive target's y axis does not go below zero.

    Args:
        ax: the axes.
        measured: end-point measurements: ``volume_L``, ``target``, optionally ``run_id`` and
            ``set`` (``train`` / ``held-out``, see :func:`is_held_out`).
        curve: the prediction at the set point on a grid of volumes: ``volume_L``, ``mean``,
            ``lower95``, ``upper95`` (optionally ``model``, named in the legend).
        cheap: optional ``fidelity``, ``volume_L``, ``value``: each cheap level's end-point
            prediction, one line per level.
        target: the target column of ``measured`` (also the y label and title).
        units: the target's units, for the y label.
        asked: optional ``volume_L``, ``mean``, ``lower95``, ``upper95`` of the asked
            production volumes.
        volume_range: the measured range ``(smallest, largest)`` in litres; default: the range
            of the training rows of ``measured``.
        label: legend label of the prediction (default ``"<model>: prediction at the set
            point"``).
        color: colour of the prediction.

    Returns:
        ``ax``.

    Raises:
        ValueError: ``measured`` has no column ``target``.
    """
    if target not in measured.columns:
        raise ValueError(f"measured has no column {target!r}: {list(measured.columns)}")
    held = (
        is_held_out(measured["set"]) if "set" in measured.columns else np.zeros(len(measured), bool)
    )
    handles: list[Any] = []
    if volume_range is None and len(measured):
        train_v = measured.loc[~held, "volume_L"] if (~held).any() else measured["volume_L"]
        volume_range = (float(train_v.min()), float(train_v.max()))
    if volume_range is not None:
        lo_v, hi_v = volume_range
        ax.axvspan(lo_v, hi_v, color="0.93", zorder=0, lw=0)
        ax.axvline(hi_v, color="0.35", ls=":", lw=1.2, zorder=1)
        handles.append(
            Patch(
                color="0.9",
                label=f"measured range ({format_volume(lo_v)} to {format_volume(hi_v)})",
            )
        )
        handles.append(
            Line2D(
                [],
                [],
                color="0.35",
                ls=":",
                lw=1.2,
                label=f"largest measured scale ({format_volume(hi_v)})",
            )
        )

    c = curve.sort_values("volume_L")
    if label is None:
        model = c["model"].iloc[0] if "model" in c.columns and c["model"].nunique() == 1 else None
        label = f"{model}: prediction at the set point" if model else "prediction at the set point"
    ax.fill_between(c["volume_L"], c["lower95"], c["upper95"], color=color, alpha=0.18, lw=0)
    ax.plot(c["volume_L"], c["mean"], "-", color=color, lw=2.0, zorder=3)
    handles.append(Line2D([], [], color=color, lw=2.0, label=label))
    handles.append(Patch(color=color, alpha=0.18, label="95 % band"))

    if cheap is not None and len(cheap):
        for i, (level, g) in enumerate(cheap.groupby("fidelity", sort=False)):
            col, ls = _CHEAP_STYLES[i % len(_CHEAP_STYLES)]
            g = g.sort_values("volume_L")
            ax.plot(g["volume_L"], g["value"], color=col, ls=ls, lw=1.4, zorder=2)
            handles.append(Line2D([], [], color=col, ls=ls, lw=1.4, label=f"{level} (cheap level)"))

    if len(measured):
        x = _jitter(measured["volume_L"].to_numpy(float))
        y = measured[target].to_numpy(float)
        ax.plot(x[~held], y[~held], "o", ms=5, color="k", zorder=4)
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                ms=5,
                color="k",
                label="measured runs" + (" (training)" if held.any() else ""),
            )
        )
        if held.any():
            ax.plot(x[held], y[held], "o", ms=6, mfc="white", mec="k", mew=1.3, zorder=5)
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="o",
                    ls="",
                    ms=6,
                    mfc="white",
                    mec="k",
                    mew=1.3,
                    label="measured runs (held out)",
                )
            )

    if asked is not None and len(asked):
        a = asked.sort_values("volume_L")
        m, lo, hi = (a[k].to_numpy(float) for k in ("mean", "lower95", "upper95"))
        yerr = np.vstack([np.clip(m - lo, 0, None), np.clip(hi - m, 0, None)])
        ax.errorbar(
            a["volume_L"],
            m,
            yerr=yerr,
            fmt="D",
            ms=6,
            color="#d62728",
            capsize=4,
            elinewidth=1.5,
            zorder=6,
        )
        for v, mv in zip(a["volume_L"].to_numpy(float), m, strict=True):
            ax.annotate(
                f"{mv:.3g}",
                (v, mv),
                textcoords="offset points",
                xytext=(7, 0),
                va="center",
                fontsize=8,
                color="#d62728",
            )
        handles.append(
            Line2D(
                [],
                [],
                marker="D",
                ls="",
                ms=6,
                color="#d62728",
                label="asked volumes (95 % interval)",
            )
        )

    vols = _volumes(measured, curve, cheap, asked)
    lo_x, hi_x = float(vols.min()), float(vols.max())
    volume_axis(ax, limits=(lo_x / 1.6, hi_x * 2.2))
    ys = [measured[target].to_numpy(float) if len(measured) else np.array([])]
    ys += [c["lower95"].to_numpy(float)]
    if np.nanmin(np.concatenate(ys)) >= 0 and ax.get_ylim()[0] < 0:
        ax.set_ylim(bottom=0)  # a positive target: no axis below zero
    ax.set_ylabel(f"end-point {target} ({units})" if units else f"end-point {target}")
    ax.set_title(f"{target} at the end of the run against working volume")
    ax.grid(True, which="major", color="0.88", lw=0.6, zorder=0)
    ax.set_axisbelow(True)
    legend_outside(ax, handles)
    return ax
