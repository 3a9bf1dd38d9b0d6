"""``mfgp predict``: production-scale predictions from all the data, with bands, p_spec and
warnings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import truncnorm

from mfgp import datasets
from mfgp.cli import main
from mfgp.data import ScaleUpData
from mfgp.exceptions import InputDataError
from mfgp.jobs.predict import parse_spec, predict

ROOT = Path(__file__).resolve().parents[1]
SEED = datasets.file("bioreactor_scales")
MF = datasets.file("bioreactor_multifidelity")
CHO = datasets.file("cho_endpoint")
GP = {"gp": {"restarts": 1}}


def test_predict_on_the_seed_file_gives_bands_and_p_spec_from_the_distribution(tmp_path):
    res = predict(SEED, target="C", volumes=[20000, 50000], spec=">=24", model="gp",
                  model_options=GP, out=tmp_path / "p")  # fmt: skip
    table = res.predictions
    assert list(table.columns) == [
        "volume_L",
        "time_h",
        "mean",
        "sd",
        "lower95",
        "upper95",
        "p_spec",
    ]
    assert table["volume_L"].tolist() == [20000.0, 50000.0]
    assert (table["lower95"] >= 0).all() and (table["lower95"] < table["upper95"]).all()
    # p_spec is the truncated (positive) predictive's tail: check it against scipy
    data = ScaleUpData(SEED, target="C")
    raw = res.model.predict(data.encode(table[["volume_L", "time_h"]]), observation_noise=True)
    mu, sd = raw.mean.numpy(), raw.sd.numpy()
    expected = truncnorm.sf(24.0, a=(0 - mu) / sd, b=np.inf, loc=mu, scale=sd)
    np.testing.assert_allclose(table["p_spec"], expected, rtol=1e-6, atol=1e-9)
    files = {p.name for p in (tmp_path / "p").iterdir()}
    assert {"predictions.csv", "report.md", "metrics.json", "model", "figures"} <= files
    report = (tmp_path / "p" / "report.md").read_text()
    assert "figures/scale_up.png" in report and "0.40 decades" in report
    meta = json.loads((tmp_path / "p" / "metrics.json").read_text())
    assert meta["model"] == "gp" and meta["spec"] == ">=24"


def test_settings_outside_the_data_are_warned_about(caplog):
    res = predict(MF, target="titer_gL", volumes=[20000], at={"rpm": 40.0}, model="gp",
                  model_options=GP, data_options={"ignore": ["biomass_gL"]})  # fmt: skip
    assert res.predictions.loc[0, "rpm"] == 40.0
    assert any("rpm = 40 at 20000 L lies outside the measured range" in w for w in res.warnings)
    assert any("rpm = 40" in m for m in caplog.messages)
    default = predict(MF, target="titer_gL", volumes=[20000], model="gp", model_options=GP,
                      data_options={"ignore": ["biomass_gL"]})  # fmt: skip
    meas = pd.read_csv(MF).query("fidelity == 'measured'").groupby("volume_L")["rpm"].median()
    # the 50 m3 set point carried to 20 m3 at constant P/V: between the 10 and 50 m3 speeds
    assert meas[50000.0] < default.predictions.loc[0, "rpm"] < meas[10000.0]


def test_end_point_data_with_a_categorical_factor(tmp_path):
    common = {
        "target": "titer_gL",
        "model": "ridge",
        "data_options": {"categorical": ["cell_line"]},
    }
    res = predict(CHO, volumes=[10000], at={"cell_line": "B"}, spec="1.5..3", **common)
    row = res.predictions.iloc[0]
    assert row["cell_line"] == "B" and "time_h" not in res.predictions.columns
    assert 0.0 <= row["p_spec"] <= 1.0 and row["lower95"] <= row["mean"] <= row["upper95"]
    conditions = tmp_path / "new.csv"
    new = {
        "Working volume (L)": [10000.0, 50000.0],
        "Agitation (rpm)": [60.0, 40.0],
        "Aeration (vvm)": [0.04, 0.02],
        "cell_line": ["A", "B"],
    }
    pd.DataFrame(new).to_csv(conditions, index=False)
    res = predict(CHO, conditions=conditions, **common)
    assert res.predictions["cell_line"].tolist() == ["A", "B"]
    assert res.predictions["Agitation (rpm)"].tolist() == [60.0, 40.0]
    with pytest.raises(InputDataError, match="'C'"):
        predict(CHO, volumes=[10000], at={"cell_line": "C"}, **common)


@pytest.mark.parametrize(
    ("text", "lower", "upper"),
    [(">=5.0", 5.0, np.inf), ("< 2", -np.inf, 2.0), (">5", 5.0, np.inf), ("4..6", 4.0, 6.0)],
)
def test_specs(text, lower, upper):
    spec = parse_spec(text)
    assert (spec.lower, spec.upper) == (lower, upper)


def test_bad_requests_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(InputDataError, match="is not a specification"):
        parse_spec("about 5")
    with pytest.raises(InputDataError, match="give the volumes"):
        predict(SEED, target="C", model="gp")
    argv = ["predict", "--data", str(SEED), "--target", "C", "--volume", "20000"]
    assert main([*argv, "--spec", "lots", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: --spec 'lots'")
    assert main([*argv, "--at", "rmp=100", "--out", str(tmp_path / "o")]) == 2
    assert "not an operating variable" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_predict(tmp_path, capsys):
    argv = ["-q", "predict", "--data", str(SEED), "--target", "C", "--volume", "20000,50000"]
    argv += ["--model", "gp", "--model-option", "restarts=1", "--spec", ">=20"]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "p_spec" in out and "note: 50000 L is 0.40 decades" in out
    saved = pd.read_csv(tmp_path / "o" / "predictions.csv")
    assert len(saved) == 2 and {"mean", "sd", "lower95", "upper95", "p_spec"} <= set(saved)


def test_a_physics_level_is_shown_against_volume_in_the_report(tmp_path):
    opts = {"hybrid": {"cheap_level": "physics", "restarts": 1, "physics": {"o2_fraction": 1.0}}}
    res = predict(CHO, target="titer_gL", volumes=[50000], model="hybrid", model_options=opts,
                  data_options={"categorical": ["cell_line"]}, out=tmp_path / "p")  # fmt: skip
    curve = res.physics
    assert curve["volume_L"].min() == 2.0 and curve["volume_L"].max() == 50000.0
    assert {"otr_max", "heat_our_max", "demand_our", "f", "level_mean"} <= set(curve.columns)
    # cooling per volume falls with scale at constant P/V
    assert curve["heat_our_max"].iloc[-1] < curve["heat_our_max"].iloc[0]
    out = tmp_path / "p"
    assert (out / "physics.csv").is_file() and (out / "figures" / "physics.png").is_file()
    report = (out / "report.md").read_text()
    assert "## The physics level" in report and "log_our_demand" in report
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["fit_choices"]["cheap_level"] == "physics"
    assert metrics["physics"]["vessels"] == {}
    # hybrid chosen by name is calibrated for extrapolation by its own validation
    assert "spread_calibration" in res.model.metadata
