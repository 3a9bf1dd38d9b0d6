"""scripts/make_seed_dataset.py regenerates mfgp/datasets/bioreactor_scales.csv (numerically, to the
last printed digit)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mfgp import datasets

from .csv_compare import assert_csv_close

ROOT = Path(__file__).resolve().parents[1]


def test_seed_file_is_reproduced(tmp_path):
    out = tmp_path / "seed.csv"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_seed_dataset.py"), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    assert_csv_close(out, datasets.file("bioreactor_scales"), keys=("scale", "V", "t"))
