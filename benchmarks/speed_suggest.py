"""Time of ``mfgp suggest`` on the shipped data, as an engineer waits for it (goal: < 30 s).

For each goal (``learn`` and ``optimise``, ``--q 3``), the README's command on
``bioreactor_multifidelity.csv`` (1,014 rows, three levels, 1 L ... 100 m3; target titer at
50 m3, vessels 10 L (cost 1) and 1000 L (cost 20)) is run as a subprocess, from the start of
the interpreter to the written folder: ``cli_s``. The same steps are then timed in this process
(after the imports) to say where the time goes: ``select_s`` (``auto``: forward-chaining
validation of ``hybrid`` and ``ar1``, one restart per validation fit, and the final fit of
``hybrid``, the reference, with its default restarts, all in one batch of parallel workers),
``fit_s`` (loading the chosen model, or fitting it when it is not the reference) and
``suggest_s`` (candidates, acquisition, the engineer's columns).

Usage::

    .venv/bin/python benchmarks/speed_suggest.py [--goals learn,optimise] [--out DIR]

Writes ``OUT/speed_suggest.{csv,json,md}`` (default ``benchmarks/results``). Run it on an
otherwise idle machine: the figures are wall-clock times.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from mfbench.harness import machine_info

from mfgp import datasets, io
from mfgp.acquisition import SearchSpace, suggest
from mfgp.acquisition.job import SUGGEST_CANDIDATES, VALIDATION_RESTARTS
from mfgp.data import ScaleUpData
from mfgp.models.registry import get_model, load_model
from mfgp.selection import FALLBACK, calibrate, select_model

GOAL_S = 30.0
COSTS = "10L=1,1000L=20"
TARGET_VOLUME_L = 50000.0


def command(goal: str, out: Path) -> list[str]:
    """The README's ``mfgp suggest`` command for ``goal``."""
    return [
        *(sys.executable, "-m", "mfgp", "suggest"),
        *("--data", str(datasets.file("bioreactor_multifidelity"))),
        *("--target", "titer_gL", "--ignore", "biomass_gL", "--goal", goal, "--q", "3"),
        *("--costs", COSTS, "--target-volume", f"{TARGET_VOLUME_L:g}", "--out", str(out)),
    ]


def time_cli(goal: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        done = subprocess.run(command(goal, Path(tmp) / "out"), capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"mfgp suggest failed:\n{done.stderr[-2000:]}")
    return seconds


def time_steps(goal: str) -> dict[str, Any]:
    """The command's steps in this process, each timed."""
    t0 = time.perf_counter()
    data = ScaleUpData(
        datasets.file("bioreactor_multifidelity"), target="titer_gL", ignore=["biomass_gL"]
    )
    space = SearchSpace.from_data(data, costs=COSTS, target_volume_L=TARGET_VOLUME_L)
    t1 = time.perf_counter()
    quick = {"*": {"restarts": VALIDATION_RESTARTS}}
    with tempfile.TemporaryDirectory() as tmp:
        selection = select_model(
            data,
            candidates=list(SUGGEST_CANDIDATES),
            model_options=quick,
            prefit={FALLBACK: {}},
            prefit_dir=tmp,
        )
        t2 = time.perf_counter()
        saved = selection.prefitted.get(selection.chosen)
        if saved is not None:
            model = load_model(saved)
        else:
            model = get_model(selection.chosen).fit(data, seed=0)
    calibrate(model, selection.calibration, data)
    t3 = time.perf_counter()
    res = suggest(
        model,
        space,
        goal=goal,
        q=3,
        seed=0,
        fidelity_names=data.fidelity_names,
        target=data.target,
        positive=True,
    )
    t4 = time.perf_counter()
    return {
        "load_s": t1 - t0,
        "select_s": t2 - t1,
        "fit_s": t3 - t2,
        "suggest_s": t4 - t3,
        "model": selection.chosen,
        "vessels": ", ".join(res.frame["vessel"]),
    }


def _shown(argv: list[str]) -> str:
    """The command as the README writes it (``mfgp``, the data set's path in the repository)."""
    data = str(datasets.file("bioreactor_multifidelity"))
    return " ".join(["mfgp", *argv[3:]]).replace(data, "mfgp/datasets/bioreactor_multifidelity.csv")


def markdown(frame: pd.DataFrame, meta: dict[str, Any]) -> str:
    lines = [
        "# Time of `mfgp suggest` on the shipped data",
        "",
        f"Command: `{meta['command']}`  ",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in meta["machine"].items()) + "  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        "",
        "`cli_s`: the README's command as a subprocess, start of Python to written folder "
        f"(`{_shown(command('GOAL', Path('OUT')))}`); the other columns time the same "
        "steps in one process after the imports. Goal: `cli_s` < "
        f"{GOAL_S:g} s for both goals.",
        "",
        frame.to_markdown(index=False, floatfmt=".1f"),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--goals", default="learn,optimise")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    rows = []
    for goal in args.goals.split(","):
        cli = time_cli(goal)
        steps = time_steps(goal)
        rows.append({"goal": goal, "cli_s": cli, **steps, "goal_met": cli < GOAL_S})
        print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    meta = {
        "command": "python benchmarks/speed_suggest.py " + " ".join(argv or sys.argv[1:]),
        "machine": machine_info(),
        "versions": io.versions(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    io.atomic_write_csv(args.out / "speed_suggest.csv", frame)
    io.atomic_write_json(args.out / "speed_suggest.json", {"meta": meta, "rows": rows})
    io.atomic_write_text(args.out / "speed_suggest.md", markdown(frame, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
