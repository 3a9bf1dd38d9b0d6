"""The figures of the reports, from the jobs' results: the scale-up figure first, then time
courses per run and the comparison of the models (at harvest).

Each function returns ``{name: path}`` in the order the report shows them; a figure that
cannot be drawn (for example a scale-up curve that could not be computed) is left out with a
warning, never sinking a finished job.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mfgp import plotting
from mfgp.data import endpoint_mask
from mfgp.report.common import pyplot, save_figure

if TYPE_CHECKING:
    from mfgp.data import ScaleUpData
    from mfgp.jobs.predict import PredictResult
    from mfgp.jobs.run import RunResult

__all__ = ["predict_figures", "run_figures"]

log = logging.getLogger(__name__)


def _measured(data: ScaleUpData, label: str = "train") -> pd.DataFrame:
    """End points of the measured runs: ``volume_L``, the target, ``run_id``, ``set``."""
    ends = data.frame.loc[endpoint_mask(data)].copy()
    ends["set"] = label
    return ends


def _cheap_medians(data: ScaleUpData) -> pd.DataFrame:
    """Each cheap level's median end point per volume (for models without a cheap level)."""
    if data.n_fidelities < 2:
        return pd.DataFrame()
    ends = data.frame.loc[endpoint_mask(data, top_only=False) & (data.fidelity < data.top_fidelity)]
    grouped = ends.groupby(["fidelity", "volume_L"], as_index=False)[data.target].median()
    return grouped.rename(columns={data.target: "value"})


def _scale_up_figure(
    path: Path,
    *,
    measured: pd.DataFrame,
    curve: pd.DataFrame,
    cheap: pd.DataFrame,
    target: str,
    asked: pd.DataFrame | None = None,
    model: str = "",
) -> Path | None:
    if curve.empty:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.0, 4.8), layout="constrained")
    plotting.scale_up(
        ax,
        measured=measured,
        curve=curve.assign(model=model),
        cheap=cheap if len(cheap) else None,
        target=target,
        asked=asked,
    )
    return save_figure(fig, path)


def _safely(name: str, draw: Any) -> Any:
    try:
        return draw()
    except Exception as err:  # a figure must not sink a finished job
        log.warning("figure %s left out: %s", name, " ".join(str(err).split())[:200])
        log.debug("figure %s", name, exc_info=True)
        return None


def run_figures(result: RunResult, train: ScaleUpData, fig_dir: Path) -> dict[str, Path]:
    """The figures of ``mfgp run`` (see the module docstring)."""
    plt = pyplot()
    figures: dict[str, Path] = {}
    pred = result.predictions
    target = train.target
    focus = result.focus or str(pred["model"].iloc[0])
    held = pred[(pred["model"] == focus) & pred["harvest"]].rename(columns={"observed": target})
    held = held.assign(set="held-out")
    measured = pd.concat([_measured(train), held], ignore_index=True)
    cheap = result.cheap_curve if len(result.cheap_curve) else _cheap_medians(train)
    path = _safely(
        "scale_up",
        lambda: _scale_up_figure(
            fig_dir / "scale_up.png",
            measured=measured,
            curve=result.curve,
            cheap=cheap,
            target=target,
            model=focus,
        ),
    )
    if path is not None:
        figures["scale_up"] = path
    ranking = list(result.table.query("volume_L == 'all'")["model"]) or list(
        dict.fromkeys(result.table["model"])
    )
    by_crps = _ranking(result)
    if "time_h" in pred.columns:
        for name in dict.fromkeys([focus, by_crps[0]]):
            fig = _safely(
                f"time courses {name}",
                lambda name=name: plotting.time_course_grid(pred, model=name, target=target),
            )
            if fig is not None:
                figures[f"time_courses_{name}"] = save_figure(
                    fig, fig_dir / f"time_courses_{name}.png"
                )
    harvest = pred[pred["harvest"]]
    comps = _safely(
        "comparisons",
        lambda: plotting.comparison_figures(
            harvest, by_crps or ranking, table=result.table, metric="crps", target=target
        ),
    )
    for name, fig in (comps or {}).items():
        figures[f"{name}_at_harvest"] = save_figure(fig, fig_dir / f"{name}.png")
    plt.close("all")
    return figures


def _ranking(result: RunResult) -> list[str]:
    """Models by harvest CRPS, best first."""
    models = result.metrics["models"]
    return sorted(models, key=lambda n: models[n]["harvest"]["overall"]["crps"])


def predict_figures(result: PredictResult, data: ScaleUpData, fig_dir: Path) -> dict[str, Path]:
    """The figures of ``mfgp predict``: the scale-up figure with the asked predictions."""
    figures: dict[str, Path] = {}
    cheap = result.cheap_curves if len(result.cheap_curves) else _cheap_medians(data)
    path = _safely(
        "scale_up",
        lambda: _scale_up_figure(
            fig_dir / "scale_up.png",
            measured=_measured(data),
            curve=result.curve,
            cheap=cheap,
            target=data.target,
            asked=result.predictions,
            model=result.model_name,
        ),
    )
    if path is not None:
        figures["scale_up"] = path
    if len(result.physics):
        path = _safely("physics", lambda: _physics_figure(fig_dir / "physics.png", result.physics))
        if path is not None:
            figures["physics"] = path
    return figures


def _physics_figure(path: Path, curve: pd.DataFrame) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.0), layout="constrained")
    plotting.capacity_vs_demand(axes, curve)
    return save_figure(fig, path)
