"""The end-to-end job behind ``mfgp run``: fit on the training volumes, predict the held-out
largest volumes, and write metrics, predictions and fitted models.

This module holds the library function; :mod:`mfgp.cli` is a thin argparse layer over it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from mfgp import acquisition, io, memory, progress
from mfgp.data import ScaleUpData
from mfgp.exceptions import InputDataError, MFGPError, ModelFittingError
from mfgp.metrics import METRIC_NAMES, evaluate, per_volume
from mfgp.models.base import Prediction, ScaleUpModel, available_models, get_model
from mfgp.report import write_figures, write_report

__all__ = [
    "RunResult",
    "check_finite_prediction",
    "format_table",
    "resolve_model_names",
    "run",
]

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What :func:`run` produced.

    Attributes:
        table: one row per model and volume (plus ``all``) with :data:`METRIC_NAMES`.
        predictions: one row per model and held-out point (mean, sd, 95 % bounds, observed).
        metrics: the content of ``metrics.json``.
        out_dir: the folder written.
        models: the fitted models by name.
        suggestions: the proposed next runs, when asked for.
    """

    table: pd.DataFrame
    predictions: pd.DataFrame
    metrics: dict[str, Any]
    out_dir: Path
    models: dict[str, Any] = field(default_factory=dict)
    suggestions: pd.DataFrame | None = None


def resolve_model_names(spec: str | Sequence[str]) -> list[str]:
    """``"all"``, ``"gp"``, ``"gp,ar1"`` or a list -> validated model names."""
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    names = [n for n in names if n]
    known = available_models()
    if names == ["all"]:
        out = []
        for n in known:
            if n == "ar1":  # `all` runs the AR1 model under its seed name, hybrid
                continue
            try:
                get_model(n)
            except ImportError as err:  # an optional package (mfgp[boost]) is missing
                log.warning("skipping %s: %s", n, err)
                continue
            out.append(n)
        return out
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise InputDataError(f"unknown model {unknown or spec!r}; choose from {known} or 'all'")
    return list(dict.fromkeys(names))


