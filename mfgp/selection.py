"""``auto``: the model chosen by forward-chaining validation over volumes.

A scale-up model is used to extrapolate: trained on the lab and pilot scales, it predicts a
larger vessel it has never seen. So the models are compared the same way, one step at a time
(forward-chaining, or rolling-origin, validation; Tashman 2000, Int. J. Forecasting 16:437):
train on the measured volumes up to ``V_k`` (and every cheap, computed row), predict the
end points (harvest values) of the runs at the next volume ``V_(k+1)``, for each ``k`` with at
least two training volumes. Each prediction is scored by the continuous ranked probability
score of its predictive distribution (CRPS, a proper scoring rule in the units of the target:
it rewards accuracy and honest spread together; Gneiting & Raftery 2007, JASA 102:359), and
the model with the lowest mean CRPS over all validation end points wins, unless the default
multi-fidelity model (:data:`FALLBACK`) lies within one standard error of it (the
one-standard-error rule: with a handful of end points, smaller differences are noise). A
model is never scored on a volume it was trained on, and the choice sees only the data it is
given: inside ``mfgp run``'s back-test, only the training volumes.

The same validation calibrates the chosen model's bands for extrapolation
(:func:`fit_spread_calibration`): where its forward-chaining predictions were overconfident,
the spread of its predictions grows with the distance (in decades of volume) beyond the
largest measured scale; bands are never narrowed.

``hybrid`` chosen by name gets the same calibration (:data:`CALIBRATED_MODELS`,
:func:`model_calibration`): its own forward-chaining validation, or the records of ``auto``'s
when ``auto`` validated it already.

The validation fits are independent and run in parallel (:func:`mfgp.parallel.map_tasks`:
joblib processes, or a Dask cluster with ``scheduler``). A model that cannot fit the data (for
example ``classic`` on end-point data) or fails on a fold is left out with its reason.

>>> AUTO_CANDIDATES[:3]
('hybrid', 'discrepancy', 'gp')
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from mfgp.data import ScaleUpData, endpoint_mask, forward_chaining
from mfgp.exceptions import InputDataError, MFGPError
from mfgp.metrics import crps, evaluate
from mfgp.models.base import ScaleUpModel
from mfgp.models.registry import available_models, get_model
from mfgp.parallel import map_tasks
from mfgp.prediction import Prediction

__all__ = [
    "AUTO_CANDIDATES",
    "CALIBRATED_MODELS",
    "FALLBACK",
    "Selection",
    "applicable_models",
    "calibrate",
    "candidate_options",
    "check_options_used",
    "fit_spread_calibration",
    "model_calibration",
    "predict_outcome",
    "select_model",
    "spread_factor",
    "validation_fold",
]

log = logging.getLogger(__name__)

#: models ``auto`` compares, in this order (ties go to the first): the multi-fidelity GP, the
#: scaling-law and single-fidelity references, the regularised linear and tree baselines, the
#: nonlinear multi-fidelity GP and the deep ensemble. Models whose optional package is missing,
#: or that cannot fit the data, are left out.
AUTO_CANDIDATES: tuple[str, ...] = (
    "hybrid",
    "discrepancy",
    "gp",
    "scaling_law",
    "classic",
    "ridge",
    "lasso",
    "random_forest",
    "gbt",
    "nargp",
    "mlp_ensemble",
)

#: the model ``auto`` falls back to when the data have too few measured volumes to validate.
FALLBACK = "hybrid"
#: models whose bands are calibrated for extrapolation by default when chosen by name, as
#: ``auto``'s choice is (:func:`model_calibration`).
CALIBRATED_MODELS: tuple[str, ...] = ("hybrid",)


def candidate_options(
    name: str, model_options: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, Any]:
    """The options of candidate ``name``: its own entry, and those of ``"*"`` that it accepts
    (``restarts=1`` reaches the GP models, not the trees that have no restarts).

    >>> candidate_options("ridge", {"*": {"restarts": 1}})
    {}
    """
    given = model_options or {}
    out: dict[str, Any] = {}
    for key, value in dict(given.get("*", {})).items():
        try:
            get_model(name, **{key: value})
        except (InputDataError, ImportError):
            continue
        out[key] = value
    return {**out, **dict(given.get(name, {}))}


def check_options_used(
    names: Sequence[str], model_options: Mapping[str, Mapping[str, Any]] | None
) -> None:
    """Raise when an option for every model (``"*"``) is an option of none of ``names``
    (a typo, say), naming it and the models.

    Raises:
        InputDataError: such an option.
    """
    shared = dict((model_options or {}).get("*", {}))
    used = {k for n in names for k in candidate_options(n, {"*": shared})}
    unused = sorted(set(shared) - used)
    if unused:
        raise InputDataError(
            f"model option {unused[0]!r} is an option of none of the models {list(names)}; "
            "check its spelling (mfgp.models.model_option_names(NAME) lists a model's options)"
        )


def _reason(model: ScaleUpModel, data: ScaleUpData) -> str | None:
    hook = getattr(model, "applicability", None)
    return hook(data) if callable(hook) else None


def applicable_models(
    names: Sequence[str],
    data: ScaleUpData,
    model_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The models of ``names`` that can fit ``data``, and why each other one cannot.

    A model whose optional package is missing, or whose ``applicability(data)`` gives a reason
    (e.g. ``classic`` on end-point data), is left out.

    Returns:
        ``(usable names, {left-out name: reason})``.
    """
    usable, skipped = [], {}
    for name in names:
        try:
            model = get_model(name, **dict((model_options or {}).get(name, {})))
        except ImportError as err:  # an optional package (mfgp[boost]) is missing
            skipped[name] = str(err)
            continue
        reason = _reason(model, data)
        if reason:
            skipped[name] = reason
        else:
            usable.append(name)
    return usable, skipped


