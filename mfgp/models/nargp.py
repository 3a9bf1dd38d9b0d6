"""Nonlinear autoregressive multi-fidelity GP (NARGP).

Perdikaris, Raissi, Damianou, Lawrence & Karniadakis (2017), "Nonlinear information fusion
algorithms for data-efficient multi-fidelity modelling", Proc. R. Soc. A 473:20160751.

Level 0 is an exact GP ``f_0(x)``. Level ``k >= 1`` is an exact GP on the augmented input
``(x, f_{k-1}(x))``, ``f_k(x) = g_k(x, f_{k-1}(x))``, with the kernel of the paper (eq. 2.6)

    ``k_k((x, f), (x', f')) = k_rho(x, x') k_f(f, f') + k_delta(x, x')``,

so the high level may depend nonlinearly (and input-dependently) on the level below; the linear
AR1 model of Kennedy & O'Hagan (2000) is the special case ``g_k = rho f + delta``.

Fitting is recursive (as in the paper and Emukit): level 0 on its data, then level ``k`` on its
data with ``f_{k-1}`` replaced by the posterior mean of level ``k - 1`` at the level-``k`` inputs
(exact for nested designs, where that mean interpolates the level-``k - 1`` data). Each level
maximises its exact marginal likelihood from a few seeded restarts.

Prediction propagates the lower levels' uncertainty by Monte Carlo (paper eq. 2.7): ``S`` paths
``f_0^s ~ p(f_0 | data)``, ``f_k^s ~ p(f_k | f_{k-1}^s, data)`` (one ancestral draw per path, so
the cost is linear in the number of levels, not ``S^L`` as in Emukit); the predictive mean and
variance follow from the law of total variance, ``E_s[m^s]`` and ``E_s[v^s] + Var_s[m^s]``;
:meth:`~NARGP.posterior` returns them as a moment-matched Gaussian, :meth:`~NARGP.predict` the
mixture of the paths' Gaussians itself (with those moments). The standard normal draws come
from a ``torch.Generator`` seeded with ``mc_seed``, so predictions are reproducible.

With ``hyperparameter_samples=S`` the kernel hyperparameters of every level are integrated
too: ``S`` posterior draws per level (the Metropolis sampler of :mod:`mfgp.fit.mcmc`,
as in :class:`~mfgp.models.ar1.AR1MultiFidelityGP`), and the prediction is the mixture of the
``S`` plug-in predictions, each with its own Monte Carlo paths (moment-matched by ``posterior``).

Inputs are scaled to the unit cube of the training inputs; outputs of every level are
standardised with the lowest level's mean and standard deviation (statistics pooled at level
0), and the ``f`` input of level ``k`` is rescaled to ``[0, 1]`` over the level-``k - 1``
training outputs, so that one set of lengthscale priors suits every input.
"""

from __future__ import annotations

import copy
import logging
import warnings
from typing import Any

import torch
from botorch.models import SingleTaskGP
from gpytorch.constraints import GreaterThan
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.means import ConstantMean
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import LogNormalPrior
from torch import Tensor

from mfgp.exceptions import InputDataError
from mfgp.fit import fit_with_restarts, loo_rescale, mll_scipy, stream
from mfgp.fit.mcmc import mixture_moments, sample_level, set_params
from mfgp.models.base import Prediction, ScaleUpModel, gaussian_posterior, register_model
from mfgp.models.gp_linalg import solve_lower
from mfgp.models.nargp_levels import _initialise, _level_kernel, _safe_cholesky, _train_factor

__all__ = ["NARGP"]

log = logging.getLogger(__name__)


