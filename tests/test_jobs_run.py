"""``mfgp run`` with ``auto`` (the default) and ``all``, on end-point and time-course data."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from mfgp import datasets
from mfgp.data import ScaleUpData
from mfgp.exceptions import InputDataError
from mfgp.jobs import run

SEED = datasets.file("bioreactor_scales")


def _end_points() -> ScaleUpData:
    rng = np.random.default_rng(1)
    rows = []
    for v in (1.0, 10.0, 100.0, 1000.0, 10000.0):
        for i in range(3):
            rpm = float(rng.uniform(200, 400))
            y = 6.0 - 0.5 * np.log10(v) + 0.002 * rpm + rng.normal(0, 0.05)
            rows.append({"run": f"R{v:g}-{i}", "V": v, "rpm": rpm, "titer": y})
    return ScaleUpData(pd.DataFrame(rows), target="titer")


def test_auto_chooses_on_the_training_volumes_only(tmp_path):
    res = run(_end_points(), models="auto", candidates=["gp", "random_forest"],
              model_options={"*": {"restarts": 1}}, out=tmp_path / "o", n_jobs=1)  # fmt: skip
    sel = res.metrics["selection"]
    assert sel["chosen"] in ("gp", "random_forest")
    assert [f["test_volume_L"] for f in sel["folds"]] == [100.0, 1000.0]  # 10 m3 never seen
    assert res.metrics["models"]["auto"]["chosen"] == sel["chosen"]
    assert (tmp_path / "o" / "validation.csv").is_file()
    report = (tmp_path / "o" / "report.md").read_text()
    assert "## How `auto` chose" in report and f"Chosen: **{sel['chosen']}**" in report
    runs = res.metrics["models"]["auto"]["harvest"]["per_run"]
    assert {r["run"] for r in runs} == {"R10000-0", "R10000-1", "R10000-2"}


def test_all_skips_what_cannot_fit_with_one_warning(tmp_path, caplog, monkeypatch):
    import mfgp.jobs.common as common

    monkeypatch.setattr(common, "available_models", lambda: ["classic", "gp", "ridge"])
    with caplog.at_level(logging.WARNING):
        res = run(_end_points(), models="all", model_options={"*": {"restarts": 1}},
                  out=tmp_path / "o", report=False)  # fmt: skip
    assert set(res.metrics["models"]) == {"gp", "ridge"}
    skipped = [m for m in caplog.messages if m.startswith("classic skipped")]
    assert len(skipped) == 1 and "time" in skipped[0]
    with pytest.raises(InputDataError, match="model 'classic' cannot fit these data"):
        run(_end_points(), models="classic,ridge", out=tmp_path / "p")


def test_time_pooled_and_harvest_metrics_differ_on_time_courses(tmp_path):
    res = run(SEED, target="C", models="gp", model_options={"gp": {"restarts": 1}},
              out=tmp_path / "o", report=False)  # fmt: skip
    gp = json.loads((tmp_path / "o" / "metrics.json").read_text())["models"]["gp"]
    assert gp["harvest"]["per_volume"][0]["n"] == 2  # two runs at 20 m3, their end points
    assert gp["per_volume"][0]["n"] == len(res.predictions)  # every time point
