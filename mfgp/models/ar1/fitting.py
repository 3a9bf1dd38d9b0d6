"""Fitting the AR1 model's hyperparameters: the log evidence, the level-by-level and joint
marginal-likelihood optimisation with restarts (L-BFGS), the data-driven starts, the rho sign
check and the leave-one-out variance rescaling (the hyperparameter draws:
:mod:`~mfgp.models.ar1.draws`).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from typing import Any

import torch
from botorch.optim.utils import sample_all_priors
from gpytorch.means import ConstantMean, LinearMean
from torch import Tensor, nn

from mfgp.exceptions import NumericalWarning
from mfgp.fit import fit_with_restarts, loo_rescale
from mfgp.models.ar1.level import _gp_modules, _log_prior
from mfgp.models.gp_linalg import gaussian_nll
from mfgp.models.sparse_level import inducing_rows

log = logging.getLogger(__name__)


class AR1Fitting:
    """Mixin of :class:`~mfgp.models.ar1.AR1MultiFidelityGP`: hyperparameter fitting."""

    def log_evidence(self) -> float:
        """Log marginal likelihood of the training data at the fitted hyperparameters plus
        their log prior density, in the units of the data.

        This is the objective the fit maximises, evaluated over every training row: in
        ``recursive`` mode the sum of the levels' terms (the joint value for a nested,
        noise-free design), in ``joint`` mode the joint one. It includes the Jacobian of the
        output standardisation and, with a log transform, of the log (``-sum log y``), so that
        models of the same data with different output transforms can be compared (Box & Cox
        1964). With hyperparameter draws it is evaluated at the fitted (MAP) values.

        Returns:
            The log evidence (a float; larger is better).
        """
        self._check_fitted()
        X, y, noise = self._train_rows()
        with torch.no_grad():
            if self.config["mode"] == "joint":
                total = -float(self._joint_nll()) * y.numel()
            else:
                lev = X[:, -1].round().long()
                state = self._cached_recursive_state()  # reused by later posterior calls
                total = 0.0
                for i, k in enumerate(range(self.first_gp_level, self.n_fidelities_)):
                    sel = lev == k
                    Xk, yk, nk = X[sel], y[sel], noise[sel]
                    mprev = self._regressor(k, Xk, state[:i])
                    scale = 1.0
                    if self._is_sparse(Xk.shape[0]):
                        # a level over exact_rows: its term estimated from a seeded subset
                        sub = inducing_rows(Xk.shape[0], self.config["fit_rows"] or 1000, seed=k)
                        sub = sub.to(X.device)
                        scale = Xk.shape[0] / sub.numel()
                        Xk, yk, nk = Xk[sub], yk[sub], nk[sub]
                        mprev = None if mprev is None else mprev[sub]
                    total -= scale * float(self._level_nlp(k, Xk, yk, nk, mprev)())
            total -= y.numel() * math.log(float(self.y_sd))
            if self.log_transform_:
                used = self.train_X_[:, -1].round().long() >= self.first_gp_level
                total -= float(self.train_Y_[used].log().sum())
        return total

    def _optimize(self, *, seed: int | None, **options: Any) -> None:
        """Options: ``restarts``, ``maxiter`` (override the configuration) and ``warm_start``, a
        fitted AR1 model with the same levels and configuration (typically the previous round
        of a sequential design) whose hyperparameters start the first restart of every level
        instead of the data-driven default; the later restarts still sample from the priors."""
        restarts = int(options.get("restarts", self.config["restarts"]))
        maxiter = int(options.get("maxiter", self.config["maxiter"]))
        warm = options.get("warm_start")
        if warm is not None:
            self._check_warm_start(warm)
        X, y, _ = self._train_rows()
        lev = X[:, -1].round().long()
        state: list[dict[str, Tensor]] = []
        # joint mode pays O((sum n_k)^3) per step anyway: its recursive start uses every row,
        # which leaves the joint optimisation far fewer steps than a subset start would
        joint = self.config["mode"] == "joint"
        fit_rows = None if joint else self.config.get("fit_rows")
        # joint_start="default": the textbook joint fit, every level from its data-driven start
        cold = joint and self.config.get("joint_start", "recursive") == "default"
        sparse: dict[str, dict[str, int]] = {}
        for k in range(self.first_gp_level, self.n_fidelities_):
            sel = lev == k
            Xk, yk = X[sel], y[sel]
            with torch.no_grad():
                mprev = self._regressor(k, Xk, state)
            self._init_level(k, Xk, yk, mprev)
            lvl = self.levels_[str(k)]
            if warm is not None:  # parameters only (buffers such as hyperparameter draws differ)
                params = dict(warm.levels_[str(k)].named_parameters())
                lvl.load_state_dict({n: p.detach() for n, p in params.items()}, strict=False)
            sub = torch.arange(Xk.shape[0], device=X.device)
            if fit_rows is not None and Xk.shape[0] > fit_rows:
                sub = inducing_rows(Xk.shape[0], fit_rows, seed=1000 * (seed or 0) + k)
                sub = sub.to(X.device)
                log.info(
                    "level %d: hyperparameters from %d of its %d rows (fit_rows)",
                    k,
                    fit_rows,
                    Xk.shape[0],
                )
            Xs, ys = Xk[sub], yk[sub]
            mps = None if mprev is None else mprev[sub]

            def loss_fn(
                k: int = k, Xs: Tensor = Xs, ys: Tensor = ys, mp: Tensor | None = mps, sub=sub
            ) -> Tensor:
                _, _, noise = self._train_rows()
                r, A, _ = self._level_terms(k, Xs, ys, noise[lev == k][sub], mp)
                return gaussian_nll(A, r) - _log_prior(self.levels_[str(k)]) / ys.numel()

            if cold:  # the start's value only; the joint optimisation below fits the level
                self._restarts(lvl, loss_fn, 1, 0, f"level {k}")
            else:
                self._restarts(lvl, loss_fn, restarts, maxiter, f"level {k}")
            with torch.no_grad():
                _, _, noise = self._train_rows()
                st = self._level_state(k, Xk, yk, noise[sel], mprev)
                # joint mode: the joint fit that follows would undo the rescaling
                if not joint and self.config.get("loo_variance") and self._loo_rescale(k, st):
                    _, _, noise = self._train_rows()
                    st = self._level_state(k, Xk, yk, noise[sel], mprev)
                state.append(st)
            if "n_rows" in st:
                m = int(st["alpha"].shape[-1])
                sparse[str(k)] = {"rows": int(Xk.shape[0]), "inducing": m}
                log.info(
                    "level %d: %d rows, conditioned through %d inducing inputs (exact_rows)",
                    k,
                    Xk.shape[0],
                    m,
                )
            if k >= 1:
                self._check_rho_sign(k, Xk, yk, mprev)
        self.metadata["sparse_levels"] = sparse
        if joint:
            with torch.no_grad():
                z = self._z(X)[0]
                before = {k: lv.rho(z).mean() for k, lv in self.levels_.items() if int(k) >= 1}
            self._restarts(self.levels_, self._joint_nll, restarts, maxiter, "joint model")
            with torch.no_grad():
                for k, rho0 in before.items():
                    rho = self.levels_[k].rho(z).mean()
                    if bool(rho * rho0 < 0):
                        warnings.warn(
                            f"level {k}: the joint fit flipped the sign of rho "
                            f"({float(rho0):.3g} -> {float(rho):.3g}); check the data",
                            NumericalWarning,
                            stacklevel=3,
                        )
        if not joint and self.config.get("hyperparameter_samples", 0):
            self._sample_hyperparameters(seed)
        self.eval()
        if not joint and not self.config.get("hyperparameter_samples", 0):
            # the factors just computed are the posterior's: keep them (a level conditioned
            # through inducing inputs costs seconds to rebuild at 100,000 rows)
            self._seed_cache("_state_cache", state)

    def _level_nlp(
        self, k: int, Xk: Tensor, yk: Tensor, nk: Tensor, mprev: Tensor | None
    ) -> Callable[[], Tensor]:
        """Level ``k``'s negative log posterior (likelihood of its ``Xk`` rows plus log priors)
        at its current kernel parameters, as a callable for :mod:`mfgp.fit.mcmc`."""
        lvl = self.levels_[str(k)]

        def nlp() -> Tensor:
            r, A, _ = self._level_terms(k, Xk, yk, nk, mprev)
            return r.shape[-1] * gaussian_nll(A, r) - _log_prior(lvl)

        return nlp

    def _loo_rescale(self, k: int, st: dict[str, Tensor]) -> bool:
        """Rescale level ``k``'s GP variance (outputscale and learned noise together, so the
        mean does not move) so that its leave-one-out residuals have unit standardised
        variance: ``s2 = mean_i alpha_i^2 / [A^-1]_ii`` (Bachoc 2013, cross-validation estimate
        of the variance parameter). Returns whether it changed anything: skipped for a level
        without an outputscale, with fixed or per-row noise, or with over 4000 rows."""
        lvl = self.levels_[str(k)]
        kern = lvl.kernel
        n = st["alpha"].shape[-1]
        if "n_rows" in st:  # conditioned through inducing inputs: no exact LOO residuals
            return False
        if not hasattr(kern, "outputscale") or not hasattr(lvl, "likelihood") or n > 4000:
            return False
        if self.train_Yvar_ is not None or n < 3:
            return False
        floor = float(lvl.likelihood.noise_covar.raw_noise_constraint.lower_bound)
        s2 = loo_rescale(kern, lvl.likelihood, st["L"], st["alpha"], floor)
        log.debug("level %d: leave-one-out variance scale %.3g", k, s2)
        return True

    def _init_level(self, k: int, Xk: Tensor, yk: Tensor, mprev: Tensor | None) -> None:
        """Data-driven default start: rho at the least-squares ratio, mean and outputscale from
        the residual of the regression of level ``k`` on level ``k - 1``."""
        lvl = self.levels_[str(k)]
        with torch.no_grad():
            resid = yk
            if mprev is not None:
                mc = mprev - mprev.mean()
                var = (mc * mc).sum()
                rho0 = (mc * (yk - yk.mean())).sum() / var if var > 1e-12 else yk.new_tensor(1.0)
                if not bool(torch.isfinite(rho0)):
                    rho0 = yk.new_tensor(1.0)
                lvl.rho_a.fill_(rho0)
                if hasattr(lvl, "rho_b"):
                    lvl.rho_b.zero_()
                resid = yk - rho0 * mprev
            if isinstance(lvl.mean, ConstantMean):
                lvl.mean.constant.fill_(resid.mean())
            elif isinstance(lvl.mean, LinearMean):
                lvl.mean.weights.zero_()
                lvl.mean.bias.fill_(resid.mean())
            kern = lvl.kernel
            if hasattr(kern, "outputscale"):
                v = resid.var() if resid.numel() > 1 else resid.new_tensor(1.0)
                kern.outputscale = v.clamp(1e-2, 4.0)
            if hasattr(kern, "base_kernel") and hasattr(kern.base_kernel, "lengthscale"):
                kern.base_kernel.lengthscale = 0.3
            if hasattr(lvl, "likelihood"):
                lvl.likelihood.noise = lvl.noise_start

    def _check_rho_sign(self, k: int, Xk: Tensor, yk: Tensor, mprev: Tensor | None) -> None:
        lvl = self.levels_[str(k)]
        if mprev is None:
            return
        with torch.no_grad():
            mc = mprev - mprev.mean()
            ls = (mc * (yk - yk.mean())).sum()
            rho = lvl.rho(self._z(Xk)[0]).mean()
        if bool(ls * rho < 0):
            warnings.warn(
                f"level {k}: fitted rho ({float(rho):.3g}) has the opposite sign of the "
                "least-squares ratio of the levels; check the data or use more restarts",
                NumericalWarning,
                stacklevel=4,
            )

    def _restarts(
        self,
        module: nn.Module,
        loss_fn: Callable[[], Tensor],
        restarts: int,
        maxiter: int,
        what: str,
    ) -> None:
        """Minimise ``loss_fn`` over ``module``'s parameters from ``restarts`` starts (the
        first from the current values, the others from the priors with rho kept at its
        least-squares start, so that restarts do not flip its sign) with
        :func:`~mfgp.fit.fit_with_restarts`; keep the best."""
        start = {k: v.detach().clone() for k, v in module.state_dict().items()}
        rho_names = [
            n for n, _ in module.named_parameters() if n.rsplit(".", 1)[-1].startswith("rho_")
        ]

        def new_start(r: int) -> None:
            if r == 0:
                return
            for gm in _gp_modules(module):
                sample_all_priors(gm)
            with torch.no_grad():
                for n, p in module.named_parameters():
                    if n in rho_names:
                        p.copy_(start[n])

        fit_with_restarts(
            module,
            loss_fn,
            restarts=restarts,
            maxiter=maxiter,
            start=new_start,
            what=f"ar1 {what}",
            hint="the covariance was not positive definite even with the largest jitter. "
            "Remove duplicated inputs with conflicting outputs, fix the noise to a larger value "
            "(noise=...), use float64, or rescale the target",
        )
