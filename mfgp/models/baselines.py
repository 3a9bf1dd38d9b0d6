"""Baselines as torch modules: regularised linear models, scaling law only, discrepancy GP.

Every baseline here follows :class:`~mfgp.models.base.ScaleUpModel` (``fit``, ``posterior``,
``predict``, save/load, CPU or CUDA, float32 or float64) and is selectable by name:

- ``ridge``: ridge regression on scaling bases of ``log10_volume_L`` (``v``, ``v^2``), polynomial
  bases of the other features (``time_h`` and operating variables) and their products with ``v``;
  closed-form solve; the penalty is chosen by grouped (leave-one-scale-out) cross-validation;
  Bayesian-ridge predictive variance.
- ``lasso``: the same design with an L1 penalty, solved by accelerated proximal gradient (FISTA,
  Beck & Teboulle 2009) in torch for a whole grid of penalties at once; grouped cross-validation;
  predictive variance from the refitted active set.
- ``scaling_law``: the scaling-law surrogate (:class:`mfgp.scaling.bases.ScalingLawSurrogate`)
  fitted on the top-fidelity training rows, used as the prediction; its variance is the
  leave-one-scale-out residual variance (honest: each scale is predicted by a surrogate that did
  not see it).
- ``discrepancy``: the scaling-law surrogate as the mean plus a BoTorch
  :class:`~botorch.models.SingleTaskGP` on the residuals (the Kennedy-O'Hagan AR1 model with
  ``rho`` fixed to 1).

Rows used: ``ridge`` and ``lasso`` use the **top-fidelity rows only** (``multi_fidelity = False``);
``scaling_law`` and ``discrepancy`` also fit their surrogate on the top-fidelity rows (lower
levels are ignored: keep it simple and comparable). At prediction time the fidelity column of
``X`` is ignored: every baseline predicts the top level. Known noise variances (``Yvar``) are
passed to the GP of ``discrepancy`` and ignored by the others.

Hand-written numerics, and why: the ridge solve and the FISTA loop are a few lines of torch so
that they run on the model's device and dtype, batch over the penalty grid, and save with the
state dict; scikit-learn's ``Ridge``/``Lasso`` solve the same problems on NumPy (the tests check
agreement with them). :func:`num_threads` runs such tiny-matrix loops on one torch thread.

References:
    Hoerl & Kennard (1970), Technometrics 12:55 (ridge). Tibshirani (1996), JRSS B 58:267
    (lasso). Beck & Teboulle (2009), SIAM J. Imaging Sci. 2:183 (FISTA). Bishop (2006), Pattern
    Recognition and Machine Learning, sec. 3.3 (Bayesian linear regression predictive variance).
    Kennedy & O'Hagan (2000), Biometrika 87:1 (discrepancy/AR1 model).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gpytorch
import torch
from botorch.posteriors import GPyTorchPosterior, Posterior
from gpytorch.distributions import MultivariateNormal
from torch import Tensor

from mfgp.exceptions import InputDataError
from mfgp.models.base import ScaleUpModel, gaussian_posterior, register_model
from mfgp.models.single_gp import SingleFidelityGP
from mfgp.scaling.bases import ScalingLawSurrogate, make_basis
from mfgp.scaling.growth import get_growth_model

__all__ = [
    "DiscrepancyGP",
    "LassoBaseline",
    "RidgeBaseline",
    "ScalingLawOnly",
    "TopLevelBaseline",
    "scale_groups",
    "num_threads",
    "top_fidelity_rows",
    "variance_floor",
]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- shared helpers
@contextmanager
def num_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` torch intra-op threads (``None``: unchanged), then restore them.

    Loops over tiny matrices (FISTA, small MLPs) run several times faster on one thread: extra
    threads only add synchronisation, and on a busy machine they can be 10-50x slower.

    >>> with num_threads(1):
    ...     torch.get_num_threads()
    1
    """
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def top_fidelity_rows(X: Tensor, Y: Tensor) -> tuple[Tensor, Tensor]:
    """The rows of the highest fidelity present, without the fidelity column.

    Args:
        X: ``n x d`` inputs, fidelity index last.
        Y: ``n x 1`` targets.

    Returns:
        ``Xf`` (``m x (d-1)`` features) and ``Yt`` (``m x 1``) of the top-fidelity rows.

    >>> X = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 1.0]])
    >>> top_fidelity_rows(X, torch.ones(3, 1))[0].shape
    torch.Size([2, 1])
    """
    if X.shape[-1] < 2:
        raise InputDataError("X needs at least one feature column before the fidelity index")
    top = X[:, -1] == X[:, -1].max()
    return X[top, :-1], Y[top]


