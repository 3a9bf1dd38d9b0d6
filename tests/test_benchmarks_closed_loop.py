"""Tests of the closed-loop benchmark's bookkeeping: the budget loop, the fixed designs' vessel
choice, costs at equal cost, the goal tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from .conftest import load_benchmark_script


@pytest.fixture(scope="module")
def cl():
    return load_benchmark_script("closed_loop")


def _runs(rmse_by_round: list[list[float]], costs: list[list[float]]) -> pd.DataFrame:
    rows = []
    for seed, (rmses, cs) in enumerate(zip(rmse_by_round, costs, strict=True)):
        for rnd, (r, c) in enumerate(zip(rmses, cs, strict=True)):
            rows.append({"seed": seed, "round": rnd, "rmse": r, "cost": c, "titer_at_reco": -r})
    return pd.DataFrame(rows)


def _vessels(cl, share: float, n: int) -> list[str]:
    lab, pilot, out = 3.0, 0.0, []
    for _ in range(n):
        v = cl.plan_vessel(lab, pilot, share)
        out.append(v)
        lab, pilot = (lab + 1, pilot) if v == "lab" else (lab, pilot + 20)
    return out


def test_half_split_alternation(cl) -> None:
    # from the 3 initial lab runs: 7 lab runs (lab cost 10), pilot, 20 lab, pilot, 20 lab, pilot
    v = _vessels(cl, 0.5, 7 + 1 + 20 + 1 + 20 + 1)
    expect = ["lab"] * 7 + ["pilot"] + ["lab"] * 20 + ["pilot"] + ["lab"] * 20 + ["pilot"]
    assert v == expect
    assert _vessels(cl, 0.0, 5) == ["pilot"] * 5
    assert _vessels(cl, 1.0, 3) == ["lab"] * 3


def test_split_keeps_the_share(cl) -> None:
    for share in (0.1, 0.25, 0.5, 0.8):
        lab, pilot = 3.0, 0.0
        for v in _vessels(cl, share, 400):
            lab, pilot = (lab + 1, pilot) if v == "lab" else (lab, pilot + 20)
            # one pilot run is the largest step the plan can take away from the share
            assert abs(lab - share * (lab + pilot)) <= 20.0
        assert lab / (lab + pilot) == pytest.approx(share, abs=0.05)


def test_fixed_plan_points_are_seeded_sobol(cl) -> None:
    from mfbench import closed_loop_problems as P

    proc = P.get_process("ecoli")
    a, b = P.FixedPlan(proc, 3), P.FixedPlan(proc, 3)
    assert a.initial_lab() == b.initial_lab()
    pts = [a.next_point("pilot") for _ in range(4)]
    assert pts == [b.next_point("pilot") for _ in range(4)]
    assert pts != [P.FixedPlan(proc, 4).next_point("pilot") for _ in range(4)]
    lo, hi = proc.bounds["vvm"]
    assert all(lo <= p[0] <= hi for p in pts)


def test_budget_loop_bookkeeping(cl, monkeypatch) -> None:
    """The loop stops at the budget (the last run may pass it) or at the round cap, and
    counts vessels and cost per round."""
    from mfbench import closed_loop_problems as P

    class Dummy:
        def predict(self, X):
            import torch

            n = X.shape[0]
            z = torch.zeros(n, dtype=torch.float64)
            return type("Pred", (), {"mean": z, "lower": z - 1, "upper": z + 1})()

    monkeypatch.setattr(cl, "fit", lambda *a, **k: Dummy())
    monkeypatch.setattr(P.EColi, "run", lambda self, v, a, b, simplified, rng=None: 1.0)
    import torch

    grid = torch.tensor([P.row(P.TARGET_L, 1.0, 5.0, 1)], dtype=torch.float64)
    shared = {"process": "ecoli", "low_X": [], "low_Y": [], "grid_X": grid}
    shared |= {"grid_y": np.array([1.0]), "reco_X": grid, "reco_y": np.array([1.0])}
    shared |= {"budget": 50.0, "max_rounds": 100, "model_options": {}}
    recs = pd.DataFrame(cl.run_one(("fixed_lab_pilot", 0, shared)))
    # 3 -> 10 (7 lab), 30 (pilot), 50 (20 lab): stops exactly at the budget
    assert recs["cost"].tolist()[:9] == [3, 4, 5, 6, 7, 8, 9, 10, 30]
    assert recs["cost"].iloc[-1] == 50 and recs["stop"].iloc[-1] == "budget"
    assert (recs["n_lab"] + 20 * recs["n_pilot"] == recs["cost"]).all()
    recs = pd.DataFrame(cl.run_one(("fixed_pilot", 0, shared)))
    assert recs["cost"].tolist() == [3, 23, 43, 63]  # the last run passes the budget
    shared["max_rounds"] = 5
    recs = pd.DataFrame(cl.run_one(("fixed_lab_pilot", 0, shared)))
    assert len(recs) == 6 and recs["stop"].iloc[-1] == "max_rounds"


def test_learn_split_leaves_the_seed_out(cl) -> None:
    df = pd.DataFrame(
        {
            "strategy": ["mf_learn"] * 6,
            "seed": [0, 0, 1, 1, 2, 2],
            "round": [0, 1, 0, 1, 0, 1],
            "cost": [3, 100, 3, 200, 3, 50],
            "n_lab": [3, 40, 3, 20, 3, 50],
        }
    )
    # final shares: 0.4, 0.1, 1.0
    s = cl.learn_split_shares(df, [0, 1, 2])
    assert s[0] == pytest.approx(0.55)
    assert s[1] == pytest.approx(0.7)
    assert s[2] == pytest.approx(0.25)


def test_cost_to_reach_at_equal_cost(cl) -> None:
    # seeds with different cost sequences: step functions of cost
    df = _runs(
        [[2.0, 0.5, 1.5, 0.4], [2.0, 0.6, 1.4, 0.3], [2.0, 0.7, 0.5, 0.2]],
        [[3, 4, 24, 25], [3, 23, 24, 44], [3, 4, 5, 6]],
    )
    # costs 3 4 5 6 23 24 25 44; per seed at each:
    # s0: 2 .5 .5 .5 .5 1.5 .4 -; s1: 2 2 2 2 .6 1.4 1.4 .3; s2: 2 .7 .5 .2 - - - -
    cur = cl.median_curve(df, "rmse")
    assert cur["cost"].tolist() == [3, 4, 5, 6, 23, 24, 25, 44]
    # seed 2 stopped at cost 6 and seed 0 at 25 (undefined after: counts as not reached)
    assert cur["median"].tolist() == [2.0, 0.7, 0.5, 0.5, 0.6, 1.5, 1.4, math.inf]
    assert cl.cost_to_reach(df, "rmse", 1.0) == 4
    assert cl.cost_to_reach(df, "rmse", 1.0, stay=True, budget=23) == 4
    assert math.isnan(cl.cost_to_reach(df, "rmse", 1.0, stay=True, budget=25))
    assert cl.cost_to_reach(df, "rmse", 1.5, stay=True, budget=25) == 4
    assert cl.cost_to_reach(df, "titer_at_reco", -0.6, above=True) == 5
    assert math.isnan(cl.cost_to_reach(df, "rmse", 0.1))
    assert cl.value_at_cost(df, "rmse", 24) == pytest.approx(1.5)
    assert cl.value_at_cost(df, "rmse", 25) == pytest.approx(1.4)
    assert math.isnan(cl.value_at_cost(df, "rmse", 44))


def test_goal_table_against_fixed_designs(cl) -> None:
    nan = float("nan")
    table = pd.DataFrame(
        {
            "strategy": ["mf_learn", "mf_optimise", "fixed_pilot", "fixed_lab_pilot"],
            "cost_to_rmse<=1sd": [21.0, nan, 43.0, 30.0],
            "cost_stay_rmse<=1sd": [50.0, 30.0, nan, nan],
            "cost_to_rmse<=0.5sd": [45.0, 80.0, 63.0, 110.0],
        }
    )
    g = cl.goal_table(table).set_index(["strategy", "criterion"])
    row = g.loc[("mf_learn", "cost_to_rmse<=1sd")]
    assert row["best fixed"] == "fixed_lab_pilot"
    assert row["ratio"] == pytest.approx(0.7)
    assert row["goal met"] == "yes"
    assert g.loc[("mf_optimise", "cost_to_rmse<=1sd"), "goal met"].startswith("no")
    assert g.loc[("mf_learn", "cost_stay_rmse<=1sd"), "goal met"].startswith("yes (no fixed")
    info = g.loc[("mf_learn", "cost_to_rmse<=0.5sd")]
    assert info["ratio"] == pytest.approx(45 / 63) and info["goal met"] == "(no)"


def test_sf_bo_table_ratios(cl) -> None:
    table = pd.DataFrame(
        {
            "strategy": ["mf_learn", "mf_optimise", "pilot_only", "sf_bo"],
            "cost_to_rmse<=1sd": [20.0, float("nan"), 43.0, 80.0],
            "cost_stay_rmse<=1sd": [50.0, 30.0, 43.0, float("nan")],
        }
    )
    g = cl.sf_bo_table(table).set_index(["strategy", "criterion"])
    assert g.loc[("mf_learn", "cost_to_rmse<=1sd"), "ratio"] == pytest.approx(0.25)
    assert g.loc[("mf_learn", "cost_to_rmse<=1sd"), "goal met"] == "yes"
    assert g.loc[("mf_optimise", "cost_to_rmse<=1sd"), "goal met"].startswith("no")
    assert g.loc[("mf_learn", "cost_stay_rmse<=1sd"), "goal met"].startswith("yes (sf_bo")
    assert g.loc[("pilot_only", "cost_to_rmse<=1sd"), "goal met"] == "(reference)"
