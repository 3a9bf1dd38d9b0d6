"""The suggest job behind ``mfgp suggest``: load the data and any planned runs, build the
space, choose and fit a model, suggest, and write ``suggestions.csv`` (the proposed runs as
rows of the data, with the response left blank, then mfgp's annotations) and
``suggestions.json``."""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import Tensor

from mfgp import io
from mfgp.acquisition.config import load_config
from mfgp.acquisition.design import Suggestions, suggest
from mfgp.acquisition.functions import _check_goal
from mfgp.acquisition.space import SearchSpace
from mfgp.data import ScaleUpData, read_table
from mfgp.data.columns import resolve_roles
from mfgp.data.reading import ANNOTATION_PREFIX
from mfgp.exceptions import InputDataError
from mfgp.memory import check_model_memory
from mfgp.models.registry import get_model, load_model
from mfgp.scaling.vessels import GEOMETRY_KEYS
from mfgp.selection import FALLBACK, calibrate, candidate_options, select_model

__all__ = ["SUGGEST_CANDIDATES", "SuggestResult", "pending_runs", "run_suggest", "suggestion_rows"]

log = logging.getLogger(__name__)

#: the models ``auto`` compares for :func:`run_suggest`: those that can condition on planned
#: runs (``fantasize``), which every goal needs.
SUGGEST_CANDIDATES = ("hybrid", "ar1")
#: restarts of each validation fit of ``auto`` inside ``suggest`` (unless the user sets
#: ``restarts``): the choice needs the ranking, the final fit has the model's own default.
VALIDATION_RESTARTS = 1


@dataclass
class SuggestResult:
    """What :func:`run_suggest` produced: the suggestions, the space, the model, the folder."""

    suggestions: Suggestions
    space: SearchSpace
    model: Any
    out_dir: Path | None


def pending_runs(
    source: str | Path | pd.DataFrame, data: ScaleUpData, space: SearchSpace
) -> Tensor:
    """Model inputs of runs already planned but not measured (``--pending``): a CSV or
    DataFrame with the data's columns (volume, operating variables; time and level optional:
    the end of the run and the measured level), such as an earlier ``suggestions.csv``.

    Raises:
        InputDataError: a missing file, or rows that lack the data's columns.
    """
    where = f"--pending {source}" if isinstance(source, (str, Path)) else "pending runs"
    frame = read_table(source) if isinstance(source, (str, Path)) else source.copy()
    frame = frame.drop(columns=[c for c in frame.columns if str(c).startswith(ANNOTATION_PREFIX)])
    frame = frame.drop(columns=[c for c in (data.target,) if c in frame.columns])
    roles = resolve_roles([str(c) for c in frame.columns], target=None)
    if "time_h" in data.feature_names and "time_h" not in roles:
        frame["time_h"] = space.fixed.get("time_h", float(data.frame["time_h"].max()))
    try:
        return data.encode(frame)
    except InputDataError as err:
        raise InputDataError(f"{where}: {err}") from None


def _in_user_unit(values: pd.Series, role: Any) -> list[float]:
    """Litres or hours back in the unit of the user's column."""
    unit = getattr(role, "unit", None)
    if unit is None or unit.is_canonical:
        return [float(v) for v in values]
    return [float(f"{v * unit.divide / unit.multiply:.10g}") for v in values]


