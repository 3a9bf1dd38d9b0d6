"""A large GP level conditioned on every one of its rows through inducing inputs.

An exact GP level of ``n`` rows needs the ``n x n`` factor of its covariance: ``O(n^3)`` time
and ``8 n^2`` bytes (80 GB at ``n = 100,000``). Above a size, AR1 conditions such a level (in
practice a cheap simulator level) through ``m`` inducing inputs instead, with the
deterministic-training-conditional (DTC) approximation of Quinonero-Candela & Rasmussen
(2005, JMLR 6, sec. 5): the prior covariance of the rows is replaced by the Nystrom
``Q = K_nm K_mm^-1 K_mn``, so that with ``N`` the diagonal noise, ``B = K_mn N^-1 K_nm`` and
``Sigma = K_mm + B``,

    mean(x) = mu(x) + K_xm Sigma^-1 K_mn N^-1 r,
    cov(x, x') = K(x, x') - K_xm (K_mm^-1 - Sigma^-1) K_mx'.

Every row enters ``B`` and ``K_mn N^-1 r`` (accumulated in chunks of rows, so memory is
``O(m^2 + chunk m)``), and the inducing inputs are a seeded random subset of the rows. The
result has the keys of an exact level's state (``z``, ``L``, ``alpha``, the trend terms) plus
the factor ``LB`` of the explained-variance correction, which the recursive co-kriging
prediction adds. The trend-coefficient terms follow from the Woodbury identity:
``A^-1 H ~ N^-1 H - N^-1 K_nm Sigma^-1 K_mn N^-1 H`` seen through ``K_xm K_mm^-1 K_mn`` is
``K_xm Sigma^-1 K_mn N^-1 H``.

GPyTorch's ``InducingPointKernel`` (SGPR) implements the same family for a whole ExactGP; it
is written here by hand because an AR1 level is one term of a recursive posterior whose state
(factors and weights at the level's own rows) the other levels read, not a model of its own.
"""

from __future__ import annotations

import torch
from gpytorch.kernels import Kernel
from torch import Tensor

from mfgp.models.gp_linalg import jittered_cholesky

__all__ = ["CHUNK_ROWS", "dtc_state", "inducing_rows", "sparse_bytes"]

#: rows per block when the inducing statistics are accumulated.
CHUNK_ROWS = 8192


def inducing_rows(n: int, m: int, *, seed: int) -> Tensor:
    """Indices of ``m`` of ``n`` rows (a seeded random subset, sorted): the inducing inputs,
    and the rows a large level fits its hyperparameters on (``fit_rows``)."""
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randperm(n, generator=gen)[: min(m, n)].sort().values


def sparse_bytes(n: int, m: int, *, itemsize: int = 8) -> int:
    """Peak bytes of :func:`dtc_state` for ``n`` rows and ``m`` inducing inputs: a few
    ``m x m`` matrices and the ``m x chunk`` cross-covariance block with its kernel
    intermediates."""
    chunk = min(n, CHUNK_ROWS)
    return itemsize * (6 * m * m + 6 * m * chunk)


def _dense(kernel: Kernel, x1: Tensor, x2: Tensor) -> Tensor:
    return kernel(x1, x2).to_dense()


def dtc_state(
    kernel: Kernel,
    z: Tensor,
    r: Tensor,
    noise: Tensor,
    inducing: Tensor,
    H: Tensor | None = None,
    trend_sd: float | None = None,
) -> dict[str, Tensor]:
    """The state of a level conditioned on all its rows through inducing inputs (DTC).

    Computed in the stable form of Titsias (2009) and GPflow's SGPR: with ``L_mm`` the
    factor of ``K_mm`` and ``A = L_mm^-1 K_mn N^-1/2`` (accumulated over blocks of rows),
    ``L_B`` the factor of ``I + A A^T``; the predictive covariance is ``K_xx - V^T V +
    W^T W`` with ``V = L_mm^-1 K_mx`` and ``W = L_B^-1 V``.

    Args:
        kernel: the level's kernel.
        z: the rows' normalised inputs ``n x d``.
        r: the rows' prior residuals ``n`` (target minus the level's prior mean).
        noise: the rows' noise variances ``n``.
        inducing: indices of the inducing rows (:func:`inducing_rows`).
        H: the level's trend regressors at the rows ``n x p`` (with ``trend_sd``), or None.
        trend_sd: the prior sd of the trend coefficients.

    Returns:
        ``z`` (the inducing inputs), ``L`` (``L_mm``), ``LB`` (``L_B``), ``alpha`` (weights of
        ``K_xm`` in the mean), with ``H`` also ``AinvH`` and ``G_L`` (the trend terms of an exact
        level's state), and ``n_rows`` (a 0-d tensor, the rows conditioned on).
    """
    Zm = z[inducing]
    m = Zm.shape[0]
    Lmm = jittered_cholesky(_dense(kernel, Zm, Zm))
    p = 0 if H is None else H.shape[-1]
    AAt = torch.zeros(m, m, dtype=z.dtype, device=z.device)
    c = torch.zeros(m, dtype=z.dtype, device=z.device)
    AH = torch.zeros(m, p, dtype=z.dtype, device=z.device)
    HNH = torch.zeros(p, p, dtype=z.dtype, device=z.device)
    for start in range(0, z.shape[0], CHUNK_ROWS):
        sl = slice(start, start + CHUNK_ROWS)
        s = noise[sl].sqrt()
        A = torch.linalg.solve_triangular(Lmm, _dense(kernel, Zm, z[sl]), upper=False) / s
        AAt += A @ A.transpose(-1, -2)
        c += A @ (r[sl] / s)
        if H is not None:
            Hs = H[sl] / s.unsqueeze(-1)
            AH += A @ Hs
            HNH += Hs.transpose(-1, -2) @ Hs
    eye = torch.eye(m, dtype=z.dtype, device=z.device)
    LB = jittered_cholesky(eye + AAt)

    def weights(v: Tensor) -> Tensor:  # L_mm^-T (I + A A^T)^-1 v
        return torch.linalg.solve_triangular(
            Lmm.transpose(-1, -2), torch.cholesky_solve(v, LB), upper=True
        )

    state = {
        "z": Zm,
        "L": Lmm,
        "LB": LB,
        "alpha": weights(c.unsqueeze(-1)).squeeze(-1),
        "n_rows": torch.tensor(z.shape[0]),
    }
    if H is not None and trend_sd is not None:
        Wh = torch.linalg.solve_triangular(LB, AH, upper=False)
        G = (
            HNH
            - Wh.transpose(-1, -2) @ Wh
            + torch.eye(p, dtype=z.dtype, device=z.device) / trend_sd**2
        )
        state["AinvH"] = weights(AH)
        state["G_L"] = torch.linalg.cholesky(0.5 * (G + G.transpose(-1, -2)))
    return state