def resolve_model_options(
    names: Sequence[str], model_options: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """Constructor options of each model in ``names`` from ``model_options`` (per model name,
    ``"*"`` for every model; see :func:`run`), checked: an entry for a model that is not run,
    or an option a model does not have, raises :class:`~mfgp.exceptions.InputDataError`.

    >>> resolve_model_options(["gp"], {"*": {"restarts": 1}})
    {'gp': {'restarts': 1}}
    """
    given = {str(k): dict(v) for k, v in (model_options or {}).items()}
    stray = sorted(set(given) - set(names) - {"*"})
    if stray:
        raise InputDataError(
            f"model options for {stray}, which are not among the models run ({list(names)})"
        )
    out = {n: {**given.get("*", {}), **given.get(n, {})} for n in names}
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
    return out


def run(
    data: ScaleUpData | str | Path,
    *,
    target: str | None = None,
    models: str | Sequence[str] = "gp",
    holdout_largest: int = 1,
    device: str | torch.device | None = None,
    out: str | Path = "outputs",
    seed: int = 0,
    data_options: dict[str, Any] | None = None,
    report: bool = True,
    suggest: dict[str, Any] | None = None,
    model_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> RunResult:
    """Fit ``models`` on all but the ``holdout_largest`` largest measured volumes, predict those,
    and write ``metrics.json``, ``predictions.csv`` and ``models/<name>/`` into ``out``.

    The output folder is written whole or not at all (:func:`mfgp.io.output_folder`): every
    file goes into a temporary folder beside ``out``, which replaces ``out`` (an earlier mfgp
    output there included) only when everything succeeded. A bad ``out`` (a file, the input
    file or a folder holding it, a folder of other files) and a fit that would not fit in
    memory are refused before any fitting. With several models, one that fails is skipped
    with a warning (recorded in ``metrics.json`` under ``failed``); when every model fails,
    the first failure is raised.

    Args:
        data: a :class:`ScaleUpData` or a CSV path (then ``target`` is required).
        target: the response column when ``data`` is a path.
        models: model names (see :func:`mfgp.available_models`), comma-separated, or ``"all"``.
        holdout_largest: number of largest top-fidelity volumes held out for evaluation.
        device: ``"cpu"`` or ``"cuda"``.
        out: output folder (replaced whole; never an input file or a folder holding one).
        seed: seed of every fit.
        data_options: extra keyword arguments for :class:`ScaleUpData` (``fidelity_order``,
            ``features``, ``ignore``), and ``max_rows_per_level`` (a seeded random subset of
            at most that many rows of each level below the top one; see
            :meth:`ScaleUpData.thin_levels`).
        report: also write ``figures/*.png`` and ``report.md`` (see :mod:`mfgp.report`).
        suggest: if given, propose the next experiments with :func:`mfgp.acquisition.suggest`
            from the first fitted multi-fidelity model (else the first model), as if the
            held-out volumes had not been run yet. Keys: ``costs`` (required, e.g.
            ``"lab=1,pilot=20"``), ``goal`` (default ``"learn"``), ``q`` (default 3),
            ``target_volume_L`` (default: the largest held-out volume), ``scales``.
            Written to ``suggestions.csv`` and the report.
        model_options: constructor options per model name, e.g.
            ``{"ar1": {"hyperparameter_samples": 16}}``; the key ``"*"`` gives options for every
            model (a model's own entry wins). An option a model does not have raises
            :class:`~mfgp.exceptions.InputDataError`. Recorded in ``metrics.json``.

    Returns:
        A :class:`RunResult` (``out_dir`` is ``out``).
    """
    out = Path(out)
    inputs = [] if isinstance(data, ScaleUpData) else [data]
    io.check_output_folder(out, inputs)
    data_options = dict(data_options or {})
    max_rows = data_options.pop("max_rows_per_level", None)
    if not isinstance(data, ScaleUpData):
        if target is None:
            raise InputDataError("target is required when data is a path (--target COL)")
        data = ScaleUpData(data, target=target, device=device, **data_options)
    elif device is not None:
        data = data.to(device)
    if max_rows is not None:
        data = data.thin_levels(int(max_rows), seed=seed)
    names = resolve_model_names(models)
    options = resolve_model_options(names, model_options)
    train, test = data.holdout_largest(holdout_largest)
    space = None if suggest is None else _suggest_space(train, test, suggest)
    candidates = {name: get_model(name, **options[name]) for name in names}
    for name, model in candidates.items():
        memory.check_model_memory(name, model, train)
    log.info(
        "training on %d rows (top-level volumes %s L), holding out %d rows at %s L",
        len(train),
        train.volumes().tolist(),
        len(test),
        test.volumes().tolist(),
    )
    with io.output_folder(out, inputs=inputs, command="mfgp run") as tmp:
        tables, pred_frames, per_model, fitted, failed = [], [], {}, {}, {}
        for name in progress.steps(names, desc="fitting models"):
            try:
                fit = _fit_and_score(name, candidates[name], train, test, seed=seed)
            except Exception as err:  # one model's failure must not stop the others
                if len(names) == 1:
                    raise _as_fitting_error(name, err) from err
                log.debug("%s failed", name, exc_info=True)
                failed[name] = f"{type(err).__name__}: {err}"
                log.warning("%s skipped: %s", name, _one_line(err))
                continue
            table, frame, entry = fit
            entry["options"] = options[name]
            tables.append(table)
            pred_frames.append(frame)
            per_model[name] = entry
            candidates[name].save(tmp / "models" / name)
            fitted[name] = candidates[name]
        if not fitted:
            first = next(iter(failed))
            raise ModelFittingError(
                f"every model failed; {first}: {failed[first]} (rerun with -vv for details)"
            )
        table = pd.concat(tables, ignore_index=True)
        predictions = pd.concat(pred_frames, ignore_index=True)
        metrics = {
            "data": {
                "source": data.source,
                "target": data.target,
                "rows": len(data),
                "features": data.feature_names,
                "fidelities": data.fidelity_names,
                "train_volumes_L": train.volumes().tolist(),
                "test_volumes_L": test.volumes().tolist(),
                "train_rows": len(train),
                "test_rows": len(test),
                "warnings": list(getattr(data, "validation_warnings", [])),
            },
            "split": {"kind": "holdout_largest", "k": holdout_largest},
            "seed": seed,
            "device": str(data.device),
            "metric_names": list(METRIC_NAMES),
            "models": per_model,
            "failed": failed,
            "versions": io.versions(),
        }
        io.atomic_write_json(tmp / "metrics.json", metrics)
        io.atomic_write_csv(tmp / "predictions.csv", predictions)
        result = RunResult(table, predictions, metrics, tmp, fitted)
        suggestions = None
        if suggest is not None and space is not None:
            suggestions = _suggest(fitted, space, train, suggest, seed=seed)
            io.atomic_write_csv(tmp / "suggestions.csv", suggestions)
            result.suggestions = suggestions
        if report:
            figures = write_figures(result, train)
            write_report(result, data, train, figures=figures, suggestions=suggestions)
    result.out_dir = out
    return result


def _fit_and_score(
    name: str, model: ScaleUpModel, train: ScaleUpData, test: ScaleUpData, *, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Fit one model, predict the held-out rows and score them."""
    t0 = time.perf_counter()
    model.fit(train, seed=seed)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = model.predict(test.X, observation_noise=True)
    predict_s = time.perf_counter() - t0
    check_finite_prediction(name, pred, test)
    y_test = test.Y.squeeze(-1)
    table = per_volume(test.volume_L, y_test, pred)
    table.insert(0, "model", name)
    frame = test.frame.copy()
    frame.insert(0, "model", name)
    frame = frame.rename(columns={test.target: "observed"})
    frame["mean"] = pred.mean.cpu().numpy()
    frame["sd"] = pred.sd.cpu().numpy()
    frame["lower95"] = pred.lower.cpu().numpy()
    frame["upper95"] = pred.upper.cpu().numpy()
    entry = {
        "overall": evaluate(y_test, pred),
        "per_volume": table.drop(columns="model").to_dict(orient="records"),
        "fit_choices": model.fit_choices(),
        "fit_seconds": fit_s,
        "predict_seconds": predict_s,
    }
    log.info("%s: fit %.2f s, RMSE %.4g", name, fit_s, entry["overall"]["rmse"])
    return table, frame, entry


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


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _as_fitting_error(name: str, err: Exception) -> MFGPError:
    """An mfgp error as it is; anything else raised while fitting or predicting, as a
    one-line :class:`~mfgp.exceptions.ModelFittingError` naming the model."""
    if isinstance(err, MFGPError):
        return err
    log.debug("%s failed", name, exc_info=True)
    return ModelFittingError(
        f"model {name!r} failed: {type(err).__name__}: {_one_line(err)} (rerun with -vv to "
        "see where; a different model, --model-option, or cleaner data may avoid it)"
    )


def _suggest_space(
    train: ScaleUpData, test: ScaleUpData, options: dict[str, Any]
) -> acquisition.SearchSpace:
    """The search space of ``run(..., suggest=options)``, built (and so checked) before fitting."""
    if not options.get("costs"):
        raise InputDataError("suggest needs costs, e.g. --suggest-costs lab=1,pilot=20")
    return acquisition.SearchSpace.from_data(
        train,
        costs=options["costs"],
        target_volume_L=float(options.get("target_volume_L") or test.volumes().max()),
        scales=options.get("scales"),
    )


def _suggest(
    fitted: dict[str, Any],
    space: acquisition.SearchSpace,
    train: ScaleUpData,
    options: dict[str, Any],
    *,
    seed: int,
) -> pd.DataFrame:
    opts = dict(options)
    name = next((n for n, m in fitted.items() if m.multi_fidelity), next(iter(fitted)))
    log.info("suggesting the next runs with %s (goal %s)", name, opts.get("goal", "learn"))
    result = acquisition.suggest(
        fitted[name],
        space,
        goal=opts.get("goal", "learn"),
        q=int(opts.get("q", 3)),
        seed=seed,
        fidelity_names=train.fidelity_names,
    )
    frame = result.frame.copy()
    frame.insert(0, "model", name)
    return frame


def format_table(
    table: pd.DataFrame, columns: Sequence[str] = ("rmse", "nrmse", "nlpd", "coverage95")
) -> str:
    """A compact text table of :attr:`RunResult.table` for the terminal."""
    cols = ["model", "volume_L", "n", *columns]
    shown = table[cols].copy()
    shown["volume_L"] = [v if isinstance(v, str) else f"{v:g}" for v in shown["volume_L"]]
    return shown.to_string(index=False, float_format=lambda x: f"{x:.4g}")
