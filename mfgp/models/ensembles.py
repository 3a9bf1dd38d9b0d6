"""Ensemble baselines: deep ensemble of MLPs, random forest and gradient-boosted trees.

Every model here uses the **top-fidelity rows only** (``multi_fidelity = False``), ignores the
fidelity column at prediction (it always predicts the top level) and follows
:class:`~mfgp.models.base.ScaleUpModel`:

- ``mlp_ensemble``: a deep ensemble (Lakshminarayanan et al. 2017) of 5 MLPs, each with a Gaussian
  negative-log-likelihood head (mean and variance), trained in one batched torch module, members
  initialised from their own seeded :class:`torch.Generator`. The posterior (latent) variance is
  the spread of the member means (epistemic); ``observation_noise=True`` adds the mean of the
  member variances (aleatoric), so the total is the variance of the equally weighted mixture.
  ``predict(X, observation_noise=True)`` returns that mixture of the members' Gaussians itself;
  without observation noise it returns the Gaussian of the spread of the member means.
- ``random_forest``: scikit-learn's ``RandomForestRegressor``; mean and variance across the trees
  (the bootstrap spread), observation noise from the out-of-bag residuals.
- ``gbt``: scikit-learn's ``GradientBoostingRegressor`` with the quantile loss at 2.5, 50 and
  97.5 %; the median is the mean and ``((q97.5 - q2.5) / (2 * 1.96))^2`` the variance. The
  quantiles describe a new observation, so this variance already includes the noise.
- ``xgboost`` and ``lightgbm``: the same quantile construction with XGBoost or LightGBM
  (optional: ``pip install mfgp[boost]``; a clear error says so when missing).

The tree models' ``predict`` returns a Gaussian prediction (:meth:`Prediction.gaussian
<mfgp.prediction.Prediction.gaussian>` of the mean and variance above).

Inputs are standardised with the training statistics and targets standardised; predictions are
returned in data units; known noise variances (``Yvar``) are ignored. Tree models cannot
extrapolate beyond the training volumes (their prediction is flat outside), which is exactly the
weakness this comparison is meant to show.
Saving stores no pickle: a tree model keeps its training rows and the seed of its fit, and
:func:`~mfgp.models.load_model` refits the estimators from them (scikit-learn, XGBoost and
LightGBM are deterministic for a given seed, data and package version; a fit with
``seed=None`` draws a seed and stores it), so a shared model folder cannot run code.

Hand-written numerics, and why: the ensemble MLP is written as batched weight tensors
(``members x in x out``) so the 5 members train in one optimiser loop on any device and dtype;
everything else is scikit-learn (or XGBoost/LightGBM).

References:
    Lakshminarayanan, Pritzel & Blundell (2017), NeurIPS: deep ensembles, Gaussian NLL heads and
    mixture moments. Nix & Weigend (1994), ICNN: mean-variance networks. Breiman (2001), Mach.
    Learn. 45:5 (random forests). Friedman (2001), Ann. Stat. 29:1189 (gradient boosting);
    Koenker & Bassett (1978), Econometrica 46:33 (quantile loss).
"""

from __future__ import annotations

import importlib
import logging
import math
import secrets
import warnings
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from mfgp.exceptions import InputDataError
from mfgp.models.base import Prediction, register_model
from mfgp.models.baselines import TopLevelBaseline, num_threads, scale_groups

__all__ = [
    "GradientBoostedTrees",
    "LightGBMQuantile",
    "MLPEnsemble",
    "MissingDependencyError",
    "RandomForest",
    "XGBoostQuantile",
]

log = logging.getLogger(__name__)

Z975 = 1.959963984540054


class MissingDependencyError(InputDataError, ImportError):
    """An optional package needed by the chosen model is not installed."""


