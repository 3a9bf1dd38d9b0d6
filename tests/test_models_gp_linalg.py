"""Tests of the shared GP linear algebra (Gaussian NLL, jittered Cholesky, triangular
solves)."""

from __future__ import annotations

import math

import pytest
import torch
from linear_operator.utils.errors import NotPSDError

from mfgp.models.gp_linalg import gaussian_nll, jittered_cholesky, solve_lower

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


def test_jittered_cholesky_jitters_each_matrix_of_a_batch_as_it_needs() -> None:
    """In a batch, a matrix that factorises as it is gets no jitter from a singular
    neighbour: its factor equals the unjittered one exactly."""
    v = torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float64)
    good = torch.eye(3, dtype=torch.float64) + 0.1
    batch = torch.stack([good, v @ v.T, good]).reshape(3, 3, 3)
    L = jittered_cholesky(batch)
    exact = torch.linalg.cholesky(good)
    assert torch.equal(L[0], exact) and torch.equal(L[2], exact)
    torch.testing.assert_close(L[1] @ L[1].T, v @ v.T, rtol=1e-3, atol=1e-3)
    assert L.shape == batch.shape


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [(), (3,)])
def test_gaussian_nll_value_and_gradient_match_torch(dtype: torch.dtype, batch: tuple) -> None:
    g = torch.Generator().manual_seed(1)
    n = 7
    B = torch.randn(*batch, n, n, generator=g, dtype=torch.float64)
    K0 = (B @ B.transpose(-1, -2) / n + 0.5 * torch.eye(n, dtype=torch.float64)).to(dtype)
    r0 = torch.randn(*batch, n, generator=g, dtype=torch.float64).to(dtype)
    K, r = K0.clone().requires_grad_(), r0.clone().requires_grad_()
    weights = torch.arange(1.0, 1.0 + math.prod(batch), dtype=dtype).reshape(batch)
    (gaussian_nll(K, r) * weights).sum().backward()
    K2, r2 = K0.clone().requires_grad_(), r0.clone().requires_grad_()
    ref = -torch.distributions.MultivariateNormal(torch.zeros_like(r2), K2).log_prob(r2) / n
    (ref * weights).sum().backward()
    tol = {"rtol": 1e-9, "atol": 1e-9} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-4}
    torch.testing.assert_close(gaussian_nll(K0, r0), ref.detach(), **tol)
    torch.testing.assert_close(r.grad, r2.grad, **tol)
    # torch's gradient of a symmetric input need not be symmetric; compare the symmetric parts
    sym = lambda G: 0.5 * (G + G.transpose(-1, -2))  # noqa: E731
    torch.testing.assert_close(sym(K.grad), sym(K2.grad), **tol)


def test_gaussian_nll_gradcheck_through_a_kernel() -> None:
    x = torch.linspace(0, 1, 6, dtype=torch.float64)
    y = torch.sin(5 * x)

    def f(log_ls: torch.Tensor, log_noise: torch.Tensor) -> torch.Tensor:
        K = torch.exp(-((x[:, None] - x[None, :]) ** 2) / log_ls.exp() ** 2)
        return gaussian_nll(K + log_noise.exp() * torch.eye(6, dtype=torch.float64), y)

    args = (torch.tensor(-1.0, dtype=torch.float64), torch.tensor(-3.0, dtype=torch.float64))
    assert torch.autograd.gradcheck(f, tuple(a.requires_grad_() for a in args))
    with pytest.raises(NotPSDError):
        gaussian_nll(-torch.eye(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_jittered_cholesky_rejects_non_finite_entries(bad: float) -> None:
    K = torch.eye(4, dtype=torch.float64)
    K[3, 1] = K[1, 3] = bad
    with pytest.raises(NotPSDError):
        jittered_cholesky(K)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("l_batch", "b_batch"), [((), ()), ((), (4,)), ((), (2, 3)), ((3,), (3,)), ((2, 1), (2, 5))]
)
def test_solve_lower_matches_torch_for_every_batch_layout(
    dtype: torch.dtype, l_batch: tuple, b_batch: tuple
) -> None:
    """``solve_lower`` equals ``torch.linalg.solve_triangular`` (lower), whether ``L`` is
    unbatched against a batched right-hand side (solved with the batch folded into columns)
    or batched itself; gradients flow to the right-hand side."""
    g = torch.Generator().manual_seed(0)
    A = torch.randn(*l_batch, 6, 6, generator=g, dtype=torch.float64)
    L = torch.linalg.cholesky(A @ A.transpose(-1, -2) + 6 * torch.eye(6, dtype=torch.float64))
    L = L.to(dtype)
    B = torch.randn(*b_batch, 6, 2, generator=g, dtype=dtype, requires_grad=True)
    got = solve_lower(L, B)
    want = torch.linalg.solve_triangular(L, B, upper=False)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want)
    (gg,) = torch.autograd.grad(got.sum(), B)
    (gw,) = torch.autograd.grad(want.sum(), B)
    torch.testing.assert_close(gg, gw)
