"""Tests of the closed-loop benchmark's bookkeeping (cost to reach a criterion, goal ratios)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from .conftest import load_benchmark_script


@pytest.fixture(scope="module")
def cl():
    return load_benchmark_script("closed_loop")


def _runs(rmse_by_round: list[list[float]], costs: list[float]) -> pd.DataFrame:
    rows = []
    for seed, rmses in enumerate(rmse_by_round):
        for rnd, (r, c) in enumerate(zip(rmses, costs, strict=True)):
            rows.append({"seed": seed, "round": rnd, "rmse": r, "cost": c, "titer_at_reco": r})
    return pd.DataFrame(rows)


def test_cost_to_reach_first_and_stay(cl) -> None:
    df = _runs([[2.0, 0.5, 1.5, 0.4], [2.0, 0.6, 1.4, 0.3], [2.0, 0.7, 0.5, 0.2]], [3, 4, 24, 25])
    # medians by round: 2.0, 0.6, 1.4, 0.3
    assert cl.cost_to_reach(df, "rmse", 1.0) == 4
    assert cl.cost_to_reach(df, "rmse", 1.0, stay=True) == 25
    assert math.isnan(cl.cost_to_reach(df, "rmse", 0.1))


def test_goal_table_ratios(cl) -> None:
    table = pd.DataFrame(
        {
            "strategy": ["mf_learn", "mf_optimise", "pilot_only", "sf_bo"],
            "cost_to_rmse<=1sd": [20.0, float("nan"), 43.0, 80.0],
            "cost_stay_rmse<=1sd": [50.0, 30.0, 43.0, float("nan")],
        }
    )
    g = cl.goal_table(table).set_index(["strategy", "criterion"])
    assert g.loc[("mf_learn", "cost_to_rmse<=1sd"), "ratio"] == pytest.approx(0.25)
    assert g.loc[("mf_learn", "cost_to_rmse<=1sd"), "goal met"] == "yes"
    assert g.loc[("mf_optimise", "cost_to_rmse<=1sd"), "goal met"].startswith("no")
    assert g.loc[("mf_learn", "cost_stay_rmse<=1sd"), "goal met"].startswith("yes (sf_bo")
    assert g.loc[("pilot_only", "cost_to_rmse<=1sd"), "goal met"] == "(reference)"