def scale_groups(v: Tensor, *, min_groups: int = 3, max_folds: int = 5) -> Tensor:
    """Fold labels for grouped cross-validation: one group per distinct scale (leave one scale
    out).

    With fewer than ``min_groups`` distinct scales, leave-one-scale-out is not informative, so
    rows are split into ``min(max_folds, n)`` interleaved folds instead (deterministic).

    Args:
        v: ``n`` values of ``log10_volume_L``.

    Returns:
        ``n`` integer fold labels ``0..k-1``.

    >>> scale_groups(torch.tensor([0.0, 0.0, 1.0, 2.0])).tolist()
    [0, 0, 1, 2]
    """
    _, inverse = torch.unique(torch.round(v * 1e6), return_inverse=True)
    if int(inverse.max()) + 1 >= min_groups:
        return inverse
    k = max(2, min(max_folds, v.shape[0]))
    return torch.arange(v.shape[0], device=v.device) % k


def feature_index(model: ScaleUpModel, name: str, default: int | None) -> int | None:
    """Column of feature ``name`` from the data's ``feature_names`` (or ``default`` without
    names)."""
    names = model.metadata.get("feature_names")
    if names:
        return list(names).index(name) if name in names else None
    return default


def variance_floor(dtype: torch.dtype) -> float:
    """Smallest variance reported: twice GPyTorch's ``min_variance`` for ``dtype`` (below it
    GPyTorch warns and rounds up).

    >>> variance_floor(torch.float64) > 0
    True
    """
    return 2.0 * gpytorch.settings.min_variance.value(dtype)


class TopLevelBaseline(ScaleUpModel):
    """Shared machinery of single-fidelity baselines that use the top-fidelity rows only.

    Subclasses implement :meth:`_build_top` (features ``m x p`` and targets ``m x 1`` of the top
    level, in data units), :meth:`_optimize` and :meth:`_mean_var` (predictive mean and variance
    in data units, with or without observation noise); this class selects the rows, ignores the
    fidelity column at prediction and wraps the result as a BoTorch posterior (diagonal
    covariance).
    """

    multi_fidelity = False

    def _build(self, X: Tensor, Y: Tensor, Yvar: Tensor | None) -> None:
        Xf, Yt = top_fidelity_rows(X, Y)
        if Xf.shape[0] < 3:
            raise InputDataError(
                f"the top fidelity has {Xf.shape[0]} row(s); {type(self).__name__} needs at "
                "least 3 observations"
            )
        self._build_top(Xf, Yt)

    def _build_top(self, Xf: Tensor, Y: Tensor) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _mean_var(
        self, Xf: Tensor, observation_noise: bool = False
    ) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        """Mean and variance (each ``batch x n``, data units) at features ``batch x n x p``;
        the variance is latent, plus the observation noise when ``observation_noise``."""
        raise NotImplementedError

    @property
    def top_rows_(self) -> tuple[Tensor, Tensor]:
        """Top-fidelity training features ``m x p`` and targets ``m x 1``."""
        return top_fidelity_rows(self.train_X_, self.train_Y_)

    def posterior(
        self,
        X: Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | Tensor = False,
        posterior_transform: Any = None,
        **kwargs: Any,
    ) -> Posterior:
        """Gaussian posterior of the top level at ``X`` (``batch x n x d``; the fidelity column
        is ignored), with diagonal covariance."""
        self._check_X(X)
        add_noise = not isinstance(observation_noise, Tensor) and bool(observation_noise)
        mean, var = self._mean_var(X[..., :-1], add_noise)
        if isinstance(observation_noise, Tensor):
            var = var + observation_noise.squeeze(-1).to(var)
        post = gaussian_posterior(mean, var.clamp_min(variance_floor(var.dtype)))
        return posterior_transform(post) if posterior_transform is not None else post


