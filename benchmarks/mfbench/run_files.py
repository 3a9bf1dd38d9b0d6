"""The results files of a small benchmark script: its run information and the CSV, JSON and
Markdown written together (each atomically)."""

from __future__ import annotations

import os
import platform
import time
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


def write_run(out: Path, rows: list[dict[str, Any]], info: dict[str, Any], markdown: str) -> None:
    """``out.csv`` (the rows), ``out.json`` (run information and rows) and ``out.md``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    io.atomic_write_csv(out.with_suffix(".csv"), pd.DataFrame(rows))
    io.atomic_write_json(out.with_suffix(".json"), {"info": info, "rows": rows})
    io.atomic_write_text(out.with_suffix(".md"), markdown)
    print(f"wrote {out}.csv, .json, .md")
