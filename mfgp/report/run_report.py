"""Figures and the one-page ``report.md`` of an ``mfgp run``.

Plotting stays at the edge: this module turns a :class:`~mfgp.workflow.RunResult` and its data
into PNG figures (through :mod:`mfgp.plotting`) and a Markdown page for a bioprocess engineer:
what was fitted on what, how each model did at the held-out (production) volumes, the key
figures, and the suggested next experiment when one was computed.
"""

from __future__ import annotations

import io as _io
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mfgp import io, plotting

if TYPE_CHECKING:
    from mfgp.data import ScaleUpData
    from mfgp.workflow import RunResult

__all__ = ["save_figure", "write_figures", "write_report"]

log = logging.getLogger(__name__)


def save_figure(fig: Any, path: str | Path, *, dpi: int = 120) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return io.atomic_write_bytes(path, buf.getvalue())


def _pyplot() -> Any:
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "cairo"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_figures(result: RunResult, train: ScaleUpData) -> dict[str, Path]:
    """Write the run's figures into ``<out>/figures/`` and return them by name."""
    plt = _pyplot()
    fig_dir = result.out_dir / "figures"
    pred = result.predictions
    target = train.target
    models = list(dict.fromkeys(pred["model"]))
    figures: dict[str, Path] = {}

    if "time_h" in pred.columns:
        top = train.frame[train.fidelity == train.top_fidelity]
        for name in models:
            fig, ax = plt.subplots(figsize=(7, 4.5))
            plotting.time_courses(ax, pred, model=name, train=top, target=target)
            figures[f"predictions_{name}"] = save_figure(fig, fig_dir / f"predictions_{name}.png")

    ncols = min(4, len(models))
    nrows = -(-len(models) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 3.6 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, models, strict=False):
        g = pred[pred["model"] == name]
        plotting.parity(ax, g["observed"], g["mean"], g["lower95"], g["upper95"])
        ax.set_title(f"{name}: parity (95 % intervals)", fontsize=9)
    for ax in list(axes.flat)[len(models) :]:
        ax.set_visible(False)
    fig.tight_layout()
    figures["parity"] = save_figure(fig, fig_dir / "parity.png")

    colors = plt.cm.tab20.colors  # more than 10 models: the default cycle would repeat
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.set_prop_cycle(color=colors)
    for name in models:
        g = pred[pred["model"] == name]
        plotting.calibration(ax, g["observed"], g["mean"], g["sd"], label=name)
    figures["calibration"] = save_figure(fig, fig_dir / "calibration.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.set_prop_cycle(color=colors)
    plotting.error_vs_volume(ax, result.table, metric="nrmse")
    figures["error_vs_volume"] = save_figure(fig, fig_dir / "error_vs_volume.png")

    ncols = 2 if "time_h" in pred.columns else 1
    fig, axes = plt.subplots(1, ncols, figsize=(5 * ncols, 4), squeeze=False)
    for ax in axes.flat:
        ax.set_prop_cycle(color=colors)
    for name in models:
        g = pred[pred["model"] == name]
        plotting.residuals(axes[0, 0], g["volume_L"], g["observed"], g["mean"], label=name)
        if ncols == 2:
            plotting.residuals(
                axes[0, 1],
                g["time_h"],
                g["observed"],
                g["mean"],
                xlabel="time (h)",
                logx=False,
                label=name,
            )
    figures["residuals"] = save_figure(fig, fig_dir / "residuals.png")
    return figures


def _md(frame: pd.DataFrame, floatfmt: str = ".4g") -> str:
    return frame.to_markdown(index=False, floatfmt=floatfmt)


def write_report(
    result: RunResult,
    data: ScaleUpData,
    train: ScaleUpData,
    *,
    figures: dict[str, Path] | None = None,
    suggestions: pd.DataFrame | None = None,
) -> Path:
    """Write ``<out>/report.md``: data summary, comparison table, figures, next experiment."""
    out = result.out_dir
    m = result.metrics
    d = m["data"]
    table = result.table.copy()
    table["volume_L"] = [v if isinstance(v, str) else f"{v:g}" for v in table["volume_L"]]
    cols = ["model", "volume_L", "n", "rmse", "nrmse", "r2", "nlpd", "coverage95", "width95"]
    overall = pd.DataFrame(
        [{"model": k, **v["overall"], "fit_s": v["fit_seconds"]} for k, v in m["models"].items()]
    ).sort_values("rmse")
    best = overall.iloc[0]
    test_v = ", ".join(f"{v:g}" for v in d["test_volumes_L"])
    train_v = ", ".join(f"{v:g}" for v in d["train_volumes_L"])
    lower = ", with the lower fidelities at every volume" if len(d["fidelities"]) > 1 else ""
    summary = data.summary()
    summary["volume_L"] = [f"{v:g}" for v in summary["volume_L"]]
    lines = [
        f"# mfgp run: `{d['target']}` at held-out volumes {test_v} L",
        "",
        f"Data: `{d['source']}`, {d['rows']} rows, fidelity levels {d['fidelities']} "
        f"(cheapest first), features {d['features']}.",
        f"Models were fitted on the measured volumes {train_v} L "
        f"({d['train_rows']} rows{lower}) and predict the "
        f"{d['test_rows']} held-out measurements at the largest volume(s): an extrapolation of "
        f"{max(d['test_volumes_L']) / max(d['train_volumes_L']):.3g}x in volume.",
        "",
        "## Data",
        "",
        _md(summary),
        "",
        "## Accuracy and calibration at the held-out volumes",
        "",
        f"Best by RMSE: **{best['model']}** (RMSE {best['rmse']:.4g}, NRMSE {best['nrmse']:.3g}, "
        f"95 % coverage {best['coverage95']:.2f}). NRMSE is RMSE over the standard deviation "
        "of the held-out values; coverage is the share of held-out measurements inside the "
        "95 % prediction interval (well calibrated: close to 0.95); NLPD rewards both accuracy "
        "and honest uncertainty (lower is better).",
        "",
        _md(
            overall[
                ["model", "rmse", "nrmse", "r2", "nlpd", "crps", "coverage95", "width95", "fit_s"]
            ]
        ),
        "",
        "Per volume:",
        "",
        _md(table[cols]),
        "",
    ]
    choices = {k: v.get("fit_choices") for k, v in m["models"].items() if v.get("fit_choices")}
    if choices:
        lines += [
            "Chosen by the fit from the training data: "
            + "; ".join(
                f"{k}: " + ", ".join(f"{o} = {c}" for o, c in sorted(v.items()))
                for k, v in choices.items()
            )
            + ".",
            "",
        ]
    if figures:
        lines += ["## Figures", ""]
        for name, path in figures.items():
            rel = path.relative_to(out)
            lines += [f"**{name.replace('_', ' ')}**", "", f"![{name}]({rel.as_posix()})", ""]
    lines += ["## Next experiment", ""]
    if suggestions is not None and len(suggestions):
        lines += [_md(suggestions), ""]
    else:
        lines += ["Not computed in this run (see `mfgp suggest`).", ""]
    lines += [
        "## Files",
        "",
        "- `metrics.json`: every metric, per model and volume, with fit and predict times;",
        "- `predictions.csv`: one row per model and held-out point (mean, sd, 95 % bounds);",
        "- `models/<name>/`: fitted models, `mfgp.load_model(path)`.",
        "",
        f"mfgp {m['versions']['mfgp']}, torch {m['versions']['torch']}, device {m['device']}, "
        f"seed {m['seed']}.",
        "",
    ]
    return io.atomic_write_text(out / "report.md", "\n".join(lines))