def suggestion_rows(result: Suggestions, data: ScaleUpData) -> pd.DataFrame:
    """``suggestions.csv``: one row per proposed run in the data's own columns, named and in
    the units of the user's file (run ``planned-1`` ..., the level where the data have a level
    column, the volume, the end time, the operating variables; the response left blank, to be
    filled in once measured), then mfgp's annotations (``mfgp_rank``, ``mfgp_vessel``,
    ``mfgp_cost``, the production band now and after, ``mfgp_reason``), which reading drops,
    so that the filled rows can be appended to the data file as they are."""
    f = result.frame
    roles = dict(getattr(data, "column_roles", {}) or {})

    def name(canonical: str) -> str:
        role = roles.get(canonical)
        return role.source if role is not None else canonical

    out = pd.DataFrame({name("run_id"): [f"planned-{r}" for r in f["rank"]]})
    if "fidelity" in roles or data.n_fidelities > 1:
        out[name("fidelity")] = list(f["fidelity"])
    out[name("volume_L")] = _in_user_unit(f["volume_L"], roles.get("volume_L"))
    indicators = {c for cols in (data.categories or {}).values() for c in cols}
    for col in data.feature_names[1:]:
        if col in indicators:
            continue
        if col == "time_h":
            out[name("time_h")] = _in_user_unit(f["time_h"], roles.get("time_h"))
        else:
            out[col] = list(f[col]) if col in f else np.nan
    for col in data.categories or {}:
        if col in f:
            out[col] = list(f[col])
    out[data.target] = np.nan
    notes = {
        "rank": "mfgp_rank",
        "vessel": "mfgp_vessel",
        "cost": "mfgp_cost",
        "production_mean": "mfgp_production_mean",
        "production_lower95": "mfgp_production_lower95",
        "production_upper95": "mfgp_production_upper95",
        "width95_now": "mfgp_width95_now",
        "width95_after": "mfgp_width95_after",
        "reason": "mfgp_reason",
    }
    for src, dst in notes.items():
        col = f[src]
        out[dst] = [float(f"{v:.4g}") for v in col] if col.dtype.kind == "f" else list(col)
    out["mfgp_target_volume_L"] = list(f["target_volume_L"])
    out["mfgp_cost_unit"] = result.frame.attrs.get("cost_unit", "")
    return out


def _with_config_vessels(
    options: Mapping[str, Any], cfg: Mapping[str, Any], model_name: str, data: ScaleUpData
) -> dict[str, Any]:
    """``options`` with the geometry keys of the config's ``[vessels]`` tables as the physics
    level's vessels (``physics.vessels``) of ``hybrid`` (named, or a candidate of ``auto``),
    unless the options describe them already; only on measurement-only data (with cheap
    levels of its own, hybrid builds no physics level)."""
    tables = {
        str(k): {g: v for g, v in dict(t).items() if g in GEOMETRY_KEYS}
        for k, t in dict(cfg.get("vessels", {})).items()
        if isinstance(t, Mapping)
    }
    tables = {k: t for k, t in tables.items() if t}
    physics = dict(options.get("physics") or {})
    nothing_to_add = not tables or "vessels" in physics
    if nothing_to_add or model_name not in ("hybrid", "auto") or data.n_fidelities > 1:
        return dict(options)
    return {**options, "physics": {**physics, "vessels": tables}}


