"""Tests of the cost-aware acquisition layer (mfgp.acquisition) and ``mfgp suggest``.

Tiny problems (n <= 30), few candidates and optimiser iterations, to keep the file fast.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from botorch.models import SingleTaskGP
from gpytorch.kernels import MaternKernel, ScaleKernel

from mfgp import datasets
from mfgp.acquisition import (
    ClosedFormVarianceReduction,
    CostWeightedIntegratedVarianceReduction,
    EngineeringConstraints,
    OptionCostModel,
    ScaleOption,
    SearchSpace,
    build_acquisition,
    incumbent_best,
    parse_assignments,
    suggest,
)
from mfgp.cli import main
from mfgp.data import ScaleUpData, read_table
from mfgp.exceptions import InputDataError
from mfgp.models import AR1MultiFidelityGP

DT = torch.float64


def _frame() -> pd.DataFrame:
    """Two levels (simplified_model, measured), volumes 2 / 200 L, time, rpm and feed."""
    rng = np.random.default_rng(0)
    rows = []
    for fid, vols, n in (("simplified_model", (2.0, 200.0, 1e5), 4), ("measured", (2.0, 200.0), 3)):
        for v in vols:
            for _ in range(n):
                rpm = float(rng.uniform(200, 2000))
                feed = float(rng.uniform(3, 12))
                y = 3 + 0.2 * feed - 0.01 * (feed - 8) ** 2 - 0.1 * math.log10(v)
                y += 0.0005 * rpm + (0.3 if fid == "simplified_model" else 0.0)
                rows.append((fid, v, 36.0, rpm, feed, y + float(rng.normal(0, 0.02))))
    # one early time point so that time_h is a real feature with a range
    rows.append(("measured", 2.0, 12.0, 1000.0, 6.0, 1.0))
    return pd.DataFrame(rows, columns=["fidelity", "V", "t", "rpm", "feed", "titer"])


@pytest.fixture(scope="module")
def data() -> ScaleUpData:
    return ScaleUpData(_frame(), target="titer")


@pytest.fixture(scope="module")
def ar1(data: ScaleUpData) -> AR1MultiFidelityGP:
    return AR1MultiFidelityGP(restarts=1, maxiter=30).fit(data, seed=0)


@pytest.fixture(scope="module")
def space(data: ScaleUpData) -> SearchSpace:
    return SearchSpace.from_data(data, costs="lab=1,pilot=20", target_volume_L=1e5)


# ----------------------------------------------------------------------------- parsing
@pytest.mark.parametrize("bad", ["lab", "lab=abc", "lab=-1", "lab=0", "", "=3", "lab=1,lab=2"])
def test_bad_costs_string_raises(bad: str) -> None:
    with pytest.raises(InputDataError, match="costs"):
        parse_assignments(bad, "costs")


def test_unknown_scale_name_raises(data: ScaleUpData) -> None:
    with pytest.raises(InputDataError, match="unknown vessel 'moon'"):
        SearchSpace.from_data(data, costs="lab=1,moon=5", target_volume_L=1e5)


def test_scale_without_cost_raises(data: ScaleUpData) -> None:
    with pytest.raises(InputDataError, match="no cost"):
        SearchSpace.from_data(data, costs="lab=1", scales="pilot=200", target_volume_L=1e5)


def test_bounds_lower_above_upper_raises(data: ScaleUpData) -> None:
    with pytest.raises(InputDataError, match="lower 9.0 > upper 4.0"):
        SearchSpace.from_data(data, costs="lab=1", target_volume_L=1e5, bounds={"feed": (9, 4)})


def test_space_defaults(data: ScaleUpData, space: SearchSpace) -> None:
    assert space.fixed == {"time_h": 36.0}  # the end of the run
    assert set(space.bounds) == {"rpm", "feed"}
    lo, hi = space.bounds["feed"]  # covers the data and every vessel's window
    assert lo <= data.frame["feed"].min() and hi >= data.frame["feed"].max()
    opts = {o.name: o for o in space.options}
    for o in space.options:  # each vessel's own window: its runs' range plus 10 % each side
        runs = data.frame[
            (data.fidelity == data.top_fidelity) & (data.frame.volume_L == o.volume_L)
        ]
        f_lo, f_hi = runs["feed"].min(), runs["feed"].max()
        pad = 0.1 * (f_hi - f_lo)
        assert space.window(o)["feed"] == pytest.approx((f_lo - pad, f_hi + pad))
    assert (opts["lab"].volume_L, opts["pilot"].volume_L) == (2.0, 200.0)
    assert opts["lab"].fidelity == opts["pilot"].fidelity == data.top_fidelity
    # a fidelity name is that level at the target volume
    s2 = SearchSpace.from_data(data, costs="simplified_model=0.1,lab=1", target_volume_L=1e5)
    sim = s2.options[0]
    assert (sim.fidelity, sim.volume_L, sim.cost) == (0, 1e5, 0.1)


def test_default_envelope_keeps_target_points_reachable() -> None:
    """With rpm free and no constraints given, target-scale points stay within the P/V of the
    measured runs: no 50 m3 point at a 1 L stirrer speed. An explicit empty table opts out."""

    from mfgp.scaling.criteria import Vessel, operating_point

    csv = datasets.file("bioreactor_multifidelity")
    d = ScaleUpData(read_table(csv), target="titer_gL", ignore=["biomass_gL"])
    s = SearchSpace.from_data(d, costs="lab=1,pilot=20", target_volume_L=5e4)
    assert s.constraints.max_p_per_v is not None
    top = d.frame[d.fidelity == d.top_fidelity]
    assert 2000 < s.constraints.max_p_per_v < 5000  # microbial P/V, PHYSICS.md: 2-5 kW/m3
    pts = s.target_points(256)
    rpm = pts[:, s.feature_names.index("rpm")]
    assert float(rpm.max()) < 300 < float(top["rpm"].max())  # lab rpm excluded at 50 m3
    vvm = pts[:, s.feature_names.index("vvm")]
    op = operating_point(Vessel(5e4), rpm, vvm)
    assert bool((op.p_per_v <= s.constraints.max_p_per_v * (1 + 1e-9)).all())
    free = SearchSpace.from_data(d, costs="lab=1,pilot=20", target_volume_L=5e4, constraints={})
    assert not free.constraints.active
    # without limits the production window is still that of the 50 m3 runs (plus the margin)
    at_50 = top[top["volume_L"] == 5e4]["rpm"]
    rpm_free = free.target_points(256)[:, s.feature_names.index("rpm")]
    span = at_50.max() - at_50.min()
    assert float(rpm_free.max()) <= at_50.max() + 0.1 * span + 0.5
    assert float(rpm_free.min()) >= at_50.min() - 0.1 * span - 0.5


def test_config_toml(tmp_path, data: ScaleUpData) -> None:
    cfg = tmp_path / "space.toml"
    cfg.write_text(
        "target_volume_L = 50000\n[costs]\nlab = 2\nbench = 3\n[scales]\nbench = 5.0\n"
        "[bounds]\nfeed = [4.0, 8.0]\n[fixed]\ntime_h = 30\n[constraints]\nmax_tip_speed = 3.0\n"
    )
    s = SearchSpace.from_data(data, config=cfg)
    assert s.target_volume_L == 50000.0
    assert s.bounds["feed"] == (4.0, 8.0) and s.fixed["time_h"] == 30.0
    assert {o.name: o.volume_L for o in s.options} == {"lab": 2.0, "bench": 5.0}
    assert s.constraints.max_tip_speed == 3.0
    (tmp_path / "bad.toml").write_text("[constraints]\nmax_speed = 1\n")
    with pytest.raises(InputDataError, match="unknown constraint keys"):
        SearchSpace.from_data(
            data, costs="lab=1", target_volume_L=1e5, config=tmp_path / "bad.toml"
        )


def test_cost_model_maps_options(space: SearchSpace) -> None:
    X = space.candidates(8, seed=0)
    cost = OptionCostModel(space.options)(X.unsqueeze(-2)).reshape(-1)
    expect = torch.tensor([space.options[i].cost for i in space.option_index(X).tolist()])
    assert torch.equal(cost, expect.to(cost))
    assert set(cost.tolist()) == {1.0, 20.0}


def test_project_scales_rpm_up_at_constant_power_per_volume(space: SearchSpace) -> None:
    """A run projected to the target volume keeps its P/V (constant-P/V rule), not its rpm."""
    from mfgp.scaling.criteria import Vessel, operating_point

    X = space.candidates(8, seed=0)
    P = space.project(X)
    j = space.feature_names.index("rpm")
    assert bool((P[:, 0] == math.log10(space.target_volume_L)).all())
    assert bool((P[:, -1] == space.top_fidelity).all())
    for x, p in zip(X, P, strict=True):
        run = operating_point(Vessel(10 ** float(x[0])), float(x[j]))
        tgt = operating_point(Vessel(space.target_volume_L), float(p[j]))
        assert float(tgt.p_per_v_ungassed) == pytest.approx(float(run.p_per_v_ungassed), rel=1e-6)
        assert float(p[j]) < float(x[j])  # 2 L and 200 L runs turn slower at 100 m3
    others = [k for k in range(1, space.dim - 1) if k != j]
    torch.testing.assert_close(P[:, others], X[:, others])


# ----------------------------------------------------------------------------- proposals
def test_proposals_inside_bounds_and_constraints(data: ScaleUpData, ar1) -> None:
    # binds at lab scale for high rpm; no rpm of the lab range is feasible at 100 m3
    cons = EngineeringConstraints(max_tip_speed=2.5, at_target=False)
    s = SearchSpace.from_data(data, costs="lab=1,pilot=20", target_volume_L=1e5, constraints=cons)
    all_pts = s.assemble(2.0, 1, s.sobol(64, 0, DT, torch.device("cpu")))
    assert not bool(s.feasible(all_pts).all())  # the constraint removes some candidates
    for goal, q in (("learn", 2), ("optimise", 1)):
        res = suggest(ar1, s, goal=goal, q=q, seed=0, n_candidates=32, n_mc=16)
        X = res.X
        assert bool(s.feasible(X).all())
        for name, (lo, hi) in s.bounds.items():
            j = s.feature_names.index(name)
            assert bool(((X[:, j] >= lo) & (X[:, j] <= hi)).all())
        assert torch.allclose(X[:, s.feature_names.index("time_h")], torch.tensor(36.0, dtype=DT))
        from mfgp.scaling.criteria import Vessel, operating_point

        for row in res.frame.itertuples():
            tip = float(operating_point(Vessel(row.volume_L), row.rpm).tip_speed)
            assert tip <= 2.5 + 1e-9


def test_q3_gives_three_distinct_points(ar1, space: SearchSpace) -> None:
    res = suggest(ar1, space, goal="learn", q=3, seed=1, n_candidates=32, n_mc=16)
    assert res.X.shape == (3, space.dim)
    assert torch.unique(res.X, dim=0).shape[0] == 3
    assert list(res.frame["rank"]) == [1, 2, 3]
    cols = {"vessel", "option", "cost", "expected_gain", "production_mean", "width95_after"}
    cols |= {"production_lower95", "production_upper95", "width95_now", "reason"}
    assert cols <= set(res.frame.columns)
    assert (res.frame["expected_gain"] > 0).all()


@pytest.mark.parametrize(("goal", "q"), [("learn", 2), ("optimise", 1)])
def test_same_seed_same_proposals(ar1, space: SearchSpace, goal: str, q: int) -> None:
    a = suggest(ar1, space, goal=goal, q=q, seed=3, n_candidates=32, n_mc=16)
    b = suggest(ar1, space, goal=goal, q=q, seed=3, n_candidates=32, n_mc=16)
    assert torch.equal(a.X, b.X)
    pd.testing.assert_frame_equal(a.frame, b.frame)


def _rho_one_model() -> SingleTaskGP:
    """Two levels that are the same function (rho = 1) with identical noise: a GP whose kernel
    ignores the fidelity column."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(12, 1, generator=g, dtype=DT)
    vol = torch.full_like(x, math.log10(2.0))
    fid = torch.tensor([0.0, 1.0] * 6, dtype=DT).unsqueeze(-1)
    X = torch.cat([vol, x, fid], -1)
    Y = torch.sin(6 * x)
    model = SingleTaskGP(X, Y, covar_module=ScaleKernel(MaternKernel(active_dims=[1])))
    model.likelihood.noise = 1e-3
    model.covar_module.base_kernel.lengthscale = 0.3
    return model.eval()


