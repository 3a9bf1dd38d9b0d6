"""Shared fixtures: tiny seed-format and multi-fidelity frames, dtypes."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
import torch

DTYPES = [torch.float32, torch.float64]


def growth(t: np.ndarray, v: float) -> np.ndarray:
    """Logistic biomass curve whose rate and plateau fall slowly with volume."""
    lv = np.log10(v)
    cmax, mu, lag = 30.0 * (1 - 0.05 * lv), 0.5 - 0.03 * lv, 2.0 + 0.5 * lv
    return 0.1 + cmax / (1.0 + np.exp(-mu * (t - lag - 10.0)))


@pytest.fixture
def seed_frame() -> pd.DataFrame:
    """Seed-format frame: columns scale, V, t, C at 4 volumes (40 rows)."""
    rng = np.random.default_rng(0)
    t = np.linspace(0.0, 36.0, 10)
    rows = []
    for s, v in enumerate((2.0, 20.0, 200.0, 2000.0), start=1):
        c = growth(t, v) * np.exp(rng.normal(0, 0.02, t.size))
        rows += [(s, v, ti, ci) for ti, ci in zip(t, c, strict=True)]
    return pd.DataFrame(rows, columns=["scale", "V", "t", "C"])


@pytest.fixture
def mf_frame() -> pd.DataFrame:
    """Long-format frame with two fidelities, run ids and one operating variable."""
    rng = np.random.default_rng(1)
    t = np.linspace(0.0, 36.0, 7)
    rows = []
    for fid, bias in (("scaling_law", 1.1), ("measured", 1.0)):
        for v in (2.0, 20.0, 200.0, 2000.0):
            for r, rpm in enumerate((300.0, 500.0)):
                c = bias * growth(t, v) * (1 + 0.0002 * (rpm - 400))
                if fid == "measured":
                    c = c * np.exp(rng.normal(0, 0.02, t.size))
                rows += [
                    (f"{fid}-{v:g}-{r}", fid, v, ti, rpm, ci) for ti, ci in zip(t, c, strict=True)
                ]
    return pd.DataFrame(rows, columns=["run_id", "fidelity", "volume_L", "time_h", "rpm", "C"])


def load_benchmark_script(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` (the benchmark scripts are not a package)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
