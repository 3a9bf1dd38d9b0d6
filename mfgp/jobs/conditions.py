"""The conditions a prediction is asked at: the default production set point, and warnings
wherever a request leaves the data.

Default operating point at a new volume: the *set point* of the largest measured scale (the
median of its runs' settings, the most common level of a categorical factor, its median
harvest time) carried to the new volume by a scale-up rule (constant power per volume unless
told otherwise; :func:`mfgp.scaling.criteria.scale_up`): the stirrer speed changes with the
rule, aeration in vvm and every other setting stay as they are. A stirrer-speed column is
recognised by its name (``rpm``, ``N_rpm``, ``Agitation (rpm)``, ``stirrer speed`` ...).

>>> stirrer_column(["vvm", "Agitation (rpm)", "feed"])
'Agitation (rpm)'
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from mfgp.data import ScaleUpData, endpoint_mask
from mfgp.exceptions import InputDataError
from mfgp.models.base import ScaleUpModel
from mfgp.scaling.criteria import Vessel, normalise_rule, scale_up
from mfgp.selection import predict_outcome

__all__ = [
    "carried_set_point",
    "condition_warnings",
    "harvest_time",
    "scale_up_curve",
    "set_point",
    "stirrer_column",
]

_STIRRER = re.compile(r"(^|[^a-z])(rpm|agitation|stirr\w*|impeller speed|n_rpm)([^a-z]|$)", re.I)


def stirrer_column(names: Sequence[str]) -> str | None:
    """The operating variable that is the stirrer speed in rpm, by its name, or ``None``."""
    exact = [n for n in names if n.strip().lower() in ("rpm", "n_rpm", "stirrer_rpm")]
    if exact:
        return exact[0]
    found = [n for n in names if _STIRRER.search(n)]
    return found[0] if found else None


def _top_ends(data: ScaleUpData) -> pd.DataFrame:
    return data.frame.loc[endpoint_mask(data)]


def harvest_time(data: ScaleUpData) -> float | None:
    """The median harvest time (h) of the runs at the largest measured scale (``None`` for
    end-point data)."""
    if "time_h" not in data.frame.columns:
        return None
    ends = _top_ends(data)
    ref = ends[ends["volume_L"] == ends["volume_L"].max()]
    return float(ref["time_h"].median())


def _categories(data: ScaleUpData) -> dict[str, list[str]]:
    cats = getattr(data, "categories", None)
    return dict(cats) if isinstance(cats, Mapping) else {}


def set_point(data: ScaleUpData) -> tuple[float, dict[str, Any]]:
    """``(volume, settings)`` of the largest measured scale: the median of its runs'
    operating variables (the most common level of a categorical factor)."""
    ends = _top_ends(data)
    volume = float(ends["volume_L"].max())
    ref = ends[ends["volume_L"] == volume]
    values: dict[str, Any] = {}
    cats = _categories(data)
    onehot = {f"{c}={lev}" for c, levels in cats.items() for lev in levels}
    for name in data.operating_names:
        if name not in onehot:
            values[name] = float(ref[name].median())
    for cat, levels in cats.items():
        counts = [float(ref[f"{cat}={lev}"].sum()) for lev in levels if f"{cat}={lev}" in ref]
        if counts:
            values[cat] = levels[int(np.argmax(counts))]
    return volume, values


def carried_set_point(
    data: ScaleUpData,
    volumes: Sequence[float],
    *,
    rule: str = "constant-P/V",
    at: Mapping[str, Any] | None = None,
    time_h: float | None = None,
) -> pd.DataFrame:
    """The conditions to predict at: one row per volume, the largest measured scale's set
    point carried there by ``rule`` (see the module docstring), then ``at`` on top.

    Args:
        data: the measured data.
        volumes: working volumes in litres.
        rule: the scale-up rule for the stirrer speed.
        at: settings given by the user (they win over the carried ones).
        time_h: the culture time (default: the harvest time; ignored for end-point data).

    Returns:
        A frame with ``volume_L``, ``time_h`` (time-course data) and every operating
        variable (categorical factors by their level), in the data's canonical names.

    Raises:
        InputDataError: an unknown setting in ``at``, or a non-positive volume.
    """
    rule = normalise_rule(rule)
    ref_volume, settings = set_point(data)
    cats = _categories(data)
    plain = [n for n in data.operating_names if not any(n.startswith(f"{c}=") for c in cats)]
    known = set(plain) | set(cats)
    at = dict(at or {})
    unknown = sorted(set(at) - known)
    if unknown:
        raise InputDataError(
            f"--at {unknown[0]}: not an operating variable of the data; they are "
            f"{sorted(known) or 'none'}"
        )
    stirrer = stirrer_column(plain)
    rows = []
    for v in volumes:
        v = float(v)
        if not (v > 0 and math.isfinite(v)):
            raise InputDataError(f"--volume must be positive litres, got {v:g}")
        row: dict[str, Any] = {"volume_L": v}
        if "time_h" in data.frame.columns:
            row["time_h"] = harvest_time(data) if time_h is None else float(time_h)
        row.update(settings)
        if stirrer is not None and stirrer not in at and settings.get(stirrer, 0) > 0:
            op = scale_up(Vessel(ref_volume), float(settings[stirrer]), Vessel(v), rule)
            row[stirrer] = float(op.rpm)
        row.update(at)
        rows.append(row)
    return pd.DataFrame(rows)


def condition_warnings(data: ScaleUpData, conditions: pd.DataFrame) -> list[str]:
    """Where asked conditions leave the data: each setting outside the range of the
    measurements (all scales, and at the measured scale nearest in volume), each volume beyond
    the largest measured scale (with the distance in decades), a time beyond the longest run.

    Args:
        data: the measured data.
        conditions: canonical frame (``volume_L``, ``time_h``, operating variables or
            categorical factors by level), e.g. from :func:`carried_set_point`.

    Returns:
        One plain sentence per finding.
    """
    out: list[str] = []
    top = data.frame.loc[data.fidelity == data.top_fidelity]
    vols = np.unique(top["volume_L"].to_numpy(float))
    vmax = float(vols.max())
    cats = _categories(data)
    for _, row in conditions.iterrows():
        v = float(row["volume_L"])
        if v > vmax * (1 + 1e-9):
            dec = math.log10(v / vmax)
            out.append(
                f"{v:g} L is {dec:.2f} decades ({v / vmax:.3g}x) beyond the largest measured "
                f"scale ({vmax:g} L): an extrapolation, with bands to match"
            )
        nearest = float(vols[np.argmin(np.abs(np.log10(vols) - math.log10(v)))])
        near = top[top["volume_L"] == nearest]
        for name in data.operating_names:
            if any(name.startswith(f"{c}=") for c in cats) or name not in row:
                continue
            x = float(row[name])
            lo, hi = float(top[name].min()), float(top[name].max())
            nlo, nhi = float(near[name].min()), float(near[name].max())
            if not lo <= x <= hi:
                out.append(
                    f"{name} = {x:.4g} at {v:g} L lies outside the measured range "
                    f"{lo:.4g}-{hi:.4g} (all scales)"
                )
            elif not nlo <= x <= nhi and nearest != v:
                out.append(
                    f"{name} = {x:.4g} at {v:g} L lies outside the range {nlo:.4g}-{nhi:.4g} "
                    f"of the nearest measured scale ({nearest:g} L)"
                )
            elif not nlo <= x <= nhi:
                out.append(
                    f"{name} = {x:.4g} at {v:g} L lies outside the range {nlo:.4g}-{nhi:.4g} "
                    f"measured at that scale"
                )
        for cat, levels in cats.items():
            if cat in row and str(row[cat]) not in levels:
                out.append(f"{cat} = {row[cat]} was never measured (levels: {levels})")
        if "time_h" in row and "time_h" in top.columns:
            tmax = float(top["time_h"].max())
            if float(row["time_h"]) > tmax:
                out.append(
                    f"time {float(row['time_h']):g} h lies beyond the longest measured run "
                    f"({tmax:g} h)"
                )
    return list(dict.fromkeys(out))


def scale_up_curve(
    model: ScaleUpModel,
    data: ScaleUpData,
    settings: pd.Series,
    v_max: float,
    *,
    rule: str = "constant-P/V",
    fixed: Sequence[str] = (),
    n: int = 60,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The model's prediction against volume at one operating point, from the smallest
    vessel to ``v_max`` (the stirrer speed carried by ``rule`` unless it is in ``fixed``), and
    each cheap level's prediction there (multi-fidelity models).

    Returns:
        ``(curve, cheap)``: ``volume_L, mean, lower95, upper95``; ``fidelity, volume_L, value``.
    """
    v_min = float(data.frame["volume_L"].min())
    grid = np.logspace(math.log10(v_min), math.log10(max(v_max, v_min * 1.01)), n)
    at = {k: settings[k] for k in fixed if k in settings}
    if "time_h" in settings:
        time_h = float(settings["time_h"])
    else:
        time_h = None
    frame = carried_set_point(data, grid, rule=rule, at=at, time_h=time_h)
    X = data.encode(frame)
    positive = bool((data.Y > 0).all())
    pred = predict_outcome(model, X, positive=positive)
    curve = pd.DataFrame(
        {
            "volume_L": grid,
            "mean": pred.mean.cpu().numpy(),
            "lower95": pred.lower.cpu().numpy(),
            "upper95": pred.upper.cpu().numpy(),
        }
    )
    rows = []
    if getattr(model, "multi_fidelity", False) and data.n_fidelities > 1:
        for level in range(data.top_fidelity):
            Xl = X.clone()
            Xl[:, -1] = level
            with torch.no_grad():
                mean = model.posterior(Xl).mean.squeeze(-1).cpu().numpy()
            rows += [
                {"fidelity": data.fidelity_names[level], "volume_L": v, "value": float(m)}
                for v, m in zip(grid, mean, strict=True)
            ]
    return curve, pd.DataFrame(rows)
