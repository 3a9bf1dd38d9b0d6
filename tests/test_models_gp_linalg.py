"""Tests of the shared GP linear algebra (jittered Cholesky, leave-one-out variance scale)."""

from __future__ import annotations

import pytest
import torch
from linear_operator.utils.errors import NotPSDError

from mfgp.models.gp_linalg import jittered_cholesky, loo_variance_scale

from .conftest import DTYPES


@pytest.mark.parametrize("dtype", DTYPES)
def test_jittered_cholesky_repairs_singular_and_rejects_indefinite(dtype: torch.dtype) -> None:
    v = torch.tensor([[1.0], [2.0], [3.0]], dtype=dtype)
    singular = v @ v.T  # rank one, PSD
    L = jittered_cholesky(singular)
    assert torch.isfinite(L).all()
    torch.testing.assert_close(L @ L.T, singular, rtol=1e-3, atol=1e-3)
    big = 1e6 * singular  # the relative ladder scales its jitter with the diagonal
    Lr = jittered_cholesky(big, relative=True)
    torch.testing.assert_close(Lr @ Lr.T, big, rtol=1e-3, atol=1e-3 * 1e6)
    with pytest.raises(NotPSDError, match="not positive definite"):
        jittered_cholesky(torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=dtype))


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
