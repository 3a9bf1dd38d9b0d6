"""The one-page ``report.md`` of an ``mfgp run`` (the back-test), harvest first.

For a bioprocess engineer: the scale-up figure (end point against volume, measured runs,
cheap levels, the model's band), how each model did at harvest at the held-out volumes, what
``auto`` chose and why (its forward-chaining validation), then the time-pooled metrics, the
other figures, the data, and the suggested next experiment when one was computed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mfgp import io
from mfgp.report.common import fmt_volume, md_table
from mfgp.report.figures import run_figures

if TYPE_CHECKING:
    from mfgp.data import ScaleUpData
    from mfgp.jobs.run import RunResult

__all__ = ["write_figures", "write_report"]

log = logging.getLogger(__name__)

_HARVEST_COLS = ["rmse", "nrmse", "crps", "nlpd", "coverage95", "width95"]


def write_figures(result: RunResult, train: ScaleUpData) -> dict[str, Path]:
    """Write the run's figures into ``<out>/figures/`` and return them by name (the scale-up
    figure first)."""
    return run_figures(result, train, result.out_dir / "figures")


def _overall(m: dict[str, Any], key: str) -> pd.DataFrame:
    rows = []
    for name, entry in m["models"].items():
        scores = entry["harvest"]["overall"] if key == "harvest" else entry["overall"]
        row = {"model": name, **{c: scores.get(c) for c in _HARVEST_COLS}}
        if key == "harvest":
            row["fit_s"] = entry["fit_seconds"]
        rows.append(row)
    return pd.DataFrame(rows).sort_values("crps").reset_index(drop=True)


def _per_volume(m: dict[str, Any], key: str) -> pd.DataFrame:
    rows = []
    for name, entry in m["models"].items():
        table = entry["harvest"]["per_volume"] if key == "harvest" else entry["per_volume"]
        for r in table:
            rows.append({"model": name, **r})
    frame = pd.DataFrame(rows)
    frame["volume_L"] = [fmt_volume(v) for v in frame["volume_L"]]
    return frame[["model", "volume_L", "n", *_HARVEST_COLS]]


def _selection_lines(m: dict[str, Any]) -> list[str]:
    sel = m.get("selection")
    if not sel:
        return []
    lines = ["## How `auto` chose", ""]
    folds = sel.get("folds") or []
    if not folds:
        lines += [
            f"Too few measured training volumes to validate an extrapolation: `auto` used "
            f"**{sel['chosen']}**.",
            "",
        ]
        return lines
    steps = "; ".join(
        f"trained on {', '.join(fmt_volume(v) for v in f['train_volumes_L'])} L, tested at "
        f"{fmt_volume(f['test_volume_L'])} L"
        for f in folds
    )
    lines += [
        f"Forward-chaining validation over the training volumes ({steps}), scored by the "
        f"{sel['metric'].upper()} of each held-out run's end point (lower is better; it rewards "
        "accuracy and honest bands together). The held-out production volumes were not used. "
        f"Chosen: **{sel['chosen']}**.",
        "",
    ]
    scores = pd.DataFrame(
        [{"model": k, f"mean {sel['metric']}": v} for k, v in sel["scores"].items()]
    ).sort_values(f"mean {sel['metric']}")
    lines += [md_table(scores), ""]
    table = pd.DataFrame(sel["table"])
    if len(table):
        table["volume_L"] = [fmt_volume(v) for v in table["volume_L"]]
        lines += [
            "Per validation volume:",
            "",
            md_table(table[["model", "volume_L", "n", "crps", "rmse", "coverage95"]]),
            "",
        ]
    rule = sel.get("rule") or {}
    if rule.get("kept_reference"):
        lines += [
            f"The lowest mean score was {rule['best']}'s, better than {rule['reference']}'s by "
            f"{rule['advantage']:.3g}, less than one standard error ({rule['se']:.3g}) of that "
            f"difference: within the noise of {len(table)} validation scores, so the default "
            f"multi-fidelity model {rule['reference']} was kept (one-standard-error rule).",
            "",
        ]
    cal = sel.get("calibration") or {}
    if cal.get("c", 0) > 0:
        lines += [
            f"Its validation predictions were overconfident (RMS probit of the PIT "
            f"{cal['rms_z']:.2f} over {cal['n']} end points, 1 when honest), so its bands are "
            f"widened beyond the largest training volume by sqrt(1 + {cal['c']:.3g} d), d in "
            "decades of volume beyond it.",
            "",
        ]
    if sel.get("skipped"):
        lines += [
            "Left out: " + "; ".join(f"{k} ({v})" for k, v in sel["skipped"].items()) + ".",
            "",
        ]
    return lines


def write_report(
    result: RunResult,
    data: ScaleUpData,
    train: ScaleUpData,
    *,
    figures: dict[str, Path] | None = None,
    suggestions: pd.DataFrame | None = None,
) -> Path:
    """Write ``<out>/report.md``: the scale-up figure, harvest metrics, ``auto``'s choice, the
    time-pooled metrics, figures, data summary and next experiment."""
    out = result.out_dir
    m = result.metrics
    d = m["data"]
    figures = dict(figures or {})
    harvest = _overall(m, "harvest")
    best = harvest.iloc[0]
    test_v = ", ".join(fmt_volume(v) for v in d["test_volumes_L"])
    train_v = ", ".join(fmt_volume(v) for v in d["train_volumes_L"])
    uses = [n for n, f in result.models.items() if getattr(f, "multi_fidelity", False)]
    levels = d["fidelities"]
    lower = (
        f" and the cheaper levels {levels[:-1]} at every volume (used by {', '.join(uses)})"
        if len(levels) > 1 and uses
        else (
            f" (the cheaper levels {levels[:-1]} are used by no model run)"
            if len(levels) > 1
            else ""
        )
    )
    ratio = max(d["test_volumes_L"]) / max(d["train_volumes_L"])
    lines = [
        f"# mfgp run: `{d['target']}` at held-out volumes {test_v} L",
        "",
        f"Fitted on the measured volumes {train_v} L ({d['train_rows']} rows{lower}); "
        f"predicted the {d['test_rows']} held-out measurements at {test_v} L, an extrapolation "
        f"of {ratio:.3g}x in volume. Headline numbers are at **harvest**: the end point of "
        "each held-out run (every row of end-point data).",
        "",
    ]
    if "scale_up" in figures:
        lines += [f"![scale-up figure]({figures.pop('scale_up').relative_to(out).as_posix()})", ""]
        lines += [
            f"*{d['target']} at harvest against working volume: measured runs (filled: used "
            f"for fitting; open: held out), {result.focus}'s mean and 95 % band at the largest "
            "training scale's set point carried to larger vessels at constant P/V, and the "
            "cheaper levels.*",
            "",
        ]
    lines += [
        "## At harvest, at the held-out volumes",
        "",
        f"Best by CRPS: **{best['model']}** (RMSE {best['rmse']:.4g}, 95 % coverage "
        f"{best['coverage95']:.2f}). CRPS is the continuous ranked probability score, in "
        "the target's units (lower is better: accuracy and honest bands together); NLPD the "
        "negative log predictive density; coverage the share of held-out end points inside "
        "the 95 % interval (close to 0.95 when the bands are honest); width its mean width.",
        "",
        md_table(harvest),
        "",
        "Per volume:",
        "",
        md_table(_per_volume(m, "harvest")),
        "",
    ]
    lines += _selection_lines(m)
    if "time_h" in data.frame.columns:
        lines += [
            "## Over every time point (time-pooled)",
            "",
            "The same scores over all held-out time points of every run; early time points, "
            "which every model gets nearly right, weigh as much as the harvest here.",
            "",
            md_table(_overall(m, "pooled")),
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
    if m.get("failed"):
        lines += [
            "Failed (left out): " + "; ".join(f"{k}: {v}" for k, v in m["failed"].items()),
            "",
        ]
    if figures:
        lines += ["## Figures", ""]
        for name, path in figures.items():
            rel = path.relative_to(out)
            lines += [f"**{name.replace('_', ' ')}**", "", f"![{name}]({rel.as_posix()})", ""]
    summary = data.summary()
    summary["volume_L"] = [fmt_volume(v) for v in summary["volume_L"]]
    lines += [
        "## Data",
        "",
        f"`{d['source']}`: {d['rows']} rows, levels {levels} (cheapest first), features "
        f"{d['features']}.",
        "",
        md_table(summary),
        "",
    ]
    if d.get("warnings"):
        lines += ["Warnings at load:", ""] + [f"- {w}" for w in d["warnings"]] + [""]
    lines += ["## Next experiment", ""]
    if suggestions is not None and len(suggestions):
        lines += [md_table(suggestions), ""]
    else:
        lines += ["Not computed in this run (see `mfgp suggest`).", ""]
    lines += [
        "## Files",
        "",
        "- `metrics.json`: every score, at harvest (per volume and per run) and time-pooled, "
        "per model, with fit times, options, what each fit chose and `auto`'s validation;",
        "- `predictions.csv`: one row per model and held-out point (`observed`, `mean`, `sd`, "
        "95 % bounds; `harvest` marks each run's end point);",
        "- `validation.csv`: `auto`'s forward-chaining validation (when it ran);",
        "- `models/<name>/`: fitted models, `mfgp.load_model(path)`.",
        "",
        f"mfgp {m['versions']['mfgp']}, torch {m['versions']['torch']}, device {m['device']}, "
        f"seed {m['seed']}.",
        "",
    ]
    return io.atomic_write_text(out / "report.md", "\n".join(lines))
