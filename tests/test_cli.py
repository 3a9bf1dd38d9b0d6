"""End-to-end: ``mfgp run`` on the shipped seed-format file, renamed columns, and errors."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mfgp import datasets
from mfgp.cli import main, parse_model_option, parse_option_value
from mfgp.exceptions import InputDataError
from mfgp.jobs import resolve_model_names, resolve_model_options, run
from mfgp.models import get_model, model_option_names

DATA = datasets.file("bioreactor_scales")


def test_run_on_seed_file(tmp_path, capsys):
    argv = ["-q", "run", "--data", str(DATA), "--target", "C", "--model", "gp"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "at harvest" in out and "rmse" in out and "20000" in out
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["data"]["test_volumes_L"] == [20000.0]
    gp = metrics["models"]["gp"]
    assert set(gp["harvest"]["overall"]) >= {"rmse", "nrmse", "crps", "nlpd", "coverage95"}
    assert gp["harvest"]["overall"]["rmse"] != gp["overall"]["rmse"]  # end points, not pooled
    assert len(gp["harvest"]["per_run"]) == 2  # the two held-out runs at 20 m3
    assert gp["fit_choices"] == {}  # the GP chooses nothing
    pred = pd.read_csv(tmp_path / "predictions.csv")
    cols = {"model", "volume_L", "time_h", "observed", "mean", "sd", "lower95", "upper95"}
    assert cols | {"harvest"} <= set(pred.columns)
    assert (pred["volume_L"] == 20000.0).all() and (pred["sd"] > 0).all()
    assert (pred["lower95"] >= 0).all()  # a positive target's bands stay positive
    assert pred["harvest"].sum() == 2
    assert (tmp_path / "models" / "gp" / "model.json").is_file()
    report = (tmp_path / "report.md").read_text()
    assert report.index("figures/scale_up.png") < report.index("## At harvest")
    assert "20000" in report and "| gp " in report and "figures/parity.png" in report
    for name in ("scale_up", "parity", "calibration", "error_vs_volume", "residuals"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 5_000
    assert (tmp_path / "figures" / "time_courses_gp.png").stat().st_size > 5_000


def test_canonical_column_names_give_same_metrics(tmp_path):
    renamed = tmp_path / "canonical.csv"
    pd.read_csv(DATA).rename(columns={"V": "volume_L", "t": "time_h"}).to_csv(renamed, index=False)
    a = run(DATA, target="C", out=tmp_path / "a", models="gp", report=False)
    b = run(renamed, target="C", out=tmp_path / "b", models="gp", report=False)
    assert not (tmp_path / "a" / "report.md").exists()
    assert a.metrics["models"]["gp"]["overall"] == pytest.approx(
        b.metrics["models"]["gp"]["overall"], rel=1e-4
    )


def test_input_is_never_overwritten(tmp_path, capsys):
    data = tmp_path / "metrics.json"
    shutil.copy(DATA, data)
    before = data.read_bytes()
    rc = main(["run", "--data", str(data), "--target", "C", "--out", str(tmp_path)])
    assert rc == 2
    assert "contains the input file" in capsys.readouterr().err
    assert data.read_bytes() == before
    rc = main(["run", "--data", str(data), "--target", "C", "--out", str(data)])
    assert rc == 2
    assert "is the input file" in capsys.readouterr().err
    assert data.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "X"], "target column 'X' does not exist"),
        (["--target", "C", "--holdout-largest", "5"], "two or more distinct volumes"),
        (["--target", "C", "--model", "nope"], "unknown model"),
    ],
)
def test_errors_exit_2_with_message(tmp_path, capsys, args, message):
    rc = main(["run", "--data", str(DATA), "--out", str(tmp_path), *args])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_resolve_model_names():
    assert resolve_model_names("gp") == ["gp"]
    assert "gp" in resolve_model_names("all")


def test_seed_style_script(tmp_path, monkeypatch):
    import runpy
    import sys

    monkeypatch.chdir(tmp_path)
    script = Path(__file__).resolve().parents[1] / "scripts" / "run_bioreactor_scaling.py"
    args = ["--data", "bioreactor_scales.csv", "--target", "C", "--model", "gp", "--out", "o"]
    monkeypatch.setattr(sys, "argv", [str(script), *args])
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(script), run_name="__main__")
    assert exc.value.code == 0
    assert (tmp_path / "o" / "report.md").is_file()


def test_run_with_suggestions(tmp_path, mf_frame):
    result = run(
        _small_mf(mf_frame),
        target="C",
        models="hybrid",
        out=tmp_path,
        suggest={"costs": "lab=1,pilot=20", "q": 2},
    )
    sug = pd.read_csv(tmp_path / "suggestions.csv")
    assert len(sug) == 2 and set(sug["option"]) <= {"lab", "pilot"}
    assert (sug["model"] == "hybrid").all()
    assert "## Next experiment" in (tmp_path / "report.md").read_text()
    assert result.suggestions is not None


def _small_mf(frame):
    from mfgp.data import ScaleUpData

    return ScaleUpData(frame, target="C")


# ------------------------------------------------------------------ model options
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("16", 16),
        ("0.5", 0.5),
        ("1e-3", 1e-3),
        ("true", True),
        ("False", False),
        ("none", None),
        ("linear", "linear"),
        ('"linear"', "linear"),
        ("[0, 2]", [0, 2]),
        (" matern ", "matern"),
    ],
)
def test_option_values(text, value):
    assert parse_option_value(text) == value


@given(st.integers(-(10**9), 10**9) | st.floats(allow_nan=False, allow_infinity=False))
def test_numeric_option_values_round_trip(x):
    assert parse_option_value(repr(x)) == x


def test_model_option_syntax():
    assert parse_model_option("ar1.hyperparameter_samples=16") == (
        "ar1",
        "hyperparameter_samples",
        16,
    )
    assert parse_model_option("restarts=1") == ("*", "restarts", 1)
    assert parse_model_option("noise=0.01") == ("*", "noise", 0.01)
    for bad in ("restarts", "=3", "ar1.=3"):
        with pytest.raises(argparse.ArgumentTypeError, match="KEY=VALUE"):
            parse_model_option(bad)


def test_get_model_checks_options():
    assert "hyperparameter_samples" in model_option_names("ar1")
    with pytest.raises(InputDataError, match="has no option 'rho'.*its options: mean, restarts"):
        get_model("gp", rho="linear")
    with pytest.raises(InputDataError, match="bad option value"):
        get_model("gp", restarts="many")
    with pytest.raises(InputDataError, match="unknown model"):
        model_option_names("nope")


def test_resolve_model_options():
    got = resolve_model_options(["gp", "ar1"], {"*": {"restarts": 1}, "ar1": {"restarts": 2}})
    assert got == {"gp": {"restarts": 1}, "ar1": {"restarts": 2}}  # the model's own entry wins
    assert resolve_model_options(["gp"], None) == {"gp": {}}
    with pytest.raises(InputDataError, match="not among the models run"):
        resolve_model_options(["gp"], {"ar1": {"restarts": 1}})
    with pytest.raises(InputDataError, match="write gp.KEY=VALUE"):
        resolve_model_options(["gp", "ar1"], {"*": {"rho": "linear"}})


def test_run_with_model_options(tmp_path, capsys):
    argv = ["-q", "run", "--data", str(DATA), "--target", "C", "--out", str(tmp_path)]
    argv += ["--model", "gp", "--model-option", "restarts=1", "--model-option", "gp.mean=constant"]
    assert main(argv) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["models"]["gp"]["options"] == {"restarts": 1, "mean": "constant"}
    saved = json.loads((tmp_path / "models" / "gp" / "model.json").read_text())
    assert saved["config"]["mean"] == "constant" and saved["config"]["restarts"] == 1
    bad = ["run", "--data", str(DATA), "--target", "C", "--out", str(tmp_path / "b")]
    assert main([*bad, "--model-option", "gp.rho=linear"]) == 2
    assert "has no option 'rho'" in capsys.readouterr().err


def test_run_reports_what_the_fit_chose(tmp_path):
    """AR1 with log_transform=auto: the choice is in metrics.json and the report."""
    rc = main(
        [
            "-q", "run", "--data", str(DATA), "--target", "C", "--model", "ar1",
            "--model-option", "log_transform=auto", "--model-option", "restarts=1",
            "--out", str(tmp_path),
        ]
    )  # fmt: skip
    assert rc == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    choice = metrics["models"]["ar1"]["fit_choices"]["log_transform"]
    assert choice in ("identity", "log")
    assert f"ar1: log_transform = {choice}" in (tmp_path / "report.md").read_text()


# ------------------------------------------------------------------ progress and log levels
@pytest.mark.parametrize(
    ("flags", "present", "absent"),
    [
        ([], ["fitting models [1/1]: gp"], ["training on", "debug "]),
        (["-v"], ["fitting models [1/1]: gp", "training on"], ["debug "]),
        (["-vv"], ["training on", "debug mfgp"], ["matplotlib", "font_manager", "PIL"]),
        (["-q"], [], ["fitting models", "training on", "debug "]),
    ],
)
def test_verbosity_levels(tmp_path, capsys, flags, present, absent):
    argv = [*flags, "run", "--data", str(DATA), "--target", "C", "--model", "gp"]
    assert main([*argv, "--model-option", "restarts=2", "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    for text in present:
        assert text in err
    for text in absent:
        assert text not in err
    if flags == ["-q"]:
        assert err == ""


def test_example_lists_and_copies_shipped_data_without_replacing_a_file(tmp_path, capsys):
    assert main(["example"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in ("bioreactor_multifidelity", "cho_endpoint"))
    out = tmp_path / "cho.csv"
    assert main(["example", "cho_endpoint", "--out", str(out)]) == 0
    assert out.read_bytes() == datasets.file("cho_endpoint").read_bytes()
    assert "try: mfgp run --data" in capsys.readouterr().out
    out.write_text("mine")
    assert main(["example", "cho_endpoint", "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err and out.read_text() == "mine"
    assert main(["example", "nope"]) == 2
    assert "the shipped ones are" in capsys.readouterr().err


def test_python_dash_m_mfgp_runs_the_command_line():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "mfgp", "example"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "cho_endpoint" in done.stdout


@pytest.mark.parametrize("command", ["run", "predict", "simulate", "suggest", "example"])
def test_help_prints_percent_signs_once(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "usage:" in text and "%%" not in text
