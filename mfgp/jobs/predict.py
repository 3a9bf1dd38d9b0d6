"""The job behind ``mfgp predict``: fit on every row and predict the asked volumes and
conditions, with bands, the probability of meeting a specification, and warnings wherever
the request leaves the data.

The model is ``auto`` by default (chosen by forward-chaining validation over all measured
volumes, :func:`mfgp.selection.select_model`) or a named one. The asked conditions are either
a file or frame of them (``conditions``, in the data's own column names) or volumes with
settings (``volumes`` and ``at``); a setting not given is the largest measured scale's set
point carried to each volume by the scale-up rule (:func:`mfgp.jobs.conditions.carried_set_point`).
Each prediction is the predictive distribution of a new measurement (observation noise
included; conditioned on a positive response for a positive target).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from mfgp import io, memory
from mfgp.data import ScaleUpData, read_table
from mfgp.exceptions import InputDataError
from mfgp.jobs.common import (
    AUTO,
    as_fitting_error,
    calibrate,
    check_finite_prediction,
    resolve_model_options,
)
from mfgp.jobs.conditions import carried_set_point, condition_warnings, scale_up_curve
from mfgp.jobs.run import _load
from mfgp.models.base import ScaleUpModel
from mfgp.models.registry import get_model
from mfgp.prediction import Prediction
from mfgp.report import write_predict_report
from mfgp.selection import (
    AUTO_CANDIDATES,
    CALIBRATED_MODELS,
    Selection,
    candidate_options,
    model_calibration,
    predict_outcome,
    select_model,
)

__all__ = ["PredictResult", "Spec", "parse_spec", "predict"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Spec:
    """A specification on the target: ``lower <= y <= upper`` (either may be infinite).

    >>> parse_spec(">=5").probability.__name__
    'probability'
    """

    lower: float = -math.inf
    upper: float = math.inf
    text: str = ""

    def probability(self, pred: Prediction) -> torch.Tensor:
        """``P(lower <= y <= upper)`` under each point's predictive distribution."""
        dist = pred.predictive
        ref = pred.mean

        def cdf(x: float) -> torch.Tensor:
            if x == math.inf:
                return torch.ones_like(ref)
            if x == -math.inf:
                return torch.zeros_like(ref)
            value = torch.full_like(ref, x)
            if x <= 0 and _positive_support(dist):
                return torch.zeros_like(ref)
            return dist.cdf(value)

        return (cdf(self.upper) - cdf(self.lower)).clamp(0.0, 1.0)


def _positive_support(dist: Any) -> bool:
    support = getattr(dist, "support", None)
    lower = getattr(support, "lower_bound", None)
    try:
        return lower is not None and bool(torch.all(torch.as_tensor(lower) >= 0))
    except (TypeError, RuntimeError):
        return False


_SPEC = re.compile(r"^\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*$")
_RANGE = re.compile(r"^\s*([-+0-9.eE]+)\s*(?:\.\.|to)\s*([-+0-9.eE]+)\s*$")


def parse_spec(text: str) -> Spec:
    """``">=5.0"``, ``"<= 2"``, ``">5"``, ``"<0.1"`` or a range ``"5..7"`` -> :class:`Spec`.

    Raises:
        InputDataError: anything else (the message shows the accepted forms).
    """
    m = _SPEC.match(text)
    try:
        if m:
            op, value = m.group(1), float(m.group(2))
            if op.startswith(">"):
                return Spec(lower=value, text=text.strip())
            return Spec(upper=value, text=text.strip())
        m = _RANGE.match(text)
        if m:
            lo, hi = float(m.group(1)), float(m.group(2))
            if lo <= hi:
                return Spec(lower=lo, upper=hi, text=text.strip())
    except ValueError:
        pass
    raise InputDataError(
        f"--spec {text!r} is not a specification; write '>=5.0', '<=2', '>5', '<0.1' or a "
        "range '5..7' (in the target's units)"
    )


@dataclass
class PredictResult:
    """What :func:`predict` produced.

    Attributes:
        predictions: one row per asked condition: the inputs (``volume_L``, ``time_h``,
            settings), ``mean``, ``sd``, ``lower95``, ``upper95`` and ``p_spec`` with a spec.
        warnings: where the request leaves the data (also in the report and logged).
        model_name: the model used (``auto``'s choice).
        model: the model, fitted on every row.
        curve: the scale-up curve at the first asked condition's settings (``volume_L``,
            ``mean``, ``lower95``, ``upper95``), from the smallest vessel to the largest asked
            volume.
        selection: ``auto``'s validation, when it ran.
        out_dir: the folder written, if any.
        physics: with a physics level (``hybrid``'s cheap level): its capacity against
            demand from the smallest vessel to the largest asked volume at the first asked
            condition (:meth:`mfgp.physics.PhysicsLevel.capacity_curve`), else empty.
    """

    predictions: pd.DataFrame
    warnings: list[str]
    model_name: str
    model: ScaleUpModel
    curve: pd.DataFrame
    selection: Selection | None = None
    out_dir: Path | None = None
    spec: Spec | None = None
    cheap_curves: pd.DataFrame = field(default_factory=pd.DataFrame)
    physics: pd.DataFrame = field(default_factory=pd.DataFrame)


