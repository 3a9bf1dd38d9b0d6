"""Learning curves: error at the production volume against the number of measured runs.

For N in 2, 4, 8, ... and all: draw N measured runs (by ``run_id``, seeded, nested in N) from the
non-production volumes, train on them plus every lower-fidelity row, and evaluate at the
production volumes (the default data set: the two largest measured volumes, 10 and 50 m3).

Usage (rerunning resumes: finished cells are skipped)::

    python benchmarks/learning_curves.py                    # default data set, 3 seeds
    python benchmarks/learning_curves.py --models gp,ar1 --sizes 2,4,6,8,14 --n-jobs 2

Writes ``OUT.csv``, ``OUT.json``, ``OUT.md`` and ``OUT.png`` (``mfgp.plotting.learning_curve``).
"""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from mfbench import harness as H  # noqa: E402
from mfbench.problems import load_problem  # noqa: E402

from mfgp.plotting import learning_curve  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "learning_curves"


def main(argv: list[str] | None = None) -> int:
    parser = H.sweep_parser(__doc__.split("\n\n")[0], problems="default", seeds="3", out=str(OUT))
    parser.add_argument("--sizes", default="", help="run counts, e.g. 2,4,8 (default: powers of 2)")
    parser.add_argument("--metric", default="nrmse", help="error metric (nrmse, srmse, rmse)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.INFO, format="%(message)s")
    models, skipped = H.parse_models(args.models, args.peers)
    problems = [p.strip() for p in args.problems.split(",") if p.strip()]
    seeds = H.parse_seeds(args.seeds)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()] or None
    cells = H.make_cells(
        problems,
        models,
        seeds,
        kind="learning_curve",
        device=args.device,
        model_options=H.fast_options(models, restarts=args.restarts),
        peer_seeds=H.parse_seeds(args.peer_seeds) if args.peer_seeds else None,
        splits={p: H.learning_curve_splits(p, sizes) for p in problems},
    )
    prefix = Path(args.out)
    rows, n_missing = H.sweep_rows(cells, args, desc="learning curves")
    table = H.summarize(rows, metrics=(args.metric, "coverage95"), ratio_metric=args.metric)
    table.insert(2, "n_runs", table["split"].str.split(":").str[1].astype(int))
    table = table.drop(columns="split").sort_values(["problem", "volume", "model", "n_runs"])
    machine = H.machine_info(args.device)
    command = "python benchmarks/learning_curves.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    lines = [
        "# Learning curves at the production volume",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine['processor']}, {machine['cpu_count']} cores, "
        f"load {machine.get('load_average_1_5_15')}, device {args.device}, "
        f"{machine['date_utc']} UTC  ",
        f"Models: {', '.join(models)}; seeds {seeds} (peers: {args.peer_seeds or 'same'}); "
        f"GP restarts {args.restarts}.",
    ]
    if skipped:
        lines.append("Peers skipped: " + "; ".join(f"{k} ({v})" for k, v in skipped.items()))
    for p in problems:
        prob = load_problem(p)
        lines.append(
            f"Problem `{p}`: {prob.description}; production volumes {prob.production_volumes()} L."
        )
    if args.note:
        lines += ["", f"Note: {args.note}"]
    if n_missing:
        lines += [
            "",
            f"Incomplete: {n_missing} of {len({c.key for c in cells})} cells have not run yet.",
        ]
    lines += ["", f"`{args.metric}` and coverage95: mean (sd) over seeds.", ""]
    lines.append(H.markdown_table(table))
    failed = rows[rows["metric"].str.startswith("failed")][[*H.KEY, "metric"]].drop_duplicates()
    if not failed.empty:
        lines += ["", "## Failed cells", "", failed.to_markdown(index=False)]
    markdown = "\n".join(lines) + "\n"

    fig, axes = plt.subplots(1, len(problems), figsize=(5 * len(problems), 3.6), squeeze=False)
    for ax, p in zip(axes[0], problems, strict=True):
        sub = table[(table["problem"] == p) & (table["volume"] == "all")]
        for model, g in sub.groupby("model", sort=False):
            g = g.sort_values("n_runs")
            sd = g[f"{args.metric}_sd"].fillna(0.0)
            learning_curve(
                ax,
                g["n_runs"],
                g[args.metric],
                spread=(g[args.metric] - sd, g[args.metric] + sd),
                label=str(model),
                ylabel=args.metric,
            )
        ax.set_yscale("log")
        ax.set_title(f"{p}: error at the production volumes", fontsize=9)
        ax.legend(fontsize=6)
    fig.tight_layout()
    H.write_outputs(
        prefix,
        rows=rows,
        markdown=markdown,
        meta={
            "command": command,
            "machine": machine,
            "models": models,
            "seeds": seeds,
            "problems": problems,
            "peers_skipped": skipped,
            "note": args.note,
        },  # fmt: skip
        tables={"learning_curves": table},
        figure=fig,
    )
    if not args.quiet:
        print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