# ----------------------------------------------------------------------- linear baselines
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
        **config: Any,
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
            **config,
        )

    def _build_top(self, Xf: Tensor, Y: Tensor) -> None:
        p = self._raw_design(Xf, stats=False).shape[-1]
        dt = dict(dtype=Xf.dtype, device=Xf.device)
        self.register_buffer("x_mean_", Xf.mean(0))
        self.register_buffer("x_std_", Xf.std(0).clamp_min(1e-12))
        phi = self._raw_design(Xf, stats=False)
        self.register_buffer("phi_mean_", phi.mean(0))
        self.register_buffer("phi_std_", phi.std(0).clamp_min(1e-12))
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
        return (self._raw_design(Xf) - self.phi_mean_) / self.phi_std_

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


# -------------------------------------------------------------------- scaling-law baselines
def _surrogate_config(growth: str, basis: str, surrogate_ridge: float) -> dict[str, Any]:
    get_growth_model(growth)
    make_basis(basis)
    if surrogate_ridge < 0:
        raise InputDataError(f"surrogate_ridge must be >= 0, got {surrogate_ridge}")
    return {"growth": growth, "basis": basis, "surrogate_ridge": float(surrogate_ridge)}


def _make_surrogate(config: dict[str, Any], dtype: torch.dtype) -> ScalingLawSurrogate:
    return ScalingLawSurrogate(
        config["growth"], config["basis"], ridge=config["surrogate_ridge"], dtype=dtype
    )


def _fit_surrogate(surrogate: ScalingLawSurrogate, Xf: Tensor, y: Tensor) -> ScalingLawSurrogate:
    """Fit ``surrogate`` on features ``m x p`` and targets ``m``. The fit runs on CPU tensors (the
    growth-curve least squares is SciPy's anyway); the coefficients go to the surrogate's device.
    """
    return surrogate.fit_features(Xf.detach().cpu(), y.detach().cpu())


def _check_time_course(Xf: Tensor) -> None:
    if Xf.shape[-1] < 2:
        raise InputDataError(
            "the scaling-law surrogate needs log10_volume_L and time_h as the first two feature "
            f"columns (time courses); got {Xf.shape[-1]} feature column(s)"
        )