@register_model("nargp")
class NARGP(ScaleUpModel):
    """Nonlinear autoregressive multi-fidelity GP of Perdikaris et al. (2017), any number of levels.

    Args:
        kernel: base kernel of every factor, ``"rbf"`` (the paper's and Emukit's choice) or
            ``"matern52"``.
        restarts: marginal-likelihood optimisations per level (the first from the default
            initialisation, the others from prior samples); the best is kept.
        maxiter: L-BFGS-B iterations per restart.
        n_samples: Monte Carlo paths used to propagate the lower levels' uncertainty.
        mc_seed: seed of the ``torch.Generator`` that draws the Monte Carlo normals.
        covariance: ``"diag"`` (default; independent draws per test point, exact marginals) or
            ``"sample"`` (joint draws across the test points of one call; the posterior carries
            the full moment-matched covariance ``E_s[C^s] + Cov_s[m^s]``, cubic in the number of
            test points, for q-batch acquisition).
        min_noise: lower bound of every level's noise variance, in standardised units.
        loo_variance: after fitting each level, rescale its kernel and noise variances
            together (each level's GP mean does not move; the Monte Carlo mean of the levels
            above does, slightly, through the wider or narrower lower-level samples) so that
            its leave-one-out residuals have unit standardised variance (Bachoc 2013), as
            ``AR1MultiFidelityGP(loo_variance=True)``.
            Off by default: on the test functions (5 seeds) it brought Park's coverage from
            0.99 to 0.94 but lowered it on Forrester (0.94 -> 0.84), Currin and the nonlinear
            pair, where the Monte Carlo propagation already shapes the bands.
        hyperparameter_samples: ``S >= 2`` integrates over every level's kernel
            hyperparameters instead of plugging in their fitted values: ``S`` seeded draws per
            level from their posterior (random-walk Metropolis in GPyTorch's raw parameters,
            steps from a Laplace approximation at the fitted values, 200 steps of burn-in, then
            every 25th state; :mod:`mfgp.fit.mcmc`), stored with the model. Level
            ``k``'s ``f`` inputs stay the fitted level ``k - 1``'s mean. The posterior is the
            moment-matched mixture of the ``S`` plug-in posteriors, draw ``s`` propagated with
            its own ``n_samples`` Monte Carlo paths (seed ``mc_seed + s``): mean ``E_s[m_s]``,
            variance ``E_s[v_s + (m_s - m)^2]``. Costs ``200 + 25 S`` likelihood evaluations
            per level at fit time and ``S`` plug-in predictions per call. 0 (default): plug-in.
            On the test functions (5 seeds, ``S = 16``) it improved NLPD on all 7 and NRMSE on
            5 (the nonlinear pair 0.140 -> 0.103; worse on Currin and Hartmann-3), but its
            bands covered 0.999-1.00 on 4 of 7 (the draws spread widely; the mixture's own
            quantiles cover the same), see ``benchmarks/results/accuracy_test_functions.md``,
            column ``nargp_mix``; so it is not the default.

    Example:
        >>> import torch
        >>> from mfgp.test_functions import make_problem
        >>> X, Y, Xt, Yt = make_problem("nonlinear_pair", (30, 12), seed=0, n_test=50)
        >>> m = NARGP(restarts=1, maxiter=100).fit((X, Y), seed=0)
        >>> m.predict(Xt).mean.shape
        torch.Size([50])
    """

    fit_options = ("restarts", "maxiter", "warm_start")

    multi_fidelity = True

    def __init__(
        self,
        *,
        kernel: str = "rbf",
        restarts: int = 3,
        maxiter: int = 200,
        n_samples: int = 100,
        mc_seed: int = 0,
        covariance: str = "diag",
        min_noise: float = 1e-6,
        loo_variance: bool = False,
        hyperparameter_samples: int = 0,
    ) -> None:
        if int(hyperparameter_samples) < 0 or int(hyperparameter_samples) == 1:
            raise InputDataError(
                "hyperparameter_samples must be 0 (plug-in hyperparameters) or >= 2, got "
                f"{hyperparameter_samples}"
            )
        if kernel not in ("rbf", "matern52"):
            raise InputDataError(f"kernel must be 'rbf' or 'matern52', got {kernel!r}")
        if covariance not in ("diag", "sample"):
            raise InputDataError(f"covariance must be 'diag' or 'sample', got {covariance!r}")
        if restarts < 1:
            raise InputDataError(f"restarts must be >= 1, got {restarts}")
        if n_samples < 2:
            raise InputDataError(f"n_samples must be >= 2, got {n_samples}")
        if min_noise <= 0:
            raise InputDataError(f"min_noise must be > 0, got {min_noise}")
        super().__init__(
            kernel=kernel,
            restarts=restarts,
            maxiter=maxiter,
            n_samples=n_samples,
            mc_seed=mc_seed,
            covariance=covariance,
            min_noise=min_noise,
            loo_variance=bool(loo_variance),
            hyperparameter_samples=int(hyperparameter_samples),
        )

    # ----------------------------------------------------------------- building
    def memory_estimate(self, X: Tensor) -> tuple[int, int | None, int]:
        """One exact GP per level (see the base class)."""
        return self._dense_need(X, list(range(int(X[:, -1].max().round()) + 1)))

    def _build(self, X: Tensor, Y: Tensor, Yvar: Tensor | None) -> None:
        if Yvar is not None:
            raise InputDataError(
                "NARGP learns a homoscedastic noise per level and does not take Yvar; "
                "fit((X, Y)) without it"
            )
        d = X.shape[-1] - 1
        if d < 1:
            raise InputDataError("X needs at least one feature column before the fidelity index")
        L = self.n_fidelities_
        fid = X[:, -1].round().long()
        counts = [int((fid == k).sum()) for k in range(L)]
        if min(counts) < 2:
            raise InputDataError(
                f"NARGP needs at least 2 rows at every fidelity 0..{L - 1}; got counts {counts}"
            )
        feats = X[:, :-1]
        x_lo = feats.min(0).values
        x_rng = (feats.max(0).values - x_lo).clamp_min(1e-12)
        y0 = Y[fid == 0, 0]
        y_mean = y0.mean()
        y_std = y0.std().clamp_min(1e-12) if counts[0] > 1 else torch.ones_like(y_mean)
        self.register_buffer("x_lo_", x_lo)
        self.register_buffer("x_rng_", x_rng)
        self.register_buffer("y_mean_", y_mean)
        self.register_buffer("y_std_", y_std)
        # f-input scaling of level k (k >= 1): min and range of level k-1's standardised outputs
        f_lo = torch.zeros(L, dtype=X.dtype)
        f_rng = torch.ones(L, dtype=X.dtype)
        for k in range(1, L):
            yk = (Y[fid == k - 1, 0] - y_mean) / y_std
            f_lo[k] = yk.min()
            f_rng[k] = (yk.max() - yk.min()).clamp_min(1e-6)
        self.register_buffer("f_lo_", f_lo)
        self.register_buffer("f_rng_", f_rng)

        kind = self.config["kernel"]
        gps = []
        for k in range(L):
            xk = (feats[fid == k] - x_lo) / x_rng
            yk = (Y[fid == k] - y_mean) / y_std
            if k > 0:  # placeholder f column; set from level k-1's posterior mean in _optimize
                xk = torch.cat([xk, torch.zeros_like(xk[:, :1])], -1)
            lik = GaussianLikelihood(
                # weak prior around 1e-3 (standardised units): deterministic levels interpolate
                # (BoTorch's LogNormal(-4, 1) default made the top level too smooth here)
                noise_prior=LogNormalPrior(loc=-7.0, scale=1.5),
                noise_constraint=GreaterThan(self.config["min_noise"]),
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # botorch input-scaling / dtype warnings
                gps.append(
                    SingleTaskGP(
                        xk,
                        yk,
                        likelihood=lik,
                        covar_module=_level_kernel(kind, d, first=k == 0),
                        mean_module=ConstantMean(),
                        outcome_transform=None,
                        input_transform=None,
                    )
                )
        S = int(self.config.get("hyperparameter_samples", 0))
        for gp in gps:  # the draws of each level's raw kernel parameters (saved with the model)
            P = sum(p.numel() for p in gp.covar_module.parameters())
            gp.register_buffer("hyper_samples", torch.zeros(S, P, dtype=X.dtype))
        self.levels_ = torch.nn.ModuleList(gps)

    # ------------------------------------------------------------------ fitting
    def _optimize(self, *, seed: int | None, **options: Any) -> None:
        """Options: ``restarts``, ``maxiter`` (override the configuration) and ``warm_start``, a
        fitted NARGP with the same number of levels and kernel, whose hyperparameters (in
        its unit-cube and standardised units) start the first restart of every level instead
        of the default start; the later restarts still draw random starts. With
        ``restarts=1, maxiter=0`` the warm model's hyperparameters are kept as they are
        (conditioning them on new data, as in a sequential design)."""
        maxiter = int(options.get("maxiter", self.config["maxiter"]))
        restarts = int(options.get("restarts", self.config["restarts"]))
        if maxiter < 0 or restarts < 1:
            raise InputDataError(f"need maxiter >= 0 and restarts >= 1, got {maxiter}, {restarts}")
        warm = options.get("warm_start")
        if warm is not None:
            self._check_warm_start(warm)
        for k, gp in enumerate(self.levels_):
            if k > 0:
                self._set_level_inputs(k)
            start = None if warm is None else warm.levels_[k]
            self._fit_level(k, gp, restarts=restarts, maxiter=maxiter, seed=seed, warm=start)
        if self.config.get("hyperparameter_samples", 0):
            self._sample_hyperparameters(seed)

    def _sample_hyperparameters(self, seed: int | None) -> None:
        """Draw ``hyperparameter_samples`` raw kernel-parameter vectors per level from their
        posterior (negative log posterior: the level's exact marginal likelihood and priors)."""
        S = int(self.config["hyperparameter_samples"])
        gen = stream(seed, 7919, 17)
        for k, gp in enumerate(self.levels_):
            mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
            x, y = gp.train_inputs[0], gp.train_targets

            def nlp(gp=gp, mll=mll, x=x, y=y) -> Tensor:
                return -mll(gp(x), y) * y.shape[-1]

            gp.train()
            try:
                draws = sample_level(gp.covar_module, nlp, S, gen, name=f"NARGP level {k}")
            finally:
                gp.eval()
            gp.hyper_samples.copy_(draws)

    def _draw_levels(self) -> list[torch.nn.ModuleList]:
        """Copies of the levels holding each hyperparameter draw (cached until a parameter or
        buffer changes); empty without draws or in training mode."""
        S = int(self.config.get("hyperparameter_samples", 0))
        if not S or self.training or not getattr(self, "fitted_", False):
            return []

        def build() -> list[torch.nn.ModuleList]:
            copies = []
            for s_ in range(S):
                levels = copy.deepcopy(self.levels_)
                for gp in levels:
                    set_params(gp.covar_module, gp.hyper_samples[s_])
                levels.eval()
                copies.append(levels)
            return copies

        return self._cache_lookup("_draw_cache", [*self.parameters(), *self.buffers()], build)

    def _set_level_inputs(self, k: int) -> None:
        """Replace level ``k``'s f column by level ``k - 1``'s posterior mean at its inputs."""
        gp = self.levels_[k]
        x = gp.train_inputs[0][:, :-1]
        with torch.no_grad():
            f_prev = self.level_mean(x, k - 1)
        f_col = (f_prev - self.f_lo_[k]) / self.f_rng_[k]
        gp.set_train_data(inputs=torch.cat([x, f_col.unsqueeze(-1)], -1), strict=False)

    def level_mean(self, x: Tensor, level: int) -> Tensor:
        """Posterior mean of fidelity ``level`` at features ``x`` scaled to the unit cube (as
        the levels' ``train_inputs``), the lower levels' posterior means plugged in (no Monte
        Carlo propagation of their uncertainty)."""
        mean = self._latent(self.levels_[0], x, False)[0]
        for j in range(1, level + 1):
            f_col = (mean - self.f_lo_[j]) / self.f_rng_[j]
            xa = torch.cat([x, f_col.unsqueeze(-1)], -1)
            mean = self._latent(self.levels_[j], xa, False)[0]
        return mean

    def _check_warm_start(self, warm: Any) -> None:
        """``warm`` must be a fitted NARGP whose levels have this model's parameters."""
        if not isinstance(warm, NARGP) or not getattr(warm, "fitted_", False):
            raise InputDataError("warm_start must be a fitted NARGP")
        mine = {k: tuple(v.shape) for k, v in self.levels_.named_parameters()}
        theirs = {k: tuple(v.shape) for k, v in warm.levels_.named_parameters()}
        if mine != theirs or warm.config["kernel"] != self.config["kernel"]:
            raise InputDataError(
                "warm_start has different levels or parameters (another number of fidelities, "
                "features or kernel); fit it with the same configuration"
            )

    def _fit_level(
        self,
        k: int,
        gp: SingleTaskGP,
        *,
        restarts: int,
        maxiter: int,
        seed: int | None,
        warm: SingleTaskGP | None = None,
    ) -> None:
        mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
        gen = stream(seed, 1_000_003, k)

        def start(r: int) -> None:
            _initialise(gp, gen, first=r == 0, min_noise=self.config["min_noise"])
            if r == 0 and warm is not None:  # parameters only (not the draws, not the data)
                params = {n: p.detach() for n, p in warm.named_parameters()}
                gp.load_state_dict(params, strict=False)

        def loss() -> Tensor:
            return -mll(gp(gp.train_inputs[0]), gp.train_targets)

        fit_with_restarts(
            gp,
            loss,
            restarts=restarts,
            maxiter=maxiter,
            start=start,
            optimise=mll_scipy(mll, max_attempts=2),
            what=f"nargp level {k}",
            hint="check for duplicated inputs with conflicting outputs, or raise min_noise",
        )
        gp.eval()
        if self.config.get("loo_variance"):
            self._loo_rescale(k, gp)

    def _loo_rescale(self, k: int, gp: SingleTaskGP) -> None:
        """Scale every outputscale and the noise of level ``k`` by the leave-one-out variance
        factor ``mean_i alpha_i^2 / [A^-1]_ii`` (never pushing the noise below its floor)."""
        with torch.no_grad():
            Lc, alpha, _ = _train_factor(gp)
        s2 = loo_rescale(
            gp.covar_module, gp.likelihood, Lc, alpha.squeeze(-1), self.config["min_noise"]
        )
        log.debug("NARGP level %d: leave-one-out variance scale %.3g", k, s2)

    # --------------------------------------------------------------- prediction
    def _latent(self, gp: SingleTaskGP, x: Tensor, full: bool) -> tuple[Tensor, Tensor]:
        """Latent posterior mean ``... x n`` and variance ``... x n`` (or covariance
        ``... x n x n``) of one level's GP at ``x`` (``... x n x d_k``).

        Computed from one Cholesky factor of the training covariance, so that the diagonal
        never materialises an ``n x n`` test covariance (``S * n`` Monte Carlo rows).
        """
        Xtr = gp.train_inputs[0]
        kern = gp.covar_module
        Lc, alpha, c = _train_factor(gp)
        if full:
            Ks = kern(x, Xtr).to_dense()  # ... x n x n_tr
            mean = c + (Ks @ alpha).squeeze(-1)
            V = solve_lower(Lc, Ks.transpose(-1, -2))
            cov = kern(x, x).to_dense() - V.transpose(-1, -2) @ V
            return mean, cov
        flat = x.reshape(-1, x.shape[-1])
        means, variances = [], []
        chunk = max(1, 2_000_000 // max(1, Xtr.shape[0]))
        for start in range(0, flat.shape[0], chunk):
            xc = flat[start : start + chunk]
            Ks = kern(xc, Xtr).to_dense()
            means.append(c + (Ks @ alpha).squeeze(-1))
            V = torch.linalg.solve_triangular(Lc, Ks.T, upper=False)
            prior_var = kern(xc, xc, diag=True)
            variances.append((prior_var - V.pow(2).sum(0)).clamp_min(0))
        shape = x.shape[:-1]
        return torch.cat(means).reshape(shape), torch.cat(variances).reshape(shape)

    def _propagate(self, x: Tensor, levels: Tensor, full: bool) -> tuple[Tensor, Tensor]:
        """Moment-matched mean and variance/covariance of ``f_{levels[i]}`` at ``x`` (``n x d``,
        unit cube), in standardised units: the plug-in prediction, or the mixture over the
        hyperparameter draws."""
        draws = self._draw_levels()
        if not draws:
            return self._propagate_levels(self.levels_, x, levels, full, 0)
        parts = [self._propagate_levels(g, x, levels, full, s) for s, g in enumerate(draws)]
        return mixture_moments(parts, full=full)

    def _propagate_levels(
        self, gps: torch.nn.ModuleList, x: Tensor, levels: Tensor, full: bool, offset: int
    ) -> tuple[Tensor, Tensor]:
        """:meth:`_propagate` for the level GPs ``gps``, Monte Carlo seed ``mc_seed + offset``."""
        pm, pv, path_covs, idx = self._paths(gps, x, levels, full, offset)
        S, n = pm.shape
        mean = pm.mean(0)
        centred = pm - mean
        if not full:
            return mean, pv.mean(0) + centred.pow(2).sum(0) / S
        same = idx.unsqueeze(0) == idx.unsqueeze(1)
        cond = torch.zeros(n, n, dtype=x.dtype, device=x.device)
        for k in idx.unique().tolist():
            sel = idx == k
            block = path_covs[k].mean(0)
            cond = torch.where(sel.unsqueeze(0) & sel.unsqueeze(1) & same, block, cond)
        return mean, cond + centred.T @ centred / S

    def _paths(
        self, gps: torch.nn.ModuleList, x: Tensor, levels: Tensor, full: bool, offset: int
    ) -> tuple[Tensor, Tensor, list[Tensor], Tensor]:
        """The Monte Carlo paths of :meth:`_propagate_levels`: each row's conditional mean and
        variance at its level per path (``S x n`` each), every level's per-path variances
        (``S x n``) or covariances (``S x n x n``), and the rows' levels."""
        n = x.shape[0]
        S = int(self.config["n_samples"])
        top = int(levels.max().item())
        gen = torch.Generator(device="cpu").manual_seed(int(self.config["mc_seed"]) + offset)
        mean, cov = self._latent(gps[0], x, full)
        # per-level per-path conditional mean (S x n) and variance / covariance
        path_means: list[Tensor] = [mean.expand(S, n)]
        path_covs: list[Tensor] = [cov.expand(S, *cov.shape)]
        for k in range(1, top + 1):
            z = torch.randn(S, n, generator=gen, dtype=x.dtype).to(x.device)
            m_prev, c_prev = path_means[-1], path_covs[-1]
            if full:
                chol = _safe_cholesky(c_prev)
                f = m_prev + (chol @ z.unsqueeze(-1)).squeeze(-1)
            else:
                f = m_prev + c_prev.clamp_min(0).sqrt() * z
            f_col = (f - self.f_lo_[k]) / self.f_rng_[k]
            xa = torch.cat([x.expand(S, n, x.shape[-1]), f_col.unsqueeze(-1)], -1)
            m_k, c_k = self._latent(gps[k], xa, full)
            path_means.append(m_k)
            path_covs.append(c_k)
        idx = levels.long()
        rows = torch.arange(n, device=x.device)
        pm = torch.stack(path_means)[idx, :, rows].transpose(0, 1)  # S x n
        diag = [c.diagonal(dim1=-2, dim2=-1) for c in path_covs] if full else path_covs
        pv = torch.stack(diag)[idx, :, rows].transpose(0, 1)
        return pm, pv, path_covs, idx

    def _mixture_parts(self, x: Tensor, levels: Tensor, full: bool) -> tuple[Tensor, Tensor]:
        """Component means and variances (``n x K``, standardised units) of the Monte Carlo
        mixture at ``x`` (unit cube): ``n_samples`` paths per hyperparameter draw (or of the
        plug-in fit): the equal-weight mixture whose exact moments :meth:`posterior` gives."""
        means, variances = [], []
        for s, gps in enumerate(self._draw_levels() or [self.levels_]):
            pm, pv, _, _ = self._paths(gps, x, levels, full, s)
            means.append(pm)
            variances.append(pv)
        return torch.cat(means).transpose(0, 1), torch.cat(variances).transpose(0, 1)

    def posterior(
        self,
        X: Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | Tensor = False,
        posterior_transform: Any = None,
        **kwargs: Any,
    ):
        """Moment-matched Gaussian posterior at ``X`` (``batch x n x d``, fidelity index last),
        each row at its own fidelity, in data units.

        With ``covariance="diag"`` the covariance is diagonal; with ``"sample"`` it is the full
        moment-matched covariance within each fidelity (rows at different fidelities are
        correlated only through the Monte Carlo paths).
        """
        self._check_X(X)
        if output_indices not in (None, [0]):
            raise InputDataError("NARGP has a single output; output_indices must be None or [0]")
        full = self.config["covariance"] == "sample"
        batch_shape, n = X.shape[:-2], X.shape[-2]
        Xf = X.reshape(-1, n, X.shape[-1])
        means, covs = [], []
        for Xb in Xf if full else [Xf.reshape(-1, X.shape[-1])]:
            x = (Xb[:, :-1] - self.x_lo_) / self.x_rng_
            levels = Xb[:, -1].round().long()
            m, c = self._propagate(x, levels, full)
            if observation_noise is not False:
                noise = torch.stack([gp.likelihood.noise.squeeze() for gp in self.levels_])
                if isinstance(observation_noise, Tensor):
                    extra = observation_noise.reshape(-1)[: m.shape[0]] / self.y_std_**2
                else:
                    extra = noise[levels]
                c = c + torch.diag_embed(extra) if full else c + extra
            means.append(m)
            covs.append(c)
        scale = self.y_std_
        if full:
            mean = torch.stack(means).reshape(*batch_shape, n) * scale + self.y_mean_
            cov = torch.stack(covs).reshape(*batch_shape, n, n) * scale**2
            cov = cov + 1e-12 * scale**2 * torch.eye(n, dtype=cov.dtype, device=cov.device)
        else:
            mean = means[0].reshape(*batch_shape, n) * scale + self.y_mean_
            cov = covs[0].reshape(*batch_shape, n) * scale**2
        post = gaussian_posterior(mean, cov)
        if posterior_transform is not None:
            post = posterior_transform(post)
        return post

    def predict(self, X: Tensor, *, observation_noise: bool = False) -> Prediction:
        """The Monte Carlo predictive distribution at ``X`` (``n x d``): the equal-weight
        mixture of the paths' Gaussians (paper eq. 2.7), over every hyperparameter draw with
        ``hyperparameter_samples``, plus each row's level noise with ``observation_noise``.
        Its mean and variance are :meth:`posterior`'s (see :meth:`_mixture_parts`); the bounds
        are the mixture's quantiles."""
        self._check_X(X)
        full = self.config["covariance"] == "sample"
        with torch.no_grad():
            x = (X[:, :-1] - self.x_lo_) / self.x_rng_
            levels = X[:, -1].round().long()
            m, v = self._mixture_parts(x, levels, full)
            if observation_noise:
                noise = torch.stack([gp.likelihood.noise.squeeze() for gp in self.levels_])
                v = v + noise[levels].unsqueeze(-1)
            v = v + 1e-12 if full else v  # the diagonal jitter of posterior()
            scale = self.y_std_
            return Prediction.mixture(None, m * scale + self.y_mean_, v * scale**2)

    # -------------------------------------------------------------- persistence
    def _extra_state(self) -> dict[str, Any]:
        return {"train_inputs": [gp.train_inputs[0].detach().cpu() for gp in self.levels_]}

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        for gp, x in zip(self.levels_, extra.get("train_inputs", []), strict=False):
            gp.set_train_data(inputs=x.to(gp.train_targets), strict=False)
