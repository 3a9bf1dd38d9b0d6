"""The AR1 model's posterior: the cached posterior states (keyed on the tensors they depend
on, see :class:`~mfgp.models.base.ScaleUpModel`), the latent posterior of either inference
mode (or the mixture over hyperparameter draws), the misfit nugget and observation noise,
:meth:`posterior` and :meth:`predict`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from botorch.models.transforms.outcome import Log
from botorch.posteriors import GPyTorchPosterior, Posterior
from gpytorch.distributions import MultivariateNormal
from linear_operator.operators import DenseLinearOperator
from torch import Tensor

from mfgp.exceptions import InputDataError
from mfgp.fit.mcmc import mixture_moments
from mfgp.models.base import Prediction


class AR1Posterior:
    """Mixin of :class:`~mfgp.models.ar1.AR1MultiFidelityGP`: posterior and predictions."""

    # --------------------------------------------------------------- posterior
    def latent_posterior(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Latent posterior mean ``batch x n`` and covariance ``batch x n x n`` at ``X``
        (``batch x n x d``, fidelity index last) in the internal units of
        :attr:`covar_module` (standardised; logged with a log transform), without the misfit
        nugget or observation noise: the exact joint posterior in joint mode or with
        conditioned rows, the recursive co-kriging one otherwise, moment-matched over the
        hyperparameter draws when there are draws. :meth:`posterior` is its data-unit form."""
        if self.config["mode"] == "joint" or self._cond:
            return self._joint_latent(X)
        if self._hyper_batch() is None:
            mean, cov = self._recursive_latent(X, self._cached_recursive_state())
            assert cov is not None
            return mean, cov
        # equal-weight mixture over the hyperparameter draws, moment-matched
        means, covs = self._draw_latent(X)
        return mixture_moments(list(zip(means.unbind(-2), covs.unbind(-3), strict=True)))

    def _state_tensors(self, cond: bool = True) -> list[Tensor]:
        """Every tensor a cached posterior state depends on (``cond=False``: leaving out the
        conditioned observations, for states of the training rows alone)."""
        tensors = [*self.parameters(), *self.buffers(), self.train_X_, self.train_Y_]
        if self.train_Yvar_ is not None:
            tensors.append(self.train_Yvar_)
        for st in self._trend_state or []:
            tensors.extend(st.values())
        for obs in self._cond if cond else []:
            tensors.extend(t for t in obs if t is not None)
        return tensors

    def _cached(self, name: str, build: Callable[[], Any], *, cond: bool = True) -> Any:
        """``build()``, kept in the posterior cache as ``name`` until a parameter, buffer, the
        training data or (with ``cond``) a conditioned observation change (keyed on the
        tensors' ids and in-place version counters)."""
        with torch.no_grad():
            return self._cache_lookup(name, self._state_tensors(cond), build)

    def _seed_cache(self, name: str, value: Any, *, cond: bool = True) -> None:
        """Store ``value`` as :meth:`_cached`'s entry ``name`` for the current tensors."""
        self._cache_store(name, self._state_tensors(cond), value)

    def _internal_posterior(
        self, X: Tensor, observation_noise: bool | Tensor, *, diagonal: bool = False
    ) -> tuple[Tensor, Tensor]:
        """Mean and covariance of the (log-)response in data (log) units.

        With ``diagonal``, the latent covariance is reduced to its diagonal, floored at 0,
        before the nugget and noise terms are added (for :meth:`predict`): a latent variance
        computed as prior minus explained variance can come out slightly negative by round-off
        where the data pin it down, and flooring the sum instead would also remove the
        misfit nugget that belongs there.
        """
        return self._observed(X, *self.latent_posterior(X), observation_noise, diagonal=diagonal)

    def _observed(
        self,
        X: Tensor,
        mean: Tensor,
        cov: Tensor,
        observation_noise: bool | Tensor,
        *,
        diagonal: bool = False,
    ) -> tuple[Tensor, Tensor]:
        """:meth:`_internal_posterior` from the latent ``mean`` and ``cov`` (standardised
        units): misfit nugget and observation noise added, in data (log) units; with
        ``diagonal``, the diagonal covariance of :meth:`_observed_diagonal`."""
        if diagonal:
            var = cov.diagonal(dim1=-2, dim2=-1)
            mean, var = self._observed_diagonal(X, mean, var, observation_noise)
            return mean, torch.diag_embed(var)
        misfit = self._misfit_levels()
        if any(misfit):
            cov = cov + self._misfit_cov(X, misfit)
        nz = self._added_noise(X, observation_noise, misfit, cov)
        if nz is not None:
            cov = cov + torch.diag_embed(nz.expand(cov.shape[:-1]))
        return mean * self.y_sd + self.y_mu, cov * self.y_sd**2

    def _observed_diagonal(
        self, X: Tensor, mean: Tensor, var: Tensor, observation_noise: bool | Tensor
    ) -> tuple[Tensor, Tensor]:
        """Means and variances in data (log) units from latent variances ``var``
        (``... x n``), floored at 0 before the misfit nugget and noise are added (a latent
        variance computed as prior minus explained variance can come out slightly negative by
        round-off where the data pin it down)."""
        var = var.clamp_min(0)
        misfit = self._misfit_levels()
        if any(misfit):
            var = var + self._misfit_columns(X, misfit).square().sum(-1)
        nz = self._added_noise(X, observation_noise, misfit, var)
        if nz is not None:
            var = var + nz
        return mean * self.y_sd + self.y_mu, var * self.y_sd**2

    def _added_noise(
        self, X: Tensor, observation_noise: bool | Tensor, misfit: list[bool], like: Tensor
    ) -> Tensor | None:
        """Per-row variance (standardised units) that ``observation_noise`` adds: the given
        tensor, or with ``True`` the noise of each row's level when that level's nugget is
        noise (a misfit nugget is already in the posterior); ``None`` for ``False``."""
        if isinstance(observation_noise, Tensor):
            return observation_noise.squeeze(-1).to(like)
        if not observation_noise:
            return None
        keep = torch.tensor([not m for m in misfit], dtype=like.dtype, device=like.device)
        return (self._level_noise() * keep)[X[..., -1].round().long()]

    def _misfit_levels(self) -> list[bool]:
        """Per level (``L``), whether its nugget is misfit (``nugget``)."""
        opt = self.config.get("nugget", "noise")
        L = self.n_fidelities_
        if isinstance(opt, str):
            return [opt == "misfit"] * L
        vals = list(opt)
        if len(vals) == L - 1 and self.first_gp_level == 1:
            vals = ["noise", *vals]
        if len(vals) != L:
            raise InputDataError(
                f"nugget must be one value or a list of {L} per-level values, got {len(vals)}"
            )
        return [v == "misfit" for v in vals]

    def _misfit_cov(self, X: Tensor, misfit: list[bool]) -> Tensor:
        """Covariance ``batch x n x n`` (standardised units) of the nugget terms of the levels
        flagged in ``misfit`` at ``X``: ``f_l(x)`` carries ``sum_{k <= l} c_k(x) e_k(x)`` with
        ``e_k`` white noise of level ``k``'s variance and ``c_k(x) = prod_{j=k+1..l}
        rho_j(x)``, so two points share a term only at the same features."""
        C = self._misfit_columns(X, misfit)  # batch x n x L
        feats = X[..., :-1]
        same = (feats.unsqueeze(-2) == feats.unsqueeze(-3)).all(dim=-1)
        return (C @ C.transpose(-1, -2)) * same.to(X.dtype)

    def _misfit_columns(self, X: Tensor, misfit: list[bool]) -> Tensor:
        """``C`` (``batch x n x L``) with :meth:`_misfit_cov` ``= C C' * [same features]``:
        column ``k`` is ``c_k(x)`` times the root of level ``k``'s nugget."""
        z, lev = self._z(X)
        nz = self._level_noise() * torch.tensor(misfit, dtype=X.dtype, device=X.device)
        cols = []
        for k in range(self.n_fidelities_):
            c = (lev >= k).to(X.dtype)
            if k < self.first_gp_level:  # a level-0 callable is exact
                c = torch.zeros_like(c)
            for j in range(max(k + 1, 1), self.n_fidelities_):
                c = torch.where(lev >= j, c * self.levels_[str(j)].rho(z), c)
            cols.append(c * nz[k].clamp_min(0).sqrt())
        return torch.stack(cols, dim=-1)

    def posterior(
        self,
        X: Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | Tensor = False,
        posterior_transform: Any = None,
        **kwargs: Any,
    ) -> Posterior:
        """Joint posterior at ``X`` (``batch x n x d``, fidelity index last; levels may be mixed)
        with a full covariance across points and levels, in data units.

        Args:
            X: ``batch x n x d`` inputs.
            observation_noise: ``True`` adds each point's level noise; a tensor
                ``batch x n x 1`` adds that noise (standardised units, as in BoTorch).
            posterior_transform: optional BoTorch posterior transform.

        Returns:
            A :class:`~botorch.posteriors.GPyTorchPosterior` (a log-normal
            ``TransformedPosterior`` when ``log_transform=True``).
        """
        self._check_X(X)
        mean, cov = self._internal_posterior(X, observation_noise)
        # lazy covariance: a level-0 callable gives exactly zero variance, so no eager Cholesky
        post: Posterior = GPyTorchPosterior(MultivariateNormal(mean, DenseLinearOperator(cov)))
        if self.log_transform_:
            post = Log().untransform_posterior(post)
        if posterior_transform is not None:
            post = posterior_transform(post)
        return post

    def predict(self, X: Tensor, *, observation_noise: bool = False) -> Prediction:
        """Pointwise predictive distribution at ``X`` (``n x d``): Gaussian, or log-normal with
        ``log_transform`` (bounds are its quantiles, always positive). With
        ``hyperparameter_samples`` (recursive mode) it is the equal-weight mixture over the
        draws of those distributions, each draw with its own latent mean and variance plus the
        misfit nugget and noise, whose moments without the log are :meth:`posterior`'s
        moment-matched ones; bounds are the mixture's quantiles."""
        self._check_X(X)
        with torch.no_grad():
            if self._hyper_batch() is not None:
                return self._predict_draws(X, observation_noise)
            mean, cov = self._internal_posterior(X, observation_noise, diagonal=True)
            var = cov.diagonal(dim1=-2, dim2=-1)
        if self.log_transform_:
            return Prediction.lognormal(mean, var)
        return Prediction.gaussian(mean, var)
