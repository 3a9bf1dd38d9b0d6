"""The Metropolis sampler of GP hyperparameters (mfgp.fit.mcmc)."""

from __future__ import annotations

import math

import pytest
import torch
from gpytorch.kernels import RBFKernel, ScaleKernel
from hypothesis import given, settings
from hypothesis import strategies as st

from mfgp.fit import mcmc

from .conftest import DTYPES


def _kernel(dtype: torch.dtype) -> ScaleKernel:
    return ScaleKernel(RBFKernel(ard_num_dims=3)).to(dtype)  # 4 raw parameters


@given(values=st.lists(st.floats(-5, 5), min_size=4, max_size=4))
@settings(max_examples=25, deadline=None)
def test_flat_params_round_trip(values):
    kern = _kernel(torch.float64)
    theta = torch.tensor(values, dtype=torch.float64)
    mcmc.set_params(kern, theta)
    assert mcmc.flat_params(kern).equal(theta)
    assert kern.raw_outputscale.item() == values[0]  # layout: the order of module.parameters()


@pytest.mark.parametrize("dtype", DTYPES)
def test_metropolis_samples_a_known_gaussian(dtype):
    """Known answer: draws from exp(-0.5 theta' Q theta) have mean 0 and covariance Q^-1, with
    a step covariance that is deliberately too small (the burn-in adapts the scale)."""
    cov = torch.tensor([[1.0, 0.8], [0.8, 2.0]], dtype=torch.float64)
    prec = torch.linalg.inv(cov)

    def target(theta):
        t = theta.double()
        return float(0.5 * t @ prec @ t)

    gen = torch.Generator().manual_seed(0)
    root = 0.1 * torch.linalg.cholesky(cov).to(dtype)
    draws, rate = mcmc.metropolis(
        target, torch.zeros(2, dtype=dtype), root, 2000, gen, burn=500, thin=5
    )
    assert draws.shape == (2000, 2) and draws.dtype == dtype
    assert 0.15 < rate < 0.5  # adapted towards 30 %
    d = draws.double()
    assert (d.mean(0).abs() < 0.2).all()
    torch.testing.assert_close(torch.cov(d.T), cov, rtol=0.2, atol=0.15)
    again, _ = mcmc.metropolis(
        target,
        torch.zeros(2, dtype=dtype),
        root,
        2000,
        torch.Generator().manual_seed(0),
        burn=500,
        thin=5,
    )
    assert again.equal(draws)  # seeded


def test_laplace_root_and_energy_known_answers():
    """For a quadratic negative log posterior 0.5 (theta - c)' H (theta - c), the root R has
    R R' = H^-1 with every direction's variance capped at 1; the energy subtracts the log
    Jacobian of the softplus constraints, sum log sigmoid(theta)."""
    kern = _kernel(torch.float64)
    P = mcmc.flat_params(kern).numel()
    c = torch.linspace(-1.0, 1.0, P, dtype=torch.float64)
    H = torch.diag(torch.tensor([4.0, 9.0, 0.25, 2.0], dtype=torch.float64))

    def nlp():
        t = torch.cat([p.reshape(-1) for p in kern.parameters()]) - c
        return 0.5 * t @ H @ t

    theta0 = torch.tensor([0.3, -0.2, 0.1, 0.5], dtype=torch.float64)
    mcmc.set_params(kern, theta0)
    R = mcmc.laplace_root(kern, nlp, theta0)
    expected = torch.diag(1.0 / torch.tensor([4.0, 9.0, 1.0, 2.0], dtype=torch.float64))
    torch.testing.assert_close(R @ R.T, expected, rtol=1e-6, atol=1e-8)
    assert mcmc.flat_params(kern).equal(theta0)  # left at theta0
    e = mcmc.energy(kern, nlp, theta0)
    jac = torch.nn.functional.logsigmoid(theta0).sum()  # d softplus / d raw = sigmoid(raw)
    with torch.no_grad():
        assert math.isclose(e, float(nlp() - jac), rel_tol=1e-12)


def test_sample_level_restores_values_and_falls_back_to_plug_in():
    kern = _kernel(torch.float64)
    theta0 = torch.tensor([0.3, -0.2, 0.1, 0.5], dtype=torch.float64)
    mcmc.set_params(kern, theta0)

    def nlp():
        t = torch.cat([p.reshape(-1) for p in kern.parameters()])
        return 0.5 * (t * t).sum()

    gen = torch.Generator().manual_seed(1)
    draws = mcmc.sample_level(kern, nlp, 8, gen, burn=50, thin=5)
    assert draws.shape == (8, 4) and bool((draws.std(0) > 0).all())
    assert mcmc.flat_params(kern).equal(theta0)

    def broken():
        raise RuntimeError("not positive definite")

    plug = mcmc.sample_level(kern, broken, 3, gen)
    assert plug.equal(theta0.expand(3, 4))
    assert mcmc.flat_params(kern).equal(theta0)
    assert mcmc.sample_level(torch.nn.Module(), nlp, 3, gen).shape == (3, 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mixture_moments_known_answer(dtype):
    """Two equal-weight Gaussians: the mean of the means, and the law of total variance."""
    m1, m2 = torch.tensor([1.0, 2.0], dtype=dtype), torch.tensor([3.0, 2.0], dtype=dtype)
    c1 = torch.tensor([[0.5, 0.1], [0.1, 1.0]], dtype=dtype)
    c2 = torch.tensor([[1.5, 0.0], [0.0, 1.0]], dtype=dtype)
    mean, cov = mcmc.mixture_moments([(m1, c1), (m2, c2)])
    torch.testing.assert_close(mean, torch.tensor([2.0, 2.0], dtype=dtype))
    expected = torch.tensor([[2.0, 0.05], [0.05, 1.0]], dtype=dtype)  # E[C] + Cov of the means
    torch.testing.assert_close(cov, expected)
    _, var = mcmc.mixture_moments([(m1, c1.diagonal()), (m2, c2.diagonal())], full=False)
    torch.testing.assert_close(var, expected.diagonal())
