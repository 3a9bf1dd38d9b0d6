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

from mfgp import io
from mfgp.data import ScaleUpData
from mfgp.exceptions import InputDataError
from mfgp.metrics import METRIC_NAMES, evaluate, per_volume
from mfgp.models.base import available_models, get_model

__all__ = ["RunResult", "format_table", "resolve_model_names", "run"]

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

    Args:
        data: a :class:`ScaleUpData` or a CSV path (then ``target`` is required).
        target: the response column when ``data`` is a path.
        models: model names (see :func:`mfgp.available_models`), comma-separated, or ``"all"``.
        holdout_largest: number of largest top-fidelity volumes held out for evaluation.
        device: ``"cpu"`` or ``"cuda"``.
        out: output folder (created; files replaced atomically; never an input file).
        seed: seed of every fit.
        data_options: extra keyword arguments for :class:`ScaleUpData` (``fidelity_order``,
            ``features``, ``ignore``).
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
        A :class:`RunResult`.
    """
    out = Path(out)
    if not isinstance(data, ScaleUpData):
        if target is None:
            raise InputDataError("target is required when data is a path (--target COL)")
        io.check_not_input(
            [out / "metrics.json", out / "predictions.csv", out / "report.md"], [data]
        )
        data = ScaleUpData(data, target=target, device=device, **(data_options or {}))
    elif device is not None:
        data = data.to(device)
    names = resolve_model_names(models)
    options = resolve_model_options(names, model_options)
    train, test = data.holdout_largest(holdout_largest)
    log.info(
        "training on %d rows (top-level volumes %s L), holding out %d rows at %s L",
        len(train),
        train.volumes().tolist(),
        len(test),
        test.volumes().tolist(),
    )
    y_test = test.Y.squeeze(-1)
    tables, pred_frames, per_model, fitted = [], [], {}, {}
    for name in names:
        model = get_model(name, **options[name])
        t0 = time.perf_counter()
        model.fit(train, seed=seed)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pred = model.predict(test.X, observation_noise=True)
        predict_s = time.perf_counter() - t0
        table = per_volume(test.volume_L, y_test, pred)
        table.insert(0, "model", name)
        tables.append(table)
        frame = test.frame.copy()
        frame.insert(0, "model", name)
        frame = frame.rename(columns={data.target: "observed"})
        frame["mean"] = pred.mean.cpu().numpy()
        frame["sd"] = pred.sd.cpu().numpy()
        frame["lower95"] = pred.lower.cpu().numpy()
        frame["upper95"] = pred.upper.cpu().numpy()
        pred_frames.append(frame)
        per_model[name] = {
            "overall": evaluate(y_test, pred),
            "per_volume": table.drop(columns="model").to_dict(orient="records"),
            "options": options[name],
            "fit_choices": model.fit_choices(),
            "fit_seconds": fit_s,
            "predict_seconds": predict_s,
        }
        model.save(out / "models" / name)
        fitted[name] = model
        log.info("%s: fit %.2f s, RMSE %.4g", name, fit_s, per_model[name]["overall"]["rmse"])
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
        },
        "split": {"kind": "holdout_largest", "k": holdout_largest},
        "seed": seed,
        "device": str(data.device),
        "metric_names": list(METRIC_NAMES),
        "models": per_model,
        "versions": io.versions(),
    }
    io.atomic_write_json(out / "metrics.json", metrics)
    io.atomic_write_csv(out / "predictions.csv", predictions)
    result = RunResult(table, predictions, metrics, out, fitted)
    suggestions = None
    if suggest is not None:
        suggestions = _suggest(fitted, train, test, suggest, seed=seed)
        io.atomic_write_csv(out / "suggestions.csv", suggestions)
        result.suggestions = suggestions
    if report:
        from mfgp.report import write_figures, write_report

        figures = write_figures(result, train)
        write_report(result, data, train, figures=figures, suggestions=suggestions)
    return result


def _suggest(
    fitted: dict[str, Any],
    train: ScaleUpData,
    test: ScaleUpData,
    options: dict[str, Any],
    *,
    seed: int,
) -> pd.DataFrame:
    from mfgp.acquisition import SearchSpace, suggest

    opts = dict(options)
    if not opts.get("costs"):
        raise InputDataError("suggest needs costs, e.g. --suggest-costs lab=1,pilot=20")
    name = next((n for n, m in fitted.items() if m.multi_fidelity), next(iter(fitted)))
    space = SearchSpace.from_data(
        train,
        costs=opts["costs"],
        target_volume_L=float(opts.get("target_volume_L") or test.volumes().max()),
        scales=opts.get("scales"),
    )
    log.info("suggesting the next runs with %s (goal %s)", name, opts.get("goal", "learn"))
    result = suggest(
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