def predict_outcome(model: ScaleUpModel, X: torch.Tensor, *, positive: bool) -> Prediction:
    """The predictive distribution of a new measurement at ``X`` (observation noise
    included), widened by the model's extrapolation calibration when it has one
    (``model.metadata["spread_calibration"]``, set by ``auto``; :func:`spread_factor`), and
    conditioned on a positive response when the target is positive (every measured value
    > 0), so that its bands never reach below zero.

    A positive target whose bands are widened is first matched by a log-normal of the same
    mean and variance and widened in log units (the mean kept): widening a Normal and then
    conditioning it on a positive response would move its mean up with the width."""
    pred = model.predict(X, observation_noise=True)
    cal = getattr(model, "metadata", {}).get("spread_calibration")
    if cal:
        factor = spread_factor(cal, X[..., 0]).to(pred.mean)
        if positive and bool((factor > 1).any()) and bool((pred.mean > 0).all()):
            m, v = pred.mean, pred.variance.clamp_min(0.0)
            s2 = torch.log1p(v / m**2)
            return Prediction.lognormal(torch.log(m) - 0.5 * s2, s2).widened(factor)
        pred = pred.widened(factor)
    return pred.truncated(0.0) if positive else pred


def spread_factor(calibration: Mapping[str, Any], log10_volume: torch.Tensor) -> torch.Tensor:
    """``sqrt(1 + c d)``: the factor on the predictive spread at ``d`` decades beyond the
    largest training volume (1 within the measured range)."""
    d = (log10_volume - float(calibration["log10_volume_max"])).clamp_min(0.0)
    return torch.sqrt(1.0 + float(calibration["c"]) * d)


