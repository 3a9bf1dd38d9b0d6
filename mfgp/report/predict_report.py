"""The ``report.md`` of an ``mfgp predict``: the production prediction, its band, the chance of
meeting the specification, and every place where the request leaves the data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from mfgp import io
from mfgp.report.common import fmt_volume, md_table
from mfgp.report.figures import predict_figures

if TYPE_CHECKING:
    from mfgp.data import ScaleUpData
    from mfgp.jobs.predict import PredictResult

__all__ = ["write_predict_report"]


def write_predict_report(result: PredictResult, data: ScaleUpData, out: Path) -> Path:
    """Write ``<out>/report.md`` and ``<out>/figures/`` for :func:`mfgp.jobs.predict`."""
    figures = predict_figures(result, data, out / "figures")
    table = result.predictions.copy()
    table["volume_L"] = [fmt_volume(v) for v in table["volume_L"]]
    vmax = float(data.volumes().max())
    asked = ", ".join(fmt_volume(v) for v in result.predictions["volume_L"].unique())
    lines = [
        f"# mfgp predict: `{data.target}` at {asked} L",
        "",
        f"Model **{result.model_name}**, fitted on every row of `{data.source}` ({len(data)} "
        f"rows; measured volumes up to {vmax:g} L). Each band is the 95 % predictive interval "
        "of a new run's measurement.",
        "",
    ]
    lines += _cheap_level_line(result)
    if "scale_up" in figures:
        rel = figures.pop("scale_up").relative_to(out).as_posix()
        lines += [f"![scale-up figure]({rel})", ""]
    lines += ["## Predictions", "", md_table(table), ""]
    if result.spec is not None:
        lines += [
            f"`p_spec`: the probability that a run at those conditions meets `{result.spec.text}`, "
            "from the predictive distribution.",
            "",
        ]
    lines += _physics_section(result, figures, out)
    lines += ["## Where the request leaves the data", ""]
    lines += [f"- {w}" for w in result.warnings] or ["- nothing: every setting lies in the data."]
    lines += [""]
    if result.selection is not None:
        sel = result.selection
        if sel.scores:
            ranked = sorted(sel.scores.items(), key=lambda kv: kv[1])
            lines += [
                "## How the model was chosen",
                "",
                "Forward-chaining validation over the measured volumes (train up to one volume, "
                f"predict the next), scored by the {sel.metric.upper()} of each run's end point:",
                "",
                md_table(pd.DataFrame([{"model": n, f"mean {sel.metric}": s} for n, s in ranked])),
                "",
            ]
        if sel.skipped:
            lines += ["Left out: " + "; ".join(f"{k} ({v})" for k, v in sel.skipped.items()), ""]
    for name, path in figures.items():
        lines += [
            f"**{name.replace('_', ' ')}**",
            "",
            f"![{name}]({path.relative_to(out).as_posix()})",
            "",
        ]
    lines += [
        "## Files",
        "",
        "- `predictions.csv`: the conditions, `mean`, `sd`, `lower95`, `upper95`"
        + (", `p_spec`" if result.spec is not None else "")
        + ";",
        "- `model/`: the fitted model, `mfgp.load_model(path)`;",
        "- `metrics.json`: the model, its choices, the warnings and `auto`'s validation."
        + ("\n- `physics.csv`: the physics level against volume." if len(result.physics) else ""),
        "",
    ]
    return io.atomic_write_text(out / "report.md", "\n".join(lines))


def _physics_section(result: PredictResult, figures: dict[str, Path], out: Path) -> list[str]:
    """The physics level: capacity against demand over volume, its figure, the vessels
    (from the config or the defaults) and the calibrated parameters."""
    if not len(result.physics):
        return []
    level = result.model.level0  # type: ignore[attr-defined]
    cols = {
        "volume_L": "volume (L)",
        "p_per_v": "P/V (W/m3)",
        "kla_per_h": "kLa (1/h)",
        "otr_max": "OTR_max",
        "heat_our_max": "cooling as OUR",
        "demand_our": "O2 demand",
        "mixing_time_s": "mixing time (s)",
        "pco2_mmHg": "pCO2 (mmHg)",
        "f": "limitation",
        "level_mean": "level",
        "level_sd": "level sd",
    }
    table = result.physics[list(cols)].rename(columns=cols)
    table["volume (L)"] = [fmt_volume(v) for v in table["volume (L)"]]
    described = ", ".join(level.vessel_table) or "none"
    lines = [
        "## The physics level",
        "",
        "The cheap level of this model: each vessel's capacity at the operating point "
        "carried at constant P/V (oxygen transfer, cooling, mixing, dissolved CO2) against "
        "the culture's demand calibrated on the measured runs; `limitation` is the fraction "
        "of the unlimited culture the vessel allows (rates in mmol/L/h).",
        "",
    ]
    if "physics" in figures:
        rel = figures.pop("physics").relative_to(out).as_posix()
        lines += [f"![capacity against demand]({rel})", ""]
    lines += [md_table(table), ""]
    lines += [
        f"Vessels described in the `physics` option: {described}; every other vessel by "
        "geometric similarity "
        "(H/T from 1 at 10 L to 3 at 100 m3, D/T 1/3, one Rushton turbine per tank diameter "
        "of height, jacket U = 500 W/m2/K with 15 K to the coolant).",
        "",
        "Calibrated parameters (`identified`: the data narrowed the prior by half or more):",
        "",
        md_table(level.parameters_table()),
        "",
    ]
    return lines


def _cheap_level_line(result: PredictResult) -> list[str]:
    """Which cheap level ``hybrid`` used on measurement-only data, and why."""
    meta = getattr(result.model, "metadata", {})
    level = meta.get("cheap_level")
    if not level:
        return []
    text = f"Its cheap level: **{level.replace('_', ' ')}**"
    scores = meta.get("cheap_level_rmse")
    if scores:
        each = "; ".join(
            f"{k.replace('_', ' ')} " + ", ".join(f"{v:.3g}" for v in vals)
            for k, vals in scores.items()
        )
        text += (
            " (harvest RMSE of the model with each level, predicting each of the two largest "
            f"measured volumes from the smaller ones: {each})"
        )
    return [text + ".", ""]
