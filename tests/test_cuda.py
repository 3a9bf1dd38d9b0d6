"""Key tests repeated on CUDA. Skipped (a real pytest skip) where no GPU is available."""

from __future__ import annotations

import copy

import pytest
import torch

from mfgp.acquisition import SearchSpace, suggest
from mfgp.data import ScaleUpData
from mfgp.models import AR1MultiFidelityGP, available_models

from .model_contract import check_model_contract, skip_if_missing
from .test_acquisition_vessels import _frame

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")


def test_data_on_cuda(mf_frame):
    data = ScaleUpData(mf_frame, target="C", device="cuda")
    assert data.X.is_cuda and data.Y.is_cuda
    train, test = data.holdout_largest(1)
    assert train.X.is_cuda and test.X.is_cuda
    tf, ot = data.standardizers()
    assert torch.allclose(tf.untransform(tf(data.X)), data.X)


@pytest.mark.parametrize("name", [m for m in available_models() if m != "hybrid"])
def test_model_contract_cuda(name, mf_frame, tmp_path):
    skip_if_missing(name)
    check_model_contract(name, mf_frame, device="cuda", tmp_path=tmp_path)


def test_cpu_and_cuda_agree(mf_frame):
    from mfgp.models import get_model

    preds = []
    for device in ("cpu", "cuda"):
        train, test = ScaleUpData(mf_frame, target="C", device=device).holdout_largest(1)
        model = get_model("gp", restarts=1).fit(train, seed=0)
        preds.append(model.predict(test.X).mean.cpu())
    assert torch.allclose(preds[0], preds[1], rtol=1e-4, atol=1e-4)


def test_ar1_level_through_inducing_inputs_on_cuda():
    """A level over exact_rows, conditioned through inducing inputs, on the GPU: as accurate
    as on the CPU (the optimiser's path may differ in the last digits, so errors compared)."""
    from mfgp.models import AR1MultiFidelityGP
    from mfgp.test_functions import make_problem

    X, Y, Xt, Yt = make_problem("borehole", (400, 30), seed=0, n_test=50)
    errors = []
    for device in ("cpu", "cuda"):
        model = AR1MultiFidelityGP(restarts=1, maxiter=30, exact_rows=100, inducing_points=80)
        model.fit((X.to(device), Y.to(device)), seed=0)
        assert model.fit_choices()["inducing_levels"]["0"]["rows"] == 400
        pred = model.predict(Xt.to(device))
        assert pred.mean.device.type == device
        rmse = float(((pred.mean.cpu() - Yt.squeeze(-1)) ** 2).mean().sqrt())
        errors.append(rmse / float(Yt.std()))
    assert max(errors) < 0.1 and abs(errors[0] - errors[1]) < 0.2 * errors[0] + 1e-3


def test_suggest_with_vessels_on_cuda():
    """Vessel windows, the production band now and after, and the set point on CUDA, agreeing
    with the CPU."""
    out = {}
    for device in ("cpu", "cuda"):
        data = ScaleUpData(_frame(), target="titer", device=device)
        model = AR1MultiFidelityGP(restarts=1, maxiter=30).fit(data, seed=0)
        space = SearchSpace.from_data(data, costs="2L=1,200L=20", target_volume_L=1e4)
        res = suggest(model, space, goal="optimise", q=2, seed=0, n_candidates=32, n_mc=16)
        assert res.X.device.type == device and res.set_point is not None
        out[device] = res
    assert torch.isfinite(torch.tensor(out["cuda"].frame["width95_after"].to_numpy())).all()
    torch.testing.assert_close(
        torch.tensor(out["cuda"].frame["production_mean"].to_numpy()),
        torch.tensor(out["cpu"].frame["production_mean"].to_numpy()),
        rtol=1e-3,
        atol=1e-3,
    )


def test_hybrid_with_a_physics_level_on_cuda():
    from mfgp import datasets
    from mfgp.models import get_model

    preds = []
    for device in ("cpu", "cuda"):
        data = ScaleUpData(
            datasets.file("cho_endpoint"), target="titer_gL", categorical=["cell_line"],
            device=device,
        )  # fmt: skip
        train, test = data.holdout_largest(2)
        model = get_model("hybrid", cheap_level="physics", restarts=1).fit(train, seed=0)
        pred = model.predict(test.X)
        assert pred.mean.device.type == device and bool((pred.variance > 0).all())
        preds.append(pred.mean.cpu())
    assert torch.allclose(preds[0], preds[1], rtol=1e-3, atol=1e-3)


def test_ar1_hyperparameter_draws_and_joint_gp_on_cuda():
    """The draws as a batch dimension and the KOH modules on the GPU: the mixture predictions
    and the joint GP's marginal likelihood agree with the CPU's for the same hyperparameters."""
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from mfgp.test_functions import make_problem

    X, Y, Xt, _ = make_problem("currin", (30, 10), seed=0, n_test=20)
    cpu = AR1MultiFidelityGP(restarts=1, maxiter=30, hyperparameter_samples=4).fit((X, Y))
    cuda = copy.deepcopy(cpu).to("cuda")
    a, b = cpu.predict(Xt), cuda.predict(Xt.to("cuda"))
    assert b.mean.is_cuda
    torch.testing.assert_close(b.mean.cpu(), a.mean, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(b.variance.cpu(), a.variance, rtol=1e-6, atol=1e-8)
    values = []
    for m in (cpu, cuda):
        gp = m.joint_gp()
        mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
        Xg, yg = gp.train_inputs[0], gp.train_targets
        with torch.no_grad():
            values.append(float(mll(gp(Xg), yg, Xg)))
    assert values[1] == pytest.approx(values[0], rel=1e-8)