def fit_spread_calibration(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The extrapolation calibration of a model from its forward-chaining validation.

    Each validation end point gives ``z = Phi^-1(F(y))``, the probit of its probability
    integral transform under the model's predictive distribution (standard normal when the
    bands are honest; Gneiting, Balabdaoui & Raftery 2007, JRSS B 69:243), and ``d``, how many
    decades of volume it lay beyond the largest training volume. The spread that the data ask
    for grows with the distance of the extrapolation: ``z ~ N(0, 1 + c d)``, with ``c >= 0``
    the maximum-likelihood value (``c = 0``: the bands were honest or too wide, and are left as
    they are; they are never narrowed). Predictions ``d`` decades beyond the largest measured
    volume then have their spread multiplied by ``sqrt(1 + c d)`` (:func:`spread_factor`).

    Returns:
        ``{"c", "n", "rms_z", "method"}``.
    """
    from scipy.optimize import minimize_scalar

    z = np.array([v for r in records for v in r.get("pit_z", [])], dtype=float)
    d = np.array([v for r in records for v in r.get("decades", [])], dtype=float)
    keep = np.isfinite(z) & (d > 0)
    z, d = np.clip(z[keep], -8.0, 8.0), d[keep]
    out = {"n": int(z.size), "rms_z": float(np.sqrt(np.mean(z**2))) if z.size else None}
    out["method"] = "forward-chaining PIT, z ~ N(0, 1 + c d), d in decades beyond training"
    if z.size < 2 or float(np.mean(z**2)) <= 1.0:
        return {**out, "c": 0.0}

    def nll(log_c: float) -> float:
        v = 1.0 + math.exp(log_c) * d
        return float(np.sum(0.5 * np.log(v) + 0.5 * z**2 / v))

    res = minimize_scalar(nll, bounds=(-12.0, 8.0), method="bounded")
    c = math.exp(res.x) if nll(res.x) < nll(-50.0) else 0.0
    return {**out, "c": float(c)}


def validation_fold(
    name: str,
    options: Mapping[str, Any],
    train: ScaleUpData,
    test: ScaleUpData,
    seed: int,
) -> dict[str, Any]:
    """Fit ``name`` on ``train`` and score its predictions of ``test``'s end points.

    Returns:
        A record: ``model``, ``volume_L``, ``n``, ``seconds`` and the scores of
        :func:`mfgp.metrics.evaluate` (``crps``, ``nlpd``, ``rmse``, ``coverage95`` ...) plus
        the per-point ``observed``, ``mean``, ``sd`` and ``z``; or ``error`` when the fit
        failed (never raises, so that one model's failure does not stop the others).
    """
    volume = float(np.unique(test.volume_L)[0])
    record: dict[str, Any] = {"model": name, "volume_L": volume}
    t0 = time.perf_counter()
    try:
        ends = test.subset(endpoint_mask(test))
        model = get_model(name, **dict(options)).fit(train, seed=seed)
        pred = predict_outcome(model, ends.X, positive=bool((train.Y > 0).all()))
        y = ends.Y.squeeze(-1)
        if not bool(torch.isfinite(pred.mean).all() & torch.isfinite(pred.variance).all()):
            raise MFGPError("NaN or infinite predictions")
        record.update(evaluate(y, pred))
        pit = pred.predictive.cdf(y).clamp(1e-12, 1 - 1e-12)
        each = [float(crps(y[i : i + 1], pred.select(slice(i, i + 1)))) for i in range(len(y))]
        record.update(
            n=int(y.numel()),
            observed=y.cpu().tolist(),
            mean=pred.mean.cpu().tolist(),
            sd=pred.sd.cpu().tolist(),
            crps_points=each,
            nlpd_points=(-pred.predictive.log_prob(y)).cpu().tolist(),
            pit_z=torch.special.ndtri(pit).cpu().tolist(),
            decades=[math.log10(volume / float(train.volumes().max()))] * int(y.numel()),
        )
    except Exception as err:  # reported, not raised: see the docstring
        record["error"] = f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"
    record["seconds"] = time.perf_counter() - t0
    return record


def prefit_model(
    name: str,
    options: Mapping[str, Any],
    data: ScaleUpData,
    seed: int,
    path: str,
) -> dict[str, Any]:
    """Fit ``name`` on all of ``data`` and save it to ``path`` (:meth:`ScaleUpModel.save`): a
    final fit run beside the validation fits (see ``prefit`` of :func:`select_model`), so
    that the likely choice is fitted while the others are validated. Never raises."""
    t0 = time.perf_counter()
    record: dict[str, Any] = {"prefit": name}
    try:
        get_model(name, **dict(options)).fit(data, seed=seed).save(path)
        record["path"] = str(path)
    except Exception as err:  # reported, not raised: the caller fits it again
        record["error"] = f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"
    record["seconds"] = time.perf_counter() - t0
    return record


def _selection_task(kind: str, *args: Any) -> dict[str, Any]:
    return validation_fold(*args) if kind == "fold" else prefit_model(*args)


@dataclass
class Selection:
    """What :func:`select_model` found.

    Attributes:
        chosen: the model name with the lowest mean validation score.
        metric: the score used (``"crps"`` or ``"nlpd"``; lower is better).
        scores: mean score per validated model.
        table: one row per model and validation volume (``model``, ``volume_L``, ``n``,
            ``crps``, ``nlpd``, ``rmse``, ``coverage95``, ``width95``, ``seconds``).
        folds: the validation volumes, ``V_(k+1)``, with the training volumes of each.
        skipped: models left out, with the reason.
        records: the raw fold records (per-point observed, mean, sd, scores, PIT z).
        rule: how the choice was made: the best model by mean score, the reference, its
            advantage and standard error, and whether the reference was kept
            (one-standard-error rule).
        calibration: the chosen model's extrapolation calibration
            (:func:`fit_spread_calibration`).
        prefitted: ``{model: folder}`` of the models fitted on all the data beside the
            validation (``prefit``), saved for :func:`mfgp.load_model`.
    """

    chosen: str
    metric: str
    scores: dict[str, float]
    table: pd.DataFrame
    folds: list[dict[str, Any]]
    skipped: dict[str, str] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    rule: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=lambda: {"c": 0.0})
    prefitted: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (for ``metrics.json``)."""
        return {
            "chosen": self.chosen,
            "metric": self.metric,
            "scores": self.scores,
            "folds": self.folds,
            "skipped": self.skipped,
            "rule": self.rule,
            "calibration": self.calibration,
            "table": self.table.to_dict(orient="records"),
        }


def select_model(
    data: ScaleUpData,
    *,
    candidates: Sequence[str] | None = None,
    model_options: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 0,
    metric: str = "crps",
    n_jobs: int | None = None,
    scheduler: str | None = None,
    reference: str | None = FALLBACK,
    prefit: Mapping[str, Mapping[str, Any]] | None = None,
    prefit_dir: str | Path | None = None,
    desc: str = "auto: validation fits",
) -> Selection:
    """Choose a model by forward-chaining validation over volumes (see the module docstring).

    Args:
        data: the data to choose on (inside a back-test: its training part only).
        candidates: model names to compare (default :data:`AUTO_CANDIDATES`).
        model_options: constructor options per model name (``"*"``: every model).
        seed: seed of every validation fit.
        metric: ``"crps"`` (default) or ``"nlpd"``, of the end-point predictions.
        n_jobs: parallel worker processes (default: one per core); ``1`` runs in this process.
        scheduler: a Dask scheduler address, to run the fits on a cluster.
        reference: the model kept unless another is better by more than one standard error
            (default :data:`FALLBACK`, the multi-fidelity GP; ``None``: the lowest mean score
            wins outright).
        prefit, prefit_dir: models to fit on all of ``data`` beside the validation, and the
            folder to save them in.
        desc: the label of the progress bar.

    Returns:
        A :class:`Selection`. With fewer than three measured volumes nothing can be validated:
        the choice is :data:`FALLBACK` (a warning says so).

    Raises:
        InputDataError: an unknown metric or candidate; every candidate failed.
    """
    if metric not in ("crps", "nlpd"):
        raise InputDataError(f"metric must be 'crps' or 'nlpd', got {metric!r}")
    who = desc.split(":")[0]
    names = list(candidates or AUTO_CANDIDATES)
    known = available_models()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputDataError(f"unknown candidate models {unknown}; choose from {known}")
    check_options_used(names, model_options)
    per_model = {n: candidate_options(n, model_options) for n in names}
    usable, skipped = applicable_models(names, data, per_model)
    for name, why in skipped.items():
        log.warning("%s: %s left out: %s", who, name, why)
    vols = data.volumes()
    if len(vols) < 3:
        log.warning(
            "auto: %d measured volume(s) (%s L) are too few to validate an extrapolation (it "
            "needs three: train on two, test on the next); using %s",
            len(vols),
            ", ".join(f"{v:g}" for v in vols),
            FALLBACK,
        )
        return Selection(FALLBACK, metric, {}, pd.DataFrame(), [], skipped)
    folds = list(forward_chaining(data))
    fold_info = [
        {"test_volume_L": v, "train_volumes_L": tr.volumes().tolist()} for v, tr, _ in folds
    ]
    tasks: list[tuple[Any, ...]] = []
    for name, opts in dict(prefit or {}).items():  # first: the longest fits start early
        if name in usable:
            if prefit_dir is None:
                raise InputDataError("select_model: prefit needs a prefit_dir to save into")
            tasks.append(("fit", name, dict(opts), data, seed, str(Path(prefit_dir) / name)))
    tasks += [("fold", n, per_model[n], tr, te, seed) for n in usable for _, tr, te in folds]
    results = map_tasks(
        _selection_task,
        tasks,
        n_jobs=n_jobs,
        scheduler=scheduler,
        desc=desc,
        label=lambda t: (
            f"{t[1]} at {float(np.unique(t[4].volume_L)[0]):g} L"
            if t[0] == "fold"
            else f"{t[1]} on all rows"
        ),
    )
    prefitted = {r["prefit"]: r["path"] for r in results if "prefit" in r and "path" in r}
    records = [r for r in results if "prefit" not in r]
    failed = {}
    for r in records:
        if "error" in r and r["model"] not in failed:
            failed[r["model"]] = f"failed at {r['volume_L']:g} L: {r['error']}"
    for name, why in failed.items():
        log.warning("%s: %s left out: %s", who, name, why)
    skipped.update(failed)
    good = [r for r in records if r["model"] not in failed]
    if not good:
        raise InputDataError(
            f"{who}: every candidate model failed in validation; "
            + "; ".join(f"{k}: {v}" for k, v in list(failed.items())[:3])
        )
    cols = ["model", "volume_L", "n", "crps", "nlpd", "rmse", "coverage95", "width95", "seconds"]
    table = pd.DataFrame([{c: r.get(c) for c in cols} for r in good])
    scores = {}
    for name in usable:
        if name in failed:
            continue
        rows = [r for r in good if r["model"] == name]
        total = sum(r[metric] * r["n"] for r in rows)
        scores[name] = float(total / sum(r["n"] for r in rows))
    chosen, rule = one_standard_error(scores, good, metric, reference)
    calibration = fit_spread_calibration([r for r in good if r["model"] == chosen])
    log.info(
        "%s: %s chosen (mean validation %s %.4g; %s)%s",
        who,
        chosen,
        metric.upper(),
        scores[chosen],
        ", ".join(f"{n} {s:.3g}" for n, s in sorted(scores.items(), key=lambda kv: kv[1])),
        f"; bands widened by sqrt(1 + {calibration['c']:.3g} d) d decades beyond the data"
        if calibration["c"] > 0
        else "",
    )
    return Selection(
        chosen, metric, scores, table, fold_info, skipped, good, rule, calibration, prefitted
    )


def _points(records: Sequence[Mapping[str, Any]], name: str, metric: str) -> np.ndarray:
    rows = sorted((r for r in records if r["model"] == name), key=lambda r: r["volume_L"])
    return np.array([v for r in rows for v in r[f"{metric}_points"]], dtype=float)


def one_standard_error(
    scores: Mapping[str, float],
    records: Sequence[Mapping[str, Any]],
    metric: str,
    reference: str | None,
) -> tuple[str, dict[str, Any]]:
    """The model with the lowest mean score, unless the reference model (the multi-fidelity
    default) is within one standard error of it: then the reference.

    With a handful of validation end points, the ranking of models whose scores differ by
    less than their noise is a coin toss; the one-standard-error rule (Breiman et al. 1984,
    Classification and Regression Trees, sec. 3.4.3; Hastie, Tibshirani & Friedman 2009, The
    Elements of Statistical Learning, sec. 7.10) keeps the default unless the data show that
    another model is better. The standard error is that of the mean paired difference of the
    per-point scores (every model is scored at the same end points).
    """
    best = min(scores, key=lambda n: scores[n] if math.isfinite(scores[n]) else math.inf)
    rule: dict[str, Any] = {"best": best, "reference": reference, "kept_reference": False}
    if reference is None or reference not in scores or reference == best:
        return best, rule
    diff = _points(records, reference, metric) - _points(records, best, metric)
    if diff.size < 2:
        return best, rule
    advantage = float(diff.mean())
    se = float(diff.std(ddof=1) / math.sqrt(diff.size))
    rule.update(advantage=advantage, se=se)
    if advantage <= se:
        rule["kept_reference"] = True
        return reference, rule
    return best, rule


def model_calibration(
    name: str,
    data: ScaleUpData,
    *,
    selection: Selection | None = None,
    model_options: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 0,
    n_jobs: int | None = None,
    scheduler: str | None = None,
) -> dict[str, Any] | None:
    """The extrapolation calibration of model ``name`` on ``data`` (:func:`fit_spread_calibration`
    of its forward-chaining validation), or None when ``name`` is not one of
    :data:`CALIBRATED_MODELS` or the data have fewer than three measured volumes.

    Reuses ``selection``'s records when ``auto`` validated ``name`` on the same data; else runs
    the validation of ``name`` alone (:func:`select_model` with ``candidates=[name]``).
    """
    if name not in CALIBRATED_MODELS or len(data.volumes()) < 3:
        return None
    if selection is not None and any(r["model"] == name for r in selection.records):
        return fit_spread_calibration([r for r in selection.records if r["model"] == name])
    try:
        own = select_model(
            data,
            candidates=[name],
            model_options={name: candidate_options(name, model_options)},
            seed=seed,
            n_jobs=n_jobs,
            scheduler=scheduler,
            reference=None,
            desc=f"{name}: calibration fits",
        )
    except InputDataError as err:  # a fold it cannot fit: no calibration, not a failed job
        log.warning("%s: bands not calibrated for extrapolation: %s", name, err)
        return None
    if name in own.skipped:
        return None
    return own.calibration


def calibrate(model: ScaleUpModel, calibration: Mapping[str, Any], data: ScaleUpData) -> None:
    """Attach ``auto``'s extrapolation calibration to a fitted model (kept in its metadata and
    saved with it): predictions beyond the largest measured volume of ``data`` are widened by
    :func:`spread_factor`."""
    model.metadata["spread_calibration"] = {
        **dict(calibration),
        "log10_volume_max": math.log10(float(data.volumes().max())),
    }
