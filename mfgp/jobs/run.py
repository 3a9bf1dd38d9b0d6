"""The back-test behind ``mfgp run``: hide the largest measured volumes, fit every model on the
rest, predict the hidden ones and compare, harvest (end-point) metrics first.

``auto`` (the default) is a model too: inside the back-test it chooses among the candidate
models by forward-chaining validation over the *training* volumes only
(:func:`mfgp.selection.select_model`), so the held-out volumes never reach the choice; its
row in the comparison is then an honest estimate of what the choice is worth.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from mfgp import acquisition, io, memory, progress
from mfgp.data import ScaleUpData
from mfgp.exceptions import InputDataError, ModelFittingError
from mfgp.jobs.common import (
    AUTO,
    as_fitting_error,
    fit_and_score,
    one_line,
    resolve_model_names,
    resolve_model_options,
)
from mfgp.jobs.conditions import carried_set_point, scale_up_curve
from mfgp.metrics import METRIC_NAMES
from mfgp.models.base import ScaleUpModel
from mfgp.models.registry import get_model
from mfgp.report import write_figures, write_report
from mfgp.selection import (
    AUTO_CANDIDATES,
    CALIBRATED_MODELS,
    Selection,
    applicable_models,
    candidate_options,
    model_calibration,
    select_model,
)

__all__ = ["RunResult", "run"]

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What :func:`run` produced.

    Attributes:
        table: harvest (end-point) metrics, one row per model and held-out volume (plus
            ``all``), with :data:`~mfgp.metrics.METRIC_NAMES`.
        predictions: one row per model and held-out point (``observed``, ``mean``, ``sd``,
            95 % bounds, ``harvest`` marking the end point of each run).
        metrics: the content of ``metrics.json``.
        out_dir: the folder written.
        models: the fitted models by name (``auto``: the chosen model).
        suggestions: the proposed next runs, when asked for.
        selection: what ``auto`` found (its validation table), when it ran.
        focus: the model of the scale-up figure (``auto`` when it ran, else the best by
            harvest CRPS).
        curve: ``focus``'s prediction against volume at the largest training scale's set
            point carried by constant P/V (``volume_L, mean, lower95, upper95``).
        cheap_curve: each cheap level's prediction along that curve (``fidelity, volume_L,
            value``; multi-fidelity models).
    """

    table: pd.DataFrame
    predictions: pd.DataFrame
    metrics: dict[str, Any]
    out_dir: Path
    models: dict[str, Any] = field(default_factory=dict)
    suggestions: pd.DataFrame | None = None
    selection: Selection | None = None
    focus: str = ""
    curve: pd.DataFrame = field(default_factory=pd.DataFrame)
    cheap_curve: pd.DataFrame = field(default_factory=pd.DataFrame)


def _load(
    data: ScaleUpData | str | Path,
    target: str | None,
    device: str | torch.device | None,
    data_options: Mapping[str, Any] | None,
    seed: int,
) -> ScaleUpData:
    """A ScaleUpData from a path or an existing one, thinned when asked."""
    options = dict(data_options or {})
    max_rows = options.pop("max_rows_per_level", None)
    if not isinstance(data, ScaleUpData):
        if target is None:
            raise InputDataError("target is required when data is a path (--target COL)")
        data = ScaleUpData(data, target=target, device=device, **options)
    elif device is not None:
        data = data.to(device)
    if max_rows is not None:
        data = data.thin_levels(int(max_rows), seed=seed)
    return data


def _models_to_run(
    names: list[str],
    options: dict[str, dict[str, Any]],
    train: ScaleUpData,
    *,
    explicit: bool,
) -> dict[str, ScaleUpModel | None]:
    """The models to fit (``auto`` as None), after the applicability and memory checks: a
    model asked for by name that cannot fit is an error; under ``all`` it is left out with
    one warning line naming why."""
    models: dict[str, ScaleUpModel | None] = {}
    for name in names:
        if name == AUTO:
            models[name] = None
            continue
        usable, skipped = applicable_models([name], train, {name: options[name]})
        if skipped:
            if explicit:
                raise InputDataError(f"model {name!r} cannot fit these data: {skipped[name]}")
            log.warning("%s skipped: %s", name, skipped[name])
            continue
        model = get_model(name, **options[name])
        memory.check_model_memory(name, model, train)
        models[name] = model
    if not models:
        raise InputDataError("none of the models can fit these data (see the warnings)")
    return models


