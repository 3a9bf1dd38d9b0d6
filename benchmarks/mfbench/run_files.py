"""The results files of a small benchmark script: its run information and the CSV, JSON and
Markdown written together (each atomically)."""

from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from mfgp import io


def run_info() -> dict[str, Any]:
    """Machine, cores, torch threads, load at start, date and versions of this run."""
    return {
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load": [round(v, 2) for v in os.getloadavg()],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "versions": ", ".join(f"{k} {v}" for k, v in io.versions().items()),
    }


def run_header(title: str, command: str, info: dict[str, Any]) -> list[str]:
    """The first lines of a results table: its title, command, machine and versions."""
    return [
        f"# {title}",
        "",
        f"Command: `{command}`  ",
        f"Machine: {info['machine']}, {info['cpu_count']} cores, torch threads "
        f"{info['torch_threads']}, load at start {info['load']}, {info['date']}  ",
        f"Versions: {info['versions']}",
        "",
    ]


def write_run(
    out: Path,
    rows: list[dict[str, Any]],
    info: dict[str, Any],
    markdown: Callable[[pd.DataFrame, str, dict[str, Any]], str],
    script: str,
    argv: list[str] | None,
) -> None:
    """``out.csv`` (the rows), ``out.json`` (run information and rows) and ``out.md``, the
    table that ``markdown(rows as a frame, the command line, info)`` writes; the command line
    is ``python benchmarks/<script's name>`` with ``argv`` (default: this process's)."""
    args = shlex.join(argv or sys.argv[1:])
    command = f"python benchmarks/{Path(script).name} {args}".strip()
    out.parent.mkdir(parents=True, exist_ok=True)
    io.atomic_write_csv(out.with_suffix(".csv"), pd.DataFrame(rows))
    io.atomic_write_json(out.with_suffix(".json"), {"info": info, "rows": rows})
    io.atomic_write_text(out.with_suffix(".md"), markdown(pd.DataFrame(rows), command, info))
    print(f"wrote {out}.csv, .json, .md")
