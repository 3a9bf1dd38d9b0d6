"""Suggestions an engineer can run: vessels as options with their own windows, rounded settings,
the production band before and after, reasons, set points, planned runs, appendable output."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pytest
import torch

import mfgp.acquisition.advice
import mfgp.acquisition.options
import mfgp.acquisition.vessels
from mfgp.acquisition import (
    ClosedFormVarianceReduction,
    OptionCostModel,
    SearchSpace,
    run_suggest,
    suggest,
)
from mfgp.acquisition.vessels import carry_window, instrument_step, vessel_windows
from mfgp.cli import main
from mfgp.data import ScaleUpData
from mfgp.exceptions import InputDataError
from mfgp.models import AR1MultiFidelityGP
from mfgp.scaling.criteria import Vessel, operating_point
from mfgp.scaling.vessels import parse_vessel_name, physics_role, vessel_label

#: measured runs per vessel: rpm and vvm windows that do not overlap between vessels.
WINDOWS = {2.0: ((650.0, 870.0), (0.5, 1.0)), 200.0: ((150.0, 170.0), (1.2, 1.5))}


def _frame(names: dict[str, str] | None = None) -> pd.DataFrame:
    """End-point titer at 2 L and 200 L (measured) and a cheap level at 2 L ... 10 m3."""
    rng = np.random.default_rng(1)
    rows = []
    for fid, vols, n in (("scaling_law", (2.0, 200.0, 1e4), 6), ("measured", (2.0, 200.0), 5)):
        for v in vols:
            (r0, r1), (a0, a1) = WINDOWS.get(v, ((60.0, 80.0), (0.8, 1.2)))
            for _ in range(n):
                rpm, vvm = float(rng.uniform(r0, r1)), float(rng.uniform(a0, a1))
                feed = float(rng.uniform(4, 10))
                y = 3 + 0.2 * feed - 0.15 * math.log10(v) + 0.3 * vvm
                y += 0.2 if fid == "scaling_law" else float(rng.normal(0, 0.03))
                rows.append((fid, f"R{len(rows)}", v, 36.0, rpm, vvm, feed, y))
    cols = ["fidelity", "run_id", "volume_L", "time_h", "rpm", "vvm", "feed", "titer"]
    frame = pd.DataFrame(rows, columns=cols)
    return frame.rename(columns=names or {})


@pytest.fixture(scope="module")
def data() -> ScaleUpData:
    return ScaleUpData(_frame(), target="titer")


@pytest.fixture(scope="module")
def model(data: ScaleUpData) -> AR1MultiFidelityGP:
    return AR1MultiFidelityGP(restarts=1, maxiter=40).fit(data, seed=0)


@pytest.fixture(scope="module")
def space(data: ScaleUpData) -> SearchSpace:
    return SearchSpace.from_data(data, costs="2L=1,200L=20", target_volume_L=1e4)


def test_module_examples() -> None:
    for module in (mfgp.acquisition.vessels, mfgp.acquisition.options, mfgp.acquisition.advice):
        assert doctest.testmod(module).failed == 0


def test_vessel_names_and_roles_known_answers() -> None:
    assert [vessel_label(v) for v in (0.5, 15.0, 1000.0, 2e4)] == [
        "0.5 L",
        "15 L",
        "1000 L",
        "20 m3",
    ]
    assert parse_vessel_name("15 L") == 15.0 and parse_vessel_name("2.5m3") == 2500.0
    assert parse_vessel_name("lab") is None and parse_vessel_name("-3") is None
    assert (
        physics_role("Stirrer speed [1/min]") == "rpm" and physics_role("Aeration (vvm)") == "vvm"
    )
    assert physics_role("rpm_setpoint") is None and physics_role("titer") is None
    assert (
        instrument_step("Temp (C)") == 0.1 and instrument_step("x", np.array([0.0, 0.05])) == 1e-4
    )


def test_window_margin_and_carried_stirrer_speed() -> None:
    frame = pd.DataFrame({"volume_L": [2.0, 2.0, 2.0], "rpm": [700.0, 700.0, 700.0]})
    assert vessel_windows(frame, ["rpm"]) == {2.0: {"rpm": (665.0, 735.0)}}  # one value: +-5 %
    # constant P/V at geometric similarity: N ~ D^(-2/3), here checked through P/V itself
    src, dst = Vessel(2.0), Vessel(2000.0)
    w = carry_window({"rpm": (600.0, 900.0)}, src, dst, rpm_name="rpm")
    for a, b in zip((600.0, 900.0), w["rpm"], strict=True):
        pv_src = operating_point(src, torch.tensor([a]), torch.tensor([1.0])).p_per_v_ungassed
        pv_dst = operating_point(dst, torch.tensor([b]), torch.tensor([1.0])).p_per_v_ungassed
        assert float(pv_dst) == pytest.approx(float(pv_src), rel=1e-6)


@pytest.mark.parametrize("goal", ["learn", "optimise"])
def test_every_proposal_inside_its_own_vessel_window(data, model, space, goal: str) -> None:
    res = suggest(model, space, goal=goal, q=3, seed=0, n_candidates=64, n_mc=32)
    top = data.frame[data.fidelity == data.top_fidelity]
    pv_max = space.constraints.max_p_per_v
    assert pv_max is not None
    for _, row in res.frame.iterrows():
        runs = top[top["volume_L"] == row["volume_L"]]
        for col in ("rpm", "vvm", "feed"):
            lo, hi = runs[col].min(), runs[col].max()
            pad = 0.1 * (hi - lo)
            assert lo - pad - 1e-6 <= row[col] <= hi + pad + 1e-6, (col, row[col], lo, hi)
        op = operating_point(
            Vessel(row["volume_L"]), torch.tensor([row["rpm"]]), torch.tensor([row["vvm"]])
        )
        assert float(op.p_per_v) <= pv_max * (1 + 1e-9)
        assert row["time_h"] == 36.0  # time is never a setting: the end of the run
        assert row["rpm"] == round(row["rpm"]) and row["vvm"] == round(row["vvm"], 2)


def test_engineer_columns_and_the_band_after_is_narrower(model, space) -> None:
    res = suggest(model, space, goal="learn", q=2, seed=0, n_candidates=64, n_mc=32)
    f = res.frame
    assert list(f["vessel"]) and set(f["vessel"]) <= {"2 L", "200 L"}
    assert (f["production_lower95"] < f["production_mean"]).all()
    assert (f["production_mean"] < f["production_upper95"]).all()
    assert (f["width95_after"] <= f["width95_now"] + 1e-12).all()
    assert (f["width95_after"] > 0).all()
    assert all(isinstance(r, str) and "10 m3" in r for r in f["reason"])
    s = res.summary
    assert s["window_width95_after"] < s["window_width95_now"]
    assert s["total_cost"] == pytest.approx(f["cost"].sum())


def test_optimise_reports_a_set_point_with_the_probability_of_a_spec(model, space) -> None:
    res = suggest(model, space, goal="optimise", q=1, seed=0, n_candidates=64, n_mc=32, spec=4.0)
    sp = res.set_point
    assert sp is not None and sp.lower < sp.mean < sp.upper
    assert 0.0 <= sp.probability <= 1.0
    window = space.window(None)
    for name, (lo, hi) in window.items():
        assert lo - 1e-6 <= sp.settings[name] <= hi + 1e-6
    low = suggest(model, space, goal="optimise", q=1, seed=0, n_candidates=64, n_mc=32, spec=0.0)
    assert low.set_point.probability == pytest.approx(1.0, abs=1e-6)


def test_unit_bearing_names_give_the_same_proposals() -> None:
    renamed = {"rpm": "Agitation (rpm)", "vvm": "Aeration [vvm]", "volume_L": "Volume (L)"}
    plain = ScaleUpData(_frame(), target="titer")
    units = ScaleUpData(_frame(renamed), target="titer")
    results = []
    for d in (plain, units):
        m = AR1MultiFidelityGP(restarts=1, maxiter=40).fit(d, seed=0)
        s = SearchSpace.from_data(d, costs="2L=1,200L=20", target_volume_L=1e4)
        assert s.constraints.max_p_per_v is not None  # the stirrer speed was recognised
        results.append(suggest(m, s, goal="learn", q=2, seed=0, n_candidates=64, n_mc=32))
    torch.testing.assert_close(results[0].X, results[1].X)
    assert "Agitation (rpm)" in results[1].frame.columns


def test_only_declared_operating_variables_are_chosen(data, model) -> None:
    s = SearchSpace.from_data(data, costs="2L=1,200L=20", target_volume_L=1e4, operating=["rpm"])
    assert s.free_names == ["rpm"] and "time_h" in s.fixed
    res = suggest(model, s, goal="learn", q=3, seed=0, n_candidates=64, n_mc=32)
    top = data.frame[data.fidelity == data.top_fidelity]
    for _, row in res.frame.iterrows():
        runs = top[top["volume_L"] == row["volume_L"]]
        assert row["vvm"] == pytest.approx(float(np.median(runs["vvm"])))  # held at the median
    with pytest.raises(InputDataError, match="operating variables \\['time_h'\\]"):
        SearchSpace.from_data(data, costs="2L=1", target_volume_L=1e4, operating=["time_h"])


def test_a_planned_run_is_not_proposed_again(model, space) -> None:
    first = suggest(model, space, goal="learn", q=1, seed=0, n_candidates=64, n_mc=32)
    again = suggest(
        model, space, goal="learn", q=2, seed=0, n_candidates=64, n_mc=32, X_pending=first.X
    )
    assert not (again.X == first.X).all(dim=-1).any()


def test_costs_name_the_vessels(data) -> None:
    with pytest.raises(InputDataError, match="give the cost of each vessel.*2 L, 200 L"):
        SearchSpace.from_data(data, target_volume_L=1e4)
    with pytest.raises(InputDataError, match="unknown vessel 'moon'"):
        SearchSpace.from_data(data, costs="moon=1", target_volume_L=1e4)
    # a vessel without runs (a 15 L bench reactor) gets the nearest vessel's window, carried
    s = SearchSpace.from_data(data, costs="15L=2", target_volume_L=1e4)
    (o,) = s.options
    assert o.vessel == "15 L" and o.volume_L == 15.0
    lo, hi = s.window(o)["rpm"]
    assert lo < 650.0 * 0.9 and hi < 870.0  # slower than at 2 L: constant P/V
    assert s.window(o)["vvm"] == s.window(s.options[0])["vvm"]


def test_config_vessel_table_sets_cost_window_and_geometry(data, tmp_path) -> None:
    cfg = tmp_path / "space.toml"
    cfg.write_text(
        'target_volume_L = 10000\n[vessels."200"]\ncost = 20\nrpm = [155, 160]\ndiameter_m = 0.5\n'
    )
    s = SearchSpace.from_data(data, config=str(cfg))
    (o,) = s.options
    assert (o.vessel, o.cost) == ("200 L", 20.0) and s.window(o)["rpm"] == (155.0, 160.0)
    assert s.vessel(200.0).aspect == pytest.approx(4 * 0.2 / (math.pi * 0.5**3))
    cfg.write_text('target_volume_L = 10000\n[vessels."200"]\ncost = 20\nshape = 3\n')
    with pytest.raises(InputDataError, match="unknown keys \\['shape'\\]"):
        SearchSpace.from_data(data, config=str(cfg))


def test_cli_suggestions_csv_can_be_planned_then_appended(tmp_path, capsys) -> None:
    csv = tmp_path / "runs.csv"
    _frame().to_csv(csv, index=False)
    base = ["suggest", "--data", str(csv), "--target", "titer", "--target-volume", "10000"]
    base += ["--costs", "2L=1,200L=20", "--model", "ar1", "--candidates", "64"]
    base += ["--model-option", "restarts=1", "--model-option", "maxiter=30", "--cost-unit", "h"]
    assert main([*base, "--q", "2", "--out", str(tmp_path / "a")]) == 0
    printed = capsys.readouterr().out
    assert "cost (h)" in printed and "expected after these runs" in printed
    planned = pd.read_csv(tmp_path / "a" / "suggestions.csv")
    assert list(planned.columns[:8]) == list(_frame().columns[[1, 0, 2, 3, 4, 5, 6, 7]])
    # the planned runs are conditioned on and not proposed again
    out_b = tmp_path / "b"
    assert (
        main(
            [
                *base,
                "--q",
                "1",
                "--pending",
                str(tmp_path / "a" / "suggestions.csv"),
                "--out",
                str(out_b),
            ]
        )
        == 0
    )
    again = pd.read_csv(out_b / "suggestions.csv")
    key = ["volume_L", "rpm", "vvm", "feed"]
    assert not again[key].merge(planned[key]).shape[0]
    # filled in, the suggestions append to the data as they are
    planned["titer"] = [4.0, 4.1]
    pd.concat([_frame(), planned]).to_csv(tmp_path / "more.csv", index=False)
    more = ScaleUpData(tmp_path / "more.csv", target="titer")
    assert len(more) == len(_frame()) + 2


def test_cli_missing_costs_says_what_to_add(tmp_path, capsys) -> None:
    csv = tmp_path / "runs.csv"
    _frame().to_csv(csv, index=False)
    argv = ["suggest", "--data", str(csv), "--target", "titer", "--target-volume", "1e4"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--costs 2L=1,200L=20" in err and err.count("\n") == 1


def test_categorical_factor_is_a_choice_of_level() -> None:
    frame = _frame()
    frame["cell_line"] = np.where(np.arange(len(frame)) % 2 == 0, "A", "B")
    d = ScaleUpData(frame, target="titer", categorical=["cell_line"])
    s = SearchSpace.from_data(d, costs="2L=1,200L=20", target_volume_L=1e4)
    assert s.categories == {"cell_line": ["cell_line=A", "cell_line=B"]}
    X = s.candidates(32, seed=0)
    ind = X[:, [s.feature_names.index("cell_line=A"), s.feature_names.index("cell_line=B")]]
    assert torch.equal(ind.sum(-1), torch.ones(X.shape[0], dtype=X.dtype))
    assert set(ind[:, 0].tolist()) == {0.0, 1.0}  # both levels are proposed


def test_run_suggest_in_memory() -> None:
    res = run_suggest(
        ScaleUpData(_frame(), target="titer"),
        costs="2L=1,200L=20",
        target_volume_L=1e4,
        model="ar1",
        model_options={"restarts": 1, "maxiter": 30},
        q=1,
        n_candidates=32,
    )
    assert res.suggestions.frame.shape[0] == 1 and res.out_dir is None


def test_single_run_gain_with_pending_runs_is_the_marginal_gain(model, space) -> None:
    """The one-posterior gain of a run after pending runs equals the gain of the pair minus
    that of the pending run alone (the Schur complement identity it relies on)."""
    M = space.target_points(16, seed=1)
    C = space.candidates(8, seed=0)
    cost = OptionCostModel(space.options).to(C)
    free = ClosedFormVarianceReduction(model, M, cost)
    with torch.no_grad():
        pair = free.gain(torch.stack([C[0].expand(len(C) - 1, -1), C[1:]], dim=1))
        alone = free.gain(C[:1].unsqueeze(1))
        after = ClosedFormVarianceReduction(model, M, cost, X_pending=C[:1])
        marginal = after.gain(C[1:].unsqueeze(1))
    torch.testing.assert_close(marginal, pair - alone, rtol=1e-6, atol=1e-12)
    assert bool((marginal >= -1e-12).all())


def test_suggestions_csv_uses_the_files_own_column_names_and_units(tmp_path) -> None:
    """A spreadsheet-style file (volume in m3 under its own name, a run column, no level
    column): the suggested rows carry the same columns, in the same units, and append."""
    frame = _frame().query("fidelity == 'measured'").drop(columns=["fidelity"])
    frame = frame.rename(columns={"run_id": "Batch", "volume_L": "Working volume [m3]"})
    frame["Working volume [m3]"] = frame["Working volume [m3]"] / 1000.0
    frame = frame.rename(columns={"time_h": "Time (d)"})
    frame["Time (d)"] = frame["Time (d)"] / 24.0
    path = tmp_path / "plant.csv"
    frame.to_csv(path, index=False)
    res = run_suggest(
        str(path),
        target="titer",
        costs="2L=1,200L=20",
        target_volume_L=1e4,
        model="ar1",
        model_options={"restarts": 1, "maxiter": 30},
        q=2,
        n_candidates=32,
        out=tmp_path / "out",
    )
    rows = pd.read_csv(tmp_path / "out" / "suggestions.csv")
    data_cols = [c for c in rows.columns if not c.startswith("mfgp_")]
    assert set(data_cols) == set(frame.columns)
    vessels = sorted(res.suggestions.frame["volume_L"])
    assert sorted(rows["Working volume [m3]"]) == pytest.approx([v / 1000 for v in vessels])
    assert rows["Time (d)"].tolist() == pytest.approx([1.5, 1.5])
    rows["titer"] = [4.0, 4.2]
    pd.concat([frame, rows]).to_csv(tmp_path / "plant2.csv", index=False)
    assert len(ScaleUpData(tmp_path / "plant2.csv", target="titer")) == len(frame) + 2


def test_config_vessel_geometry_reaches_the_physics_level() -> None:
    from mfgp import datasets

    data = ScaleUpData(datasets.file("cho_endpoint"), target="titer_gL", categorical=["cell_line"])
    res = run_suggest(
        data,
        costs="2L=1,200L=20",
        target_volume_L=5e4,
        model="hybrid",
        model_options={"cheap_level": "physics", "restarts": 1},
        config={"vessels": {"200 L": {"h_over_t": 2.0, "n_impellers": 2}}},
        q=1,
        n_candidates=32,
    )
    assert res.model.level0.vessel_table == {"200 L": {"h_over_t": 2.0, "n_impellers": 2}}
    assert res.model.level0.vessels.vessel(200.0).aspect == 2.0