def run(
    data: ScaleUpData | str | Path,
    *,
    target: str | None = None,
    models: str | Sequence[str] = AUTO,
    holdout_largest: int = 1,
    device: str | torch.device | None = None,
    out: str | Path = "outputs",
    seed: int = 0,
    data_options: dict[str, Any] | None = None,
    report: bool = True,
    suggest: dict[str, Any] | None = None,
    model_options: Mapping[str, Mapping[str, Any]] | None = None,
    candidates: Sequence[str] | None = None,
    n_jobs: int | None = None,
    scheduler: str | None = None,
) -> RunResult:
    """Fit ``models`` on all but the ``holdout_largest`` largest measured volumes, predict those,
    and write ``metrics.json``, ``predictions.csv``, ``models/<name>/``, ``report.md`` and
    ``figures/`` into ``out``.

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
        models: ``"auto"`` (default: chosen by forward-chaining validation over the training
            volumes), model names (see :func:`mfgp.available_models`), comma-separated, or
            ``"all"``; ``"auto,hybrid,gp"`` compares the choice with named models.
        holdout_largest: number of largest top-fidelity volumes held out for evaluation.
        device: ``"cpu"`` or ``"cuda"``.
        out: output folder (replaced whole; never an input file or a folder holding one).
        seed: seed of every fit (and of ``auto``'s validation fits).
        data_options: keyword arguments of :class:`ScaleUpData` (``fidelity_order``,
            ``features``, ``ignore``, ...) and ``max_rows_per_level`` (see
            :meth:`ScaleUpData.thin_levels`).
        report: also write ``figures/*.png`` and ``report.md`` (see :mod:`mfgp.report`).
        suggest: if given, propose the next experiments with :func:`mfgp.acquisition.suggest`
            from the first fitted multi-fidelity model (else the first model), as if the
            held-out volumes had not been run yet. Keys: ``costs`` (required, e.g.
            ``"lab=1,pilot=20"``), ``goal`` (default ``"learn"``), ``q`` (default 3),
            ``target_volume_L`` (default: the largest held-out volume), ``scales``.
        model_options: constructor options per model name, e.g.
            ``{"ar1": {"hyperparameter_samples": 16}}``; ``"*"`` gives options for every model
            (a model's own entry wins; under ``auto`` its candidates take theirs).
        candidates: the models ``auto`` compares (default
            :data:`~mfgp.selection.AUTO_CANDIDATES`).
        n_jobs: parallel processes of ``auto``'s validation fits (default: one per core).
        scheduler: a Dask scheduler address for ``auto``'s validation fits.

    Returns:
        A :class:`RunResult` (``out_dir`` is ``out``).
    """
    out = Path(out)
    inputs = [] if isinstance(data, ScaleUpData) else [data]
    io.check_output_folder(out, inputs)
    data = _load(data, target, device, data_options, seed)
    names = resolve_model_names(models)
    spec = models.split(",") if isinstance(models, str) else list(models)
    every = "all" in [m.strip() for m in spec]
    options = resolve_model_options(names, model_options, all_models=every)
    train, test = data.holdout_largest(holdout_largest)
    space = None if suggest is None else _suggest_space(train, test, suggest)
    to_fit = _models_to_run(names, options, train, explicit=not every)
    log.info(
        "training on %d rows (top-level volumes %s L), holding out %d rows at %s L",
        len(train),
        train.volumes().tolist(),
        len(test),
        test.volumes().tolist(),
    )
    selection = None
    with io.output_folder(out, inputs=inputs, command="mfgp run") as tmp:
        tables, frames, per_model, fitted, failed = [], [], {}, {}, {}
        for name in progress.steps(list(to_fit), desc="fitting models"):
            try:
                model = to_fit[name]
                if model is None:  # auto: choose on the training volumes only
                    selection = select_model(
                        train,
                        candidates=candidates or AUTO_CANDIDATES,
                        model_options=model_options,
                        seed=seed,
                        n_jobs=n_jobs,
                        scheduler=scheduler,
                    )
                    chosen = selection.chosen
                    model = get_model(chosen, **candidate_options(chosen, model_options))
                    memory.check_model_memory(chosen, model, train)
                cal = selection.calibration if name == AUTO and selection else None
                if name in CALIBRATED_MODELS:
                    cal = model_calibration(
                        name,
                        train,
                        selection=selection,
                        model_options=model_options,
                        seed=seed,
                        n_jobs=n_jobs,
                        scheduler=scheduler,
                    )
                table, frame, entry = fit_and_score(
                    name, model, train, test, seed=seed, calibration=cal
                )
            except Exception as err:  # one model's failure must not stop the others
                if len(to_fit) == 1:
                    raise as_fitting_error(name, err) from err
                log.debug("%s failed", name, exc_info=True)
                failed[name] = f"{type(err).__name__}: {err}"
                log.warning("%s skipped: %s", name, one_line(err))
                continue
            entry["options"] = options[name]
            if name == AUTO and selection is not None:
                entry["chosen"] = selection.chosen
                entry["fit_choices"] = {"model": selection.chosen, **entry["fit_choices"]}
            tables.append(table)
            frames.append(frame)
            per_model[name] = entry
            model.save(tmp / "models" / name)
            fitted[name] = model
        if not fitted:
            first = next(iter(failed))
            raise ModelFittingError(
                f"every model failed; {first}: {failed[first]} (rerun with -vv for details)"
            )
        metrics = _metrics(data, train, test, holdout_largest, seed, per_model, failed)
        if selection is not None:
            metrics["selection"] = selection.to_dict()
        table = pd.concat(tables, ignore_index=True)
        predictions = pd.concat(frames, ignore_index=True)
        io.atomic_write_json(tmp / "metrics.json", metrics)
        io.atomic_write_csv(tmp / "predictions.csv", predictions)
        if selection is not None and len(selection.table):
            io.atomic_write_csv(tmp / "validation.csv", selection.table)
        result = RunResult(table, predictions, metrics, tmp, fitted, selection=selection)
        result.focus = _focus(per_model)
        result.curve, result.cheap_curve = _curve(fitted[result.focus], train, test)
        if suggest is not None and space is not None:
            result.suggestions = _suggest(fitted, space, train, suggest, seed=seed)
            io.atomic_write_csv(tmp / "suggestions.csv", result.suggestions)
        if report:
            figures = write_figures(result, train)
            write_report(result, data, train, figures=figures, suggestions=result.suggestions)
    result.out_dir = out
    return result


