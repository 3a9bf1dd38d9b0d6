"""What every figure shares: one colour per model, readable volume axes, panel grids, legends.

- :func:`model_colors`: a fixed colour for each model name (the same in every figure; the
  known models of :func:`mfgp.available_models` always get the same colour, other names a
  colour of their own, stable across figures);
- :func:`format_volume` and :func:`volume_axis`: a log volume axis in litres whose ticks read
  ``100 mL``, ``1 L``, ``10 L``, ``100 L``, ``1 m³``, ``10 m³``;
- :func:`model_grid`: a figure with one panel per model (small multiples, shared axes);
- :func:`ranked`, :func:`highlighted`: the models in ranking order and the few drawn in colour.

>>> model_colors(["gp", "ar1"])["ar1"] == model_colors(["ar1"])["ar1"]
True
>>> format_volume(50000.0), format_volume(1.0), format_volume(0.25)
('50 m³', '1 L', '250 mL')
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

__all__ = [
    "GREY",
    "KNOWN_MODELS",
    "PALETTE",
    "format_volume",
    "highlighted",
    "label_grid",
    "legend_outside",
    "model_colors",
    "model_grid",
    "ranked",
    "volume_axis",
]

#: the models of :func:`mfgp.available_models`, each with its own fixed colour (in this order).
KNOWN_MODELS = (
    "ar1",
    "hybrid",
    "nargp",
    "gp",
    "discrepancy",
    "scaling_law",
    "classic",
    "ridge",
    "lasso",
    "mlp_ensemble",
    "random_forest",
    "gbt",
    "xgboost",
    "lightgbm",
)
#: 20 distinguishable colours, no grey (grey marks the models that are not highlighted); the
#: first 14 belong to :data:`KNOWN_MODELS`, the others go to other names.
PALETTE = (
    "#1f77b4",  # blue
    "#d62728",  # red
    "#2ca02c",  # green
    "#ff7f0e",  # orange
    "#9467bd",  # purple
    "#8c564b",  # brown
    "#e377c2",  # pink
    "#bcbd22",  # olive
    "#17becf",  # cyan
    "#393b79",  # indigo
    "#637939",  # moss
    "#8c6d31",  # ochre
    "#843c39",  # maroon
    "#7b4173",  # plum
    "#e7ba52",  # gold
    "#3e9fd6",  # sky
    "#a05195",  # magenta
    "#2f4b7c",  # navy
    "#ff6e54",  # coral
    "#488f31",  # leaf
)
#: the colour of the models that are not highlighted.
GREY = "0.62"
_FREE = len(KNOWN_MODELS)


def model_colors(names: Iterable[str]) -> dict[str, str]:
    """A colour for each model name, the same in every figure.

    The known models (:data:`KNOWN_MODELS`) have fixed colours; any other name prefers a
    colour of its own chosen from its text (so it keeps it across figures) and moves to the
    next free colour only if another name of ``names`` already has it. More than 20 names
    reuse colours.

    Args:
        names: the model names (order and repeats do not matter).

    Returns:
        ``{name: colour}`` (hex strings).

    Example:
        >>> model_colors(["hybrid", "ar1"])
        {'hybrid': '#d62728', 'ar1': '#1f77b4'}
    """
    names = list(dict.fromkeys(str(n) for n in names))
    out: dict[str, str] = {}
    used: set[int] = set()
    for n in names:
        if n in KNOWN_MODELS:
            out[n] = PALETTE[KNOWN_MODELS.index(n)]
            used.add(KNOWN_MODELS.index(n))
    for n in sorted(n for n in names if n not in out):
        slot = _FREE + zlib.crc32(n.encode()) % (len(PALETTE) - _FREE)
        for k in range(len(PALETTE)):
            cand = (slot + k) % len(PALETTE)
            if cand not in used:
                slot = cand
                break
        used.add(slot)
        out[n] = PALETTE[slot]
    return {n: out[n] for n in names}


def ranked(models: Iterable[str], ranking: Sequence[str] | None = None) -> list[str]:
    """``models`` in ranking order (best first); models missing from ``ranking`` follow in
    their own order, names of ``ranking`` that are not in ``models`` are dropped.

    Example:
        >>> ranked(["gp", "ar1", "hybrid"], ["hybrid", "lasso", "gp"])
        ['hybrid', 'gp', 'ar1']
    """
    models = list(dict.fromkeys(str(m) for m in models))
    order = [m for m in dict.fromkeys(str(r) for r in ranking or ()) if m in models]
    return order + [m for m in models if m not in order]


def highlighted(
    models: Sequence[str], highlight: Sequence[str] | None = None, *, top: int = 3, up_to: int = 6
) -> list[str]:
    """The models drawn in colour: ``highlight`` when given; otherwise all of ``models`` when
    there are at most ``up_to``, else the first ``top`` (``models`` is in ranking order).

    Example:
        >>> highlighted([f"m{i}" for i in range(11)])
        ['m0', 'm1', 'm2']
    """
    if highlight is not None:
        return [m for m in dict.fromkeys(str(h) for h in highlight) if m in models]
    return list(models) if len(models) <= up_to else list(models[:top])


def format_volume(v: float) -> str:
    """A working volume in litres as a short label: ``mL`` below 1 L, ``L`` to 1000 L, ``m³``
    from 1 m³ (three significant digits).

    Example:
        >>> [format_volume(v) for v in (0.1, 10.0, 1000.0, 2.5e4)]
        ['100 mL', '10 L', '1 m³', '25 m³']
    """
    v = float(v)
    if not math.isfinite(v) or v <= 0:
        return f"{v:g} L"
    if v >= 1000:
        return f"{v / 1000:.3g} m³"
    if v >= 1:
        return f"{v:.3g} L"
    return f"{v * 1000:.3g} mL"


def volume_axis(
    ax: Axes, *, axis: str = "x", limits: tuple[float, float] | None = None, label: bool = True
) -> Axes:
    """Make ``axis`` of ``ax`` a log volume axis with ticks in litres / m³ (decades; also 2
    and 5 when the axis spans less than about two decades) and the label ``working volume``.

    Args:
        ax: the axes.
        axis: ``"x"`` or ``"y"``.
        limits: the volume range (L) to show; default: the current limits.
        label: set the axis label.
    """
    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    if limits is not None:
        (ax.set_xlim if axis == "x" else ax.set_ylim)(*limits)
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    span = math.log10(hi / lo) if lo > 0 and hi > lo else 3.0
    subs: tuple[float, ...] = (1.0,) if span > 2.2 else (1.0, 2.0, 5.0)
    if span < 0.5:
        subs = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)
    target.set_major_locator(LogLocator(base=10, subs=subs, numticks=14))
    target.set_major_formatter(FuncFormatter(lambda v, _pos: format_volume(v)))
    target.set_minor_locator(LogLocator(base=10, subs=tuple(np.arange(2, 10)), numticks=14))
    target.set_minor_formatter(NullFormatter())
    if label:
        (ax.set_xlabel if axis == "x" else ax.set_ylabel)("working volume")
    return ax


def legend_outside(
    ax: Axes, handles: list[Any] | None = None, labels: list[str] | None = None, **kwargs: Any
) -> Legend | None:
    """A legend to the right of ``ax`` (outside the data; saving with ``bbox_inches="tight"``
    or a constrained layout keeps it in the figure), or nothing when there is nothing to name.
    """
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    opts: dict[str, Any] = {
        "loc": "upper left",
        "bbox_to_anchor": (1.02, 1.0),
        "borderaxespad": 0.0,
        "fontsize": 8,
        "frameon": False,
    }
    opts.update(kwargs)
    if labels is None:
        return ax.legend(handles=handles, **opts)
    return ax.legend(handles, labels, **opts)


def model_grid(
    models: Sequence[str],
    *,
    fig: Figure | None = None,
    ncols: int | None = None,
    panel_size: tuple[float, float] = (3.0, 2.5),
    sharex: bool = True,
    sharey: bool = True,
    titles: bool = True,
) -> tuple[Figure, list[Axes]]:
    """A figure with one panel per model (small multiples): at most 4 columns, shared axes,
    a constrained layout (no overlapping labels), unused cells hidden.

    Args:
        models: the model names, in panel order (ranking order: best first).
        fig: draw into this figure (its size is kept); default: a new figure of
            ``panel_size`` inches per panel.
        ncols: columns (default ``min(4, n)``).
        panel_size: width and height of one panel in inches.
        sharex, sharey: share the axes between panels.
        titles: title each panel with its model name (numbered by rank when more than one).

    Returns:
        The figure and one axes per model, in the order of ``models``.

    Example:
        >>> fig, axes = model_grid([f"m{i}" for i in range(11)])
        >>> len(axes), axes[0].get_title()
        (11, '1. m0')
    """
    import matplotlib.pyplot as plt

    n = max(1, len(models))
    ncols = max(1, min(ncols or 4, n))
    nrows = -(-n // ncols)
    if fig is None:
        fig = plt.figure(
            figsize=(panel_size[0] * ncols + 0.6, panel_size[1] * nrows + 0.6),
            layout="constrained",
        )
    grid = fig.subplots(nrows, ncols, sharex=sharex, sharey=sharey, squeeze=False)
    flat = list(grid.flat)
    for ax in flat[len(models) :]:
        ax.set_visible(False)
    axes = flat[: len(models)]
    for idx, ax in enumerate(axes):
        if sharex and idx + ncols >= len(axes):  # nothing visible below: show its x ticks
            ax.xaxis.set_tick_params(labelbottom=True)
    if titles:
        for i, (ax, name) in enumerate(zip(axes, models, strict=True), start=1):
            ax.set_title(f"{i}. {name}" if len(models) > 1 else str(name), fontsize=9)
    return fig, axes


def label_grid(axes: Sequence[Axes], xlabel: str, ylabel: str) -> None:
    """Axis labels on the outer panels of a :func:`model_grid` only: ``xlabel`` on the lowest
    visible panel of each column, ``ylabel`` on the first column."""
    for idx, ax in enumerate(axes):
        _, ncols, start, _ = ax.get_subplotspec().get_geometry()
        ax.set_xlabel(xlabel if idx + ncols >= len(axes) else "")
        ax.set_ylabel(ylabel if start % ncols == 0 else "")
