"""Recursive co-kriging inference of the AR1 model (Le Gratiet & Garnier 2014): per-level
GP terms and Cholesky states (exact or through inducing inputs), the regressors of the level
below, the recursive posterior and its cached state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from mfgp.models.ar1.level import _dense
from mfgp.models.gp_linalg import jittered_cholesky, solve_lower
from mfgp.models.sparse_level import dtc_state, inducing_rows

if TYPE_CHECKING:
    pass


class RecursiveInference:
    """Mixin of :class:`~mfgp.models.ar1.AR1MultiFidelityGP`: the recursive (level by level)
    posterior."""

    # ------------------------------------------------------------ recursive GP
    def _level_terms(
        self, k: int, Xk: Tensor, yk: Tensor, nk: Tensor, mprev: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Prior residual ``r``, covariance ``A`` (with noise) of level ``k``'s own GP."""
        r, z = self._level_residual(k, Xk, yk, mprev)
        A = _dense(self.levels_[str(k)].kernel, z, z) + torch.diag_embed(nk)
        return r, A, z

    def _level_residual(
        self, k: int, Xk: Tensor, yk: Tensor, mprev: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """Level ``k``'s prior residual ``yk - mu - rho * mprev`` and normalised inputs ``z``."""
        lvl = self.levels_[str(k)]
        z, _ = self._z(Xk)
        m = lvl.mu(z)
        if mprev is not None:
            m = m + lvl.rho(z) * mprev
        return yk - m, z

    def _recursive_state(
        self, prefix: list[dict[str, Tensor]] | None = None
    ) -> list[dict[str, Tensor]]:
        """Per-level Cholesky factors and weights of the recursive co-kriging posterior;
        ``prefix``: the already computed states of the lowest levels (reused as they are)."""
        X, y, noise = self._train_rows()
        lev = X[:, -1].round().long()
        state: list[dict[str, Tensor]] = list(prefix or [])
        for k in range(self.first_gp_level + len(state), self.n_fidelities_):
            sel = lev == k
            Xk = X[sel]
            mprev = self._regressor(k, Xk, state)
            state.append(self._level_state(k, Xk, y[sel], noise[sel], mprev))
        return state

    def _level_state(
        self, k: int, Xk: Tensor, yk: Tensor, nk: Tensor, mprev: Tensor | None
    ) -> dict[str, Tensor]:
        """Normalised inputs ``z``, Cholesky factor ``L`` and weights ``alpha = A^-1 r`` of
        level ``k``'s GP."""
        if self._is_sparse(Xk.shape[0]):
            return self._sparse_level_state(k, Xk, yk, nk, mprev)
        r, A, z = self._level_terms(k, Xk, yk, nk, mprev)
        Lc = jittered_cholesky(A)
        alpha = torch.cholesky_solve(r.unsqueeze(-1), Lc).squeeze(-1)
        state = {"z": z, "L": Lc, "alpha": alpha}
        sd = self.config.get("trend_uncertainty")
        H = self.levels_[str(k)].regressors(z, mprev) if sd is not None else None
        if H is not None:
            # Gaussian posterior of the trend coefficients given the level's GP:
            # precision H' A^-1 H + I / sd^2 (O'Hagan 1978; Le Gratiet & Garnier 2014, sec. 3)
            AinvH = torch.cholesky_solve(H, Lc)
            eye = torch.eye(H.shape[-1], dtype=H.dtype, device=H.device)
            G = H.transpose(-1, -2) @ AinvH + eye / sd**2
            state["AinvH"] = AinvH
            state["G_L"] = torch.linalg.cholesky(G)
        return state

    def _is_sparse(self, n_rows: int) -> bool:
        """Whether a level of ``n_rows`` rows is conditioned through inducing inputs."""
        cap = self.config.get("exact_rows")
        return self.config["mode"] == "recursive" and cap is not None and n_rows > cap

    def _sparse_level_state(
        self, k: int, Xk: Tensor, yk: Tensor, nk: Tensor, mprev: Tensor | None
    ) -> dict[str, Tensor]:
        """:meth:`_level_state` of a level over ``exact_rows`` rows (see ``exact_rows``)."""
        lvl = self.levels_[str(k)]
        r, z = self._level_residual(k, Xk, yk, mprev)
        sd = self.config.get("trend_uncertainty")
        H = lvl.regressors(z, mprev) if sd is not None else None
        idx = inducing_rows(Xk.shape[0], self.config["inducing_points"], seed=7 + k)
        return dtc_state(lvl.kernel, z, r, nk, idx.to(z.device), H, sd)

    def _regressor(self, k: int, Xk: Tensor, state: list[dict[str, Tensor]]) -> Tensor | None:
        """Posterior mean of level ``k - 1`` at ``Xk`` (None for the lowest GP level 0)."""
        if k == 0:
            return None
        Xp = Xk.clone()
        Xp[..., -1] = k - 1
        if k == self.first_gp_level:
            return self._f0(Xp)
        return self._recursive_latent(Xp, state, with_cov=False)[0]

    def _recursive_latent(
        self,
        X: Tensor,
        state: list[dict[str, Tensor]],
        *,
        with_cov: bool = True,
        diagonal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Recursive co-kriging mean ``batch x n`` and covariance ``batch x n x n`` (with
        ``diagonal``: the variances ``batch x n`` only, without forming the covariance)."""

        def gram(A: Tensor) -> Tensor:  # A' A, or its diagonal
            return (A * A).sum(-2) if diagonal else A.transpose(-1, -2) @ A

        z, lev = self._z(X)
        P = self._weights(z, lev)
        mean = torch.zeros(lev.shape, dtype=X.dtype, device=X.device)
        cov = None
        m_below: Tensor | None = None  # posterior mean of level k - 1 at X (for the regressors)
        if self.level0 is not None:
            m_below = self._f0(X)
            mean = mean + P[0] * m_below
        for i, st in enumerate(state):
            k = self.first_gp_level + i
            lvl = self.levels_[str(k)]
            Kxs = _dense(lvl.kernel, z, st["z"])  # batch x n x n_k
            d_mean = lvl.mu(z) + (Kxs @ st["alpha"].unsqueeze(-1)).squeeze(-1)
            mean = mean + P[k] * d_mean
            if with_cov:
                V = solve_lower(st["L"], Kxs.transpose(-1, -2))
                prior = lvl.kernel(z, z, diag=True) if diagonal else _dense(lvl.kernel, z, z)
                S = prior - gram(V)
                if "LB" in st:  # a level conditioned through inducing inputs (DTC)
                    S = S + gram(solve_lower(st["LB"], V))
                if "G_L" in st:
                    h = lvl.regressors(z, m_below)
                    assert h is not None
                    U = h - Kxs @ st["AinvH"]  # batch x n x p
                    S = S + gram(solve_lower(st["G_L"], U.transpose(-1, -2)))
                if diagonal:
                    term = P[k] ** 2 * S
                else:
                    term = P[k].unsqueeze(-1) * P[k].unsqueeze(-2) * S
                cov = term if cov is None else cov + term
            m_below = d_mean if m_below is None else lvl.rho(z) * m_below + d_mean
        if with_cov and cov is None:
            shape = lev.shape if diagonal else (*lev.shape, lev.shape[-1])
            cov = torch.zeros(shape, dtype=X.dtype, device=X.device)
        return mean, cov

    def _cached_recursive_state(self) -> list[dict[str, Tensor]]:
        """:meth:`_recursive_state`, cached in eval mode until a parameter, buffer or the
        training data change (keyed on the tensors' in-place version counters), so that an
        acquisition optimiser calling :meth:`posterior` many times factorises each level once.
        The cached factors carry no gradient to the hyperparameters (only to ``X``)."""
        if self.training:
            return self._recursive_state()
        return self._cached("_state_cache", self._recursive_state)
