"""Tests of the reference-hyperparameter benchmark: the refit keeps the larger fit's
hyperparameters, its scores agree with the accuracy benchmark, and it writes its files."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from mfgp.benchmarks.functions import get_function, make_problem
from mfgp.models.ar1 import AR1MultiFidelityGP
from mfgp.models.nargp import NARGP

from .conftest import load_benchmark_script


@pytest.fixture(scope="module")
def orc():
    return load_benchmark_script("hyperparameter_oracle")


@pytest.mark.parametrize(
    "factory",
    [
        lambda: AR1MultiFidelityGP.for_simulator(restarts=1, hyperparameter_samples=0),
        lambda: NARGP(restarts=1, maxiter=60, n_samples=30),
    ],
    ids=["ar1_auto_log", "nargp"],
)
def test_refit_keeps_the_larger_fits_hyperparameters(orc, factory) -> None:
    X, Y, Xt, _ = make_problem("currin", (40, 10), seed=0, n_test=20)
    Xl, Yl, _, _ = make_problem("currin", (80, 20), seed=1000, n_test=2)
    large = factory().fit((Xl, Yl), seed=0)
    ref = orc.refit_with(large, (X, Y), seed=0)
    assert type(ref) is type(large)
    for (name, v), (name2, w) in zip(
        large.levels_.named_parameters(), ref.levels_.named_parameters(), strict=True
    ):
        assert name == name2
        torch.testing.assert_close(w, v, rtol=0, atol=0)
    if isinstance(large, AR1MultiFidelityGP):  # "auto" resolved to the larger fit's choice
        assert ref.config["log_transform"] is bool(large.log_transform_)
    # conditioned on the small design: its training points are interpolated, not the large's
    torch.testing.assert_close(
        ref.predict(X[-10:]).mean, Y[-10:].squeeze(-1), rtol=1e-3, atol=1e-3 * Y.abs().max()
    )
    assert not torch.allclose(ref.predict(Xt).mean, large.predict(Xt).mean)


def test_fitted_variant_equals_the_accuracy_benchmark(orc) -> None:
    acc = load_benchmark_script("accuracy_test_functions")
    fn = get_function("forrester")
    rows = orc.run_one("ar1_sim_plugin", fn, (12, 5), seed=1, factor=2, n_test=40, quick=True)
    assert [r["variant"] for r in rows] == ["fitted", "reference", "large_design"]
    X, Y, Xt, Yt = make_problem(fn, (12, 5), seed=1, n_test=40)
    ref = acc.evaluate(acc.make_model("ar1_sim_plugin", quick=True), X, Y, Xt, Yt, 1)
    assert rows[0]["coverage95"] == pytest.approx(ref["coverage95"])
    assert rows[0]["nrmse"] == pytest.approx(ref["nrmse"])
    assert rows[0]["nlpd"] == pytest.approx(ref["nlpd"])


def test_run_writes_files_and_rejects_draw_models(orc, tmp_path) -> None:
    argv = ["--quick", "--seeds", "1", "--problems", "forrester", "--models", "nargp"]
    assert orc.main([*argv, "--factor", "2", "--n-test", "30", "--out", str(tmp_path)]) == 0
    rows = pd.read_csv(tmp_path / "hyperparameter_oracle.csv")
    assert set(rows["variant"]) == {"fitted", "reference", "large_design"}
    assert (rows["status"] == "ok").all()
    meta = json.loads((tmp_path / "hyperparameter_oracle.json").read_text())
    assert meta["factor"] == 2 and len(meta["summary"]) == 3
    assert (
        "| forrester | nargp | reference |" in (tmp_path / "hyperparameter_oracle.md").read_text()
    )
    assert (tmp_path / "hyperparameter_oracle.png").stat().st_size > 0
    with pytest.raises(SystemExit):  # a mixture model has no single hyperparameter vector
        orc.main(["--models", "ar1_sim", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        orc.main(["--factor", "1", "--out", str(tmp_path)])