@pytest.mark.parametrize("goal", ["learn", "optimise"])
def test_cheaper_equally_informative_fidelity_wins(goal: str) -> None:
    model = _rho_one_model()
    s = SearchSpace(
        feature_names=["log10_volume_L", "x"],
        bounds={"x": (0.0, 1.0)},
        fixed={},
        options=[ScaleOption("expensive", 1, 2.0, 20.0), ScaleOption("cheap", 0, 2.0, 1.0)],
        target_volume_L=2.0,
        top_fidelity=1,
    )
    res = suggest(model, s, goal=goal, q=1, seed=0, n_candidates=32, n_mc=16)
    assert res.frame["option"].tolist() == ["cheap"]
    # without cost weighting both are equally informative: same best gain either way
    only_dear = suggest(model, s.restrict(["expensive"]), goal=goal, seed=0, n_candidates=32)
    only_cheap = suggest(model, s.restrict(["cheap"]), goal=goal, seed=0, n_candidates=32)
    assert only_dear.frame["expected_gain"].iloc[0] == pytest.approx(
        only_cheap.frame["expected_gain"].iloc[0], rel=0.05
    )


@pytest.mark.parametrize("which", ["rho_one", "ar1"])
def test_closed_form_matches_fantasy_variance_reduction(which: str, ar1, space) -> None:
    model = _rho_one_model() if which == "rho_one" else ar1.as_joint()
    if which == "rho_one":
        space = SearchSpace(
            ["log10_volume_L", "x"],
            {"x": (0.0, 1.0)},
            {},
            [ScaleOption("a", 1, 2.0, 5.0), ScaleOption("b", 0, 2.0, 1.0)],
            2.0,
            1,
        )
    X = space.candidates(4, seed=0)
    mc = space.target_points(8, seed=1)
    cm = OptionCostModel(space.options)
    fant = CostWeightedIntegratedVarianceReduction(model, mc, cm)
    closed = ClosedFormVarianceReduction(model, mc, cm)
    with torch.no_grad():
        torch.testing.assert_close(
            closed(X.unsqueeze(-2)), fant(X.unsqueeze(-2)), rtol=1e-4, atol=1e-10
        )
        fant.set_X_pending(X[:1])
        closed.set_X_pending(X[:1])
        torch.testing.assert_close(
            closed.gain(X.unsqueeze(-2)), fant.gain(X.unsqueeze(-2)), rtol=1e-4, atol=1e-10
        )


