"""What the jobs share: model names and options, one model's fit and scores (harvest first),
and failures turned into one-line errors.

Harvest (end-point) metrics are the headline: the last time point of each measured run (every
row of end-point data), per volume and per run, beside the metrics pooled over every time
point (:func:`mfgp.data.endpoint_mask`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import torch

from mfgp.data import ScaleUpData, endpoint_mask, run_labels
from mfgp.exceptions import InputDataError, MFGPError, ModelFittingError
from mfgp.metrics import crps, evaluate, per_volume
from mfgp.models.base import ScaleUpModel
from mfgp.models.registry import available_models, get_model
from mfgp.prediction import Prediction
from mfgp.selection import (
    AUTO_CANDIDATES,
    calibrate,
    candidate_options,
    check_options_used,
    predict_outcome,
)

__all__ = [
    "AUTO",
    "as_fitting_error",
    "calibrate",
    "check_finite_prediction",
    "fit_and_score",
    "format_table",
    "one_line",
    "prediction_frame",
    "resolve_model_names",
    "resolve_model_options",
]

log = logging.getLogger(__name__)

#: the pseudo-model that chooses among :data:`mfgp.selection.AUTO_CANDIDATES`.
AUTO = "auto"


def resolve_model_names(spec: str | Sequence[str]) -> list[str]:
    """``"auto"``, ``"all"``, ``"gp"``, ``"auto,gp,ar1"``, ``"auto,all"`` or a list ->
    validated model names.

    ``all`` is every registered model but ``ar1`` (run under its seed name, ``hybrid``), with
    a model whose optional package is missing left out with a warning.

    >>> resolve_model_names("auto,gp")
    ['auto', 'gp']
    """
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    names = [n for n in names if n]
    known = available_models()
    if "all" in names:
        every = []
        for n in known:
            if n == "ar1":
                continue
            try:
                get_model(n)
            except ImportError as err:  # an optional package (mfgp[boost]) is missing
                log.warning("skipping %s: %s", n, err)
                continue
            every.append(n)
        at = names.index("all")
        names = [*names[:at], *every, *names[at + 1 :]]
    unknown = [n for n in names if n not in known and n != AUTO]
    if unknown or not names:
        raise InputDataError(
            f"unknown model {unknown or spec!r}; choose from {[AUTO, *known]} or 'all'"
        )
    return list(dict.fromkeys(names))


def resolve_model_options(
    names: Sequence[str],
    model_options: Mapping[str, Mapping[str, Any]] | None,
    *,
    all_models: bool = False,
) -> dict[str, dict[str, Any]]:
    """Constructor options of each model in ``names`` from ``model_options`` (per model name,
    ``"*"`` for every model), checked: an entry for a model that is not run, or an option a
    model does not have, raises :class:`~mfgp.exceptions.InputDataError`. Under ``auto`` (its
    candidates may be given by their names) and ``all`` (``all_models``), an option of ``"*"``
    goes to the models that have it (:func:`mfgp.selection.candidate_options`).

    >>> resolve_model_options(["gp"], {"*": {"restarts": 1}})
    {'gp': {'restarts': 1}}
    """
    given = {str(k): dict(v) for k, v in (model_options or {}).items()}
    allowed = set(names) | {"*"} | (set(AUTO_CANDIDATES) if AUTO in names else set())
    stray = sorted(set(given) - allowed)
    if stray:
        raise InputDataError(
            f"model options for {stray}, which are not among the models run ({list(names)})"
        )
    lenient = AUTO in names or all_models
    if lenient:
        check_options_used([n for n in names if n != AUTO] + list(AUTO_CANDIDATES), given)
    out = {
        n: candidate_options(n, given) if lenient else {**given.get("*", {}), **given.get(n, {})}
        for n in names
        if n != AUTO
    }
    for name, opts in out.items():
        try:
            get_model(name, **opts)  # the constructor's checks: unknown options, bad values
        except InputDataError as err:
            if not given.get("*"):
                raise
            raise InputDataError(
                f"{err} (options without a model name apply to every model run; "
                f"write {name}.KEY=VALUE for one model's option)"
            ) from None
    if AUTO in names:
        out[AUTO] = {}
    return out


def one_line(err: BaseException) -> str:
    """An error's message on one line, at most 300 characters."""
    text = " ".join(str(err).split())
    return text if len(text) <= 300 else text[:297] + "..."


def as_fitting_error(name: str, err: Exception) -> MFGPError:
    """An mfgp error as it is; anything else raised while fitting or predicting, as a
    one-line :class:`~mfgp.exceptions.ModelFittingError` naming the model."""
    if isinstance(err, MFGPError):
        return err
    log.debug("%s failed", name, exc_info=True)
    return ModelFittingError(
        f"model {name!r} failed: {type(err).__name__}: {one_line(err)} (rerun with -vv to "
        "see where; a different model, --model-option, or cleaner data may avoid it)"
    )


