"""The suggest job behind ``mfgp suggest``: load the data, build the space, choose and fit a
model, suggest, and write ``suggestions.csv`` and ``suggestions.json``."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mfgp import io
from mfgp.acquisition.config import load_config
from mfgp.acquisition.design import Suggestions, suggest
from mfgp.acquisition.functions import _check_goal
from mfgp.acquisition.space import SearchSpace
from mfgp.data import ScaleUpData
from mfgp.exceptions import InputDataError
from mfgp.memory import check_model_memory
from mfgp.models.registry import get_model
from mfgp.selection import candidate_options, select_model

__all__ = ["SUGGEST_CANDIDATES", "SuggestResult", "run_suggest"]

log = logging.getLogger(__name__)

#: the models ``auto`` compares for :func:`run_suggest`: those that can condition on planned
#: runs (``fantasize``), which every goal needs.
SUGGEST_CANDIDATES = ("hybrid", "ar1")


@dataclass
class SuggestResult:
    """What :func:`run_suggest` produced: the suggestions, the space, the model, the folder."""

    suggestions: Suggestions
    space: SearchSpace
    model: Any
    out_dir: Path | None


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
) -> SuggestResult:
    """The job behind ``mfgp suggest``: load data, build the space, fit, suggest, write files.

    Arguments left None are taken from ``config`` (TOML keys of the same names), then from
    defaults (goal ``learn``, q 1, model ``auto``: :data:`SUGGEST_CANDIDATES` compared by
    forward-chaining validation over volumes, seed 0, 512 candidates per option); a
    ``[model_options]`` table gives constructor options of the model (e.g. ``restarts = 1``).
    ``suggestions.csv`` and ``suggestions.json`` are written atomically into ``out`` when given.

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
    model_name = model if model is not None else cfg.get("model", "auto")
    n_cand = int(n_candidates if n_candidates is not None else cfg.get("n_candidates", 512))
    inputs = [data] if isinstance(data, (str, Path)) else []
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
        data, costs=costs, target_volume_L=target_volume_L, scales=scales, config=cfg
    )
    options = {**dict(cfg.get("model_options", {})), **dict(model_options or {})}
    selection = None
    if model_name == "auto":  # among the models that can condition on planned runs
        able = [n for n in SUGGEST_CANDIDATES if hasattr(get_model(n), "fantasize")]
        selection = select_model(data, candidates=able, model_options={"*": options}, seed=seed)
        model_name = selection.chosen
        options = candidate_options(model_name, {"*": options})
    fitted = get_model(model_name, **options)
    check_model_memory(model_name, fitted, data)
    log.info("fitting %s on %d rows", model_name, len(data))
    fitted.fit(data, seed=seed)
    result = suggest(
        fitted,
        space,
        goal=goal,
        q=q,
        seed=seed,
        n_candidates=n_cand,
        fidelity_names=data.fidelity_names,
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
            "space": space.to_dict(),
            "suggestions": json.loads(result.frame.to_json(orient="records")),
            "versions": io.versions(),
        }
        with io.output_folder(out, inputs=inputs, command="mfgp suggest") as tmp:
            io.atomic_write_csv(tmp / "suggestions.csv", result.frame)
            io.atomic_write_json(tmp / "suggestions.json", payload)
    return SuggestResult(result, space, fitted, out)