@register_model("scaling_law")
class ScalingLawOnly(TopLevelBaseline):
    """The scaling-law surrogate alone as the prediction, with a leave-one-scale-out variance.

    A :class:`~mfgp.scaling.bases.ScalingLawSurrogate` (a growth curve per training volume, each
    parameter regressed on a scaling basis of ``log10 V``) is fitted on the **top-fidelity
    rows** and evaluated at ``X`` (columns ``log10_volume_L``, ``time_h``; other features are
    ignored). Variance: every training scale is predicted by a surrogate fitted on the other
    scales; the mean squared leave-one-scale-out residual is the predictive variance of a new
    observation, and the in-sample mean squared residual is taken as the observation noise (the
    latent variance is their difference, floored at 10 % of the total). With fewer than 3 scales
    the in-sample residual variance is used for both (and a warning is logged).

    Args:
        growth: ``"baranyi"`` (default), ``"logistic"`` or ``"gompertz"``.
        basis: ``"power"`` (default), ``"log"`` or ``"piecewise"``.
        surrogate_ridge: ridge penalty of the surrogate's parameter regression.

    Example:
        >>> import torch
        >>> from mfgp.scaling.growth import logistic
        >>> v = torch.tensor([0.0, 1.0, 2.0]).double().repeat_interleave(8)
        >>> t = torch.linspace(0, 40, 8).double().repeat(3)
        >>> p = torch.stack([0.1 + 0 * v, 10 * 10 ** (-0.1 * v), 0.3 + 0 * v], -1)
        >>> X = torch.stack([v, t, torch.zeros_like(v)], -1)
        >>> m = ScalingLawOnly(growth="logistic").fit((X, logistic(t, p).unsqueeze(-1)))
        >>> m.predict(X[:2]).mean.shape
        torch.Size([2])
    """

    def __init__(
        self, *, growth: str = "baranyi", basis: str = "power", surrogate_ridge: float = 1e-3
    ) -> None:
        super().__init__(**_surrogate_config(growth, basis, surrogate_ridge))

    def _build_top(self, Xf: Tensor, Y: Tensor) -> None:
        _check_time_course(Xf)
        self.surrogate_ = _make_surrogate(self.config, Xf.dtype)
        dt = dict(dtype=Xf.dtype, device=Xf.device)
        self.register_buffer("latent_var_", torch.ones((), **dt))
        self.register_buffer("noise_var_", torch.ones((), **dt))

    def _optimize(self, *, seed: int | None, **options: Any) -> None:
        Xf, Y = self.top_rows_
        y = Y.squeeze(-1)
        _fit_surrogate(self.surrogate_, Xf, y)
        in_sample = ((self.surrogate_(Xf) - y) ** 2).mean()
        v = torch.round(Xf[:, 0] * 1e9) / 1e9
        scales = torch.unique(v)
        if scales.numel() >= 3:
            sq = torch.zeros_like(y)
            for s in scales:
                test = v == s
                held = _fit_surrogate(_make_surrogate(self.config, Xf.dtype), Xf[~test], y[~test])
                sq[test] = (held(Xf[test]) - y[test]) ** 2
            total = torch.maximum(sq.mean(), in_sample)
        else:
            log.warning("scaling_law: fewer than 3 scales; variance from in-sample residuals")
            total = 2 * in_sample
        floor = variance_floor(y.dtype)
        self.noise_var_.fill_(float(in_sample.clamp_min(floor)))
        self.latent_var_.fill_(
            float(torch.maximum(total - in_sample, 0.1 * total).clamp_min(floor))
        )

    def _mean_var(self, Xf: Tensor, observation_noise: bool = False) -> tuple[Tensor, Tensor]:
        mean = self.surrogate_(Xf)
        var = (self.latent_var_ + (self.noise_var_ if observation_noise else 0.0)).expand_as(mean)
        return mean, var


