"""Dense GP linear algebra shared by the hand-written GP families (AR1 co-kriging, NARGP).

Written by hand because the models factorise their own training covariances (GPyTorch's
``psd_safe_cholesky`` uses a fixed jitter schedule, not :func:`mfgp.settings.jitter_ladder`).
"""

from __future__ import annotations

import logging

import torch
from linear_operator.utils.errors import NotPSDError
from torch import Tensor

from mfgp.settings import jitter_ladder

__all__ = ["jittered_cholesky", "loo_variance_scale"]

log = logging.getLogger(__name__)


def jittered_cholesky(K: Tensor, *, relative: bool = False) -> Tensor:
    """Lower Cholesky factor of ``K`` (``batch x n x n``), adding diagonal jitter from
    :func:`mfgp.settings.jitter_ladder` until the factorisation succeeds with a finite factor.

    Args:
        K: symmetric matrices.
        relative: scale the jitter by the mean of ``K``'s diagonal (for matrices whose units
            are not standardised).

    Raises:
        NotPSDError: every jitter of the ladder failed.
    """
    ladder = jitter_ladder(K.dtype)
    scale = K.diagonal(dim1=-2, dim2=-1).mean().clamp_min(1e-12) if relative else 1.0
    eye = torch.eye(K.shape[-1], dtype=K.dtype, device=K.device)
    for jitter in ladder:
        L, info = torch.linalg.cholesky_ex(K + jitter * scale * eye if jitter > 0 else K)
        if not bool((info > 0).any()) and bool(torch.isfinite(L).all()):
            if jitter > 0:
                log.debug("Cholesky needed jitter %g", jitter)
            return L
    raise NotPSDError(
        f"covariance matrix ({K.shape[-1]} x {K.shape[-1]}) is not positive definite even with "
        f"jitter {ladder[-1]:g}"
    )


def loo_variance_scale(L: Tensor, alpha: Tensor, noise: Tensor, min_noise: float) -> float:
    """Factor for a GP's kernel and noise variances that gives its leave-one-out residuals unit
    standardised mean square: ``mean_i alpha_i^2 / [A^-1]_ii`` (Bachoc 2013), clamped to
    [0.01, 100] and never so small that ``noise`` would fall below ``min_noise`` (kernel and
    noise must scale alike for the posterior mean to stay).

    Args:
        L: Cholesky factor of the training covariance ``A`` (``n x n``).
        alpha: ``A^-1 (y - mean)`` (``n``).
        noise: the noise variance(s) to be scaled.
        min_noise: the noise floor.
    """
    a_diag = torch.cholesky_inverse(L).diagonal(dim1=-2, dim2=-1)
    s2 = float((alpha**2 / a_diag).mean().clamp(1e-2, 1e2))
    return max(s2, 1.001 * min_noise / float(noise.min()))
