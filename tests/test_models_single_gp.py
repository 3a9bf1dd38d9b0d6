"""The single-fidelity GP (walking skeleton) and the shared model interface of base.py."""

from __future__ import annotations

import pytest
import torch
from botorch.models import SingleTaskGP

from mfgp.data import ScaleUpData
from mfgp.exceptions import InputDataError, NotFittedError
from mfgp.models import SingleFidelityGP, available_models, get_model, load_model
from mfgp.models.base import Prediction, as_training_tensors, gaussian_posterior

from .conftest import DTYPES


def _problem(dtype, n=20, seed=0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 3, generator=gen, dtype=dtype)
    X[:, -1] = 0
    Y = torch.sin(6 * X[:, :1]) + 0.5 * X[:, 1:2]
    return X, Y


@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_predict_shapes_and_accuracy(dtype):
    X, Y = _problem(dtype)
    model = SingleFidelityGP(restarts=2).fit((X, Y), seed=0)
    Xt, Yt = _problem(dtype, n=30, seed=1)
    pred = model.predict(Xt)
    assert pred.mean.shape == (30,) and pred.variance.shape == (30,)
    assert pred.mean.dtype == dtype
    assert (pred.variance > 0).all()
    assert (pred.lower < pred.mean).all() and (pred.upper > pred.mean).all()
    assert torch.sqrt(torch.mean((pred.mean - Yt.squeeze(-1)) ** 2)) < 0.1


def test_matches_botorch_single_task_gp_posterior():
    """Exact posterior: same hyperparameters in a plain SingleTaskGP give the same answer."""
    X, Y = _problem(torch.float64)
    model = SingleFidelityGP(mean="constant", restarts=1).fit((X, Y), seed=0)
    ref = SingleTaskGP(
        X[:, :-1],
        Y,
        covar_module=model.gp_.covar_module,
        mean_module=model.gp_.mean_module,
        likelihood=model.gp_.likelihood,
        input_transform=model.gp_.input_transform,
        outcome_transform=model.gp_.outcome_transform,
    )
    ref.eval()
    Xt, _ = _problem(torch.float64, n=7, seed=3)
    a, b = model.posterior(Xt), ref.posterior(Xt[:, :-1])
    assert torch.allclose(a.mean, b.mean, atol=1e-8)
    assert torch.allclose(a.mvn.covariance_matrix, b.mvn.covariance_matrix, atol=1e-8)


def test_uses_only_top_fidelity_rows():
    X, Y = _problem(torch.float64)
    Xl = X.clone()
    Xl[:, -1] = 0
    Xh = X.clone()
    Xh[:, -1] = 1
    model = SingleFidelityGP(restarts=1).fit((torch.cat([Xl, Xh]), torch.cat([Y + 5, Y])))
    assert model.gp_.train_targets.shape == (20,)
    assert abs(model.predict(Xh).mean.mean().item() - Y.mean().item()) < 0.05


def test_seed_reproducible_and_posterior_batch():
    X, Y = _problem(torch.float64)
    a = SingleFidelityGP(restarts=2).fit((X, Y), seed=3).predict(X).mean
    b = SingleFidelityGP(restarts=2).fit((X, Y), seed=3).predict(X).mean
    assert torch.allclose(a, b, rtol=0, atol=1e-6)  # threaded BLAS: not bit for bit
    model = SingleFidelityGP(restarts=1).fit((X, Y))
    post = model.posterior(X[:6].reshape(2, 3, 3))
    assert post.mean.shape == (2, 3, 1)
    torch.linalg.cholesky(post.mvn.covariance_matrix)  # positive definite


def test_save_load_round_trip(tmp_path):
    X, Y = _problem(torch.float64)
    model = SingleFidelityGP(restarts=1, mean="constant").fit((X, Y))
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, SingleFidelityGP) and loaded.config["mean"] == "constant"
    assert torch.allclose(loaded.predict(X).mean, model.predict(X).mean, rtol=0, atol=1e-10)
    again = SingleFidelityGP.load(tmp_path / "m").predict(X).variance
    assert torch.allclose(again, model.predict(X).variance, rtol=1e-8, atol=1e-12)


def test_fit_on_scaleupdata_keeps_names(seed_frame):
    data = ScaleUpData(seed_frame, target="C")
    model = get_model("gp", restarts=1).fit(data)
    assert model.metadata["feature_names"] == ["log10_volume_L", "time_h"]
    assert model.metadata["target"] == "C"


def test_interface_errors():
    X, Y = _problem(torch.float64)
    model = SingleFidelityGP()
    with pytest.raises(NotFittedError, match="call fit"):
        model.predict(X)
    with pytest.raises(InputDataError, match="mean must be"):
        SingleFidelityGP(mean="cubic")
    with pytest.raises(InputDataError, match="Y must have shape"):
        model.fit((X, Y[:5]))
    with pytest.raises(InputDataError, match="mixed dtypes"):
        model.fit((X, Y.float()))
    with pytest.raises(InputDataError, match="fidelity index"):
        model.fit((X + 0.5, Y))
    with pytest.raises(InputDataError, match="NaN"):
        model.fit((X, Y.masked_fill(torch.arange(20).unsqueeze(-1) == 2, float("nan"))))
    with pytest.raises(InputDataError, match="ScaleUpData or a tuple"):
        model.fit("data.csv")
    model.fit((X, Y))
    with pytest.raises(InputDataError, match="n x 3"):
        model.predict(X[:, :2])
    bad = X.clone()
    bad[0, -1] = 2
    with pytest.raises(InputDataError, match="must be one of 0..0"):
        model.predict(bad)
    with pytest.raises(InputDataError, match="mixed dtypes"):
        model.predict(X.float())
    with pytest.raises(InputDataError, match="unknown model"):
        get_model("nope")


def test_registry_helpers(tmp_path):
    assert "gp" in available_models()
    with pytest.raises(InputDataError, match="not a saved mfgp model"):
        load_model(tmp_path)
    X, Y, Yvar = as_training_tensors(
        (torch.zeros(3, 2, dtype=torch.float64), torch.zeros(3, dtype=torch.float64))
    )
    assert Y.shape == (3, 1) and Yvar is None
    post = gaussian_posterior(torch.zeros(4), torch.ones(4))
    assert post.variance.shape == (4, 1)
    p = Prediction.gaussian(torch.zeros(2), torch.ones(2))
    assert torch.allclose(p.upper, torch.full((2,), 1.959963984540054))