def test_incumbent_from_top_fidelity_only(ar1, space: SearchSpace) -> None:
    X = torch.tensor([[0.0, 0.1, 0.0], [0.0, 0.2, 0.0], [0.0, 0.3, 1.0], [2.0, 0.3, 1.0]])
    Y = torch.tensor([[100.0], [90.0], [1.0], [2.0]])
    assert incumbent_best(X, Y).item() == 2.0
    assert incumbent_best(X, Y, log10_volume=0.0).item() == 1.0
    with pytest.raises(InputDataError):
        incumbent_best(X[:2], Y[:2], top_fidelity=1)
    # the EI acquisition of the layer uses the measured rows only
    acq = build_acquisition(ar1, space, goal="ei", seed=0)
    Xt, Yt = ar1.train_X_, ar1.train_Y_
    top = Xt[:, -1] == space.top_fidelity
    assert float(acq.best_f) == pytest.approx(float(Yt[top].max()))
    assert float(Yt[~top].max()) > float(Yt[top].max())  # lower level would have been larger
    res = suggest(ar1, space, goal="ei", q=2, seed=0, n_candidates=32)
    assert (res.X[:, -1] == space.top_fidelity).all()


def test_bad_goal_and_q(ar1, space: SearchSpace) -> None:
    with pytest.raises(InputDataError, match="goal"):
        suggest(ar1, space, goal="win")
    with pytest.raises(InputDataError, match="q must"):
        suggest(ar1, space, goal="learn", q=0)