def _decode(data: ScaleUpData, X: torch.Tensor) -> pd.DataFrame:
    """Canonical conditions (volume, time, settings; factors by level) of encoded inputs."""
    x = X.detach().cpu().double().numpy()
    volumes = [float(f"{v:.12g}") for v in 10.0 ** x[:, 0]]  # no log10 round-off in tables
    frame = pd.DataFrame({"volume_L": volumes})
    names = data.feature_names[1:]
    cats = dict(getattr(data, "categories", None) or {})
    for j, name in enumerate(names, start=1):
        if not any(name.startswith(f"{c}=") for c in cats):
            frame[name] = x[:, j]
    for cat, levels in cats.items():
        cols = [names.index(f"{cat}={lev}") + 1 for lev in levels]
        frame[cat] = [levels[int(i)] for i in np.argmax(x[:, cols], axis=1)]
    return frame


def _asked(
    data: ScaleUpData,
    volumes: Sequence[float] | None,
    at: Mapping[str, Any] | None,
    conditions: pd.DataFrame | str | Path | None,
    time_h: float | None,
    rule: str,
) -> tuple[torch.Tensor, pd.DataFrame]:
    """Encoded inputs (top fidelity) and the canonical frame of the asked conditions."""
    if conditions is not None:
        if volumes or at:
            raise InputDataError("give either --conditions FILE or --volume/--at, not both")
        frame = conditions if isinstance(conditions, pd.DataFrame) else read_table(conditions)
        X = data.encode(frame)
        return X, _decode(data, X)
    if not volumes:
        raise InputDataError("give the volumes to predict (--volume 20000[,50000]) or --conditions")
    frame = carried_set_point(data, volumes, rule=rule, at=at, time_h=time_h)
    return data.encode(frame), frame


def predict(
    data: ScaleUpData | str | Path,
    *,
    target: str | None = None,
    volumes: Sequence[float] | None = None,
    at: Mapping[str, Any] | None = None,
    conditions: pd.DataFrame | str | Path | None = None,
    time_h: float | None = None,
    spec: str | Spec | None = None,
    model: str = AUTO,
    model_options: Mapping[str, Mapping[str, Any]] | None = None,
    rule: str = "constant-P/V",
    out: str | Path | None = None,
    seed: int = 0,
    data_options: Mapping[str, Any] | None = None,
    device: str | torch.device | None = None,
    candidates: Sequence[str] | None = None,
    n_jobs: int | None = None,
    scheduler: str | None = None,
    report: bool = True,
) -> PredictResult:
    """Fit on every row and predict the asked conditions (see the module docstring).

    Args:
        data: a :class:`ScaleUpData` or a data file (then ``target`` is required).
        target: the response column when ``data`` is a path.
        volumes: working volumes to predict, litres (with ``at``).
        at: settings, e.g. ``{"rpm": 120, "vvm": 0.8}``; the rest is the carried set point.
        conditions: a file or frame of conditions in the data's column names, instead.
        time_h: culture time of the prediction (default: the harvest time).
        spec: a specification such as ``">=5.0"``: adds ``p_spec``, the probability of
            meeting it.
        model: ``"auto"`` or a model name.
        model_options: constructor options per model name (``"*"``: every model).
        rule: the scale-up rule that carries the stirrer speed (``constant-P/V``,
            ``constant-tip-speed``, ``constant-kLa``, ...).
        out: output folder (written whole or not at all): ``predictions.csv``, ``model/``,
            ``report.md``, ``figures/``, ``metrics.json``, ``validation.csv`` (auto).
        seed: seed of every fit.
        data_options: keyword arguments of :class:`ScaleUpData`.
        device: ``"cpu"`` or ``"cuda"``.
        candidates, n_jobs, scheduler: ``auto``'s candidates and parallelism.
        report: write the report and figures (with ``out``).

    Returns:
        A :class:`PredictResult`.
    """
    inputs = [] if isinstance(data, ScaleUpData) else [data]
    if isinstance(conditions, (str, Path)):
        inputs.append(conditions)
    if out is not None:
        io.check_output_folder(out, inputs)
    parsed_spec = parse_spec(spec) if isinstance(spec, str) else spec
    data = _load(data, target, device, data_options, seed)
    X, asked = _asked(data, volumes, at, conditions, time_h, rule)
    warnings = condition_warnings(data, asked)
    for w in warnings:
        log.warning("%s", w)
    options = dict(model_options or {})
    selection = None
    if model == AUTO:
        selection = select_model(
            data,
            candidates=candidates or AUTO_CANDIDATES,
            model_options=options,
            seed=seed,
            n_jobs=n_jobs,
            scheduler=scheduler,
        )
        name = selection.chosen
    else:
        name = model
    opts = candidate_options(name, options) if model == AUTO else _named_options(name, options)
    fitted = get_model(name, **opts)
    memory.check_model_memory(name, fitted, data)
    try:
        fitted.fit(data, seed=seed)
        if selection is not None:
            calibrate(fitted, selection.calibration, data)
        elif name in CALIBRATED_MODELS:
            own = model_calibration(
                name,
                data,
                model_options={name: opts},
                seed=seed,
                n_jobs=n_jobs,
                scheduler=scheduler,
            )
            if own is not None:
                calibrate(fitted, own, data)
        pred = predict_outcome(fitted, X, positive=bool((data.Y > 0).all()))
        check_finite_prediction(name, pred, _AskedRows(asked))  # type: ignore[arg-type]
    except Exception as err:
        raise as_fitting_error(name, err) from err
    table = asked.copy()
    table["mean"] = pred.mean.cpu().numpy()
    table["sd"] = pred.sd.cpu().numpy()
    table["lower95"] = pred.lower.cpu().numpy()
    table["upper95"] = pred.upper.cpu().numpy()
    if parsed_spec is not None:
        table["p_spec"] = parsed_spec.probability(pred).cpu().numpy()
    settings = [c for c in asked.columns if c not in ("volume_L", "time_h")]
    fixed = list(at or {}) if conditions is None else settings
    curve, cheap = scale_up_curve(
        fitted, data, asked.iloc[0], float(asked["volume_L"].max()), rule=rule, fixed=fixed
    )
    result = PredictResult(
        table, warnings, name, fitted, curve, selection, None, parsed_spec, cheap
    )
    result.physics = _physics_curve(fitted, data, X, float(asked["volume_L"].max()))
    if out is not None:
        _write(result, data, Path(out), inputs, report=report)
        result.out_dir = Path(out)
    return result