def check_finite_prediction(name: str, pred: Prediction, data: ScaleUpData) -> None:
    """Raise :class:`~mfgp.exceptions.ModelFittingError` naming the model and the rows (volume,
    time, run) where a prediction is NaN or infinite."""
    bad = ~(torch.isfinite(pred.mean) & torch.isfinite(pred.variance))
    if not bool(bad.any()):
        return
    rows = data.frame.loc[bad.cpu().numpy()]
    shown = []
    for _, r in rows.head(5).iterrows():
        parts = [f"{r['volume_L']:g} L"]
        if "time_h" in r:
            parts.append(f"t = {r['time_h']:g} h")
        if "run_id" in r:
            parts.append(f"run {r['run_id']}")
        shown.append(" ".join(parts))
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    raise ModelFittingError(
        f"model {name!r} predicted NaN or infinite values at {len(rows)} row(s) "
        f"({'; '.join(shown)}{more}); check the data for extreme values (see the warnings) "
        "or try another model"
    )


def prediction_frame(name: str, data: ScaleUpData, pred: Prediction) -> pd.DataFrame:
    """One row per point of ``data``: the model, the data's columns (the target renamed
    ``observed``), ``harvest`` (end point of its run), ``mean``, ``sd``, ``lower95``,
    ``upper95``."""
    frame = data.frame.copy()
    frame.insert(0, "model", name)
    frame = frame.rename(columns={data.target: "observed"})
    frame["harvest"] = endpoint_mask(data, top_only=False)
    frame["mean"] = pred.mean.cpu().numpy()
    frame["sd"] = pred.sd.cpu().numpy()
    frame["lower95"] = pred.lower.cpu().numpy()
    frame["upper95"] = pred.upper.cpu().numpy()
    return frame


def _per_run(data: ScaleUpData, pred: Prediction, ends: torch.Tensor) -> list[dict[str, Any]]:
    idx = torch.nonzero(ends).flatten()
    sub = pred.select(idx)
    y = data.Y.squeeze(-1)[idx]
    labels = run_labels(data)[idx.cpu().numpy()]
    frame = data.frame.iloc[idx.cpu().numpy()]
    crps_each = [crps(y[i : i + 1], sub.select(slice(i, i + 1))) for i in range(len(idx))]
    rows = []
    for i in range(len(idx)):
        rows.append(
            {
                "run": str(labels[i]).split("/", 1)[-1],
                "volume_L": float(frame["volume_L"].iloc[i]),
                "observed": float(y[i]),
                "mean": float(sub.mean[i]),
                "lower95": float(sub.lower[i]),
                "upper95": float(sub.upper[i]),
                "inside95": bool(sub.lower[i] <= y[i] <= sub.upper[i]),
                "crps": float(crps_each[i]),
            }
        )
    return rows


def fit_and_score(
    name: str,
    model: ScaleUpModel,
    train: ScaleUpData,
    test: ScaleUpData,
    *,
    seed: int,
    calibration: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Fit one model, predict the held-out rows (a new measurement's predictive distribution,
    positive for a positive target; widened by ``calibration``, ``auto``'s extrapolation
    calibration, see :func:`calibrate`) and score them, harvest first.

    Returns:
        ``(harvest table per volume, prediction frame, metrics entry)``; the entry has
        ``harvest`` (``overall``, ``per_volume``, ``per_run``), the time-pooled ``overall`` and
        ``per_volume``, ``fit_choices`` and timings.
    """
    t0 = time.perf_counter()
    model.fit(train, seed=seed)
    if calibration is not None:
        calibrate(model, calibration, train)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = predict_outcome(model, test.X, positive=bool((train.Y > 0).all()))
    predict_s = time.perf_counter() - t0
    check_finite_prediction(name, pred, test)
    y = test.Y.squeeze(-1)
    ends = torch.as_tensor(endpoint_mask(test), device=y.device)
    idx = torch.nonzero(ends).flatten()
    harvest = per_volume(test.volume_L[idx.cpu().numpy()], y[idx], pred.select(idx))
    harvest.insert(0, "model", name)
    pooled = per_volume(test.volume_L, y, pred)
    entry: dict[str, Any] = {
        "harvest": {
            "overall": evaluate(y[idx], pred.select(idx)),
            "per_volume": harvest.drop(columns="model").to_dict(orient="records"),
            "per_run": _per_run(test, pred, ends),
        },
        "overall": evaluate(y, pred),
        "per_volume": pooled.to_dict(orient="records"),
        "fit_choices": model.fit_choices(),
        "fit_seconds": fit_s,
        "predict_seconds": predict_s,
    }
    log.info("%s: fit %.2f s, harvest RMSE %.4g", name, fit_s, entry["harvest"]["overall"]["rmse"])
    return harvest, prediction_frame(name, test, pred), entry


def format_table(
    table: pd.DataFrame, columns: Sequence[str] = ("rmse", "nrmse", "crps", "coverage95")
) -> str:
    """A compact text table (one row per model and volume) for the terminal."""
    cols = ["model", "volume_L", "n", *[c for c in columns if c in table.columns]]
    shown = table[cols].copy()
    shown["volume_L"] = [v if isinstance(v, str) else f"{v:g}" for v in shown["volume_L"]]
    return shown.to_string(index=False, float_format=lambda x: f"{x:.4g}")