@register_model("discrepancy")
class DiscrepancyGP(SingleFidelityGP):
    """Scaling-law surrogate as the mean plus a GP on the residual (AR1 with ``rho = 1``).

    ``f(x) = s(x) + delta(x)``: ``s`` is a :class:`~mfgp.scaling.bases.ScalingLawSurrogate`
    fitted on the **top-fidelity rows** (lower levels are ignored: kept simple), ``delta`` a
    BoTorch :class:`~botorch.models.SingleTaskGP` (Matern-5/2 ARD, normalised inputs,
    standardised outputs, marginal likelihood from seeded restarts, as :class:`SingleFidelityGP`)
    on the residuals ``y - s(x)`` over every feature column. The posterior is the GP's
    (full covariance) shifted by ``s(x)``.

    Args:
        growth, basis, surrogate_ridge: the surrogate, as :class:`ScalingLawOnly`.
        mean: mean of the residual GP, ``"constant"`` (default) or ``"linear"``.
        restarts, maxiter: marginal-likelihood restarts and L-BFGS iterations.

    Example:
        >>> import torch
        >>> from mfgp.scaling.growth import logistic
        >>> v = torch.tensor([0.0, 1.0, 2.0]).double().repeat_interleave(8)
        >>> t = torch.linspace(0, 40, 8).double().repeat(3)
        >>> p = torch.stack([0.1 + 0 * v, 10 * 10 ** (-0.1 * v), 0.3 + 0 * v], -1)
        >>> X = torch.stack([v, t, torch.zeros_like(v)], -1)
        >>> y = logistic(t, p).unsqueeze(-1) + 0.01 * torch.sin(t).unsqueeze(-1)
        >>> m = DiscrepancyGP(growth="logistic", restarts=1).fit((X, y))
        >>> m.predict(X[:2]).mean.shape
        torch.Size([2])
    """

    multi_fidelity = False

    def __init__(
        self,
        *,
        growth: str = "baranyi",
        basis: str = "power",
        surrogate_ridge: float = 1e-3,
        mean: str = "constant",
        restarts: int = 3,
        maxiter: int = 200,
    ) -> None:
        if mean not in ("constant", "linear"):
            raise InputDataError(f"mean must be 'constant' or 'linear', got {mean!r}")
        if restarts < 1:
            raise InputDataError(f"restarts must be >= 1, got {restarts}")
        ScaleUpModel.__init__(
            self,
            **_surrogate_config(growth, basis, surrogate_ridge),
            mean=mean,
            restarts=restarts,
            maxiter=maxiter,
        )

    def _build(self, X: Tensor, Y: Tensor, Yvar: Tensor | None) -> None:
        Xf, _ = top_fidelity_rows(X, Y)
        _check_time_course(Xf)
        if Xf.shape[0] < 3:
            raise InputDataError(
                f"the top fidelity has {Xf.shape[0]} row(s); the discrepancy GP needs at least 3"
            )
        self.surrogate_ = _make_surrogate(self.config, X.dtype)

    def _residual_data(self, resid: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        X, Yvar = self.train_X_, self.train_Yvar_
        top = X[:, -1] == X[:, -1].max()
        Xr = X[top].clone()
        return Xr, resid.reshape(-1, 1).to(Xr), None if Yvar is None else Yvar[top]

    def _optimize(self, *, seed: int | None, **options: Any) -> None:
        Xf, Y = top_fidelity_rows(self.train_X_, self.train_Y_)
        _fit_surrogate(self.surrogate_, Xf, Y.squeeze(-1))
        with torch.no_grad():
            self.resid_ = (Y.squeeze(-1) - self.surrogate_(Xf)).detach()
        # build the residual GP exactly as the single-fidelity GP does, then fit it
        SingleFidelityGP._build(self, *self._residual_data(self.resid_))
        self.gp_.to(self.train_X_)
        super()._optimize(seed=seed, **options)

    def _extra_state(self) -> dict[str, Any]:
        return {"resid": self.resid_.detach().cpu()}

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        if "resid" not in extra:
            raise InputDataError("the saved discrepancy model has no residuals; refit it")
        self.resid_ = extra["resid"].to(self.train_X_)
        SingleFidelityGP._build(self, *self._residual_data(self.resid_))
        self.gp_.to(self.train_X_)

    def to(self, *args: Any, **kwargs: Any) -> DiscrepancyGP:  # type: ignore[override]
        super().to(*args, **kwargs)
        if isinstance(getattr(self, "resid_", None), Tensor):
            self.resid_ = self.resid_.to(*args, **kwargs)
        return self

    def posterior(
        self,
        X: Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | Tensor = False,
        posterior_transform: Any = None,
        **kwargs: Any,
    ) -> Posterior:
        """Posterior of the top level at ``X`` (``batch x n x d``; fidelity column ignored):
        the residual GP's posterior (full covariance) shifted by the surrogate."""
        self._check_X(X)
        post = self.gp_.posterior(X[..., :-1], observation_noise=observation_noise)
        mvn = post.distribution
        shifted = MultivariateNormal(
            mvn.mean + self.surrogate_(X[..., :-1]).to(mvn.mean), mvn.lazy_covariance_matrix
        )
        out = GPyTorchPosterior(shifted)
        return posterior_transform(out) if posterior_transform is not None else out
