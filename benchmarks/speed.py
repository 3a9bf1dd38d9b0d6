"""Speed and scale: fit and predict time against the number of points per level.

Each test function is run at its default nested design sizes
(``mfgp.test_functions.DEFAULT_SIZES``) scaled by ``--factors``; every cell times one fit
and one prediction at 500 test points (CUDA synchronised) and records NRMSE. ``--device cuda``
runs mfgp models on the GPU (peers always run on the CPU).

Usage (rerunning resumes: finished cells are skipped)::

    python benchmarks/speed.py                                   # forrester + branin, CPU
    python benchmarks/speed.py --device cuda --out benchmarks/results/speed_cuda
    python benchmarks/speed.py --models gp,ar1 --factors 1,2,4,8 --peers all

Writes ``OUT.csv``, ``OUT.json``, ``OUT.md`` and ``OUT.png`` (fit time against total points).
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

OUT = Path(__file__).resolve().parent / "results" / "speed"


def main(argv: list[str] | None = None) -> int:
    parser = H.sweep_parser(
        __doc__.split("\n\n")[0], problems="forrester,branin", seeds="1", out=str(OUT)
    )
    parser.set_defaults(models="gp,ar1")
    parser.add_argument("--factors", default="0.5,1,2,4", help="design-size multipliers")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.INFO, format="%(message)s")
    models, skipped = H.parse_models(args.models, args.peers)
    problems = [p.strip() for p in args.problems.split(",") if p.strip()]
    seeds = H.parse_seeds(args.seeds)
    factors = [float(f) for f in args.factors.split(",")]
    cells = H.make_cells(
        problems,
        models,
        seeds,
        kind="speed",
        device=args.device,
        model_options=H.fast_options(models, restarts=args.restarts),
        peer_seeds=H.parse_seeds(args.peer_seeds) if args.peer_seeds else None,
        splits={p: H.speed_splits(p, factors) for p in problems},
    )
    prefix = Path(args.out)
    rows, n_missing = H.sweep_rows(cells, args, desc="speed")
    table = H.summarize(rows, metrics=("nrmse", "n_train"), by=("problem", "split"))
    table = table.drop(columns=["n_train_sd"], errors="ignore")
    table.insert(2, "n_per_level", table["split"].str.removeprefix("speed:"))
    table = table.drop(columns="split").sort_values(["problem", "model", "n_train"])
    machine = H.machine_info(args.device)
    command = "python benchmarks/speed.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    lines = [
        "# Speed and scale",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine['processor']}, {machine['cpu_count']} cores, "
        f"load {machine.get('load_average_1_5_15')}, device {args.device}"
        f"{' (' + machine['gpu'] + ')' if 'gpu' in machine else ''}, {machine['date_utc']} UTC  ",
        f"Models: {', '.join(models)}; seeds {seeds} (peers: {args.peer_seeds or 'same'}); "
        f"GP restarts {args.restarts}. "
        "Times are medians over seeds, in seconds; wall-clock, so they depend on the load.",
    ]
    if skipped:
        lines.append("Peers skipped: " + "; ".join(f"{k} ({v})" for k, v in skipped.items()))
    if args.note:
        lines += ["", f"Note: {args.note}"]
    if n_missing:
        lines += [
            "",
            f"Incomplete: {n_missing} of {len({c.key for c in cells})} cells have not run yet.",
        ]
    lines += ["", H.markdown_table(table)]
    failed = rows[rows["metric"].str.startswith("failed")][[*H.KEY, "metric"]].drop_duplicates()
    if not failed.empty:
        lines += ["", "## Failed cells", "", failed.to_markdown(index=False)]
    markdown = "\n".join(lines) + "\n"
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for (prob, model), g in table.groupby(["problem", "model"], sort=False):
        g = g.sort_values("n_train")
        axes[0].plot(g["n_train"], g["fit_s"], "o-", ms=3, label=f"{model} ({prob})")
        axes[1].plot(g["n_train"], g["predict_s"], "o-", ms=3, label=f"{model} ({prob})")
    for ax, what in zip(axes, ("fit", "predict (500 points)"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training points (all levels)")
        ax.set_ylabel("seconds")
        ax.set_title(f"{what} time, {args.device}", fontsize=9)
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
            "factors": factors,
            "peers_skipped": skipped,
            "note": args.note,
        },  # fmt: skip
        tables={"speed": table},
        figure=fig,
    )
    if not args.quiet:
        print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
