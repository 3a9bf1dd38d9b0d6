"""Leave-one-out variance calibration (mfgp.fit.loo)."""

from __future__ import annotations

import pytest
import torch
from gpytorch.kernels import RBFKernel, ScaleKernel
from gpytorch.likelihoods import GaussianLikelihood

from mfgp.fit import loo_rescale, loo_variance_scale


def test_loo_variance_scale_matches_brute_force_leave_one_out() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(12, 1, generator=g, dtype=torch.float64)
    y = torch.sin(6 * x[:, 0]) + 0.1 * torch.randn(12, generator=g, dtype=torch.float64)
    noise = torch.tensor(0.05, dtype=torch.float64)
    A = torch.exp(-((x - x.T) ** 2) / 0.1) + noise * torch.eye(12, dtype=torch.float64)
    L = torch.linalg.cholesky(A)
    alpha = torch.cholesky_solve(y.unsqueeze(-1), L).squeeze(-1)
    brute = []
    for i in range(12):
        keep = torch.arange(12) != i
        Ai = A[keep][:, keep]
        k = A[i, keep]
        mean = k @ torch.linalg.solve(Ai, y[keep])
        var = A[i, i] - k @ torch.linalg.solve(Ai, k)
        brute.append((y[i] - mean) ** 2 / var)
    expected = float(torch.stack(brute).mean())
    assert loo_variance_scale(L, alpha, noise, 1e-9) == pytest.approx(expected, rel=1e-8)
    # the noise floor bounds the factor from below
    assert loo_variance_scale(L, alpha, noise, 1.0) == pytest.approx(1.001 / 0.05)


def test_loo_rescale_scales_every_outputscale_and_the_noise_alike() -> None:
    """Every ScaleKernel's outputscale and the noise are multiplied by the factor, so the
    posterior mean (which depends on their ratio only) does not move."""
    kernel = ScaleKernel(RBFKernel()) + ScaleKernel(RBFKernel())
    lik = GaussianLikelihood()
    with torch.no_grad():
        kernel.kernels[0].outputscale = 2.0
        kernel.kernels[1].outputscale = 0.5
        lik.noise = 0.1
    x = torch.linspace(0, 1, 6).unsqueeze(-1)
    y = torch.sin(5 * x[:, 0])
    with torch.no_grad():
        A = kernel(x, x).to_dense() + lik.noise * torch.eye(6)
        L = torch.linalg.cholesky(A)
        alpha = torch.cholesky_solve(y.unsqueeze(-1), L).squeeze(-1)
        expected = loo_variance_scale(L, alpha, lik.noise, 1e-6)
    s2 = loo_rescale(kernel, lik, L, alpha, 1e-6)
    assert s2 == pytest.approx(expected)
    assert kernel.kernels[0].outputscale.item() == pytest.approx(2.0 * s2, rel=1e-5)
    assert kernel.kernels[1].outputscale.item() == pytest.approx(0.5 * s2, rel=1e-5)
    assert lik.noise.item() == pytest.approx(0.1 * s2, rel=1e-5)
