"""Tests of the AR1 speed benchmark's cells, goals, results files and figure."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from .conftest import load_benchmark_script


@pytest.fixture(scope="module")
def sp():
    return load_benchmark_script("speed_ar1")


def _rows(recursive: float, joint: float, textbook: str | float, r6400: float) -> pd.DataFrame:
    rows = [
        {
            "device": "cpu",
            "model": "ar1_recursive",
            "n_lf": 1600,
            "status": "ok",
            "fit_s": recursive,
        },
        {"device": "cpu", "model": "ar1_joint", "n_lf": 1600, "status": "ok", "fit_s": joint},
        {"device": "cpu", "model": "ar1_recursive", "n_lf": 6400, "status": "ok", "fit_s": r6400},
    ]
    if isinstance(textbook, str):
        rows.append(
            {"device": "cpu", "model": "ar1_joint_textbook", "n_lf": 1600, "status": textbook}
        )
    else:
        rows.append(
            {
                "device": "cpu",
                "model": "ar1_joint_textbook",
                "n_lf": 1600,
                "status": "ok",
                "fit_s": textbook,
            }
        )
    return pd.DataFrame(rows)


def test_goals_for_both_joint_fits_and_the_6400_limit(sp) -> None:
    g = sp.goals(_rows(2.0, 6.0, 60.0, 130.0))
    assert [row["met"] for row in g] == ["no", "yes", "no"]
    assert "3.0x" in g[0]["detail"] and "30.0x" in g[1]["detail"]
    timeout = "timeout: not finished within the 130 s budget"
    g = sp.goals(_rows(2.0, 12.0, timeout, 100.0))
    assert [row["met"] for row in g] == ["yes", "yes (joint did not finish)", "yes"]


def test_cell_write_and_replot(sp, tmp_path) -> None:
    res = sp.run_cell("ar1_recursive", 20, "cpu", 1, 10, warmup=False)
    assert res["fit_s"] > 0 and res["n_train"] == 24 and res["nrmse"] >= 0
    rows = _rows(2.0, 6.0, "timeout: not finished within the 130 s budget", 9.0)
    rows["n_hf"] = rows["n_lf"] // 5
    meta = {
        "date": "d",
        "machine": sp.machine_info(),
        "versions": {},
        "command": "c",
        "budget_s": 130.0,
        "restarts": 1,
        "n_test": 10,
    }
    sp.write(tmp_path, rows, meta)
    for ext in ("csv", "json", "md", "png"):
        assert (tmp_path / f"speed_ar1.{ext}").stat().st_size > 0
    assert json.loads((tmp_path / "speed_ar1.json").read_text())["goals"][0]["met"] == "no"
    (tmp_path / "speed_ar1.png").unlink()
    assert sp.main(["--replot", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "speed_ar1.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="unknown model"):
        sp.run_cell("nope", 20, "cpu", 1, 10, warmup=False)