def test_infeasible_space_raises(data: ScaleUpData) -> None:
    cons = EngineeringConstraints(max_tip_speed=0.01)
    s = SearchSpace.from_data(data, costs="lab=1", target_volume_L=1e5, constraints=cons)
    with pytest.raises(InputDataError, match="engineering constraints"):
        s.candidates(16)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_follows_model(data: ScaleUpData, space: SearchSpace) -> None:
    model = AR1MultiFidelityGP(restarts=1, maxiter=20).fit(data.to("cuda"), seed=0)
    res = suggest(model, space, goal="learn", q=2, seed=0, n_candidates=32, n_mc=16)
    assert res.X.device.type == "cuda"


# ----------------------------------------------------------------------------- CLI
def test_cli_suggest_writes_files(tmp_path, capsys) -> None:
    csv = tmp_path / "runs.csv"
    _frame().to_csv(csv, index=False)
    cfg = tmp_path / "space.toml"
    cfg.write_text("[model_options]\nrestarts = 1\nmaxiter = 20\n")
    out = tmp_path / "out"
    argv = ["suggest", "--data", str(csv), "--target", "titer", "--goal", "learn", "--q", "2"]
    argv += ["--costs", "lab=1,pilot=20", "--target-volume", "100000", "--config", str(cfg)]
    argv += ["--seed", "0", "--out", str(out), "--candidates", "32", "--model", "ar1"]
    argv += ["--model-option", "maxiter=15"]  # the command line wins over the TOML file
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "vessel" in printed and "production now (95 %)" in printed
    frame = pd.read_csv(out / "suggestions.csv")
    assert len(frame) == 2 and set(frame["mfgp_vessel"]) <= {"2 L", "200 L"}
    assert frame["titer"].isna().all()  # the response is left for the engineer to fill in
    meta = json.loads((out / "suggestions.json").read_text())
    assert meta["goal"] == "learn" and len(meta["suggestions"]) == 2
    assert meta["space"]["target_volume_L"] == 100000.0
    assert meta["model"] == "ar1" and meta["model_options"] == {"restarts": 1, "maxiter": 15}
    assert meta["fit_choices"] == {}  # AR1 with its defaults chooses nothing


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--costs", "lab=one"], "bad costs value"),
        (["--costs", "lab=1,moon=2"], "unknown vessel"),
        (["--costs", "lab=1", "--scales", "pilot=200"], "no cost"),
        (["--costs", "lab=1", "--model-option", "ar1.restarts=1"], "fits one model"),
        (["--costs", "lab=1", "--model-option", "nope=1"], "option 'nope' is an option of none"),
    ],
)
def test_cli_suggest_bad_input(tmp_path, capsys, extra: list[str], message: str) -> None:
    csv = tmp_path / "runs.csv"
    _frame().to_csv(csv, index=False)
    argv = ["suggest", "--data", str(csv), "--target", "titer", "--target-volume", "1e5"]
    assert main(argv + extra) == 2
    assert message in capsys.readouterr().err
