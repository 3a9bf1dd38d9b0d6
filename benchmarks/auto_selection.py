"""``auto`` against every single model, at harvest, on the held-out production volumes.

For each data set, ``mfgp.jobs.run`` back-tests ``auto`` (chosen by forward-chaining
validation over the training volumes only) beside every candidate model, and this script
tabulates their harvest (end-point) RMSE, CRPS and 95 % coverage at the held-out volumes:

- ``default``: the shipped multi-fidelity data (``bioreactor_multifidelity`` in
  :mod:`mfgp.datasets`, titer, two cheap levels), 10 and 50 m3 held out;
- ``seed``: the seed-format time courses (``mfgp/datasets/bioreactor_scales.csv``, biomass ``C``,
  measurements only), 20 m3 held out;
- ``measured``: the default data's measured runs alone (titer time courses with stirrer speed,
  aeration and feed rate; the two cheap levels left out, as an engineer without models would
  have them), 10 and 50 m3 held out;
- ``cho``: the independent CHO end-point set (``mfgp/datasets/cho_endpoint.csv``, made by
  ``benchmarks/processes/cho_fedbatch.py``, titer with a cell-line factor), 10 and 50 m3
  held out. ``hybrid``'s physics level is told what the engineer knows of the plant: the
  vessel geometry (:data:`CHO_VESSELS`: H/T 1 up to 20 L and 2 above, D/T 0.4, pitched-blade
  impellers ``Np = 1.5``, one per tank diameter) and the O2-enriched sparge; never the
  process model's kinetics or its kLa and mixing correlations.

Beside ``auto,all``, ``hybrid[physics]`` and ``hybrid[scaling_law]`` rows show the hybrid
model with each cheap level forced (its default, ``cheap_level="auto"``, chooses by
forward-chaining error on the training volumes), and ``hybrid[physics_inputs]`` the default
hybrid whose GP levels also take the capacity groups as inputs (``physics_inputs=True``).

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

import numpy as np
import pandas as pd

from mfgp import datasets, io
from mfgp.jobs import run

ROOT = Path(__file__).resolve().parents[1]
#: the CHO plant's vessels, as an engineer knows them (geometry only).
CHO_VESSELS = {
    **{
        v: {"h_over_t": 1.0, "d_over_t": 0.4, "power_number": 1.5, "n_impellers": 1}
        for v in ("2 L", "20 L")
    },
    **{
        v: {"h_over_t": 2.0, "d_over_t": 0.4, "power_number": 1.5, "n_impellers": 2}
        for v in ("200 L", "1000 L", "10 m3", "50 m3")
    },
}
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
    "measured": {
        "path": datasets.file("bioreactor_multifidelity"),
        "measured_only": True,
        "target": "titer_gL",
        "holdout": 2,
        "data_options": {"ignore": ["biomass_gL"]},
    },
    "cho": {
        "path": datasets.file("cho_endpoint"),
        "target": "titer_gL",
        "holdout": 2,
        "data_options": {"categorical": ["cell_line"]},
        "model_options": {"hybrid": {"physics": {"vessels": CHO_VESSELS, "o2_fraction": 1.0}}},
    },
}


def rows_of(name: str, metrics: dict, label: str | None = None) -> list[dict]:
    """Harvest scores per model and held-out volume (and ``all``)."""
    out = []
    for model, entry in metrics["models"].items():
        for r in entry["harvest"]["per_volume"]:
            out.append(
                {
                    "dataset": name,
                    "model": label or model,
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


def validation_coverage(selection) -> dict:
    """95 % coverage of ``auto``'s chosen model in its own forward-chaining validation (on the
    training volumes): as validated, and with the extrapolation calibration fitted on those
    points applied (``|z| / sqrt(1 + c d) < 1.96``; in-sample for the calibration)."""
    rows = [r for r in selection.records if r["model"] == selection.chosen]
    z = np.array([v for r in rows for v in r["pit_z"]], dtype=float)
    d = np.array([v for r in rows for v in r["decades"]], dtype=float)
    c = float(selection.calibration.get("c", 0.0))
    return {
        "model": selection.chosen,
        "n": int(z.size),
        "c": c,
        "raw": float(np.mean(np.abs(z) < 1.96)) if z.size else None,
        "calibrated": float(np.mean(np.abs(z) / np.sqrt(1 + c * d) < 1.96)) if z.size else None,
    }


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
        cov = meta.get("validation_coverage", {}).get(name)
        if cov and cov["n"]:
            lines += [
                f"Forward-chaining validation of {cov['model']} on the training volumes "
                f"({cov['n']} end points): 95 % coverage {cov['raw']:.2f} as validated, "
                f"{cov['calibrated']:.2f} with the calibration fitted on them (c = "
                f"{cov['c']:.3g}).",
                "",
            ]
        table = g.copy()
        table["volume_L"] = table["volume_L"].astype(str)
        table = table.sort_values(["volume_L", "crps"])
        cols = ["model", "volume_L", "n", "rmse", "crps", "coverage95", "width95", "fit_seconds"]
        lines += [table[cols].to_markdown(index=False, floatfmt=".4g"), ""]
    return "\n".join(lines)


def back_test(spec: dict, models: str, options: dict, seed: int, n_jobs: int | None):
    """``mfgp.jobs.run`` on one data set, its largest volumes held out, into a scratch folder
    (``measured_only``: the file's measured rows alone, without the level column)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = spec["path"]
        if spec.get("measured_only"):
            frame = pd.read_csv(path)
            path = Path(tmp) / "measured.csv"
            frame[frame["fidelity"] == "measured"].drop(columns=["fidelity"]).to_csv(
                path, index=False
            )
        return run(
            path,
            target=spec["target"],
            models=models,
            holdout_largest=spec["holdout"],
            data_options=spec["data_options"],
            model_options=options,
            out=Path(tmp) / "out",
            seed=seed,
            n_jobs=n_jobs,
            report=False,
        )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-jobs", type=int, default=None)
    args = p.parse_args()
    records, coverage = [], {}
    t0 = time.time()
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        spec = DATASETS[name]
        options = spec.get("model_options", {})
        result = back_test(spec, "auto,all", options, args.seed, args.n_jobs)
        records += rows_of(name, result.metrics)
        chosen = result.metrics["models"].get("hybrid", {}).get("fit_choices", {})
        if "cheap_level" in chosen:  # measurement-only data: each cheap level forced
            variants = {
                "hybrid[physics]": {"cheap_level": "physics"},
                "hybrid[scaling_law]": {"cheap_level": "scaling_law"},
                "hybrid[physics_inputs]": {"physics_inputs": True},
            }
            for label, extra in variants.items():
                forced = {"hybrid": {**options.get("hybrid", {}), **extra}}
                one = back_test(spec, "hybrid", forced, args.seed, args.n_jobs)
                records += rows_of(name, one.metrics, label=label)
        if result.selection is not None:
            coverage[name] = validation_coverage(result.selection)
        print(f"{name}: auto chose {result.selection.chosen if result.selection else '-'}")
    frame = pd.DataFrame(records)
    meta = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.platform()}, {io.versions()['python']}",
        "seconds": time.time() - t0,
        "versions": io.versions(),
        "validation_coverage": coverage,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    io.atomic_write_csv(args.out / "auto_selection.csv", frame)
    io.atomic_write_json(args.out / "auto_selection.json", {"meta": meta, "rows": records})
    io.atomic_write_text(args.out / "auto_selection.md", markdown(frame, meta))
    print(json.dumps({"seconds": round(meta["seconds"], 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