def _focus(per_model: dict[str, Any]) -> str:
    """``auto`` when it ran, else the model with the lowest harvest CRPS."""
    if AUTO in per_model:
        return AUTO
    return min(per_model, key=lambda n: per_model[n]["harvest"]["overall"]["crps"])


def _curve(
    model: ScaleUpModel, train: ScaleUpData, test: ScaleUpData
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scale-up curve of the report's figure (see :attr:`RunResult.curve`)."""
    v_max = float(test.volumes().max())
    settings = carried_set_point(train, [v_max]).iloc[0]
    try:
        return scale_up_curve(model, train, settings, v_max)
    except Exception as err:  # a figure must not sink a finished run
        log.warning("no scale-up curve for the report: %s", one_line(err))
        return pd.DataFrame(), pd.DataFrame()


def _metrics(
    data: ScaleUpData,
    train: ScaleUpData,
    test: ScaleUpData,
    k: int,
    seed: int,
    per_model: dict[str, Any],
    failed: dict[str, str],
) -> dict[str, Any]:
    return {
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
            "end_point_data": "time_h" not in data.frame.columns,
            "warnings": list(getattr(data, "validation_warnings", [])),
        },
        "split": {"kind": "holdout_largest", "k": k},
        "seed": seed,
        "device": str(data.device),
        "metric_names": list(METRIC_NAMES),
        "headline": "harvest: the end point of each held-out run",
        "models": per_model,
        "failed": failed,
        "versions": io.versions(),
    }


def _suggest_space(
    train: ScaleUpData, test: ScaleUpData, options: dict[str, Any]
) -> acquisition.SearchSpace:
    """The search space of ``run(..., suggest=options)``, built (and so checked) before fitting."""
    if not options.get("costs"):
        raise InputDataError(
            "suggest needs the cost of each vessel, e.g. --suggest-costs 2L=1,200L=20"
        )
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
        target=train.target,
        positive=bool((train.Y > 0).all()),
    )
    frame = result.frame.copy()
    frame.insert(0, "model", name)
    return frame
