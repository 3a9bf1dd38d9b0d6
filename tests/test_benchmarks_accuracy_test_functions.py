"""Tests of the accuracy benchmark on the multi-fidelity test functions: its metrics, files,
goals table and merge of partial runs."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from mfgp.test_functions import make_problem

from .conftest import load_benchmark_script


@pytest.fixture(scope="module")
def acc():
    return load_benchmark_script("accuracy_test_functions")


class _Known:
    """An adapter that predicts given moments, for known-answer metrics."""

    def __init__(self, mean, var):
        self.mean, self.var = mean, var

    def fit_predict(self, X, Y, Xt, *, seed):
        return self.mean, self.var


def test_evaluate_known_answers(acc) -> None:
    y = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64).unsqueeze(-1)
    mean = y.squeeze(-1) + torch.tensor([0.0, 0.0, 0.0, 10.0], dtype=torch.float64)
    res = acc.evaluate(_Known(mean, torch.ones(4, dtype=torch.float64)), None, None, None, y, 0)
    assert res["status"] == "ok"
    assert res["coverage95"] == pytest.approx(0.75)  # 3 of 4 within 1.96 sd
    assert res["nrmse"] == pytest.approx(5.0 / y.std(unbiased=False).item())  # RMSE 5 / sd(y)
    assert res["fit_predict_s"] >= 0
    assert res["fit_info"] == ""  # an adapter without fit_info


def test_every_mfgp_model_fits_a_tiny_problem(acc) -> None:
    X, Y, Xt, Yt = make_problem("forrester", (12, 5), seed=0, n_test=30)
    for name in acc.MFGP_MODELS:
        model = acc.make_model(name, quick=True)
        res = acc.evaluate(model, X, Y, Xt, Yt, 0)
        assert res["status"] == "ok" and 0.0 <= res["coverage95"] <= 1.0, name
        if name.startswith("ar1_sim"):  # log_transform="auto"; Forrester has negative values
            assert res["fit_info"] == "log_transform=identity", name
    # positive outputs: the choice is made by the evidence and recorded
    X, Y, Xt, Yt = make_problem("borehole", (30, 8), seed=0, n_test=30)
    res = acc.evaluate(acc.make_model("ar1_sim_plugin", quick=True), X, Y, Xt, Yt, 0)
    assert res["fit_info"] in ("log_transform=identity", "log_transform=log")


def test_run_goals_and_merge(acc, tmp_path) -> None:
    """A quick run writes the three files with a goals table; merging two partial runs keeps
    each (problem, seed, model) once, the first folder winning."""
    a, b = tmp_path / "a", tmp_path / "b"
    args = ["--quick", "--n-test", "40", "--problems", "forrester"]
    assert acc.main([*args, "--models", "ar1_sim_plugin", "--out", str(a)]) == 0
    assert acc.main([*args, "--models", "ar1_sim_plugin,nargp", "--out", str(b)]) == 0
    data = json.loads((a / "accuracy_test_functions.json").read_text())
    goals = {(g["goal"], g["problem"]): g["met"] for g in data["goals"]}
    assert goals[("best mfgp NLPD <= best peer NLPD", "forrester")] == "n/a"  # no peer run
    assert (a / "accuracy_test_functions.md").read_text().startswith("# Accuracy")
    assert (a / "accuracy_test_functions.png").stat().st_size > 5_000
    rows_a = pd.read_csv(a / "accuracy_test_functions.csv")
    rows_a.loc[:, "nrmse"] = 123.0  # mark the first folder's rows
    rows_a.to_csv(a / "accuracy_test_functions.csv", index=False)
    out = tmp_path / "merged"
    assert acc.main(["--merge", f"{a},{b}", "--out", str(out)]) == 0
    merged = pd.read_csv(out / "accuracy_test_functions.csv")
    assert sorted(merged.model) == ["ar1_sim_plugin", "nargp"]
    assert merged.set_index("model").loc["ar1_sim_plugin", "nrmse"] == 123.0
    # provenance: every row names the run that computed it; the metadata lists those runs
    run_a = json.loads((a / "accuracy_test_functions.json").read_text())["meta"]["runs"][0]
    run_b = json.loads((b / "accuracy_test_functions.json").read_text())["meta"]["runs"][0]
    assert run_a["id"] != run_b["id"] and "--models ar1_sim_plugin --out" in run_a["command"]
    assert dict(zip(merged.model, merged.run, strict=True)) == {
        "ar1_sim_plugin": run_a["id"],
        "nargp": run_b["id"],
    }
    meta = json.loads((out / "accuracy_test_functions.json").read_text())["meta"]
    assert [r["id"] for r in meta["runs"]] == [run_a["id"], run_b["id"]]
    assert "--merge" in meta["command"]
    figure = out / "accuracy_test_functions.png"
    assert figure.stat().st_size > 5_000
    figure.unlink()
    assert acc.main(["--replot", "--out", str(out)]) == 0 and figure.is_file()
    md = (out / "accuracy_test_functions.md").read_text()
    assert "## Runs" in md and run_b["command"] in md
    # a folder from before rows named their run counts as one run; runs without rows are dropped
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    rows_b = pd.read_csv(b / "accuracy_test_functions.csv").drop(columns="run")
    rows_b.to_csv(legacy / "accuracy_test_functions.csv", index=False)
    blob = json.loads((b / "accuracy_test_functions.json").read_text())
    del blob["meta"]["runs"]
    blob["meta"]["machine"].update(torch_threads=1, load_average_at_start=[0.1, 0.2, 0.3])
    (legacy / "accuracy_test_functions.json").write_text(json.dumps(blob))
    out2 = tmp_path / "merged2"
    assert acc.main(["--merge", f"{legacy},{a}", "--out", str(out2)]) == 0
    runs2 = json.loads((out2 / "accuracy_test_functions.json").read_text())["meta"]["runs"]
    assert len(runs2) == 1 and runs2[0]["id"].startswith("unrecorded-")
    assert set(pd.read_csv(out2 / "accuracy_test_functions.csv").run) == {runs2[0]["id"]}
    with pytest.raises(SystemExit):
        acc.main(["--models", "no_such_model", "--out", str(tmp_path / "c")])


def test_goal_details_say_how_settled_the_verdict_is(acc) -> None:
    """NRMSE and NLPD goals count the seeds on which ours was lower; no coverage goals."""
    rows = pd.DataFrame(
        [
            {
                "problem": "park",
                "seed": s,
                "model": m,
                "status": "ok",
                "nrmse": v,
                "nlpd": c,
                "coverage95": c,
                "fit_predict_s": 1.0,
            }
            for s, m, v, c in [
                (0, "ar1_sim", 1.0, 0.90),
                (1, "ar1_sim", 3.0, 0.96),
                (2, "ar1_sim", 5.0, 0.99),
                (0, "smt_mfk", 2.0, 0.5),
                (1, "smt_mfk", 2.5, 0.5),
                (2, "smt_mfk", 4.0, 0.5),
            ]
        ]
    )
    summary = acc.summarise(rows)
    got = {g["goal"]: g for g in acc.goals(summary, ["park"], rows)}
    nrmse = got["ar1_sim NRMSE <= best peer (linear problem)"]
    assert nrmse["met"] == "no"  # median 3.0 vs 2.5
    assert nrmse["detail"].endswith("lower on 1 of 3 seeds")
    nlpd = got["best mfgp NLPD <= best peer NLPD"]  # NLPD column holds 0.90/0.96/0.99 vs 0.5
    assert nlpd["met"] == "no"
    assert nlpd["detail"] == "ar1_sim 0.960 vs best peer smt_mfk 0.500; lower on 0 of 3 seeds"
    assert not any("coverage" in g for g in got)  # retired on noise-free test functions
    plain = {g["goal"]: g for g in acc.goals(summary, ["park"])}  # without rows: no context
    assert plain["best mfgp NLPD <= best peer NLPD"]["detail"].endswith("0.500")
