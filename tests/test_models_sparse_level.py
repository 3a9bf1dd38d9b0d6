"""AR1 levels conditioned on every row through inducing inputs (exact_rows, inducing_points)."""

from __future__ import annotations

import pytest
import torch

from mfgp.exceptions import InputDataError
from mfgp.models import AR1MultiFidelityGP, load_model
from mfgp.models.sparse_level import inducing_rows, sparse_bytes
from mfgp.test_functions import make_problem


@pytest.fixture(scope="module")
def problem():
    return make_problem("borehole", (300, 30), seed=0, n_test=200)


@pytest.fixture(scope="module")
def exact(problem, tmp_path_factory):
    X, Y, _, _ = problem
    model = AR1MultiFidelityGP(restarts=1, maxiter=60, exact_rows=None).fit((X, Y), seed=0)
    path = tmp_path_factory.mktemp("models") / "exact"
    model.save(path)
    return model, path


def test_with_every_row_as_inducing_input_the_level_is_exact(problem, exact):
    """DTC with the inducing inputs at all the rows is the exact GP (Q = K): same mean and
    variance, the same hyperparameters loaded into both."""
    _, _, Xt, _ = problem
    model, path = exact
    dtc = load_model(path, exact_rows=10, inducing_points=10_000)
    pe, pd_ = model.predict(Xt), dtc.predict(Xt)
    scale = float(pe.mean.abs().max())
    assert float((pe.mean - pd_.mean).abs().max()) < 1e-6 * scale
    assert torch.allclose(pd_.variance, pe.variance, rtol=1e-4, atol=1e-10 * scale**2)


def test_a_level_over_exact_rows_is_fitted_reported_and_saved(problem, exact, tmp_path):
    X, Y, Xt, Yt = problem
    model = AR1MultiFidelityGP(restarts=1, maxiter=60, exact_rows=100, inducing_points=80)
    model.fit((X, Y), seed=0)
    assert model.fit_choices()["inducing_levels"] == {"0": {"rows": 300, "inducing": 80}}
    # the dense memory estimate counts only the exact level (30 top rows)
    assert model.memory_estimate(X)[1:] == (1, 30)
    pred = model.predict(Xt)
    assert torch.isfinite(pred.mean).all() and bool((pred.variance > 0).all())
    err = float(((pred.mean - Yt.squeeze(-1)) ** 2).mean().sqrt() / Yt.std())
    exact_err = float(((exact[0].predict(Xt).mean - Yt.squeeze(-1)) ** 2).mean().sqrt() / Yt.std())
    assert err < 3 * exact_err + 0.01
    model.save(tmp_path / "m")
    again = load_model(tmp_path / "m").predict(Xt)
    assert torch.allclose(again.mean, pred.mean) and torch.allclose(again.variance, pred.variance)
    with pytest.raises(InputDataError, match="level\\(s\\) 0 are conditioned through inducing"):
        model.as_joint()


def test_inducing_rows_are_a_seeded_subset_and_memory_is_linear_in_rows():
    a, b = inducing_rows(1000, 50, seed=3), inducing_rows(1000, 50, seed=3)
    assert torch.equal(a, b) and a.unique().numel() == 50 and bool((a[1:] > a[:-1]).all())
    assert inducing_rows(10, 50, seed=0).numel() == 10
    assert sparse_bytes(100_000, 1000) < 1e9 and sparse_bytes(100_000, 1000) == sparse_bytes(
        10**7, 1000
    )


@pytest.mark.parametrize("bad", [{"exact_rows": 5}, {"inducing_points": 3}])
def test_bad_sizes_are_refused(bad):
    with pytest.raises(InputDataError, match="must be"):
        AR1MultiFidelityGP(**bad)