def _physics_curve(
    model: ScaleUpModel, data: ScaleUpData, X: torch.Tensor, vmax: float
) -> pd.DataFrame:
    """The physics level's capacity-versus-demand table (every measured volume and 12 steps
    up to ``vmax``), or an empty frame when the model has no physics level."""
    draw = getattr(model, "physics_curve", None)
    if not callable(draw):
        return pd.DataFrame()
    measured = data.volumes().tolist()
    vmin = float(min(measured))
    grid = [  # 12 steps, leaving out those next to a measured volume
        v
        for v in np.geomspace(vmin, max(vmax, vmin), 12).tolist()
        if all(abs(math.log10(v / m)) > 0.05 for m in measured)
    ]
    volumes = sorted({float(f"{v:.6g}") for v in [*measured, vmax, *grid]})
    curve = draw(volumes, X[0].detach().cpu())
    return pd.DataFrame() if curve is None else curve


def _named_options(name: str, options: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A named model's options, checked (an option it does not have is an error)."""
    return resolve_model_options([name], options)[name]


class _AskedRows:
    """The minimal stand-in of a ScaleUpData that :func:`check_finite_prediction` needs."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame.reset_index(drop=True)


def _write(
    result: PredictResult, data: ScaleUpData, out: Path, inputs: list[Any], *, report: bool
) -> None:
    with io.output_folder(out, inputs=inputs, command="mfgp predict") as tmp:
        io.atomic_write_csv(tmp / "predictions.csv", result.predictions)
        result.model.save(tmp / "model")
        metrics = {
            "model": result.model_name,
            "fit_choices": result.model.fit_choices(),
            "spec": None if result.spec is None else result.spec.text,
            "warnings": result.warnings,
            "data": {"source": data.source, "target": data.target, "rows": len(data)},
            "predictions": result.predictions.to_dict(orient="records"),
            "versions": io.versions(),
        }
        if result.selection is not None:
            metrics["selection"] = result.selection.to_dict()
            if len(result.selection.table):
                io.atomic_write_csv(tmp / "validation.csv", result.selection.table)
        if len(result.physics):
            io.atomic_write_csv(tmp / "physics.csv", result.physics)
            level = result.model.level0  # type: ignore[attr-defined]
            metrics["physics"] = {
                "vessels": level.vessel_table,
                "parameters": level.parameters_table().to_dict(orient="records"),
            }
        io.atomic_write_json(tmp / "metrics.json", metrics)
        if report:
            write_predict_report(result, data, tmp)
