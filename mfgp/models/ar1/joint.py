"""Joint (Kennedy-O'Hagan) inference of the AR1 model: the KOH prior mean and block
covariance, the joint marginal likelihood, the exact joint posterior with block updates for
conditioned rows, and the joint-mode copies used for conditioning and fantasies.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from mfgp.exceptions import InputDataError
from mfgp.models.ar1.koh import (
    KOHExactGP,
    KOHKernel,
    KOHMean,
    LevelNoise,
    LevelNoiseLikelihood,
)
from mfgp.models.ar1.level import _dense, _log_prior
from mfgp.models.gp_linalg import gaussian_nll, jittered_cholesky, solve_lower

if TYPE_CHECKING:
    from mfgp.models.ar1.model import AR1MultiFidelityGP


class JointInference:
    """Mixin of :class:`~mfgp.models.ar1.AR1MultiFidelityGP`: the exact joint (KOH) prior and
    posterior, conditioning on observations."""

    # -------------------------------------------------------- prior and joint GP
    @property
    def covar_module(self) -> KOHKernel:
        """The Kennedy-O'Hagan block covariance as a GPyTorch kernel over rows with the
        fidelity index last (internal units: standardised, and logged with a log transform),
        sharing this model's levels; with a recursive model's trend uncertainty carried into
        joint mode (:meth:`as_joint`), its low-rank trend terms included."""
        self._check_built()
        low_rank = self._trend_rows if self._trend_state is not None else None
        return KOHKernel(self.levels_, self.n_fidelities_, self.x_lo, self.x_rng, low_rank)

    @property
    def mean_module(self) -> KOHMean:
        """The Kennedy-O'Hagan prior mean as a GPyTorch mean (internal units), sharing this
        model's levels; a level-0 callable enters through its rho-weighted values."""
        self._check_built()
        f0 = self._f0 if self.level0 is not None else None
        return KOHMean(self.levels_, self.n_fidelities_, self.x_lo, self.x_rng, f0)

    def joint_gp(self) -> KOHExactGP:
        """The joint model over its rows as a GPyTorch ``ExactGP`` in internal units: the
        training rows and, for a conditioned (fantasy) model, the conditioned rows (batched
        like them); :attr:`mean_module`, :attr:`covar_module` and a likelihood with one noise
        variance per level (plus known per-row variances: ``Yvar``, a conditioned row's given
        noise). Its ``ExactMarginalLogLikelihood``, ``mll(gp(X), y, X)`` with
        ``X, y = gp.train_inputs[0], gp.train_targets``, is the objective that
        ``mode="joint"`` maximises; the modules share this model's levels, so optimising it
        moves this model's hyperparameters."""
        self._check_fitted()
        X, y, noise = self._train_rows()
        data = self._cond_data()
        if data is not None:
            b = data[0].shape[:-2]
            X = torch.cat([X.expand(*b, *X.shape), data[0]], dim=-2)
            y = torch.cat([y.expand(*b, -1), data[1]], dim=-1)
            noise = torch.cat([noise.expand(*b, -1), data[2]], dim=-1)
        with torch.no_grad():
            extra = noise - self._noise_per_level()[X[..., -1].round().long()]
        lik = LevelNoiseLikelihood(LevelNoise(self._noise_per_level, X, extra))
        return KOHExactGP(X, y, self.mean_module, self.covar_module, lik)

    def level_noise_variances(self, *, internal: bool = False) -> Tensor:
        """The fitted (or fixed) noise variance of each level, cheapest first (``L``), in data
        units (log units with a log transform), or with ``internal=True`` in the standardised
        units of :attr:`covar_module`; without a per-row ``Yvar``."""
        self._check_fitted()
        out = self._noise_per_level()
        return out if internal else out * self.y_sd**2

    def _check_built(self) -> None:
        """The levels exist from the start of :meth:`fit` (the prior is used while fitting)."""
        if "levels_" not in self._modules:
            self._check_fitted()

    def _prior_mean(self, X: Tensor) -> Tensor:
        """KOH prior mean ``batch x n`` (standardised units) at ``X`` (``batch x n x d``)."""
        return self.mean_module(X)

    def _prior_cov(self, X1: Tensor, X2: Tensor) -> Tensor:
        """KOH block covariance ``batch x n1 x n2`` between the levels of ``X1`` and ``X2``
        (the kernel's ``forward``: GPyTorch's lazy evaluation would first broadcast an unbatched
        ``X1`` to ``X2``'s batch and repeat its per-row terms, 2x slower on 512 x 1 queries)."""
        return self.covar_module.forward(X1, X2)

    def _trend_rows(self, X: Tensor) -> list[Tensor]:
        """For a joint-mode copy of a recursive model with trend uncertainty (see
        :meth:`as_joint`): per GP level ``k`` with trend coefficients, ``sd P_k(x) h_k(x)``
        (``batch x n x p_k``), where ``h_k`` are the level's regressors with the recursive
        posterior mean of level ``k - 1`` in place of ``f_{k-1}``, so that the joint prior
        covariance carries the same ``sd^2 h h'`` terms as the recursive posterior."""
        assert self._trend_state is not None
        sd = float(self.config["trend_uncertainty"])
        z, lev = self._z(X)
        P = self._weights(z, lev)
        m_below = self._f0(X) if self.level0 is not None else None
        rows: list[Tensor] = []
        for i, st in enumerate(self._trend_state):
            lvl = self.levels_[str(self.first_gp_level + i)]
            h = lvl.regressors(z, m_below)
            if h is not None:
                rows.append(sd * P[self.first_gp_level + i].unsqueeze(-1) * h)
            d_mean = lvl.mu(z) + _dense(lvl.kernel, z, st["z"]) @ st["alpha"]
            m_below = d_mean if m_below is None else lvl.rho(z) * m_below + d_mean
        return rows

    def _cond_data(self) -> tuple[Tensor, Tensor, Tensor] | None:
        """Conditioned observations (``None`` without), broadcast to the model batch shape."""
        if not self._cond:
            return None
        Xs, ys, ns = [], [], []
        level_noise = self._level_noise()
        for Xc, yc, nc in self._cond:
            Xs.append(Xc)
            ys.append(yc)
            ns.append(level_noise[Xc[..., -1].round().long()] if nc is None else nc)
        batch = torch.broadcast_shapes(
            *[x.shape[:-2] for x in Xs], *[v.shape[:-1] for v in ys], *[v.shape[:-1] for v in ns]
        )
        Xa = torch.cat([x.expand(*batch, *x.shape[-2:]) for x in Xs], dim=-2)
        ya = torch.cat([v.expand(*batch, v.shape[-1]) for v in ys], dim=-1)
        na = torch.cat([v.expand(*batch, v.shape[-1]) for v in ns], dim=-1)
        return Xa, ya, na

    def _joint_nll(self) -> Tensor:
        """Negative joint log marginal likelihood plus log priors, per observation."""
        X, y, noise = self._train_rows()
        K = self._prior_cov(X, X) + torch.diag_embed(noise)
        return gaussian_nll(K, y - self._prior_mean(X)) - _log_prior(self.levels_) / y.numel()

    def _joint_base(self) -> dict[str, Tensor]:
        """The training rows ``X0``, the jittered Cholesky factor ``L0`` of their KOH covariance
        and the whitened residual ``w0 = L0^-1 (y0 - m(X0))``; unbatched."""
        X0, y0, n0 = self._train_rows()
        L0 = jittered_cholesky(self._prior_cov(X0, X0) + torch.diag_embed(n0))
        r0 = (y0 - self._prior_mean(X0)).unsqueeze(-1)
        return {"X0": X0, "L0": L0, "w0": solve_lower(L0, r0)}

    def _joint_cond(self, base: dict[str, Tensor]) -> dict[str, Tensor] | None:
        """The conditioned rows' block of the factor of the joint covariance (``None`` without
        conditioned rows). With ``K`` the covariance of the training rows (factor ``L0``) and
        the conditioned rows ``c``, the factor of the whole is ``[[L0, 0], [B', C]]`` with
        ``B = L0^-1 K_0c`` and ``C C' = K_cc - B' B``, so a fantasy costs ``O(N^2 q)`` instead of
        a new ``O((N + q)^3)`` factorisation (written by hand: GPyTorch's fantasy updates
        assume its own ``ExactGP`` caches). Returns ``Xc``, ``B``, ``C`` and the whitened
        residual ``wc = C^-1 (y_c - m(X_c) - B' w0)``, at the conditioned rows' batch shape."""
        data = self._cond_data()
        if data is None:
            return None
        Xc, yc, nc = data
        # X0 unbatched: its per-row terms (weights, trend rows) are computed once
        B = solve_lower(base["L0"], self._prior_cov(base["X0"], Xc))
        S = self._prior_cov(Xc, Xc) + torch.diag_embed(nc) - B.transpose(-1, -2) @ B
        C = jittered_cholesky(S)
        rc = (yc - self._prior_mean(Xc)).unsqueeze(-1) - B.transpose(-1, -2) @ base["w0"]
        return {"Xc": Xc, "B": B, "C": C, "wc": solve_lower(C, rc)}

    def _joint_latent(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Exact KOH posterior mean ``batch x n`` and covariance ``batch x n x n``.

        The training rows are factorised once per parameter state (cached in eval mode, see
        :meth:`_cached`) and unbatched: a ``b x q x d`` query broadcasts against one factor,
        and conditioned (fantasy) rows add a block update (:meth:`_joint_cond`), cached too
        unless they carry gradients (fantasies at candidate points, as in knowledge gradient),
        which must flow."""
        base = self._joint_base() if self.training else self._cached_joint_base()
        cond_grad = any(t.requires_grad for obs in self._cond for t in obs if t is not None)
        if self.training or cond_grad:
            cond = self._joint_cond(base)
        else:
            cond = self._cached("_cond_cache", lambda: self._joint_cond(base))
        batch = (
            X.shape[:-2]
            if cond is None
            else torch.broadcast_shapes(X.shape[:-2], cond["Xc"].shape[:-2])
        )
        # the training rows' terms on X's own batch (unbatched X0: per-row terms computed
        # once), shared by every fantasy of a conditioned batch, broadcast only below
        K0 = self._prior_cov(base["X0"], X)
        V0 = solve_lower(base["L0"], K0)
        mean = self._prior_mean(X) + (V0.transpose(-1, -2) @ base["w0"]).squeeze(-1)
        cov = self._prior_cov(X, X) - V0.transpose(-1, -2) @ V0
        if cond is not None:
            Xb = X.expand(*batch, *X.shape[-2:])
            V0b = V0.expand(*batch, *V0.shape[-2:])
            Kc = self._prior_cov(cond["Xc"].expand(*batch, *cond["Xc"].shape[-2:]), Xb)
            Vc = solve_lower(cond["C"], Kc - cond["B"].transpose(-1, -2) @ V0b)
            mean = mean + (Vc.transpose(-1, -2) @ cond["wc"]).squeeze(-1)
            cov = cov - Vc.transpose(-1, -2) @ Vc
        return mean, cov

    def _cached_joint_base(self) -> dict[str, Tensor]:
        """:meth:`_joint_base`, cached (it does not depend on conditioned observations)."""
        return self._cached("_joint_cache", self._joint_base, cond=False)

    # ------------------------------------------------------------ conditioning
    def as_joint(self) -> AR1MultiFidelityGP:
        """A copy in ``mode="joint"`` with the same hyperparameters (no refitting): the exact KOH
        posterior given this model's hyperparameters. The copy of a recursive model with
        ``trend_uncertainty`` keeps that uncertainty (its joint prior covariance carries the
        trend terms, with the regressors of the recursive fit), so that conditioned and
        fantasy models start from the recursive posterior's covariance; the hyperparameter
        draws of ``hyperparameter_samples`` are not carried over (the copy's posterior is the
        plug-in one, at the fitted values, not the mixture over the draws)."""
        sparse = sorted(self.metadata.get("sparse_levels", {}))
        if sparse:
            raise InputDataError(
                f"level(s) {', '.join(sparse)} are conditioned through inducing inputs "
                "(exact_rows), which joint mode, conditioning and fantasies cannot use; refit "
                "with exact_rows=None (or a larger exact_rows) for them"
            )
        cond, self._cond = self._cond, []
        try:
            new = copy.deepcopy(self)  # without the posterior cache (see ScaleUpModel)
        finally:
            self._cond = cond
        new._cond = list(cond)
        if self.config["mode"] == "recursive" and self.config.get("trend_uncertainty"):
            # keep the recursive trend-coefficient uncertainty (see _trend_rows)
            new._trend_state = [
                {key: st[key] for key in ("z", "alpha")} for st in self._cached_recursive_state()
            ]
        new.config["mode"] = "joint"
        return new

    def condition_on_observations(
        self, X: Tensor, Y: Tensor, noise: Tensor | None = None, **kwargs: Any
    ) -> AR1MultiFidelityGP:
        """A new model conditioned on extra observations, hyperparameters unchanged.

        The result is always in joint mode (a recursive model is first converted with
        :meth:`as_joint`), so conditioning is exact given the hyperparameters. Batched ``Y``
        (``sample_shape x batch x n x 1``, as produced by :meth:`fantasize`) gives a batched
        model with ``batch_shape = sample_shape x batch``.

        In eval mode the first call caches a joint copy of this model and the Cholesky factor
        of its training rows (``N^2`` memory, ``O(N^3)`` once); every conditioned model shares
        that factor and adds only a block for its own rows (``O(N^2 q)``), see
        ``benchmarks/results/speed_posterior.md``.

        Args:
            X: ``batch x n x d`` inputs (fidelity index last).
            Y: ``(sample x) batch x n x 1`` observations in data units.
            noise: optional ``... x n x 1`` noise variances in standardised units; default: the
                level noise of each point.
        """
        self._check_X(X)
        if Y.shape[-1] != 1 or Y.shape[-2] != X.shape[-2]:
            raise InputDataError(
                f"Y must have shape ... x {X.shape[-2]} x 1 to match X, got {tuple(Y.shape)}"
            )
        # a joint template (for a recursive model, its cached joint copy) whose factor of the
        # training rows the new model reuses: a fantasy costs a block update, not a refactoring
        joint = (
            self if self.config["mode"] == "joint" else self._cached("_joint_copy", self.as_joint)
        )
        new = joint.as_joint()
        if not self.training:
            new._seed_cache("_joint_cache", joint._cached_joint_base(), cond=False)
        nz = None if noise is None else noise.squeeze(-1).to(X)
        new._cond = [*new._cond, (X, self._to_internal_y(Y.to(X)), nz)]
        return new