def _require(module: str, model: str) -> Any:
    """Import an optional dependency or raise :class:`MissingDependencyError` with the fix."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependencyError(
            f"model {model!r} needs the optional package {module!r}, which is not installed: "
            f"pip install mfgp[boost] (or pip install {module})"
        ) from err


class _StandardisedTop(TopLevelBaseline):
    """Stores input and output standardisation of the top-fidelity rows as buffers."""

    def _build_top(self, Xf: Tensor, Y: Tensor) -> None:
        self.register_buffer("x_mean_", Xf.mean(0))
        self.register_buffer("x_std_", Xf.std(0).clamp_min(1e-12))
        self.register_buffer("y_mean_", Y.mean())
        self.register_buffer("y_std_", Y.std().clamp_min(1e-12))
        self._build_standardised(Xf.shape[-1])

    def _build_standardised(self, p: int) -> None:
        """Create the submodules for ``p`` standardised features (override)."""

    def _training(self) -> tuple[Tensor, Tensor]:
        Xf, Y = self.top_rows_
        return (Xf - self.x_mean_) / self.x_std_, (Y.squeeze(-1) - self.y_mean_) / self.y_std_


# ------------------------------------------------------------------------- deep ensemble
@register_model("mlp_ensemble")
class MLPEnsemble(_StandardisedTop):
    """Deep ensemble of mean-variance MLPs on the top-fidelity rows.

    Each member maps the standardised features through ``layers`` SiLU hidden layers of width
    ``hidden`` to a mean and a variance (softplus, floored); all members are trained together on
    the sum of their Gaussian negative log-likelihoods (full batch, Adam with weight decay).
    Member ``k`` is initialised from ``torch.Generator().manual_seed(seed * 1000 + k)``, so the
    same seed gives the same model on every device.

    Prediction: with member means ``mu_k`` and variances ``s2_k`` the mixture mean is
    ``mean(mu_k)``; the latent variance is ``var(mu_k)`` (epistemic) and with observation noise
    ``mean(s2_k + mu_k^2) - mean^2`` (the mixture variance). :meth:`predict` with
    ``observation_noise=True`` returns the equal-weight mixture of the members' Gaussians
    ``N(mu_k, s2_k)`` (data units), whose quantiles are its bounds; without observation noise
    the Gaussian ``N(mean(mu_k), var(mu_k))`` of the spread of the member means (a mixture of
    the members' point predictions would have no density).

    Args:
        members: ensemble size.
        hidden: width of the hidden layers.
        layers: number of hidden layers.
        epochs: full-batch Adam steps.
        lr: Adam learning rate.
        weight_decay: Adam weight decay (L2 on the weights).
        min_variance: floor of each head's variance, in standardised units.
        num_threads: torch intra-op threads while training (restored afterwards); the default 1
            suits these tiny matrices, where extra threads only add synchronisation (several
            times slower on a busy machine). ``None`` leaves torch's setting alone.

    Example:
        >>> import torch
        >>> X = torch.rand(20, 2, dtype=torch.float64); X[:, -1] = 0
        >>> m = MLPEnsemble(epochs=50).fit((X, torch.sin(3 * X[:, :1])), seed=0)
        >>> m.predict(X[:3]).variance.shape
        torch.Size([3])
    """

    fit_options = ("epochs",)

    def __init__(
        self,
        *,
        members: int = 5,
        hidden: int = 32,
        layers: int = 2,
        epochs: int = 600,
        lr: float = 1e-2,
        weight_decay: float = 1e-4,
        min_variance: float = 1e-4,
        num_threads: int | None = 1,
    ) -> None:
        if num_threads is not None and num_threads < 1:
            raise InputDataError(f"num_threads must be >= 1 or None, got {num_threads}")
        for key, val in (("members", members), ("hidden", hidden), ("layers", layers)):
            if int(val) < 1:
                raise InputDataError(f"{key} must be >= 1, got {val}")
        if epochs < 0 or lr <= 0 or weight_decay < 0 or min_variance <= 0:
            raise InputDataError(
                "epochs >= 0, lr > 0, weight_decay >= 0 and min_variance > 0 are required; got "
                f"{epochs}, {lr}, {weight_decay}, {min_variance}"
            )
        super().__init__(
            members=members,
            hidden=hidden,
            layers=layers,
            epochs=epochs,
            lr=lr,
            weight_decay=weight_decay,
            min_variance=min_variance,
            num_threads=num_threads,
        )

    def _build_standardised(self, p: int) -> None:
        E, h = self.config["members"], self.config["hidden"]
        sizes = [p] + [h] * self.config["layers"] + [2]
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.zeros(E, a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        )
        self.biases = nn.ParameterList([nn.Parameter(torch.zeros(E, 1, b)) for b in sizes[1:]])

    def _init_members(self, seed: int | None) -> None:
        """PyTorch's default ``nn.Linear`` initialisation, member by member, from generators."""
        base = 0 if seed is None else int(seed)
        with torch.no_grad():
            for k in range(self.config["members"]):
                g = torch.Generator().manual_seed(base * 1000 + k)
                for W, b in zip(self.weights, self.biases, strict=True):
                    bound = 1.0 / math.sqrt(W.shape[1])
                    W[k].copy_(
                        (torch.rand(W.shape[1:], generator=g, dtype=torch.float64) * 2 - 1) * bound
                    )
                    b[k].copy_(
                        (torch.rand(b.shape[1:], generator=g, dtype=torch.float64) * 2 - 1) * bound
                    )

    def member_moments(self, Z: Tensor) -> tuple[Tensor, Tensor]:
        """Member means and variances, each ``batch x members x n``, at ``Z`` (``batch x n x p``,
        standardised)."""
        H = Z.unsqueeze(-3)
        last = len(self.weights) - 1
        for i, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            H = H @ W + b
            if i < last:
                H = torch.nn.functional.silu(H)
        mean = H[..., 0]
        var = torch.nn.functional.softplus(H[..., 1]) + self.config["min_variance"]
        return mean, var

    def _optimize(self, *, seed: int | None, **options: Any) -> None:
        self._init_members(seed)
        Z, y = self._training()
        epochs = int(options.get("epochs", self.config["epochs"]))
        opt = torch.optim.Adam(
            self.parameters(), lr=self.config["lr"], weight_decay=self.config["weight_decay"]
        )
        self.train()
        target = y.expand(self.config["members"], -1)
        with num_threads(self.config.get("num_threads")):
            for _ in range(epochs):
                opt.zero_grad()
                mean, var = self.member_moments(Z)
                loss = torch.nn.functional.gaussian_nll_loss(mean, target, var, full=True)
                loss.backward()
                opt.step()
        if epochs:
            log.debug("mlp_ensemble: final mean NLL %.4f", loss.detach().item())

    def _mean_var(self, Xf: Tensor, observation_noise: bool = False) -> tuple[Tensor, Tensor]:
        mu, s2 = self.member_moments((Xf - self.x_mean_) / self.x_std_)
        mean = mu.mean(-2)
        var = mu.var(-2, unbiased=False)
        if observation_noise:
            var = var + s2.mean(-2)
        return self.y_mean_ + self.y_std_ * mean, self.y_std_**2 * var

    def predict(self, X: Tensor, *, observation_noise: bool = False) -> Prediction:
        """With ``observation_noise``, the mixture of the members' Gaussians at ``X``
        (``n x d``); without, the Gaussian of the spread of the member means (see the class
        docstring)."""
        if not observation_noise:
            return super().predict(X)
        self._check_X(X)
        with torch.no_grad():
            mu, s2 = self.member_moments((X[..., :-1] - self.x_mean_) / self.x_std_)
            means = (self.y_mean_ + self.y_std_ * mu).transpose(-1, -2)  # ... x n x members
            return Prediction.mixture(None, means, (self.y_std_**2 * s2).transpose(-1, -2))


# ---------------------------------------------------------------------------- tree models
class _SklearnBaseline(_StandardisedTop):
    """Wraps fitted scikit-learn-style estimators. They are not saved: loading refits them from
    the saved training rows with the saved seed (no pickle; see the module docstring)."""

    estimators_: list[Any]

    def _numpy_training(self) -> tuple[np.ndarray, np.ndarray]:
        Z, y = self._training()
        return Z.detach().cpu().double().numpy(), y.detach().cpu().double().numpy()

    def _predict_standardised(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean, latent variance and observation-noise variance (each ``n``), standardised."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _mean_var(self, Xf: Tensor, observation_noise: bool = False) -> tuple[Tensor, Tensor]:
        Z = ((Xf - self.x_mean_) / self.x_std_).detach()
        flat = Z.reshape(-1, Z.shape[-1]).cpu().double().numpy()
        mean, var, noise = self._predict_standardised(flat)
        if observation_noise:
            var = var + noise
        shape = Z.shape[:-1]
        mean_t = torch.as_tensor(mean, dtype=Xf.dtype, device=Xf.device).reshape(shape)
        var_t = torch.as_tensor(var, dtype=Xf.dtype, device=Xf.device).reshape(shape)
        return self.y_mean_ + self.y_std_ * mean_t, self.y_std_**2 * var_t.clamp_min(1e-10)

    def _fit_estimators(self, seed: int) -> None:
        """Fit ``estimators_`` on the standardised training rows with ``seed`` (override)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _optimize(self, *, seed: int | None, **options: Any) -> None:
        if seed is None:  # a seed of its own, stored, so that loading refits the same model
            seed = secrets.randbits(31)
        self.metadata["fit_seed"] = int(seed)
        self._fit_estimators(int(seed))

    def _extra_state(self) -> dict[str, Any]:
        return {"fit_seed": int(self.metadata["fit_seed"])}

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        seed = self.metadata.get("fit_seed", extra.get("fit_seed"))
        if seed is None:
            raise InputDataError(
                f"the saved {type(self).__name__} records no fit seed (saved by an older "
                "mfgp, which pickled its trees); refit it and save it again"
            )
        self._fit_estimators(int(seed))


@register_model("random_forest")
class RandomForest(_SklearnBaseline):
    """Random forest (scikit-learn) on the top-fidelity rows; variance from the tree spread.

    The mean and the latent variance are the mean and variance of the individual trees'
    predictions; the observation-noise variance is the mean squared out-of-bag residual.

    Args:
        n_estimators: number of trees.
        min_samples_leaf: minimum rows per leaf.
        max_features: features tried per split (scikit-learn's meaning; 1.0 = all).

    Example:
        >>> import torch
        >>> X = torch.rand(30, 2, dtype=torch.float64); X[:, -1] = 0
        >>> m = RandomForest(n_estimators=20).fit((X, X[:, :1] ** 2), seed=0)
        >>> m.predict(X[:3]).mean.shape
        torch.Size([3])
    """

    def __init__(
        self, *, n_estimators: int = 200, min_samples_leaf: int = 1, max_features: float = 1.0
    ) -> None:
        if n_estimators < 2:
            raise InputDataError(f"n_estimators must be >= 2, got {n_estimators}")
        super().__init__(
            n_estimators=n_estimators, min_samples_leaf=min_samples_leaf, max_features=max_features
        )

    def _fit_estimators(self, seed: int) -> None:
        from sklearn.ensemble import RandomForestRegressor

        Z, y = self._numpy_training()
        rf = RandomForestRegressor(
            n_estimators=self.config["n_estimators"],
            min_samples_leaf=self.config["min_samples_leaf"],
            max_features=self.config["max_features"],
            bootstrap=True,
            oob_score=True,
            random_state=seed,
        )
        with warnings.catch_warnings():  # tiny data: a few rows may have no OOB prediction
            warnings.simplefilter("ignore", UserWarning)
            rf.fit(Z, y)
        oob = getattr(rf, "oob_prediction_", None)
        ok = np.isfinite(oob) if oob is not None else np.zeros_like(y, dtype=bool)
        noise = float(np.mean((oob[ok] - y[ok]) ** 2)) if ok.any() else float(np.var(y))
        self.estimators_ = [rf, noise]

    def _predict_standardised(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rf, noise = self.estimators_
        per_tree = np.stack([t.predict(Z) for t in rf.estimators_])
        return per_tree.mean(0), per_tree.var(0), np.full(Z.shape[0], noise)


class _QuantileBoosting(_SklearnBaseline):
    """Boosted quantile models at 2.5, 50 and 97.5 % mapped to a Gaussian.

    The median model is fitted on all top-fidelity rows. The 2.5 and 97.5 % models are fitted to
    the **out-of-fold** residuals of the median model (folds: leave one scale out, see
    :func:`~mfgp.models.baselines.scale_groups`), so that the interval reflects the error on an
    unseen scale rather than the near-zero training residuals, and so that the extreme quantiles
    (hard to boost from a few dozen rows, whose gradients are almost constant) start from the
    spread of the residuals instead of the spread of the target. Quantile crossing is repaired by
    sorting. ``mean = q50``, ``variance = ((q97.5 - q2.5) / 3.92)^2``: a predictive variance that
    already includes the noise (``observation_noise`` adds nothing).
    """

    quantiles = (0.025, 0.5, 0.975)

    def __init__(
        self,
        *,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        max_depth: int = 3,
        min_samples_leaf: int = 3,
    ) -> None:
        if n_estimators < 1 or learning_rate <= 0 or max_depth < 1 or min_samples_leaf < 1:
            raise InputDataError(
                "n_estimators >= 1, learning_rate > 0, max_depth >= 1 and min_samples_leaf >= 1 "
                f"are required; got {n_estimators}, {learning_rate}, {max_depth}, "
                f"{min_samples_leaf}"
            )
        self._check_dependency()
        super().__init__(
            n_estimators=n_estimators,
            learning_rate=learning_rate,
            max_depth=max_depth,
            min_samples_leaf=min_samples_leaf,
        )

    def _check_dependency(self) -> None:
        """Raise :class:`MissingDependencyError` when the backend is not installed."""

    def _make(self, quantile: float, seed: int | None) -> Any:
        """An unfitted estimator with ``fit(Z, y)``/``predict(Z)`` for one quantile."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _fit_estimators(self, seed: int) -> None:
        Z, y = self._numpy_training()
        median = self._make(0.5, seed).fit(Z, y)
        folds = scale_groups(torch.as_tensor(Z[:, 0])).numpy()
        resid = np.empty_like(y)
        for f in np.unique(folds):
            test = folds == f
            est = self._make(0.5, seed).fit(Z[~test], y[~test])
            resid[test] = y[test] - est.predict(Z[test])
        lo = self._make(self.quantiles[0], seed).fit(Z, resid)
        hi = self._make(self.quantiles[2], seed).fit(Z, resid)
        self.estimators_ = [median, lo, hi]

    def _predict_standardised(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        median, lo, hi = self.estimators_
        m = np.asarray(median.predict(Z))
        q = np.sort(np.stack([m + lo.predict(Z), m, m + hi.predict(Z)], axis=-1), axis=-1)
        sd = (q[:, 2] - q[:, 0]) / (2 * Z975)
        return m, np.maximum(sd, 1e-3) ** 2, np.zeros(Z.shape[0])


@register_model("gbt")
class GradientBoostedTrees(_QuantileBoosting):
    """Gradient-boosted trees (scikit-learn) with quantile loss, top-fidelity rows only.

    ``GradientBoostingRegressor(loss="quantile")`` at 50 % on the rows and at 2.5 and 97.5 % on
    the leave-one-scale-out residuals (see :class:`_QuantileBoosting`); the mean is the median and
    the variance ``((q97.5 - q2.5) / 3.92)^2``, a predictive variance that already includes the
    noise.

    Args:
        n_estimators: boosting stages.
        learning_rate: shrinkage.
        max_depth: depth of each tree.
        min_samples_leaf: minimum rows per leaf.

    Example:
        >>> import torch
        >>> X = torch.rand(30, 2, dtype=torch.float64); X[:, -1] = 0
        >>> m = GradientBoostedTrees(n_estimators=20).fit((X, X[:, :1] ** 2), seed=0)
        >>> m.predict(X[:3]).variance.shape
        torch.Size([3])
    """

    def _make(self, quantile: float, seed: int | None) -> Any:
        from sklearn.ensemble import GradientBoostingRegressor

        return GradientBoostingRegressor(
            loss="quantile",
            alpha=quantile,
            n_estimators=self.config["n_estimators"],
            learning_rate=self.config["learning_rate"],
            max_depth=self.config["max_depth"],
            min_samples_leaf=self.config["min_samples_leaf"],
            random_state=seed,
        )


@register_model("xgboost")
class XGBoostQuantile(_QuantileBoosting):
    """XGBoost with the quantile objective (optional dependency: ``pip install mfgp[boost]``).

    As :class:`GradientBoostedTrees`, with ``XGBRegressor(objective="reg:quantileerror")``
    (XGBoost >= 2.0).

    Example:
        >>> XGBoostQuantile.name  # get_model("xgboost", n_estimators=100).fit(data)
        'xgboost'
    """

    def _check_dependency(self) -> None:
        _require("xgboost", "xgboost")

    def _make(self, quantile: float, seed: int | None) -> Any:
        xgb = _require("xgboost", "xgboost")
        return xgb.XGBRegressor(
            objective="reg:quantileerror",
            quantile_alpha=quantile,
            n_estimators=self.config["n_estimators"],
            learning_rate=self.config["learning_rate"],
            max_depth=self.config["max_depth"],
            min_child_weight=self.config["min_samples_leaf"],
            random_state=0 if seed is None else seed,
            n_jobs=1,
        )


@register_model("lightgbm")
class LightGBMQuantile(_QuantileBoosting):
    """LightGBM with the quantile objective (optional dependency: ``pip install mfgp[boost]``).

    As :class:`GradientBoostedTrees`, with ``LGBMRegressor(objective="quantile")``.

    Example:
        >>> LightGBMQuantile.name  # get_model("lightgbm", n_estimators=100).fit(data)
        'lightgbm'
    """

    def _check_dependency(self) -> None:
        _require("lightgbm", "lightgbm")

    def _make(self, quantile: float, seed: int | None) -> Any:
        lgb = _require("lightgbm", "lightgbm")
        return lgb.LGBMRegressor(
            objective="quantile",
            alpha=quantile,
            n_estimators=self.config["n_estimators"],
            learning_rate=self.config["learning_rate"],
            max_depth=self.config["max_depth"],
            num_leaves=2 ** self.config["max_depth"],
            min_child_samples=self.config["min_samples_leaf"],
            random_state=0 if seed is None else seed,
            n_jobs=1,
            verbose=-1,
        )
