"""From a data set and the user's settings to the arguments of a
:class:`~mfgp.acquisition.space.SearchSpace`: the options (vessels and cheap levels) with their
costs and windows, what is fixed, the production window, the rounding and the limits.

The rules (:func:`space_arguments`):

- **options**, one per cost name (``--costs 2L=1,200L=20``, the config's ``[costs]`` or a
  ``cost`` in a ``[vessels."VOLUME"]`` table). A name is a vessel's volume (``2L``,
  ``500 mL``, ``10 m3``: :func:`~mfgp.scaling.vessels.parse_vessel_name`), a cheap level of
  the data (a run of that level at the target volume), ``lab``/``pilot``/``production`` (the
  largest measured vessel of <= 10 L, (10, 1000] L, > 1000 L: :data:`DEFAULT_SCALE_RANGES`),
  or a name given a volume by ``--scales NAME=LITRES`` or an ``[options.NAME]`` table;
- **operating variables** (the design variables): the ``operating`` columns when given, else
  every feature but the volume and the time. Time is fixed at the end of each vessel's runs;
  features that are not operating variables are fixed at the median of each vessel's runs
  (categorical factors at their most frequent level). Run ids and cheap-level columns are not
  features and never appear;
- **windows**: each vessel's own, from its runs (:func:`~mfgp.acquisition.vessels.vessel_windows`)
  or carried from the nearest measured vessel, replaced where the config's vessel table or
  ``bounds`` give one; cheap levels and the production window are carried the same way;
- **rounding**: :func:`~mfgp.acquisition.vessels.instrument_step`, or the config's
  ``[precision]`` table;
- **limits**: the ``[constraints]`` table; when the stirrer speed is free and none are given,
  the gassed P/V may not exceed the largest P/V of the measured runs (the envelope the data
  demonstrate), so that no vessel is asked for a power it has never delivered.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mfgp.acquisition.config import load_config, parse_assignments
from mfgp.acquisition.constraints import EngineeringConstraints
from mfgp.acquisition.vessels import ScaleOption, carry_window, instrument_step, vessel_windows
from mfgp.data.categories import indicator_name
from mfgp.exceptions import InputDataError
from mfgp.scaling.criteria import Vessel, operating_point
from mfgp.scaling.vessels import (
    GEOMETRY_KEYS,
    parse_vessel_name,
    physics_role,
    same_volume,
    vessel_from_config,
    vessel_label,
    vessel_of,
)

__all__ = ["CONFIG_KEYS", "DEFAULT_SCALE_RANGES", "space_arguments"]

log = logging.getLogger(__name__)

#: Volume ranges (litres) of the named scales: the largest measured vessel of the data inside
#: the range is used (``lab``: <= 10 L, ``pilot``: (10, 1000] L, ``demo``/``production``:
#: > 1000 L). Vessel names (``15L``) are plainer: they name the vessel itself.
DEFAULT_SCALE_RANGES: dict[str, tuple[float, float]] = {
    "lab": (0.0, 10.0),
    "bench": (0.0, 10.0),
    "pilot": (10.0, 1000.0),
    "demo": (1000.0, math.inf),
    "production": (1000.0, math.inf),
}

#: keys of a suggest config file.
CONFIG_KEYS = frozenset(
    {
        "target_volume_L",
        "costs",
        "cost_unit",
        "scales",
        "options",
        "vessels",
        "operating",
        "bounds",
        "fixed",
        "precision",
        "constraints",
        "goal",
        "q",
        "model",
        "model_options",
        "seed",
        "n_candidates",
        "spec",
        "pending",
    }
)


def _vessel_tables(cfg: Mapping[str, Any], names: Sequence[str]) -> dict[float, dict[str, Any]]:
    """``[vessels."VOLUME"]`` tables by volume (litres), keys checked."""
    out: dict[float, dict[str, Any]] = {}
    known = set(GEOMETRY_KEYS) | {"cost"} | set(names)
    for key, table in dict(cfg.get("vessels", {})).items():
        vol = parse_vessel_name(str(key))
        if vol is None:
            raise InputDataError(
                f'[vessels."{key}"]: name a vessel by its volume in litres ("200") or with a '
                'unit ("200 L", "10 m3")'
            )
        if not isinstance(table, Mapping):
            raise InputDataError(f'[vessels."{key}"] must be a table of settings')
        bad = sorted(set(table) - known)
        if bad:
            raise InputDataError(
                f'[vessels."{key}"]: unknown keys {bad}; known: cost, the geometry '
                f"{list(GEOMETRY_KEYS)} and the operating variables {list(names)}"
            )
        out[vol] = dict(table)
    return out


def _pair(name: str, value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise InputDataError(
            f"{where}: the window of {name!r} must be [lower, upper], got {value!r}"
        )
    lo, hi = float(value[0]), float(value[1])
    if lo > hi:
        raise InputDataError(f"{where}: bounds of {name!r} have lower {lo} > upper {hi}; swap them")
    return lo, hi


def _envelope(rows: Any, roles: Mapping[str, str], geometry: Mapping[float, Vessel]) -> float:
    """The largest gassed P/V (W/m3) of the measured runs."""
    vvm_col = roles.get("vvm")
    vols = rows["volume_L"].to_numpy(float)
    best = 0.0
    for vol in np.unique(vols):
        sel = vols == vol
        rpm = torch.tensor(rows.loc[sel, roles["rpm"]].to_numpy(float)).clamp_min(1e-6)
        vvm = rows.loc[sel, vvm_col].to_numpy(float) if vvm_col else np.ones(int(sel.sum()))
        vessel = vessel_of(float(vol), geometry)
        op = operating_point(vessel, rpm, torch.tensor(vvm).clamp_min(1e-6))
        best = max(best, float(op.p_per_v.max()))
    return best


def space_arguments(
    data: Any,
    *,
    costs: str | Mapping[str, float] | None = None,
    target_volume_L: float | None = None,
    scales: str | Mapping[str, float] | None = None,
    bounds: Mapping[str, Sequence[float]] | None = None,
    fixed: Mapping[str, float] | None = None,
    constraints: EngineeringConstraints | Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | str | Path | None = None,
    operating: Sequence[str] | None = None,
    cost_unit: str | None = None,
) -> dict[str, Any]:
    """The keyword arguments of :class:`~mfgp.acquisition.space.SearchSpace` for ``data`` (a
    :class:`~mfgp.data.ScaleUpData`) and the user's settings (see the module docstring).

    Settings come from the keyword arguments, then the ``config`` (a mapping or a TOML path),
    then the defaults.

    Raises:
        InputDataError: missing or bad costs, an unknown vessel or scale name, bad windows,
            unknown variables or config keys, or no target volume.
    """
    cfg: dict[str, Any] = {}
    if isinstance(config, (str, Path)):
        cfg = load_config(config)
    elif config is not None:
        cfg = dict(config)
    unknown = sorted(set(cfg) - CONFIG_KEYS)
    if unknown:
        raise InputDataError(f"unknown config keys {unknown}; known: {sorted(CONFIG_KEYS)}")
    names = list(data.feature_names)
    frame = data.frame
    top = int(data.top_fidelity)
    measured = frame.loc[np.asarray(data.fidelity) == top]
    vessels = sorted(float(v) for v in np.unique(measured["volume_L"].to_numpy(float)))
    labels = ", ".join(vessel_label(v) for v in vessels)

    tv = target_volume_L if target_volume_L is not None else cfg.get("target_volume_L")
    if tv is None:
        raise InputDataError("give the target volume (--target-volume LITRES)")
    tv = float(tv)

    # ---- which features are design variables
    categories = {
        col: [indicator_name(col, lvl) for lvl in levels]
        for col, levels in dict(getattr(data, "categories", {}) or {}).items()
        if all(indicator_name(col, lvl) in names for lvl in levels)
    }
    indicators = {c for cols in categories.values() for c in cols}
    declared = operating if operating is not None else cfg.get("operating")
    if declared is not None:
        declared = [str(d) for d in declared]
        allowed = [n for n in names[1:] if n not in indicators and n != "time_h"]
        bad = [d for d in declared if d not in allowed and d not in categories]
        if bad:
            raise InputDataError(
                f"operating variables {bad} are not columns of the data's features; choose from "
                f"{allowed + list(categories)}"
            )
    design = [
        n
        for n in names[1:]
        if n != "time_h" and n not in indicators and (declared is None or n in declared)
    ]
    free_groups = {g: c for g, c in categories.items() if declared is None or g in declared}
    roles = {r: n for n in names[1:] if (r := physics_role(n)) is not None}
    vessel_cfg = _vessel_tables(cfg, names)
    geometry = {
        v: vessel_from_config(v, t) for v, t in vessel_cfg.items() if set(t) & set(GEOMETRY_KEYS)
    }

    # ---- fixed values: time at the end of the runs, the rest at the vessel's median
    def fixed_of(rows: Any) -> dict[str, float]:
        out: dict[str, float] = {}
        if "time_h" in names:
            out["time_h"] = float(rows["time_h"].max())
        for n in names[1:]:
            if n in design or n == "time_h" or n in indicators:
                continue
            out[n] = float(np.median(rows[n].to_numpy(float)))
        for g, cols in categories.items():
            if g in free_groups:
                continue
            counts = rows[cols].to_numpy(float).sum(axis=0)
            best = int(np.argmax(counts))
            out.update({c: float(k == best) for k, c in enumerate(cols)})
        return out

    user_bounds: dict[str, tuple[float, float]] = {}
    for src, where in ((cfg.get("bounds", {}), "[bounds]"), (bounds or {}, "bounds")):
        for name, pair in dict(src).items():
            user_bounds[str(name)] = _pair(str(name), pair, where)
    user_fixed = {str(k): float(v) for k, v in dict(cfg.get("fixed", {})).items()}
    user_fixed.update({str(k): float(v) for k, v in dict(fixed or {}).items()})
    fixed_all = fixed_of(measured if len(measured) else frame)
    if "time_h" in user_bounds:
        fixed_all.pop("time_h", None)
    fixed_all.update(user_fixed)
    free = [n for n in design if n not in user_fixed] + [
        n for n in user_bounds if n not in design and n not in user_fixed
    ]
    for n in free:
        fixed_all.pop(n, None)

    # ---- windows
    pooled = {n: (float(frame[n].min()), float(frame[n].max())) for n in free if n in frame}
    windows = vessel_windows(measured, [n for n in free if n in measured]) if len(measured) else {}
    for vol, table in vessel_cfg.items():
        own = {
            n: _pair(n, table[n], f'[vessels."{vessel_label(vol)}"]') for n in free if n in table
        }
        match = next((w for v, w in windows.items() if same_volume(v, vol)), None)
        if match is not None:
            match.update(own)
        else:
            windows[vol] = own
    glob = {**pooled}
    for w in windows.values():
        for n, (lo, hi) in w.items():
            a, b = glob.get(n, (lo, hi))
            glob[n] = (min(a, lo), max(b, hi))
    glob.update(user_bounds)

    def window_at(vol: float) -> dict[str, tuple[float, float]]:
        """The window of the vessel of ``vol``: its own (from runs or config), completed by
        the nearest measured vessel's carried over; the user's bounds win."""
        own = next((dict(w) for v, w in windows.items() if same_volume(v, vol)), {})
        if any(n not in own for n in free) and vessels:
            src = min(vessels, key=lambda v: abs(math.log10(v) - math.log10(vol)))
            if not same_volume(src, vol):
                src_w = next(w for v, w in windows.items() if same_volume(v, src))
                carried = carry_window(
                    src_w,
                    vessel_of(src, geometry),
                    vessel_of(vol, geometry),
                    rpm_name=roles.get("rpm"),
                    rule=dict(cfg.get("constraints", {})).get("rule", "constant-P/V"),
                )
                own = {**carried, **own}
        own = {n: own.get(n, glob[n]) for n in free}
        own.update({n: user_bounds[n] for n in user_bounds if n in own})
        return own

    # ---- options
    opt_cfg = {str(k): dict(v) for k, v in dict(cfg.get("options", {})).items()}
    cost_map = parse_assignments(costs, "costs") if costs is not None else {}
    if costs is None and cfg.get("costs"):
        cost_map = parse_assignments(cfg["costs"], "costs")
    for name, spec in opt_cfg.items():
        if "cost" in spec and name not in cost_map:
            cost_map[name] = float(spec["cost"])
    for vol, table in vessel_cfg.items():
        if "cost" in table and not any(parse_vessel_name(k) == vol for k in cost_map):
            cost_map[vessel_label(vol)] = float(table["cost"])
    scale_map: dict[str, float] = {}
    if cfg.get("scales"):
        scale_map.update(parse_assignments(cfg["scales"], "scales"))
    if scales is not None:
        scale_map.update(parse_assignments(scales, "scales"))
    unused = sorted(set(scale_map) - set(cost_map))
    if unused:
        raise InputDataError(
            f"scales {unused} have no cost; add them to --costs (costs: {sorted(cost_map)})"
        )
    if not cost_map:
        example = (
            ",".join(
                f"{vessel_label(v).replace(' ', '')}={c}"
                for v, c in zip(
                    [vessels[0], max((v for v in vessels if v < tv), default=vessels[-1])],
                    (1, 20),
                    strict=True,
                )
            )
            if vessels
            else "2L=1,200L=20"
        )
        raise InputDataError(
            f"give the cost of each vessel you can run (money or hours; --cost-unit names it): "
            f"--costs {example}; the data's vessels: {labels}"
        )
    options = []
    for name, cost in cost_map.items():
        spec = opt_cfg.get(name, {})
        fid = top
        if spec.get("fidelity") is not None:
            fid = data.fidelity_index(spec["fidelity"])
        elif name in data.fidelity_names and name not in scale_map:
            fid = data.fidelity_index(name)
        label = name
        if name in scale_map:
            vol = scale_map[name]
        elif "volume_L" in spec:
            vol = float(spec["volume_L"])
        elif name in data.fidelity_names:
            vol = tv
        elif (parsed := parse_vessel_name(name)) is not None:
            vol, label = parsed, vessel_label(parsed)
        elif name.lower() in DEFAULT_SCALE_RANGES:
            lo, hi = DEFAULT_SCALE_RANGES[name.lower()]
            inside = [v for v in vessels if lo < v <= hi]
            if not inside:
                raise InputDataError(
                    f"scale {name!r}: the data have no measured vessel in ({lo:g}, {hi:g}] L "
                    f"(vessels: {labels}); name the vessel by its volume, e.g. --costs 15L=1"
                )
            vol = max(inside)
        else:
            raise InputDataError(
                f"unknown vessel {name!r}: name a vessel by its volume (2L, 200L, 10m3; the "
                f"data's vessels: {labels}), a cheap level {list(data.fidelity_names[:-1])}, "
                f"or give it a volume with --scales {name}=LITRES"
            )
        if fid == top and not any(same_volume(vol, v) for v in vessels):
            log.info(
                "vessel %s has no runs in the data: its window is carried from the nearest "
                'measured vessel (set [vessels."%g"] in the config to give it)',
                vessel_label(vol),
                vol,
            )
        rows = measured.loc[np.isclose(measured["volume_L"].to_numpy(float), vol)]
        own_fixed = {k: v for k, v in fixed_of(rows).items() if k in fixed_all} if len(rows) else {}
        own_fixed = {k: v for k, v in own_fixed.items() if k not in user_fixed}
        options.append(
            ScaleOption(label, int(fid), float(vol), float(cost), window_at(vol), own_fixed)
        )

    steps = {n: instrument_step(n, frame[n].to_numpy(float)) for n in free if n in frame}
    for name, step in dict(cfg.get("precision", {})).items():
        if str(name) not in steps:
            raise InputDataError(f"[precision]: {name!r} is not an operating variable {free}")
        steps[str(name)] = float(step)

    if isinstance(constraints, EngineeringConstraints):
        cons = constraints
    elif constraints is None and "constraints" not in cfg and roles.get("rpm") in free:
        best = _envelope(measured, roles, geometry)
        log.info(
            "engineering constraints: none given; P/V limited to %.0f W/m3, the largest of the "
            "measured runs (set [constraints] in the config to change)",
            best,
        )
        cons = EngineeringConstraints(max_p_per_v=best)
    else:
        merged = {**dict(cfg.get("constraints", {})), **dict(constraints or {})}
        cons = EngineeringConstraints.from_mapping(merged)
    unit = cost_unit if cost_unit is not None else cfg.get("cost_unit", "")
    return {
        "feature_names": names,
        "bounds": {n: glob[n] for n in free},
        "fixed": fixed_all,
        "options": options,
        "target_volume_L": tv,
        "top_fidelity": top,
        "constraints": cons,
        "target_bounds": window_at(tv),
        "categories": free_groups,
        "roles": roles,
        "geometry": geometry,
        "steps": steps,
        "cost_unit": str(unit),
    }
