"""``ridge`` and ``lasso``: regularised linear models on scaling bases, top-fidelity rows only.

- ``ridge``: ridge regression on scaling bases of ``log10_volume_L`` (``v``, ``v^2``), polynomial
  bases of the other features (``time_h`` and operating variables) and their products with ``v``;
  closed-form solve; the penalty is chosen by grouped (leave-one-scale-out) cross-validation;
  Bayesian-ridge predictive variance.
- ``lasso``: the same design with an L1 penalty, solved by accelerated proximal gradient (FISTA,
  Beck & Teboulle 2009) in torch for a whole grid of penalties at once; grouped cross-validation;
  predictive variance from the refitted active set.

Both fit time courses and end-point data alike (the design uses whatever feature columns the
data have). Hand-written numerics, and why: the ridge solve and the FISTA loop are a few lines of
torch so that they run on the model's device and dtype, batch over the penalty grid, and save
with the state dict; scikit-learn's ``Ridge``/``Lasso`` solve the same problems on NumPy (the
tests check agreement with them).

References:
    Hoerl & Kennard (1970), Technometrics 12:55 (ridge). Tibshirani (1996), JRSS B 58:267
    (lasso). Beck & Teboulle (2009), SIAM J. Imaging Sci. 2:183 (FISTA). Bishop (2006), Pattern
    Recognition and Machine Learning, sec. 3.3 (Bayesian linear regression predictive variance).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import Tensor

from mfgp.exceptions import InputDataError
from mfgp.models.base import register_model
from mfgp.models.baselines.common import TopLevelBaseline, num_threads, scale_groups

__all__ = ["LassoBaseline", "RidgeBaseline", "fista_lasso"]

log = logging.getLogger(__name__)


class _LinearBaseline(TopLevelBaseline):
    """Design matrix shared by ``ridge`` and ``lasso``.

    Columns, before standardisation: ``v, v^2, ..., v^volume_degree`` with ``v`` the centred and
    scaled ``log10_volume_L`` (column 0 of the features); for every other feature ``z``
    (``time_h``, operating variables; standardised) the powers ``z, ..., z^degree``; and, with
    ``interactions``, the products ``v * z^k`` (the time course may change with scale). Every
    column is then standardised with the training statistics; the intercept is the mean of the
    standardised target.
    """

    def __init__(
        self,
        *,
        volume_degree: int = 2,
        degree: int = 3,
        interactions: bool = True,
        alphas: list[float] | None = None,
        **options: Any,
    ) -> None:
        if volume_degree < 1 or degree < 1:
            raise InputDataError(
                f"volume_degree and degree must be >= 1, got {volume_degree} and {degree}"
            )
        if alphas is not None and (len(alphas) == 0 or any(a <= 0 for a in alphas)):
            raise InputDataError(f"alphas must be a non-empty list of positive numbers: {alphas}")
        super().__init__(
            volume_degree=volume_degree,
            degree=degree,
            interactions=interactions,
            alphas=None if alphas is None else [float(a) for a in alphas],
            **options,
        )

    def _build_top(self, Xf: Tensor, Y: Tensor) -> None:
        p = self._raw_design(Xf, stats=False).shape[-1]
        dt = dict(dtype=Xf.dtype, device=Xf.device)
        self.register_buffer("x_mean_", Xf.mean(0))
        self.register_buffer("x_std_", Xf.std(0).clamp_min(1e-12))
        phi = self._raw_design(Xf, stats=False)
        self.register_buffer("phi_mean_", phi.mean(0))
        self.register_buffer("phi_std_", phi.std(0).clamp_min(1e-12))
        # a column constant on the training rows (v^2 when the runs span two volumes, a power
        # of a two-level setting) carries no information there and would explode away from
        # them once divided by its zero spread: it is left out of the design
        spread = phi.std(0) > 1e-9 * phi.abs().amax(0).clamp_min(1.0)
        self.register_buffer("keep_", spread.to(Xf.dtype))
        self.register_buffer("y_mean_", Y.mean())
        self.register_buffer("y_std_", Y.std().clamp_min(1e-12))
        self.register_buffer("coef_", torch.zeros(p, **dt))
        self.register_buffer("cov_", torch.eye(p, **dt))  # parameter covariance / sigma^2
        self.register_buffer("sigma2_", torch.ones((), **dt))  # standardised noise variance
        self.register_buffer("alpha_", torch.ones((), **dt))

    def _raw_design(self, Xf: Tensor, *, stats: bool = True) -> Tensor:
        """Unstandardised design ``... x n x p`` (``stats=False`` during build)."""
        if stats:
            Z = (Xf - self.x_mean_) / self.x_std_
        else:
            Z = (Xf - Xf.mean(0)) / Xf.std(0).clamp_min(1e-12)
        v, others = Z[..., :1], Z[..., 1:]
        cols = [v**k for k in range(1, self.config["volume_degree"] + 1)]
        for j in range(others.shape[-1]):
            z = others[..., j : j + 1]
            powers = [z**k for k in range(1, self.config["degree"] + 1)]
            cols += powers
            if self.config["interactions"]:
                cols += [v * zk for zk in powers]
        return torch.cat(cols, dim=-1)

    def design(self, Xf: Tensor) -> Tensor:
        """Standardised design matrix ``... x n x p`` at features ``... x n x (d-1)``."""
        return (self._raw_design(Xf) - self.phi_mean_) / self.phi_std_ * self.keep_

    def _standardised_training(self) -> tuple[Tensor, Tensor, Tensor]:
        Xf, Y = self.top_rows_
        return self.design(Xf), ((Y.squeeze(-1) - self.y_mean_) / self.y_std_), Xf[:, 0]

    def _mean_var(self, Xf: Tensor, observation_noise: bool = False) -> tuple[Tensor, Tensor]:
        phi = self.design(Xf)
        n = self.top_rows_[0].shape[0]
        mean = phi @ self.coef_
        quad = ((phi @ self.cov_) * phi).sum(-1)
        var = self.sigma2_ * (quad + 1.0 / n + (1.0 if observation_noise else 0.0))
        return self.y_mean_ + self.y_std_ * mean, self.y_std_**2 * var

    def noise_variance(self) -> Tensor:
        """Observation-noise variance in data units (a scalar tensor)."""
        return self.y_std_**2 * self.sigma2_

    def _cv_select(self, alphas: Tensor, fit_path: Any) -> Tensor:
        """Grouped CV: return the penalty with the smallest pooled held-out squared error.

        ``fit_path(phi, y, alphas) -> p x L`` coefficients for every penalty.
        """
        phi, y, v = self._standardised_training()
        folds = scale_groups(v)
        sse = torch.zeros_like(alphas)
        for f in folds.unique():
            test = folds == f
            # refit the column and target centring on the training part of the fold
            ptr, ytr = phi[~test], y[~test]
            mu_p, mu_y = ptr.mean(0), ytr.mean()
            W = fit_path(ptr - mu_p, ytr - mu_y, alphas)
            pred = (phi[test] - mu_p) @ W + mu_y
            sse += ((pred - y[test].unsqueeze(-1)) ** 2).sum(0)
        best = int(torch.argmin(sse / y.shape[0]))
        # ties: prefer the larger penalty (alphas are sorted ascending)
        ties = torch.nonzero(sse <= sse[best] * (1 + 1e-9)).flatten()
        return alphas[int(ties.max())]

    def _alpha_grid(self, phi: Tensor, y: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


@register_model("ridge")
class RidgeBaseline(_LinearBaseline):
    """Ridge regression on scaling bases, top-fidelity rows only, closed form.

    Coefficients ``w = (Phi^T Phi + alpha I)^{-1} Phi^T y`` on the standardised design ``Phi`` and
    target ``y``; ``alpha`` minimises the leave-one-scale-out squared error over ``alphas``
    (default ``logspace(-4, 3, 15)``). Predictive variance (Bayesian ridge with prior
    ``w ~ N(0, sigma^2/alpha I)``): ``sigma^2 (phi^T (Phi^T Phi + alpha I)^{-1} phi + 1/n)``, the
    noise ``sigma^2 = RSS / (n - df - 1)`` with ``df = tr(H)`` the effective number of parameters.

    Args:
        volume_degree: highest power of ``log10_volume_L`` (the scaling bases ``1, v, v^2``).
        degree: highest power of each other feature (time and operating variables).
        interactions: include ``v * z^k`` columns.
        alphas: penalties to choose from (standardised units).

    Example:
        >>> import torch
        >>> X = torch.rand(20, 3, dtype=torch.float64); X[:, -1] = 0
        >>> Y = X[:, :1] + X[:, 1:2] ** 2
        >>> m = RidgeBaseline().fit((X, Y))
        >>> m.predict(X[:4]).variance.shape
        torch.Size([4])
    """

    def _optimize(self, *, seed: int | None, **options: Any) -> None:
        phi, y, _ = self._standardised_training()
        if self.config["alphas"] is None:
            alphas = torch.logspace(-4, 3, 15, dtype=phi.dtype, device=phi.device)
        else:
            alphas = torch.tensor(sorted(self.config["alphas"]), dtype=phi.dtype, device=phi.device)
        alpha = alphas[0] if alphas.numel() == 1 else self._cv_select(alphas, _ridge_path)
        n, p = phi.shape
        A = phi.T @ phi + alpha * torch.eye(p, dtype=phi.dtype, device=phi.device)
        L = torch.linalg.cholesky(A)
        coef = torch.cholesky_solve((phi.T @ y).unsqueeze(-1), L).squeeze(-1)
        cov = torch.cholesky_inverse(L)
        df = torch.trace(cov @ (phi.T @ phi))
        rss = ((y - phi @ coef) ** 2).sum()
        sigma2 = rss / (n - df - 1).clamp_min(1.0)
        self.coef_.copy_(coef)
        self.cov_.copy_(cov)
        self.sigma2_.copy_(sigma2.clamp_min(1e-10))
        self.alpha_.copy_(alpha)
        log.debug("ridge: alpha=%.3g, df=%.2f, sigma2=%.3g", alpha, df, sigma2)


def _ridge_path(phi: Tensor, y: Tensor, alphas: Tensor) -> Tensor:
    """Ridge coefficients ``p x L`` for every penalty, via one eigendecomposition."""
    evals, evecs = torch.linalg.eigh(phi.T @ phi)
    proj = evecs.T @ (phi.T @ y)  # p
    return evecs @ (proj.unsqueeze(-1) / (evals.unsqueeze(-1) + alphas))


def fista_lasso(
    phi: Tensor, y: Tensor, lambdas: Tensor, *, max_iter: int = 3000, tol: float | None = None
) -> Tensor:
    """Lasso coefficients for every penalty, by FISTA (accelerated proximal gradient).

    Minimises ``||y - phi w||^2 / (2 n) + lambda ||w||_1`` (scikit-learn's ``Lasso`` objective)
    for all ``lambdas`` at once; ``phi`` and ``y`` should be centred (no intercept).

    Args:
        phi: ``n x p`` design.
        y: ``n`` targets.
        lambdas: ``L`` penalties.
        max_iter: iteration cap.
        tol: stop when the largest coefficient change is below ``tol`` times the largest
            coefficient (default ``1e-8`` in float64, ``1e-5`` in float32); checked every 10
            iterations.

    Returns:
        ``p x L`` coefficients.

    >>> phi = torch.eye(3, dtype=torch.float64); y = torch.tensor([3.0, 0.1, -2.0]).double()
    >>> fista_lasso(phi, y, torch.tensor([0.5]).double()).squeeze(-1)
    tensor([ 1.5000,  0.0000, -0.5000], dtype=torch.float64)
    """
    n, p = phi.shape
    if tol is None:
        tol = 1e-8 if phi.dtype == torch.float64 else 1e-5
    G = phi.T @ phi / n
    b = (phi.T @ y / n).unsqueeze(-1)
    step = 1.0 / torch.linalg.eigvalsh(G).max().clamp_min(1e-12)
    W = torch.zeros(p, lambdas.shape[0], dtype=phi.dtype, device=phi.device)
    Z, t = W.clone(), 1.0
    thresh = step * lambdas
    with num_threads(1):  # p x L matrices: one thread is fastest
        for it in range(max_iter):
            grad = G @ Z - b
            U = Z - step * grad
            W_new = torch.sign(U) * (U.abs() - thresh).clamp_min(0)
            t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
            Z = W_new + ((t - 1) / t_new) * (W_new - W)
            if it % 10 == 9:
                change = (W_new - W).abs().max()
                if change <= tol * W_new.abs().max().clamp_min(1e-12):
                    W = W_new
                    break
            W, t = W_new, t_new
    return W


@register_model("lasso")
class LassoBaseline(_LinearBaseline):
    """Lasso on scaling bases, top-fidelity rows only, by proximal gradient (FISTA) in torch.

    The penalty ``lambda`` (objective ``||y - Phi w||^2 / (2n) + lambda ||w||_1`` on the
    standardised design) minimises the leave-one-scale-out squared error over ``alphas`` (default
    ``lambda_max * logspace(-4, 0, 15)``). Predictive variance, Bayesian-ridge style on the
    active set ``A`` (the nonzero coefficients): ``sigma^2 (phi_A^T (Phi_A^T Phi_A + eps I)^{-1}
    phi_A + 1/n)`` with ``sigma^2 = RSS / (n - |A| - 1)``.

    Args:
        volume_degree, degree, interactions, alphas: as :class:`RidgeBaseline`.
        max_iter: FISTA iteration cap.

    Example:
        >>> import torch
        >>> X = torch.rand(20, 3, dtype=torch.float64); X[:, -1] = 0
        >>> m = LassoBaseline().fit((X, 2 * X[:, :1]))
        >>> m.predict(X[:4]).mean.shape
        torch.Size([4])
    """

    fit_options = ("max_iter",)

    def __init__(self, *, max_iter: int = 3000, **config: Any) -> None:
        if max_iter < 1:
            raise InputDataError(f"max_iter must be >= 1, got {max_iter}")
        super().__init__(max_iter=max_iter, **config)

    def _optimize(self, *, seed: int | None, **options: Any) -> None:
        phi, y, _ = self._standardised_training()
        n, p = phi.shape
        max_iter = int(options.get("max_iter", self.config["max_iter"]))

        def path(ph: Tensor, yy: Tensor, lam: Tensor) -> Tensor:
            return fista_lasso(ph, yy, lam, max_iter=max_iter)

        if self.config["alphas"] is None:
            lam_max = (phi.T @ y).abs().max() / n
            alphas = lam_max.clamp_min(1e-8) * torch.logspace(
                -4, 0, 15, dtype=phi.dtype, device=phi.device
            )
        else:
            alphas = torch.tensor(sorted(self.config["alphas"]), dtype=phi.dtype, device=phi.device)
        alpha = alphas[0] if alphas.numel() == 1 else self._cv_select(alphas, path)
        coef = path(phi, y, alpha.reshape(1)).squeeze(-1)
        active = coef.abs() > 0
        cov = torch.zeros(p, p, dtype=phi.dtype, device=phi.device)
        k = int(active.sum())
        if k > 0:
            pa = phi[:, active]
            eps = 1e-6 * n
            cov_a = torch.linalg.inv(
                pa.T @ pa + eps * torch.eye(k, dtype=phi.dtype, device=phi.device)
            )
            idx = torch.nonzero(active).flatten()
            cov[idx.unsqueeze(-1), idx] = cov_a
        rss = ((y - phi @ coef) ** 2).sum()
        sigma2 = rss / max(n - k - 1, 1)
        self.coef_.copy_(coef)
        self.cov_.copy_(cov)
        self.sigma2_.copy_(sigma2.clamp_min(1e-10))
        self.alpha_.copy_(alpha)
        log.debug("lasso: lambda=%.3g, active=%d/%d, sigma2=%.3g", alpha, k, p, sigma2)
