"""``auto`` against every single model, at harvest, on the held-out production volumes.

For each data set, ``mfgp.jobs.run`` back-tests ``auto`` (chosen by forward-chaining
validation over the training volumes only) beside every candidate model, and this script
tabulates their harvest (end-point) RMSE, CRPS and 95 % coverage at the held-out volumes:

- ``default``: the shipped multi-fidelity data (``bioreactor_multifidelity`` in
  :mod:`mfgp.datasets`, titer, two cheap levels), 10 and 50 m3 held out;
- ``seed``: the seed-format time courses (``mfgp/datasets/bioreactor_scales.csv``, biomass ``C``,
  measurements only), 20 m3 held out;
- ``cho``: the independent CHO end-point set (``mfgp/datasets/cho_endpoint.csv``, made by
  ``benchmarks/processes/cho_fedbatch.py``, titer with a cell-line factor), 10 and 50 m3
  held out.

Usage::

    python benchmarks/auto_selection.py                    # every data set
    python benchmarks/auto_selection.py --datasets default --out /tmp/auto

Writes ``OUT/auto_selection.{csv,json,md}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from mfgp import datasets, io
from mfgp.jobs import run

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {
    "default": {
        "path": datasets.file("bioreactor_multifidelity"),
        "target": "titer_gL",
        "holdout": 2,
        "data_options": {"ignore": ["biomass_gL"]},
    },
    "seed": {
        "path": datasets.file("bioreactor_scales"),
        "target": "C",
        "holdout": 1,
        "data_options": {},
    },
    "cho": {
        "path": datasets.file("cho_endpoint"),
        "target": "titer_gL",
        "holdout": 2,
        "data_options": {"categorical": ["cell_line"]},
    },
}


def rows_of(name: str, metrics: dict) -> list[dict]:
    """Harvest scores per model and held-out volume (and ``all``)."""
    out = []
    for model, entry in metrics["models"].items():
        for r in entry["harvest"]["per_volume"]:
            out.append(
                {
                    "dataset": name,
                    "model": model,
                    "chosen": entry.get("chosen", ""),
                    "volume_L": r["volume_L"],
                    "n": r["n"],
                    "rmse": r["rmse"],
                    "crps": r["crps"],
                    "nlpd": r["nlpd"],
                    "coverage95": r["coverage95"],
                    "width95": r["width95"],
                    "fit_seconds": entry["fit_seconds"],
                }
            )
    return out


def markdown(frame: pd.DataFrame, meta: dict) -> str:
    lines = [
        "# `auto` against every model, at harvest (held-out production volumes)",
        "",
        f"Command: `{meta['command']}`. Date: {meta['date']}. Machine: {meta['machine']}. "
        f"mfgp revision {meta['versions']['mfgp_revision']}.",
        "",
        "Harvest = the end point of each held-out run. `auto` chose on the training volumes "
        "only (forward-chaining validation); its row is what that choice is worth. RMSE and "
        "CRPS in the target's units; coverage of the 95 % predictive intervals.",
        "",
    ]
    for name, g in frame.groupby("dataset", sort=False):
        allv = g[g["volume_L"].astype(str) == "all"]
        if allv.empty:
            allv = g
        best = allv[allv["model"] != "auto"].sort_values("rmse").iloc[0]
        auto = allv[allv["model"] == "auto"].iloc[0]
        lines += [
            f"## {name}",
            "",
            f"`auto` chose **{auto['chosen']}**: harvest RMSE {auto['rmse']:.4g} against the "
            f"best single model's {best['rmse']:.4g} ({best['model']}; ratio "
            f"{auto['rmse'] / best['rmse']:.3f}), 95 % coverage {auto['coverage95']:.2f}.",
            "",
        ]
        table = g.copy()
        table["volume_L"] = table["volume_L"].astype(str)
        table = table.sort_values(["volume_L", "crps"])
        cols = ["model", "volume_L", "n", "rmse", "crps", "coverage95", "width95", "fit_seconds"]
        lines += [table[cols].to_markdown(index=False, floatfmt=".4g"), ""]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-jobs", type=int, default=None)
    args = p.parse_args()
    records = []
    t0 = time.time()
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        spec = DATASETS[name]
        with tempfile.TemporaryDirectory() as tmp:
            result = run(
                spec["path"],
                target=spec["target"],
                models="auto,all",
                holdout_largest=spec["holdout"],
                data_options=spec["data_options"],
                out=Path(tmp) / "out",
                seed=args.seed,
                n_jobs=args.n_jobs,
                report=False,
            )
        records += rows_of(name, result.metrics)
        print(f"{name}: auto chose {result.selection.chosen if result.selection else '-'}")
    frame = pd.DataFrame(records)
    meta = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.platform()}, {io.versions()['python']}",
        "seconds": time.time() - t0,
        "versions": io.versions(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    io.atomic_write_csv(args.out / "auto_selection.csv", frame)
    io.atomic_write_json(args.out / "auto_selection.json", {"meta": meta, "rows": records})
    io.atomic_write_text(args.out / "auto_selection.md", markdown(frame, meta))
    print(json.dumps({"seconds": round(meta["seconds"], 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
