"""Extrapolation versus volume, and leave-one-scale-out, for mfgp models (and peers).

For every top-level volume V_k but the largest: train on every lower-fidelity row (all volumes)
and on the measured rows up to V_k; evaluate at each larger measured volume. Error (NRMSE) and
95 % interval coverage are reported against the extrapolation ratio V_test / V_max_train, as
mean +- sd over seeds. Leave-one-scale-out follows in a second table.

Usage (one command per table; rerunning resumes: finished cells are skipped)::

    python benchmarks/extrapolation.py                      # default data set, 3 seeds
    python benchmarks/extrapolation.py --models gp,ar1 --seeds 1 --peers all
    python benchmarks/extrapolation.py --backend dask --scheduler tcp://HOST:8786
    python benchmarks/extrapolation.py --problems csv:mydata.csv:titer --out /tmp/ext

Writes ``OUT.csv`` (tidy rows, appended cell by cell), ``OUT.json``, ``OUT.md`` and ``OUT.png``
(NRMSE against volume, one panel per training range, via ``mfgp.plotting.error_vs_volume``).
"""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from mfbench import harness as H  # noqa: E402
from mfbench.problems import load_problem  # noqa: E402

from mfgp.plotting import error_vs_volume  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "extrapolation"


def _recolor(ax: plt.Axes, colors: dict[str, str]) -> None:
    """Give every model the same colour in every panel."""
    for line in ax.get_lines():
        if line.get_label() in colors:
            line.set_color(colors[line.get_label()])
    ax.legend(fontsize=6, ncols=2)


