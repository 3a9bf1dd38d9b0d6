"""The AR1 model class, :class:`AR1MultiFidelityGP` (registered as ``"ar1"``): its options,
:meth:`~AR1MultiFidelityGP.for_simulator`, properties, the fit entry point (with the choice
of ``log_transform="auto"``) and ``.to()``; inference, posterior and fitting come from the
mixins of this package.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
from botorch.models.model import FantasizeMixin
from linear_operator.utils.errors import NotPSDError
from torch import Tensor

from mfgp.exceptions import InputDataError, MFGPError
from mfgp.memory import DENSE_COPIES
from mfgp.models.ar1.draws import HyperparameterDraws
from mfgp.models.ar1.fitting import AR1Fitting
from mfgp.models.ar1.joint import JointInference
from mfgp.models.ar1.level import KernelFactory, Level0, _resolve_kernel
from mfgp.models.ar1.posterior import AR1Posterior
from mfgp.models.ar1.recursive import RecursiveInference
from mfgp.models.ar1.units import InternalUnits
from mfgp.models.base import ScaleUpModel, as_training_tensors, init_option_names, register_model

log = logging.getLogger(__name__)


@register_model("ar1")
class AR1MultiFidelityGP(
    AR1Fitting,
    HyperparameterDraws,
    RecursiveInference,
    JointInference,
    AR1Posterior,
    InternalUnits,
    ScaleUpModel,
    FantasizeMixin,
):
    r"""Kennedy-O'Hagan AR1 co-kriging GP for any number of fidelity levels.

    ``X`` is ``n x d`` with the fidelity index (0..L-1, 0 cheapest) as the last column, ``Y`` is
    ``n x 1``. **Indexing convention:** fidelity indices are the same with or without a level-0
    callable. Without ``level0``, level 0 is a GP fitted to the level-0 rows. With ``level0``,
    index 0 *is* the callable: rows with fidelity 0 are not needed (and are ignored with a
    warning), the data's level 1 is the first GP level (``f_1 = rho_1 * level0 + delta_1``), and
    ``posterior`` at fidelity 0 returns the callable's value with zero variance.

    Args:
        mode: ``"recursive"`` (Le Gratiet & Garnier, level by level) or ``"joint"`` (one exact GP
            with the KOH block covariance).
        joint_start: in ``joint`` mode, where the joint marginal-likelihood optimisation starts:
            ``"recursive"`` (default) from a recursive fit on every row (for a nested design
            that is already the joint optimum up to the noise approximation, so few joint
            steps remain), or ``"default"``, every level from its data-driven start (the
            textbook Kennedy & O'Hagan fit, all hyperparameters at once; a reference for
            benchmarks, slower).
        rho: ``"constant"`` per level or ``"linear"`` in the features ``rho_features``.
        rho_features: feature columns (0-based, fidelity excluded) of a linear rho; default
            ``[0]`` (``log10_volume_L``).
        delta_mean: mean of each delta GP: ``"constant"``, ``"linear"`` (in ``mean_features``)
            or ``"zero"``.
        mean_features: feature columns of a linear delta mean (default: all).
        noise: ``None`` (learned per level; or the per-row ``Yvar`` when given), a float (fixed
            variance for every level) or a list of per-level variances (length ``L``; the entry
            of a level-0 callable is ignored), in data units (log units if ``log_transform``).
            A per-row ``Yvar`` (third element of the data) is known noise in data units; with
            ``log_transform`` it is mapped to log units by the delta method, ``Yvar / Y**2``.
        log_transform: ``True``: model ``log Y`` (targets must be positive; the posterior and
            :meth:`predict` are log-normal). ``"auto"``: let the data choose, when every target
            (and a level-0 callable at the training rows) is positive: the fit fits both the
            identity and the log model (plug-in hyperparameters) and keeps the one with the larger
            :meth:`log_evidence`, which is in the units of the data (the Jacobian of the log
            included), as in Box & Cox (1964); with a non-positive value the identity is used.
            The choice and both evidences are recorded in ``metadata["log_transform"]``, the
            result in :attr:`log_transform_`.
        restarts: marginal-likelihood optimisations per fit (the first from a data-driven
            default: rho at the least-squares ratio; the others sample kernel and noise
            hyperparameters from their priors, rho stays at its least-squares start).
        maxiter: L-BFGS iterations per restart.
        level0: optional deterministic callable ``level0(X_feat) -> batch x n`` taking raw
            features ``batch x n x (d - 1)`` (not stored in the configuration: pass it again to
            :meth:`load`). An ``nn.Module`` is registered as a submodule so ``.to()`` moves it.
        noise_prior: ``(loc, scale)`` of the LogNormal prior of each learned level noise
            variance, in standardised units (outputs pooled-standardised).
        min_noise: lower bound of a learned noise variance, standardised units.
        trend_uncertainty: in ``recursive`` mode, add the posterior uncertainty of each level's
            trend coefficients (rho and the delta mean) to the predictive covariance, with a
            Normal(fitted value, ``trend_uncertainty``^2) prior per coefficient in standardised
            units (universal co-kriging; Le Gratiet & Garnier 2014 treat these coefficients
            as Bayesian too). Without it (``None``), rho and the mean are plug-in estimates and
            the bands ignore that, say, a rho slope in log V was learnt from two scales, which
            makes extrapolation to production scale overconfident. The mean is unchanged.
            A model fitted in joint mode uses plug-in values; conditioned and fantasy models
            of a recursive model (joint-mode copies, :meth:`as_joint`) keep the uncertainty.
        loo_variance: in ``recursive`` mode, after fitting each level, rescale its GP variance
            (outputscale and learned noise together: the mean is unchanged) so that its
            leave-one-out residuals have unit standardised variance (Bachoc 2013: the
            cross-validation estimate of the variance is more robust than maximum likelihood
            when the kernel is misspecified). On by default: on the test functions it moved
            the 95 % coverage of the default model into or near [0.90, 0.98] without moving
            the mean (``benchmarks/results/accuracy_test_functions.md``);
            :meth:`for_simulator` turns it off (with interpolating squared-exponential levels
            it made coverage worse on Branin and Park).
        nugget: what a level's noise variance (learned, fixed or per-row) stands for.
            ``"noise"`` (default): measurement noise, left out of the posterior of the
            response itself (add it with ``observation_noise=True``). ``"misfit"``: for a
            deterministic code, which has no measurement noise, a fitted nugget is the part of
            the code's output the GP's smooth kernel cannot follow, and that misfit persists at
            new inputs (Gramacy & Lee 2012; Andrianakis & Challenor 2012). The posterior then
            includes it at every point: level ``k``'s nugget is white in ``x`` and is carried
            up the levels by ``rho`` like ``delta_k``, so ``f_l(x)`` gets the variance
            ``sum_{k <= l} sigma_k^2 prod_{j=k+1..l} rho_j(x)^2``, correlated across levels at
            the same ``x``; ``observation_noise=True`` then adds nothing more (a run of the
            code returns ``f`` itself). :meth:`for_simulator` uses ``"misfit"``. A list gives
            one value per level (cheapest first; like ``noise``, the entry of a level-0
            callable may be left out), for cheap levels that are codes under a measured top
            level: ``["misfit", "misfit", "noise"]`` carries the codes' misfit into the
            posterior of every level while the measurements' noise stays noise.
        hyperparameter_samples: in ``recursive`` mode, ``S >= 2`` integrates over the kernel
            hyperparameters of each level instead of plugging in their fitted values: ``S``
            seeded draws per level from their posterior, stored with the model. The draws come
            from a random-walk Metropolis chain in GPyTorch's raw, unconstrained parameters
            (priors on the constrained values, with the Jacobian), started at the fitted values,
            whose step covariance is that of a Laplace approximation there (finite-difference
            Hessian, every direction's standard deviation capped at 1); 200 steps of burn-in,
            then every 25th state. The posterior is the equal-weight mixture of the ``S``
            draws' posteriors (the Bayesian predictive, as in BoTorch's fully Bayesian GPs),
            moment-matched by :meth:`posterior`: mean ``m = E_s[m_s]``, covariance ``E_s[C_s +
            (m_s - m)(m_s - m)^T]``; :meth:`predict` returns the mixture itself. Bands widen
            where the data leave the lengthscales uncertain (plug-in GPs are overconfident on
            small noise-free designs), and the mean follows the posterior mass where it lies
            away from the fitted (MAP) values, e.g. towards the long delta lengthscales of a
            nearly linear discrepancy. Costs ``200 + 25 S``
            likelihood evaluations per level at fit time; per call, the draws are evaluated as
            one batch dimension of the level kernels. Levels with more rows than ``fit_rows``
            (1000 if None) keep their fitted values in every draw and are evaluated once.
            Conditioned and fantasy models use the fitted values alone (their mean is the
            plug-in one, not the mixture's). 0 (default): plug-in.
        rho_slope_sd: with ``rho="linear"``, the standard deviation of a zero-mean Normal prior
            on each slope of rho (per unit of the [0, 1]-normalised feature, i.e. the change of
            rho across the data range). None (default): no prior. With few top-level scales
            (e.g. one lab and one pilot volume) a free slope is barely identified and can swing
            wildly between refits; a prior of about 0.5 keeps it to plausible changes.
        fit_rows: in ``recursive`` mode, a level with more rows than this fits its
            hyperparameters on a seeded random subset of ``fit_rows`` of its rows
            (subset-of-data estimation; the posterior still conditions on every row). Each
            marginal-likelihood evaluation costs ``O(n^3)`` time and ``O(d n^2)`` memory, so this
            keeps large cheap levels (thousands of simulator rows) tractable: one
            likelihood-and-gradient evaluation of an 8-D Matern-5/2 level takes about 8 s at
            6400 rows and 0.06 s at 1000 rows on 2 CPU cores.
            ``None``: always all rows. Joint mode always uses every row.
        exact_rows: in ``recursive`` mode, a level with more rows than this (typically a
            large simulator level) is conditioned on every row through ``inducing_points``
            inducing inputs (a seeded random subset of its rows; the deterministic training
            conditional of :mod:`mfgp.models.sparse_level`): ``O(n m^2)`` time and
            ``O(m^2)`` memory instead of ``O(n^3)`` and ``8 n^2`` bytes. The levels so
            conditioned are logged and reported by :meth:`fit_choices`. Such a model cannot
            be copied to joint mode (:meth:`as_joint`, conditioning, fantasies). None: every
            level exact.
        inducing_points: the inducing inputs of a level over ``exact_rows`` (default 1000).
        kernel: factory ``d -> Kernel`` for each delta, or the name of one of mfgp's:
            ``"matern52"`` (default: scaled Matern-5/2 ARD with priors for [0, 1] inputs,
            :func:`~mfgp.models.single_gp.matern52_kernel`) or ``"se"``
            (:func:`~mfgp.models.single_gp.se_kernel`). The configuration stores the name (so
            :meth:`load` rebuilds the same kernel), or ``"custom"`` for any other factory,
            which must then be passed again to :meth:`load`. A factory must return a fresh,
            equal kernel on every call: it is called for every level at every build (and for
            the candidate models of ``log_transform="auto"``).

    Priors (for normalised features and pooled-standardised outputs): lengthscale
    Gamma(3, 6), outputscale Gamma(2, 0.15) (default kernel), noise LogNormal(-4, 1) with a
    1e-6 floor; rho and the delta means have no prior.

    BoTorch support: :meth:`posterior` (mixed levels, full covariance, ``observation_noise``),
    :meth:`condition_on_observations` and ``fantasize`` (batched fantasies), hence
    ``qMultiFidelityKnowledgeGradient`` with a ``project`` to the top level, ``qLogNEI`` and
    ``optimize_acqf`` (fix the fidelity column with ``fixed_features``). Conditioned and
    fantasy models are always joint-mode models with the same hyperparameters (for a
    recursive model: the exact KOH conditioning given its hyperparameters, which equals the
    recursive posterior on nested, noise-free designs).

    Example:
        >>> import torch
        >>> x = torch.linspace(0, 1, 12, dtype=torch.float64).unsqueeze(-1)
        >>> lo = torch.cat([x, torch.zeros_like(x)], -1)
        >>> hi = torch.cat([x[::3], torch.ones_like(x[::3])], -1)
        >>> X = torch.cat([lo, hi])
        >>> Y = torch.cat([torch.sin(6 * x), 1.8 * torch.sin(6 * x[::3]) + 0.2])
        >>> m = AR1MultiFidelityGP(restarts=1, maxiter=50).fit((X, Y))
        >>> m.predict(hi).mean.shape
        torch.Size([4])
    """

    fit_options = ("restarts", "maxiter", "warm_start")

    multi_fidelity = True

    def __init__(
        self,
        *,
        mode: str = "recursive",
        rho: str = "constant",
        rho_features: Sequence[int] = (0,),
        delta_mean: str = "constant",
        mean_features: Sequence[int] | None = None,
        noise: float | Sequence[float] | None = None,
        log_transform: bool | str = False,
        restarts: int = 3,
        maxiter: int = 200,
        level0: Level0 | None = None,
        kernel: KernelFactory | str | None = None,
        noise_prior: Sequence[float] = (-4.0, 1.0),
        min_noise: float = 1e-6,
        fit_rows: int | None = 1000,
        exact_rows: int | None = 10000,
        inducing_points: int = 1000,
        rho_slope_sd: float | None = None,
        trend_uncertainty: float | None = 1.0,
        loo_variance: bool = True,
        joint_start: str = "recursive",
        hyperparameter_samples: int = 0,
        nugget: str | Sequence[str] = "noise",
    ) -> None:
        if mode not in ("recursive", "joint"):
            raise InputDataError(f"mode must be 'recursive' or 'joint', got {mode!r}")
        if rho not in ("constant", "linear"):
            raise InputDataError(f"rho must be 'constant' or 'linear', got {rho!r}")
        if delta_mean not in ("constant", "linear", "zero"):
            raise InputDataError(
                f"delta_mean must be 'constant', 'linear' or 'zero', got {delta_mean!r}"
            )
        nuggets = [nugget] if isinstance(nugget, str) else list(nugget)
        if not nuggets or any(v not in ("noise", "misfit") for v in nuggets):
            raise InputDataError(
                f"nugget must be 'noise', 'misfit' or a list of those per level, got {nugget!r}"
            )
        if joint_start not in ("recursive", "default"):
            raise InputDataError(
                f"joint_start must be 'recursive' or 'default', got {joint_start!r}"
            )
        if restarts < 1:
            raise InputDataError(f"restarts must be >= 1, got {restarts}")
        if int(hyperparameter_samples) < 0 or int(hyperparameter_samples) == 1:
            raise InputDataError(
                "hyperparameter_samples must be 0 (plug-in hyperparameters) or >= 2, got "
                f"{hyperparameter_samples}"
            )
        if maxiter < 0:
            raise InputDataError(f"maxiter must be >= 0, got {maxiter}")
        if log_transform != "auto" and not isinstance(log_transform, (bool, int)):
            raise InputDataError(
                f"log_transform must be True, False or 'auto', got {log_transform!r}"
            )
        if level0 is not None and not callable(level0):
            raise InputDataError("level0 must be a callable level0(X_feat) -> batch x n")
        if noise is not None and not isinstance(noise, (int, float)):
            noise = [float(v) for v in noise]
        noise_prior = [float(v) for v in noise_prior]
        if len(noise_prior) != 2 or not noise_prior[1] > 0:
            raise InputDataError(
                f"noise_prior must be (loc, scale) of a LogNormal with scale > 0, got {noise_prior}"
            )
        if not min_noise > 0:
            raise InputDataError(f"min_noise must be > 0, got {min_noise}")
        if trend_uncertainty is not None and not trend_uncertainty > 0:
            raise InputDataError(
                f"trend_uncertainty must be None or a prior sd > 0, got {trend_uncertainty}"
            )
        if rho_slope_sd is not None and not rho_slope_sd > 0:
            raise InputDataError(f"rho_slope_sd must be None or > 0, got {rho_slope_sd}")
        if fit_rows is not None and int(fit_rows) < 10:
            raise InputDataError(f"fit_rows must be None or >= 10, got {fit_rows}")
        if exact_rows is not None and int(exact_rows) < 10:
            raise InputDataError(f"exact_rows must be None or >= 10, got {exact_rows}")
        if int(inducing_points) < 10:
            raise InputDataError(f"inducing_points must be >= 10, got {inducing_points}")
        factory, kernel_name = _resolve_kernel(kernel)
        super().__init__(
            mode=mode,
            rho=rho,
            rho_features=[int(i) for i in rho_features],
            delta_mean=delta_mean,
            mean_features=None if mean_features is None else [int(i) for i in mean_features],
            noise=noise,
            log_transform=log_transform if log_transform == "auto" else bool(log_transform),
            restarts=int(restarts),
            maxiter=int(maxiter),
            fit_rows=None if fit_rows is None else int(fit_rows),
            exact_rows=None if exact_rows is None else int(exact_rows),
            inducing_points=int(inducing_points),
            rho_slope_sd=None if rho_slope_sd is None else float(rho_slope_sd),
            trend_uncertainty=None if trend_uncertainty is None else float(trend_uncertainty),
            loo_variance=bool(loo_variance),
            joint_start=joint_start,
            hyperparameter_samples=int(hyperparameter_samples),
            noise_prior=noise_prior,
            min_noise=float(min_noise),
            kernel=kernel_name,
            nugget=nugget if isinstance(nugget, str) else nuggets,
        )
        self.level0 = level0  # an nn.Module becomes a submodule (moved by .to())
        self._kernel_factory: KernelFactory = factory
        self._cond: list[tuple[Tensor, Tensor, Tensor | None]] = []
        # set by as_joint() on copies of a recursive model with trend uncertainty
        self._trend_state: list[dict[str, Tensor]] | None = None

    #: Settings of :meth:`for_simulator` (deterministic, smooth computer codes).
    SIMULATOR_SETTINGS: dict[str, Any] = {
        "noise_prior": (-12.0, 3.0),
        "min_noise": 1e-12,
        "loo_variance": False,
        "hyperparameter_samples": 32,
        "log_transform": "auto",
        "nugget": "misfit",
    }

    @classmethod
    def for_simulator(cls, **kwargs: Any) -> AR1MultiFidelityGP:
        """An AR1 model set up for deterministic, smooth simulators (noise-free levels).

        The defaults of the class target measured bioprocess data (Matern-5/2 deltas, a noise
        prior around 2 % of the output variance). For noise-free codes (analytic test
        functions, an ODE simulator at every level) this uses squared-exponential deltas
        (:func:`~mfgp.models.single_gp.se_kernel`) and a noise prior LogNormal(-12, 3) with a
        1e-12 floor, so the model can interpolate to round-off (the jitter ladder still guards
        the Cholesky factorisations), and integrates over the kernel hyperparameters with 32
        posterior draws per level (``hyperparameter_samples``): with interpolating
        squared-exponential levels, plug-in bands were too narrow on most test functions, and
        the mixture mean was more accurate than the plug-in one on 5 of 7
        (``benchmarks/results/accuracy_test_functions.md``). With positive outputs it lets the
        log evidence choose between modelling ``Y`` and ``log Y`` (``log_transform="auto"``):
        many codes' outputs are positive and multiplicative in their inputs (on the Borehole
        function the log model has about 100 nats more evidence and lower error). A nugget the
        fit still needs is misfit of the smooth kernel, not noise, so the posterior includes
        it (``nugget="misfit"``): on Borehole the discrepancy's outputscale often collapses
        and its misfit goes into the nugget, and leaving that out made the bands too narrow.
        Any argument overrides these settings.

        Example:
            >>> m = AR1MultiFidelityGP.for_simulator(restarts=1)
            >>> m.config["noise_prior"]
            [-12.0, 3.0]
        """
        opts: dict[str, Any] = {"kernel": "se", **cls.SIMULATOR_SETTINGS}
        opts.update(kwargs)
        return cls(**opts)

    # ----------------------------------------------------------------- building
    @property
    def likelihood(self) -> None:
        """No GPyTorch likelihood object: noise is per level (used by BoTorch's fantasize)."""
        return None

    @property
    def batch_shape(self) -> torch.Size:
        """Batch shape of the model (non-empty only for fantasy / conditioned models)."""
        shapes = [x.shape[:-2] for x, _, _ in self._cond] + [y.shape[:-1] for _, y, _ in self._cond]
        return torch.broadcast_shapes(*shapes) if shapes else torch.Size([])

    def memory_estimate(self, X: Tensor) -> tuple[int, int | None, int]:
        """Joint mode: one exact GP over every row; recursive mode: one per level, each
        hyperparameter draw holding its own factor (see the base class)."""
        if self.config["mode"] == "joint":
            return self._dense_need(X, None)
        top = int(X[:, -1].max().round())
        copies = DENSE_COPIES + int(self.config.get("hyperparameter_samples", 0))
        fid = X[:, -1].round().long()
        exact = [
            k
            for k in range(self.first_gp_level, top + 1)
            if not self._is_sparse(int((fid == k).sum()))
        ]
        return self._dense_need(X, exact, copies=copies)

    @property
    def first_gp_level(self) -> int:
        """Index of the lowest GP level: 1 with a level-0 callable, else 0."""
        return 1 if self.level0 is not None else 0

    @property
    def log_transform_(self) -> bool:
        """Whether the model works on ``log Y``: the ``log_transform`` option, or, when that is
        ``"auto"``, the fit's choice (``metadata["log_transform"]["selected"]``)."""
        opt = self.config["log_transform"]
        if opt != "auto":
            return bool(opt)
        sel = self.metadata.get("log_transform")
        if not isinstance(sel, dict) or "selected" not in sel:
            # not NotFittedError: an AttributeError raised in a property is masked by
            # nn.Module.__getattr__
            raise MFGPError(
                "log_transform='auto' is resolved by fit(); fit the model before using it"
            )
        return sel["selected"] == "log"

    def rho(self, X: Tensor) -> Tensor:
        """The fitted scale factor ``rho_k(x)`` of each row's own level ``k`` (1 at level 0).

        Args:
            X: ``batch x n x d`` inputs in data units, fidelity index last.

        Returns:
            ``batch x n`` values of ``rho_{level(x)}(x)``.
        """
        self._check_X(X)
        z, lev = self._z(X)
        out = torch.ones(lev.shape, dtype=X.dtype, device=X.device)
        with torch.no_grad():
            for k in range(1, self.n_fidelities_):
                out = torch.where(lev == k, self.levels_[str(k)].rho(z), out)
        return out

    # ------------------------------------------------------------------ fitting
    def fit(self, data: Any, *, seed: int | None = 0, **options: Any) -> AR1MultiFidelityGP:
        """Fit the model (see :meth:`ScaleUpModel.fit`); with ``log_transform="auto"`` first
        choose the output transform (see the class docstring)."""
        if self.config["log_transform"] != "auto":
            self.metadata.pop("log_transform", None)
            return super().fit(data, seed=seed, **options)
        winner = self._select_log_transform(data, seed, options)
        if winner is None:  # only the identity is possible: nothing to compare
            return super().fit(data, seed=seed, **options)
        # the winner's fitted hyperparameters, unchanged (maxiter=0); leave-one-out rescaling
        # and hyperparameter draws follow as in any fit, so the result equals fitting with
        # log_transform set to the selected value (up to round-off with loo_variance: a
        # direct fit rescales a level before fitting the next, which leaves its mean unchanged
        # in exact arithmetic)
        opts = {**options, "warm_start": winner, "restarts": 1, "maxiter": 0}
        return super().fit(data, seed=seed, **opts)

    def _select_log_transform(
        self, data: Any, seed: int | None, options: dict[str, Any]
    ) -> AR1MultiFidelityGP | None:
        """Fit the identity and the log model with plug-in hyperparameters and record the
        choice in ``metadata["log_transform"]``; returns the fitted winner, or ``None`` when a
        non-positive target or level-0 value rules out the log (the identity is then used)."""
        X, Y, _ = as_training_tensors(data)
        used = X[:, -1].round().long() >= (1 if self.level0 is not None else 0)
        positive = bool((Y[used] > 0).all())
        if positive and self.level0 is not None:
            with torch.no_grad():
                v = self.level0(X[used, :-1])
            v = torch.as_tensor(v)
            positive = bool(torch.isfinite(v).all()) and bool((v > 0).all())
        if not positive:
            self.metadata["log_transform"] = {
                "option": "auto",
                "selected": "identity",
                "reason": "a target or level-0 value is not positive",
            }
            log.info("log_transform='auto': identity (a target or level-0 value is <= 0)")
            return None
        init = set(init_option_names(AR1MultiFidelityGP))
        base = {k: v for k, v in self.config.items() if k in init and k != "kernel"}
        base.update(loo_variance=False, hyperparameter_samples=0)
        fitted: dict[str, AR1MultiFidelityGP] = {}
        evidence: dict[str, float] = {}
        errors: dict[str, Exception] = {}
        for name in ("identity", "log"):
            cand = AR1MultiFidelityGP(
                **{**base, "log_transform": name == "log"},
                level0=self.level0,
                kernel=self._kernel_factory,
            )
            try:
                cand.fit(data, seed=seed, **options)
                evidence[name] = cand.log_evidence()
            except (MFGPError, NotPSDError) as err:
                errors[name] = err
                continue
            fitted[name] = cand
        if not fitted:
            raise errors["identity"]
        best = max(fitted, key=lambda n: evidence[n])
        self.metadata["log_transform"] = {
            "option": "auto",
            "selected": best,
            "log_evidence": evidence,
            **({"errors": {k: str(v) for k, v in errors.items()}} if errors else {}),
        }
        log.info(
            "log_transform='auto': %s (log evidence in data units: %s)",
            best,
            ", ".join(f"{k} {v:.2f}" for k, v in evidence.items()),
        )
        return fitted[best]

    def fit_choices(self) -> dict[str, Any]:
        """``{"log_transform": "identity" | "log"}`` when ``log_transform="auto"`` (see
        :meth:`ScaleUpModel.fit_choices`), and ``{"inducing_levels": {level: {"rows": n,
        "inducing": m}}}`` for levels conditioned through inducing inputs (``exact_rows``)."""
        out = super().fit_choices()
        sel = self.metadata.get("log_transform")
        if isinstance(sel, dict) and "selected" in sel:
            out["log_transform"] = sel["selected"]
        if self.metadata.get("sparse_levels"):
            out["inducing_levels"] = dict(self.metadata["sparse_levels"])
        return out

    def _check_warm_start(self, warm: Any) -> None:
        """``warm`` must be a fitted AR1 model whose levels have this model's parameters."""
        if not isinstance(warm, AR1MultiFidelityGP) or not getattr(warm, "fitted_", False):
            raise InputDataError("warm_start must be a fitted AR1MultiFidelityGP")
        mine = {k: tuple(v.shape) for k, v in self.levels_.named_parameters()}
        theirs = {k: tuple(v.shape) for k, v in warm.levels_.named_parameters()}
        if mine != theirs:
            raise InputDataError(
                "warm_start has different levels or parameters (another number of fidelities, "
                "features, rho or mean setting); fit it with the same configuration"
            )

    def to(self, *args: Any, **kwargs: Any) -> AR1MultiFidelityGP:  # type: ignore[override]
        super().to(*args, **kwargs)
        if self._trend_state is not None:
            self._trend_state = [
                {key: v.to(*args, **kwargs) for key, v in st.items()} for st in self._trend_state
            ]
        self._cond = [
            (
                x.to(*args, **kwargs),
                y.to(*args, **kwargs),
                None if n is None else n.to(*args, **kwargs),
            )
            for x, y, n in getattr(self, "_cond", [])
        ]
        return self
