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
        "- `metrics.json`: the model, its choices, the warnings and `auto`'s validation.",
        "",
    ]
    return io.atomic_write_text(out / "report.md", "\n".join(lines))