def _panels(
    flat: list[plt.Axes], rows: pd.DataFrame, problem: str, metric: str, colors: dict[str, str]
) -> None:
    """Error against volume per training range, then coverage against ratio, for one problem."""
    ext = rows[(rows["problem"] == problem) & rows["split"].str.startswith("extrap:")]
    ext = ext[ext["volume"] != "all"]
    splits = sorted(ext["split"].unique(), key=lambda s: float(s.split(":")[1]))
    for ax, split in zip(flat, splits, strict=False):
        sub = ext[(ext["split"] == split) & (ext["metric"] == metric)]
        table = sub.groupby(["model", "volume"], sort=False)["value"].mean().reset_index()
        table["volume_L"] = table["volume"].astype(float)
        table = table.rename(columns={"value": metric}).sort_values("model")
        error_vs_volume(ax, table, metric=metric)
        ax.set_yscale("log")
        ax.set_title(f"{problem}: trained on measured V <= {float(split.split(':')[1]):g} L")
        _recolor(ax, colors)
    ax = flat[len(splits)]
    piv = ext[ext["metric"].isin(["ratio", "coverage95"])].pivot_table(
        index=["model", "seed", "split", "volume"], columns="metric", values="value"
    )
    for model, grp in piv.reset_index().groupby("model"):
        g = grp.groupby("ratio")["coverage95"].mean()
        ax.plot(g.index, g.values, "o-", ms=3, label=str(model))
    ax.axhline(0.95, color="k", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel("extrapolation ratio V_test / V_max_train")
    ax.set_ylabel("coverage95 (mean over splits, seeds)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{problem}: 95 % coverage against extrapolation ratio")
    _recolor(ax, colors)


def _figure(rows: pd.DataFrame, problems: list[str], metric: str) -> plt.Figure:
    """One block of panels per problem (rows of three), the same colour per model throughout."""
    ext = rows[rows["split"].str.startswith("extrap:") & (rows["volume"] != "all")]
    models = sorted(ext["model"].unique())
    palette = plt.get_cmap("tab10" if len(models) <= 10 else "tab20").colors
    colors = {m: palette[i % len(palette)] for i, m in enumerate(models)}
    ncols = 3
    blocks = []
    for p in problems:
        n = ext[ext["problem"] == p]["split"].nunique() + 1
        blocks.append(-(-n // ncols))
    nrows = sum(blocks)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows), squeeze=False)
    start = 0
    for p, nb in zip(problems, blocks, strict=True):
        flat = list(axes[start : start + nb].flat)
        for ax in flat:
            ax.set_visible(False)
        n = ext[ext["problem"] == p]["split"].nunique() + 1
        for ax in flat[:n]:
            ax.set_visible(True)
        _panels(flat, rows, p, metric, colors)
        start += nb
    fig.suptitle(f"extrapolation versus volume ({metric}; lower is better)")
    fig.tight_layout()
    return fig


def _extrap_table(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    ext = rows[rows["split"].str.startswith("extrap:") & (rows["volume"] != "all")]
    table = H.summarize(ext, metrics=(metric, "coverage95"), ratio_metric=metric)
    table.insert(2, "V_max_train", table["split"].str.split(":").str[1].astype(float))
    ratio = ext[ext["metric"] == "ratio"].groupby(["problem", "split", "volume"])["value"].first()
    keys = zip(table["problem"], table["split"], table["volume"], strict=True)
    table.insert(4, "ratio", [ratio.get(k) for k in keys])
    return table.drop(columns="split")


def _headline(ext: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Models x (V_max_train -> V_test) at the two largest test volumes: mean ``metric``."""
    if ext.empty:
        return ext
    vols = sorted(ext["volume"].astype(float).unique())[-2:]
    sub = ext[ext["volume"].astype(float).isin(vols)].copy()
    sub["train -> test (L)"] = [
        f"{m:g} -> {float(v):g}" for m, v in zip(sub["V_max_train"], sub["volume"], strict=True)
    ]
    sub = sub.sort_values(["problem", "V_max_train", "ratio"])
    out = sub.pivot_table(
        index=["problem", "model"], columns="train -> test (L)", values=metric, sort=False
    )
    return out.reset_index()


def _loso_table(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    loso = rows[rows["split"].str.startswith("loso:") & (rows["volume"] != "all")]
    if loso.empty:
        return pd.DataFrame()
    summary = H.summarize(loso, metrics=(metric, "coverage95"), ratio_metric=metric)
    return summary.drop(columns="split")


def main(argv: list[str] | None = None) -> int:
    parser = H.sweep_parser(__doc__.split("\n\n")[0], problems="default", seeds="3", out=str(OUT))
    parser.add_argument("--no-loso", action="store_true", help="extrapolation splits only")
    parser.add_argument("--min-train-scales", type=int, default=1)
    parser.add_argument(
        "--metric", default="nrmse", help="error metric of tables and figure (nrmse, srmse, rmse)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.INFO, format="%(message)s")
    models, skipped = H.parse_models(args.models, args.peers)
    problems = [p.strip() for p in args.problems.split(",") if p.strip()]
    seeds = H.parse_seeds(args.seeds)
    cells = H.make_cells(
        problems,
        models,
        seeds,
        kind="extrapolation-only" if args.no_loso else "extrapolation",
        device=args.device,
        model_options=H.fast_options(models, restarts=args.restarts),
        peer_seeds=H.parse_seeds(args.peer_seeds) if args.peer_seeds else None,
        min_train_scales=args.min_train_scales,
    )
    prefix = Path(args.out)
    rows, n_missing = H.sweep_rows(cells, args, desc="extrapolation")
    ext, loso = _extrap_table(rows, args.metric), _loso_table(rows, args.metric)
    failed = rows[rows["metric"].str.startswith("failed")][[*H.KEY, "metric"]].drop_duplicates()
    machine = H.machine_info(args.device)
    command = "python benchmarks/extrapolation.py " + " ".join(shlex.quote(a) for a in
                                                                (argv or sys.argv[1:]))  # fmt: skip
    lines = [
        "# Extrapolation versus volume",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine['processor']}, {machine['cpu_count']} cores, "
        f"load {machine.get('load_average_1_5_15')}, device {args.device}, "
        f"{machine['date_utc']} UTC  ",
        f"Models: {', '.join(models)}; seeds {seeds} (peers: {args.peer_seeds or 'same'}); "
        f"GP restarts {args.restarts}.",
    ]
    if skipped:
        lines.append("Peers skipped: " + "; ".join(f"{k} ({v})" for k, v in skipped.items()) + ".")
    for p in problems:
        lines.append(f"Problem `{p}`: {load_problem(p).description}.")
    if args.note:
        lines += ["", f"Note: {args.note}"]
    if n_missing:
        lines += [
            "",
            f"Incomplete: {n_missing} of {len({c.key for c in cells})} cells have not run yet.",
        ]
    if any(p.startswith("default") and not p.startswith("default-nolaw") for p in problems):
        lines += [
            "",
            "Caveat: the `scaling_law` level of the default data set was fitted on the measured "
            "rows up to 1000 L (scripts/make_dataset.py), so splits that train on less than "
            "1000 L see information from their test volumes through that level; "
            "`V_max_train = 1000` is leak-free (use problem `default-nolaw` for leak-free "
            "splits everywhere).",
        ]
    lines += [
        "",
        "nrmse = RMSE / sd of the test values at that volume; srmse = RMSE / sd of all "
        "measured values of the problem; coverage95 = fraction of "
        "measurements inside the 95 % interval (mfgp models include the observation noise; "
        "peers give latent intervals). Mean and sd over seeds; `ratio` = V_test / V_max_train; "
        "`fit_s` = median fit time (s).",
        "",
        f"## Headline: {args.metric} at the two largest volumes (mean over seeds)",
        "",
        H.markdown_table(_headline(ext, args.metric)),
        "",
        "## Extrapolation (train on measured volumes <= V_max_train)",
        "",
        H.markdown_table(ext),
    ]
    if not loso.empty:
        lines += ["", "## Leave one scale out", "", H.markdown_table(loso)]
    if not failed.empty:
        lines += ["", "## Failed cells", "", failed.to_markdown(index=False)]
    markdown = "\n".join(lines) + "\n"
    fig = _figure(rows, problems, args.metric) if not ext.empty else None
    H.write_outputs(
        prefix,
        rows=rows,
        markdown=markdown,
        meta={
            "command": command,
            "machine": machine,
            "models": models,
            "peers_skipped": skipped,
            "seeds": seeds,
            "problems": problems,
            "note": args.note,
        },
        tables={
            "extrapolation": ext,
            "leave_one_scale_out": loso,
            "headline": _headline(ext, args.metric),
        },  # fmt: skip
        figure=fig,
    )
    if not args.quiet:
        print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