def run_suggest(
    data: Any,
    *,
    target: str | None = None,
    goal: str | None = None,
    q: int | None = None,
    costs: str | Mapping[str, float] | None = None,
    target_volume_L: float | None = None,
    scales: str | Mapping[str, float] | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
    model: str | None = None,
    model_options: Mapping[str, Any] | None = None,
    seed: int | None = None,
    n_candidates: int | None = None,
    out: str | Path | None = None,
    data_options: Mapping[str, Any] | None = None,
    device: str | None = None,
    pending: str | Path | pd.DataFrame | None = None,
    spec: float | None = None,
    cost_unit: str | None = None,
    operating: Sequence[str] | None = None,
) -> SuggestResult:
    """The job behind ``mfgp suggest``: load data, build the space, fit, suggest, write files.

    Arguments left None are taken from ``config`` (TOML keys of the same names), then from
    defaults (goal ``learn``, q 1, model ``auto``: :data:`SUGGEST_CANDIDATES` compared by
    forward-chaining validation over volumes, each validation fit with
    :data:`VALIDATION_RESTARTS` restart unless ``restarts`` is given, and the chosen model's
    bands widened beyond the data as ``mfgp predict`` widens them; seed 0, 256 candidates per
    option); a ``[model_options]`` table gives constructor options of the model (e.g.
    ``restarts = 1``); the geometry in the ``[vessels]`` tables also describes the vessels of
    ``hybrid``'s physics level, unless its ``physics`` option gives them. ``pending``: runs
    already planned (:func:`pending_runs`), conditioned
    on and never proposed again. ``spec``: with ``optimise``, the probability that the
    recommended production set point meets ``value >= spec``. ``suggestions.csv``
    (:func:`suggestion_rows`) and ``suggestions.json`` are written atomically into ``out``
    when given.

    Returns:
        A :class:`SuggestResult`.
    """
    cfg: dict[str, Any] = {}
    if isinstance(config, (str, Path)):
        cfg = load_config(config)
    elif config is not None:
        cfg = dict(config)
    goal = _check_goal(goal if goal is not None else cfg.get("goal", "learn"))
    q = int(q if q is not None else cfg.get("q", 1))
    seed = int(seed if seed is not None else cfg.get("seed", 0))
    spec = spec if spec is not None else cfg.get("spec")
    pending = pending if pending is not None else cfg.get("pending")
    model_name = model if model is not None else cfg.get("model", "auto")
    n_cand = int(n_candidates if n_candidates is not None else cfg.get("n_candidates", 256))
    inputs = [data] if isinstance(data, (str, Path)) else []
    if isinstance(pending, (str, Path)):
        inputs.append(pending)
    if out is not None:
        out = io.check_output_folder(out, inputs)
    data_options = dict(data_options or {})
    max_rows = data_options.pop("max_rows_per_level", None)
    if not isinstance(data, ScaleUpData):
        if target is None:
            raise InputDataError("target is required when data is a path (--target COL)")
        data = ScaleUpData(data, target=target, device=device, **data_options)
    if max_rows is not None:
        data = data.thin_levels(int(max_rows), seed=seed)
    space = SearchSpace.from_data(
        data,
        costs=costs,
        target_volume_L=target_volume_L,
        scales=scales,
        config=cfg,
        operating=operating,
        cost_unit=cost_unit,
    )
    X_pending = None if pending is None else pending_runs(pending, data, space)
    if X_pending is not None:
        log.info("conditioning on %d planned run(s) from %s", X_pending.shape[0], pending)
    options = {**dict(cfg.get("model_options", {})), **dict(model_options or {})}
    options = _with_config_vessels(options, cfg, model_name, data)
    selection = None
    fitted = None
    if model_name == "auto":  # among the models that can condition on planned runs
        able = [n for n in SUGGEST_CANDIDATES if hasattr(get_model(n), "fantasize")]
        quick = {"restarts": VALIDATION_RESTARTS, **options}
        for name in able:
            check_model_memory(
                name, get_model(name, **candidate_options(name, {"*": options})), data
            )
        with tempfile.TemporaryDirectory(prefix="mfgp-suggest-") as tmp:
            # the reference's final fit runs beside the validation fits (it is kept unless
            # another model is clearly better)
            selection = select_model(
                data,
                candidates=able,
                model_options={"*": quick},
                seed=seed,
                prefit={FALLBACK: candidate_options(FALLBACK, {"*": options})},
                prefit_dir=tmp,
            )
            model_name = selection.chosen
            options = candidate_options(model_name, {"*": options})
            saved = selection.prefitted.get(model_name)
            fitted = None if saved is None else load_model(saved, device=data.device)
    if fitted is None:
        fitted = get_model(model_name, **options)
        check_model_memory(model_name, fitted, data)
        log.info("fitting %s on %d rows", model_name, len(data))
        fitted.fit(data, seed=seed)
    else:
        log.info("%s fitted on all %d rows beside the validation", model_name, len(data))
    if selection is not None and selection.calibration:
        calibrate(fitted, selection.calibration, data)
    positive = bool((data.Y > 0).all())
    result = suggest(
        fitted,
        space,
        goal=goal,
        q=q,
        seed=seed,
        n_candidates=n_cand,
        fidelity_names=data.fidelity_names,
        X_pending=X_pending,
        target=data.target,
        positive=positive,
        spec=None if spec is None else float(spec),
    )
    if out is not None:
        payload = {
            "goal": goal,
            "gain_unit": result.frame.attrs.get("gain_unit"),
            "q": q,
            "seed": seed,
            "model": model_name,
            "model_options": options,
            "selection": None if selection is None else selection.to_dict(),
            "fit_choices": fitted.fit_choices(),
            "target": data.target,
            "data": data.source,
            "pending": None if X_pending is None else X_pending.tolist(),
            "space": space.to_dict(),
            "summary": result.summary,
            "set_point": None if result.set_point is None else result.set_point.to_dict(),
            "suggestions": json.loads(result.frame.to_json(orient="records")),
            "versions": io.versions(),
        }
        rows = suggestion_rows(result, data)
        with io.output_folder(out, inputs=inputs, command="mfgp suggest") as tmp:
            io.atomic_write_csv(tmp / "suggestions.csv", rows)
            io.atomic_write_json(tmp / "suggestions.json", payload)
    return SuggestResult(result, space, fitted, out)
