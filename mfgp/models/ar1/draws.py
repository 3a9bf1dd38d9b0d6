"""The AR1 model's hyperparameter draws (``hyperparameter_samples``): the fully Bayesian
variant over each level's kernel hyperparameters.

At fit time each level's kernel hyperparameters get ``S`` posterior draws
(:func:`mfgp.fit.mcmc.sample_level`, a Metropolis chain). At prediction time one copy of the
model holds all draws as a batch dimension of its level kernels (``batch_shape = (S,)``, the way
BoTorch's fully Bayesian models hold their MCMC samples; not ``S`` copies), queried with the
draws' dimension inserted at ``-3``; a level whose draws all equal its fitted values (a level
over ``fit_rows``) stays unbatched and is evaluated once for all draws. The posterior is the
equal-weight mixture of the draws (moment-matched by ``posterior``, the mixture itself by
``predict``).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from mfgp.fit import stream
from mfgp.fit.mcmc import flat_params, sample_level, set_batched_params
from mfgp.models.base import Prediction

if TYPE_CHECKING:
    from mfgp.models.ar1.model import AR1MultiFidelityGP


class HyperparameterDraws:
    """Mixin of :class:`~mfgp.models.ar1.AR1MultiFidelityGP`: the hyperparameter draws."""

    def _sample_hyperparameters(self, seed: int | None) -> None:
        """Draw ``hyperparameter_samples`` raw kernel-parameter vectors per level from their
        posterior (see the class docstring and :mod:`mfgp.fit.mcmc`). A level whose
        Hessian or likelihood cannot be evaluated keeps plug-in values."""
        S = int(self.config["hyperparameter_samples"])
        cap = self.config.get("fit_rows") or 1000
        gen = stream(seed, 7919, 17)
        X, y, noise = self._train_rows()
        lev = X[:, -1].round().long()
        with torch.no_grad():
            state = self._recursive_state()
        for i, k in enumerate(range(self.first_gp_level, self.n_fidelities_)):
            lvl = self.levels_[str(k)]
            sel = lev == k
            if not list(lvl.kernel.parameters()):  # a kernel without parameters has no draws
                continue
            if int(sel.sum()) > cap:
                lvl.hyper_samples.copy_(flat_params(lvl.kernel).expand_as(lvl.hyper_samples))
                continue
            Xk, yk, nk = X[sel], y[sel], noise[sel]
            with torch.no_grad():
                mprev = self._regressor(k, Xk, state[:i])
            draws = sample_level(
                lvl.kernel, self._level_nlp(k, Xk, yk, nk, mprev), S, gen, name=f"level {k}"
            )
            lvl.hyper_samples.copy_(draws)

    def _hyper_batch(self) -> tuple[AR1MultiFidelityGP, list[dict[str, Tensor]]] | None:
        """One copy of this model whose level kernels hold all ``S`` hyperparameter draws as a
        batch dimension (``batch_shape = (S,)``, as BoTorch's fully Bayesian models hold their
        MCMC samples), with its recursive state, cached like the recursive state; ``None``
        without draws, in training mode or for joint-mode models. Query it at ``X`` with the
        draws' dimension inserted (``X.unsqueeze(-3)``): means ``... x S x n``. The lowest
        levels whose draws all equal the fitted values (levels over ``fit_rows``, typically a
        large simulator level 0) stay unbatched and share this model's factors."""
        S = int(self.config.get("hyperparameter_samples", 0))
        if not S or self.training or self.config["mode"] == "joint" or self._cond:
            return None
        if not getattr(self, "fitted_", False):
            return None
        return self._cached("_draw_batch", self._build_hyper_batch)

    def _build_hyper_batch(self) -> tuple[AR1MultiFidelityGP, list[dict[str, Tensor]]]:
        """Build what :meth:`_hyper_batch` caches."""
        batch = copy.deepcopy(self)  # without the posterior cache (see ScaleUpModel)
        batch.config["hyperparameter_samples"] = 0
        shared = 0  # lowest levels without draws of their own
        for k in range(self.first_gp_level, self.n_fidelities_):
            lvl = self.levels_[str(k)]
            if not bool((lvl.hyper_samples == flat_params(lvl.kernel)).all()):
                break
            shared += 1
        prefix = self._cached_recursive_state()[:shared]
        for k in range(self.first_gp_level + shared, self.n_fidelities_):
            set_batched_params(batch.levels_[str(k)].kernel, self.levels_[str(k)].hyper_samples)
        batch.eval()
        return batch, batch._recursive_state(prefix)

    def _draw_chunk_rows(self) -> int:
        """Query rows per batched evaluation of the draws in :meth:`predict`, so that the
        ``S x rows x n_k`` cross-covariances stay near 2**24 numbers (128 MB in float64)."""
        S = int(self.config["hyperparameter_samples"])
        lev = self.train_X_[:, -1].round().long()
        n_max = max(int((lev == k).sum()) for k in range(self.first_gp_level, self.n_fidelities_))
        return max(1, 2**24 // (S * max(n_max, 1)))

    def _draw_latent(self, X: Tensor, *, diagonal: bool = False) -> tuple[Tensor, Tensor]:
        """Latent means ``... x S x n`` and covariances ``... x S x n x n`` (variances
        ``... x S x n`` with ``diagonal``) of the ``S`` hyperparameter draws at ``X``
        (``... x n x d``), in one batched evaluation; only with draws (:meth:`_hyper_batch`)."""
        found = self._hyper_batch()
        assert found is not None
        batch, state = found
        mean, cov = batch._recursive_latent(X.unsqueeze(-3), state, diagonal=diagonal)
        assert cov is not None
        shape = (*X.shape[:-2], int(self.config["hyperparameter_samples"]), X.shape[-2])
        return mean.expand(shape), cov.expand(shape if diagonal else (*shape, X.shape[-2]))

    def _predict_draws(self, X: Tensor, observation_noise: bool) -> Prediction:
        """:meth:`predict` with draws: the mixture over the draws of each one's pointwise
        predictive (its latent mean and variance plus misfit nugget and noise), computed in
        chunks of rows (pointwise, so the chunks are exact)."""
        means, var = [], []
        for Xc in X.split(self._draw_chunk_rows()):
            draws = self._draw_latent(Xc, diagonal=True)
            m, v = self._observed_diagonal(Xc, *draws, observation_noise)
            means.append(m.transpose(-1, -2))
            var.append(v.transpose(-1, -2))
        means_, var_ = torch.cat(means), torch.cat(var)  # n x S
        return Prediction.mixture(None, means_, var_, log=self.log_transform_)
