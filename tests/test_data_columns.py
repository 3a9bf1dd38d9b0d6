"""Column roles: explicit names, names with units, decimal commas, cheap levels in columns,
categorical factors, and their errors; a property test of the unit conversions."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mfgp
from mfgp.data import ScaleUpData
from mfgp.data.columns import resolve_roles, split_unit, unit_role
from mfgp.exceptions import DataWarning, InputDataError

FORMATS = Path(__file__).resolve().parent / "data" / "formats"
CANONICAL = pd.read_csv(FORMATS / "canonical.csv")


def _frame(**renames: str) -> pd.DataFrame:
    return CANONICAL.rename(columns=renames)


# ------------------------------------------------------------------ names with units
@pytest.mark.parametrize(
    ("name", "unit", "factor"),
    [
        ("Volume (L)", "L", 1.0),
        ("Working volume [m3]", "m3", 1e3),
        ("V [mL]", "mL", 1e-3),
        ("volume_mL", "mL", 1e-3),
        ("Vol (m³)", "m3", 1e3),
        ("Scale (L)", "L", 1.0),
        ("VOLUME [HL]", "hL", 100.0),
        ("Volume (µL)", "µL", 1e-6),
    ],
)
def test_volume_names_with_units(name, unit, factor):
    canonical, found = unit_role(name)
    assert canonical == "volume_L" and found.label == unit
    assert found.convert(np.array([3.0]))[0] == pytest.approx(3.0 * factor, rel=1e-15)


@pytest.mark.parametrize(
    ("name", "unit", "factor"),
    [
        ("Time [h]", "h", 1.0),
        ("Time (d)", "days", 24.0),
        ("time_min", "min", 1 / 60),
        ("Age (days)", "days", 24.0),
        ("Culture time (h)", "h", 1.0),
        ("EFT (h)", "h", 1.0),
        ("t [s]", "s", 1 / 3600),
        ("TIME (HOURS)", "h", 1.0),
    ],
)
def test_time_names_with_units(name, unit, factor):
    canonical, found = unit_role(name)
    assert canonical == "time_h" and found.label == unit
    assert found.convert(np.array([3.0]))[0] == pytest.approx(3.0 * factor, rel=1e-15)


@pytest.mark.parametrize(
    "name", ["rpm", "scale", "scale_index", "T (°C)", "Feed volume (mL)", "P/V (W/m3)", "t_mix"]
)
def test_other_names_are_no_roles(name):
    assert unit_role(name) is None


def test_split_unit():
    assert split_unit("Culture time (h)") == ("Culture time", "h", True)
    assert split_unit("V [mL]") == ("V", "mL", True)
    assert split_unit("time_min") == ("time", "min", False)


def test_unit_names_become_volume_and_time_not_operating_variables():
    ref = ScaleUpData(CANONICAL, target="titer")
    data = ScaleUpData(_frame(volume_L="Volume (L)", time_h="Time [h]"), target="titer")
    assert data.operating_names == ["rpm"]
    assert torch.equal(data.X, ref.X)
    assert data.conversions == [
        "volume column 'Volume (L)' read as litres",
        "time column 'Time [h]' read as hours",
    ]


def test_scale_with_a_unit_is_a_volume_bare_scale_an_index():
    frame = CANONICAL.drop(columns="volume_L").assign(**{"Scale (L)": CANONICAL["volume_L"]})
    assert ScaleUpData(frame, target="titer").volumes().tolist() == [2.0, 20.0, 200.0, 2000.0]
    index = CANONICAL.assign(scale=CANONICAL["volume_L"].rank(method="dense").astype(int))
    data = ScaleUpData(index, target="titer")
    assert "scale_index" in data.frame.columns and data.operating_names == ["rpm"]


def test_unknown_volume_unit_is_an_error():
    frame = _frame(volume_L="Volume (gal)")
    pattern = r"column 'Volume \(gal\)' looks like a volume but its unit 'gal' is not understood"
    with pytest.raises(InputDataError, match=pattern + r".*units understood: L, mL, µL, hL, m3"):
        ScaleUpData(frame, target="titer")
    with pytest.raises(InputDataError, match="unit 'weeks old'"):
        ScaleUpData(_frame(time_h="Age (weeks old)"), target="titer")


def test_two_volume_columns_keep_one():
    frame = CANONICAL.assign(**{"Volume (mL)": CANONICAL["volume_L"] * 1000})
    pattern = r"columns \['volume_L', 'Volume \(mL\)'\] all name the 'volume_L' column; keep one"
    with pytest.raises(InputDataError, match=pattern + r".*--ignore 'Volume \(mL\)'"):
        ScaleUpData(frame, target="titer")
    data = ScaleUpData(frame, target="titer", ignore=["Volume (mL)"])
    assert data.conversions == []
    with pytest.raises(InputDataError, match="all name the 'time_h' column"):
        ScaleUpData(CANONICAL.assign(time_min=CANONICAL["time_h"] * 60), target="titer")


# ----------------------------------------------------------------- explicit columns
def test_an_explicit_column_wins_over_aliases():
    frame = _frame(volume_L="Size").assign(V=CANONICAL["rpm"] / 100)  # 'V' is something else
    data = ScaleUpData(frame, target="titer", volume_col="Size")
    assert data.volumes().tolist() == [2.0, 20.0, 200.0, 2000.0]
    assert data.operating_names == ["rpm", "V"]
    time = ScaleUpData(_frame(time_h="Stunden"), target="titer", time_col="Stunden")
    assert time.feature_names == ["log10_volume_L", "time_h", "rpm"]


def test_explicit_column_errors():
    columns = r"available columns: \['run_id', 'volume_L', 'time_h', 'rpm', 'titer'\]"
    for option in ("volume_col", "time_col", "run_col", "fidelity_col"):
        with pytest.raises(
            InputDataError, match=r"column 'nope' \(.*\) does not exist.*" + columns
        ):
            ScaleUpData(CANONICAL, target="titer", **{option: "nope"})
    with pytest.raises(InputDataError, match="is the target"):
        ScaleUpData(CANONICAL, target="titer", time_col="titer")
    with pytest.raises(InputDataError, match="named both by volume_col and by time_col"):
        ScaleUpData(CANONICAL, target="titer", volume_col="volume_L", time_col="volume_L")
    with pytest.raises(InputDataError, match="named both by volume_col and by ignore"):
        ScaleUpData(CANONICAL, target="titer", volume_col="volume_L", ignore=["volume_L"])


def test_explicit_run_and_fidelity_columns():
    frame = CANONICAL.assign(kind=["cheap" if i % 2 else "truth" for i in range(12)])
    data = ScaleUpData(
        frame.rename(columns={"run_id": "Batch no"}),
        target="titer",
        run_col="Batch no",
        fidelity_col="kind",
        fidelity_order=["cheap", "truth"],
    )
    assert data.fidelity_names == ["cheap", "truth"]
    assert data.frame["run_id"].tolist() == CANONICAL["run_id"].tolist()


# --------------------------------------------------------------------- decimal commas
def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_decimal_commas_explicit_and_detected(tmp_path):
    ref = ScaleUpData(CANONICAL, target="titer")
    text = CANONICAL.to_csv(index=False, sep="\t").replace(".", ",")
    data = ScaleUpData(_write(tmp_path / "tab.csv", text), target="titer")
    assert torch.equal(data.X, ref.X) and torch.equal(data.Y, ref.Y)
    assert "tab-separated file" in data.conversions[0]
    quoted = CANONICAL.to_csv(index=False, decimal=",")  # comma-separated: quoted "0,112"
    path = _write(tmp_path / "quoted.csv", quoted)
    with pytest.raises(InputDataError, match="commas inside numbers.*--decimal ,"):
        ScaleUpData(path, target="titer")  # never guessed in a comma-separated file
    data = ScaleUpData(path, target="titer", decimal=",")
    assert torch.equal(data.Y, ref.Y) and "decimal=','" in data.conversions[0]
    frame = CANONICAL.astype({"titer": str}).assign(
        titer=lambda f: f["titer"].str.replace(".", ",")
    )
    assert torch.equal(ScaleUpData(frame, target="titer", decimal=",").Y, ref.Y)
    with pytest.raises(InputDataError, match="decimal must be ',' or '.'"):
        ScaleUpData(CANONICAL, target="titer", decimal=";")


def test_mixed_decimal_marks_are_not_guessed(tmp_path):
    text = "volume_L;time_h;titer\n1;0;0,5\n10;0;1.5\n"
    with pytest.raises(InputDataError, match=r"'0,5'.*commas inside numbers"):
        ScaleUpData(_write(tmp_path / "mixed.csv", text), target="titer")
    data = ScaleUpData(_write(tmp_path / "dots.csv", "V;t;C\n1;0;1.234,5\n10;0;2\n"), target="C",
                       decimal=",")  # fmt: skip
    assert data.Y[:, 0].tolist() == [1234.5, 2.0]


# ------------------------------------------------------------------ wide cheap levels
WIDE = pd.DataFrame(
    {
        "volume_L": [2.0, 2.0, 20.0, 20.0, 2000.0],
        "time_h": [0.0, 24.0, 0.0, 24.0, 24.0],
        "sim_titer": [0.1, 2.0, 0.1, 1.8, 1.5],
        "titer": [0.12, 2.1, 0.11, 1.7, None],
    }
)


def test_wide_rows_and_levels():
    data = ScaleUpData(WIDE, target="titer", low_fidelity_cols=["sim_titer"])
    assert data.fidelity_names == ["sim_titer", "measured"]
    assert data.fidelity.tolist() == [0] * 5 + [1] * 4
    assert data.Y[:, 0].tolist() == [0.1, 2.0, 0.1, 1.8, 1.5, 0.12, 2.1, 0.11, 1.7]
    assert data.operating_names == []
    same = ScaleUpData(WIDE, target="titer", low_fidelity_cols=["sim_titer"],
                       fidelity_order=["sim_titer", "measured"])  # fmt: skip
    assert torch.equal(same.X, data.X)


def test_wide_errors():
    def load(frame, cols, **kw):
        return ScaleUpData(frame, target="titer", low_fidelity_cols=cols, **kw)

    with pytest.raises(InputDataError, match=r"low-fidelity columns \['law'\].*do not exist.*"):
        load(WIDE, ["law"])
    with pytest.raises(InputDataError, match="low-fidelity column 'law' is empty in every row"):
        load(WIDE.assign(law=np.nan), ["sim_titer", "law"])
    text = WIDE.assign(law=["a", "b", "1", "2", "3"])
    with pytest.raises(
        InputDataError, match=r"low-fidelity column 'law' is not numeric: rows \[0, 1\]"
    ):
        load(text, ["law"])
    with pytest.raises(InputDataError, match="fidelity column 'source' cannot be used with them"):
        load(WIDE.assign(source="measured"), ["sim_titer"])
    with pytest.raises(InputDataError, match="disagrees with the levels"):
        load(WIDE, ["sim_titer"], fidelity_order=["measured", "sim_titer"])
    with pytest.raises(InputDataError, match=r"'titer' has empty \(or NaN\) cells at rows \[4\]"):
        load(WIDE.assign(sim_titer=[0.1, 2.0, 0.1, 1.8, None]), ["sim_titer"])


# ---------------------------------------------------------------- categorical factors
def test_integer_coded_categorical_and_text_hint():
    frame = CANONICAL.assign(clone=[10, 2, 2, 10, 2, 2, 10, 2, 2, 10, 2, 2])
    data = ScaleUpData(frame, target="titer", categorical=["clone"])
    assert data.categories == {"clone": ["2", "10"]}  # sorted as numbers
    assert data.operating_names == ["rpm", "clone=2", "clone=10"]
    X = data.encode(pd.DataFrame({"volume_L": [5.0], "time_h": [1.0], "rpm": [1.0], "clone": [10]}))
    assert X[0, 3:5].tolist() == [0.0, 1.0]
    text = CANONICAL.assign(tier=list("ABCABCABCABC"), operator="ann")
    pattern = (
        r"drop them with --ignore tier,operator \(ignore=\['tier', 'operator'\] in Python\) or "
        r"declare them factors with --categorical tier,operator"
    )
    with pytest.raises(InputDataError, match=pattern):
        ScaleUpData(text, target="titer")
    with pytest.warns(DataWarning, match="one level"):
        both = ScaleUpData(text, target="titer", categorical=["tier", "operator"])
    assert both.categories == {"tier": ["A", "B", "C"], "operator": ["ann"]}
    assert any("one level ('ann')" in w for w in both.validation_warnings)


def test_categorical_errors():
    frame = CANONICAL.assign(cell_line=["A", "B"] * 6)
    with pytest.raises(InputDataError, match=r"categorical columns \['line'\].*do not exist"):
        ScaleUpData(frame, target="titer", categorical=["line"])
    gap = frame.assign(cell_line=["A", None] + ["B"] * 10)
    with pytest.raises(InputDataError, match=r"'cell_line' has empty cells at rows \[1\]"):
        ScaleUpData(gap, target="titer", categorical=["cell_line"])
    with pytest.raises(InputDataError, match="not among the features"):
        ScaleUpData(frame, target="titer", categorical=["cell_line"], features=["rpm"])
    data = ScaleUpData(frame, target="titer", categorical=["cell_line"], features=["cell_line"])
    assert data.operating_names == ["cell_line=A", "cell_line=B"]


# ------------------------------------------------------------------- property test
_VOLUME_UNITS = {"L": 1.0, "l": 1.0, "litres": 1.0, "mL": 1e3, "ml": 1e3, "m3": 1e-3,
                 "m³": 1e-3}  # fmt: skip
_TIME_UNITS = {"h": 1.0, "hr": 1.0, "min": 60.0, "minutes": 60.0, "d": 1 / 24, "days": 1 / 24}
_VOLUME_STEMS = ["Volume", "V", "Working volume", "vol", "Reactor volume"]
_TIME_STEMS = ["Time", "t", "Age", "Culture time", "EFT"]
_STYLES = ["{} ({})", "{} [{}]", "{}_{}", "{}({})", "{} [ {} ]"]
_CASES = [str, str.lower, str.upper, str.title]


@pytest.fixture(scope="module")
def reference():
    data = ScaleUpData(CANONICAL, target="titer")
    model = mfgp.get_model("ridge").fit(data, seed=0)
    return data, model, model.predict(data.X).mean


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    vol=st.tuples(st.sampled_from(_VOLUME_STEMS), st.sampled_from(sorted(_VOLUME_UNITS)),
                  st.sampled_from(_STYLES), st.sampled_from(_CASES)),
    time=st.tuples(st.sampled_from(_TIME_STEMS), st.sampled_from(sorted(_TIME_UNITS)),
                   st.sampled_from(_STYLES), st.sampled_from(_CASES)),
)  # fmt: skip
def test_unit_bearing_names_give_the_canonical_inputs(reference, vol, time):
    data, model, mean = reference
    (v_stem, v_unit, v_style, v_case), (t_stem, t_unit, t_style, t_case) = vol, time
    v_name = v_case(v_style.format(v_stem, v_unit))
    t_name = t_case(t_style.format(t_stem, t_unit))
    variant = CANONICAL.assign(
        volume_L=CANONICAL["volume_L"] * _VOLUME_UNITS[v_unit],
        time_h=CANONICAL["time_h"] * _TIME_UNITS[t_unit],
    ).rename(columns={"volume_L": v_name, "time_h": t_name})
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        other = ScaleUpData(variant, target="titer")
    assert other.feature_names == data.feature_names
    np.testing.assert_allclose(other.X.numpy(), data.X.numpy(), rtol=1e-9, atol=0.0)
    np.testing.assert_allclose(other.Y.numpy(), data.Y.numpy(), rtol=1e-9, atol=0.0)
    np.testing.assert_allclose(model.predict(other.X).mean.numpy(), mean.numpy(), rtol=1e-9)
    roles = resolve_roles(list(variant.columns), target="titer")
    assert (roles["volume_L"].source, roles["time_h"].source) == (v_name, t_name)
