"""The classic parameter-scaling workflow (what the field does today), as an mfgp model.

Steps (growth curves as in Baranyi & Roberts 1994 and Zwietering et al. 1990, Appl. Environ.
Microbiol. 56:1875; scaling rules as in Garcia-Ochoa & Gomez 2009, Biotechnol. Adv. 27:153):

1. fit a growth curve (Baranyi-Roberts by default; logistic or Gompertz) to the time course
   measured at each training volume (:mod:`mfgp.scaling.growth`, least squares);
2. extrapolate each curve parameter, on the log scale, to any volume with a **convex mixture of
   scaling bases** in ``v = log10 V``: power law (``log p`` linear in ``v``), log law (``p``
   linear in ``v``), piecewise log-linear (``log p`` interpolated linearly between the measured
   scales, end segments extended), a mixing-time law (``p`` linear in the Grenville 95 % mixing
   time of geometrically similar tanks scaled at constant P/V, with the aspect ratio of
   :func:`mfgp.scaling.criteria.default_aspect_ratio`) and a constant (no scaling). The weights of
   each parameter lie on the simplex and minimise the leave-one-scale-out squared error of the
   mixture, plus the weighted held-out errors of the bases themselves (which stops biased bases
   from cancelling each other on 3-5 scales), plus a ridge penalty (see ``_fit_weights``);
3. predict the whole time course at the target volume from the extrapolated parameters.

Uncertainty (the field usually gives none): for each parameter the leave-one-scale-out mean
squared error ``s_j^2`` expected under the mixture weights (on the log scale) sets a
linear-regression-style prediction variance
``s_j^2 (1 + 1/m + (v - vbar)^2 / sum_i (v_i - vbar)^2)`` that grows with the distance from the
measured scales; it is propagated to the curve by the delta method (the
gradient of the curve with respect to the log parameters, by autograd), parameters taken as
independent. The observation noise is the mean squared residual of the per-volume curve fits.

Rows used: the **top-fidelity rows only** (``multi_fidelity = False``); the fidelity column of
``X`` is ignored at prediction. Features used: ``log10_volume_L`` and ``time_h`` (found by name
when the data carry ``feature_names``, else columns 0 and 1); operating variables are ignored,
as in the workflow (they are assumed to follow the scale-up rule); so are known noise variances.

Hand-written numerics, and why: the bases are two-parameter least-squares fits (or an
interpolation) in closed form, refitted at prediction from the stored per-volume parameters so
that save/load needs only tensors; the simplex weights (a handful of numbers, a small convex
quadratic programme) are found by :func:`scipy.optimize.minimize` (SLSQP).

References:
    Baranyi & Roberts (1994), Int. J. Food Microbiol. 23:277. Zwietering et al. (1990), Appl.
    Environ. Microbiol. 56:1875. Grenville: N theta95 = 5.2 Np^(-1/3) (T/D)^2. Breiman (1996),
    Mach. Learn. 24:49 (stacked regressions, convex combinations fitted on held-out error).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from botorch.posteriors import Posterior
from torch import Tensor

from mfgp.exceptions import InputDataError, ModelFittingError
from mfgp.models.base import ScaleUpModel, gaussian_posterior, register_model
from mfgp.models.baselines import (
    END_POINT_REASON,
    data_layout,
    feature_index,
    top_fidelity_rows,
    variance_floor,
)
from mfgp.scaling.bases import PiecewiseLogLinear, ScalingLaw
from mfgp.scaling.correlations import mixing_time_grenville, vessel_geometry
from mfgp.scaling.criteria import default_aspect_ratio
from mfgp.scaling.growth import GrowthModel, get_growth_model

__all__ = ["BASES", "ClassicScaling", "basis_predictions", "mixing_time_law"]

log = logging.getLogger(__name__)

#: the scaling bases the mixture chooses from, in this order
BASES: tuple[str, ...] = ("power", "log", "piecewise", "mixing_time", "constant")


def mixing_time_law(v: Tensor) -> Tensor:
    """Relative 95 % mixing time ``theta95(V) / theta95(1 L)`` at ``v = log10 V`` (litres).

    Geometrically similar tanks (D/T = 1/3, one Rushton turbine per tank diameter of height,
    Np = 5) scaled at constant ungassed P/V from 1 L at 500 rpm: ``N ~ D^(-2/3)``; the mixing
    time is Grenville's with the tall-tank correction, and the aspect ratio of
    :func:`mfgp.scaling.criteria.default_aspect_ratio`.

    >>> round(float(mixing_time_law(torch.tensor(0.0, dtype=torch.float64))), 6)
    1.0
    """

    def theta(vv: Tensor) -> Tensor:
        vol_L = 10.0 ** vv.detach().double().cpu()
        ht = torch.tensor([default_aspect_ratio(float(x)) for x in vol_L.flatten()]).reshape(
            vol_L.shape
        )
        g = vessel_geometry(vol_L / 1000.0, h_over_t=ht)
        g_ref = vessel_geometry(torch.tensor(1e-3, dtype=torch.float64))
        N = (500.0 / 60.0) * (g.D / g_ref.D) ** (-2.0 / 3.0)
        return mixing_time_grenville(N, g.D, g.T, H=g.H)

    rel = theta(v) / theta(torch.zeros((), dtype=torch.float64))
    return rel.to(dtype=v.dtype, device=v.device)


def _law(basis: Any, v: Tensor, values: Tensor, vq: Tensor) -> Tensor:
    """Fit a :class:`~mfgp.scaling.bases.ScalingLaw` to ``(v, values)`` and evaluate at ``vq``."""
    return ScalingLaw(basis).fit(v, values)(vq).to(vq)


def basis_predictions(v: Tensor, logp: Tensor, vq: Tensor) -> Tensor:
    """Each basis fitted to ``(v, log p)`` and evaluated at ``vq``.

    Power, log and piecewise laws are :class:`mfgp.scaling.bases.ScalingLaw` fits (the piecewise
    law has log link and hinges at the interior measured scales, so it interpolates ``log p``
    linearly and extends the end segments); the mixing-time law is ``p`` linear in
    :func:`mixing_time_law`; the constant is the mean of ``log p``. Identity-link laws are floored
    at 1 % of the smallest measured value before taking logs.

    Args:
        v: ``m`` sorted distinct values of ``log10 V`` (``m >= 2``).
        logp: ``m`` log parameter values.
        vq: ``q`` query values of ``log10 V``.

    Returns:
        ``q x len(BASES)`` predicted log parameters.

    >>> v = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    >>> out = basis_predictions(v, 0.5 * v, torch.tensor([3.0], dtype=torch.float64))
    >>> round(float(out[0, 0]), 6), round(float(out[0, 2]), 6)
    (1.5, 1.5)
    """
    p = logp.exp()
    floor = p.min() * 1e-2
    power = _law("power", v, p, vq).log()
    loglaw = _law("log", v, p, vq).clamp_min(floor).log()
    piece = _law(PiecewiseLogLinear(v[1:-1].tolist(), link="log"), v, p, vq).log()
    tm, tq = mixing_time_law(v), mixing_time_law(vq)
    mix = _linear_in(tm, p, tq).clamp_min(floor).log()
    const = logp.mean().expand_as(vq)
    return torch.stack([power, loglaw, piece, mix, const], dim=-1)


def _linear_in(x: Tensor, y: Tensor, xq: Tensor) -> Tensor:
    """Least-squares line ``y = a + b x`` evaluated at ``xq``."""
    xm, ym = x.mean(), y.mean()
    slope = ((x - xm) * (y - ym)).sum() / ((x - xm) ** 2).sum().clamp_min(torch.finfo(x.dtype).tiny)
    return ym + slope * (xq - xm)


def _loso_basis_matrix(v: Tensor, logp: Tensor) -> Tensor:
    """Leave-one-scale-out predictions ``m x B`` of every basis at every measured scale."""
    m = v.shape[0]
    rows = []
    for i in range(m):
        keep = torch.arange(m, device=v.device) != i
        rows.append(basis_predictions(v[keep], logp[keep], v[i : i + 1])[0])
    return torch.stack(rows)


@register_model("classic")
class ClassicScaling(ScaleUpModel):
    """Classic workflow: growth curve per volume, parameters extrapolated by a mixture of bases.

    See the module docstring for the method. Needs a time column and at least 3 distinct
    volumes among the top-fidelity rows (the weights are fitted on leave-one-scale-out errors),
    each with at least as many time points as the growth curve has parameters.

    Args:
        growth: ``"baranyi"`` (default), ``"logistic"`` or ``"gompertz"``.
        ridge: ridge penalty on the simplex weights (larger spreads the weight more evenly).
        error_penalty: weight of the bases' own held-out errors in the objective (0: plain
            stacking of the leave-one-scale-out predictions).
        bases: names of the bases to mix (a subset of :data:`BASES`).

    Example:
        >>> import torch
        >>> from mfgp.scaling.growth import logistic
        >>> v = torch.tensor([0.0, 1.0, 2.0]).double().repeat_interleave(8)
        >>> t = torch.linspace(0, 40, 8).double().repeat(3)
        >>> p = torch.stack([0.1 * torch.ones_like(v), 10 * 10 ** (-0.1 * v), 0.3 + 0 * v], -1)
        >>> X = torch.stack([v, t, torch.zeros_like(v)], -1)
        >>> m = ClassicScaling(growth="logistic").fit((X, logistic(t, p).unsqueeze(-1)))
        >>> m.predict(X[:3]).mean.shape
        torch.Size([3])
    """

    multi_fidelity = False

    def __init__(
        self,
        *,
        growth: str = "baranyi",
        ridge: float = 1e-3,
        error_penalty: float = 1.0,
        bases: list[str] | tuple[str, ...] = BASES,
    ) -> None:
        get_growth_model(growth)
        if ridge < 0 or error_penalty < 0:
            raise InputDataError(
                f"ridge and error_penalty must be >= 0, got {ridge} and {error_penalty}"
            )
        unknown = set(bases) - set(BASES)
        if unknown or not bases:
            raise InputDataError(f"bases must be a non-empty subset of {BASES}, got {bases}")
        super().__init__(
            growth=growth,
            ridge=float(ridge),
            error_penalty=float(error_penalty),
            bases=list(bases),
        )

    # ----------------------------------------------------------------------- fitting
    def applicability(self, data: Any) -> str | None:
        """``"needs time courses (a time column); the data are end points"`` on end-point data,
        a reason for fewer than 3 measured volumes, else ``None``.

        Example:
            >>> import pandas as pd
            >>> from mfgp.data import ScaleUpData
            >>> df = pd.DataFrame({"V": [1.0, 10.0, 100.0], "titer": [5.0, 4.8, 4.5]})
            >>> ClassicScaling().applicability(ScaleUpData(df, target="titer"))
            'needs time courses (a time column); the data are end points'
        """
        layout = data_layout(data)
        if layout is None:
            return None
        if not layout.time_course:
            return END_POINT_REASON
        if layout.top_volumes < 3:
            return f"needs measured runs at at least 3 volumes; the data have {layout.top_volumes}"
        return None

    def fit(self, data: Any, *, seed: int | None = 0, **options: Any) -> ClassicScaling:
        """Fit as :meth:`ScaleUpModel.fit`; end-point data (no time column) are refused first.

        Raises:
            InputDataError: end-point data, with the reason of :meth:`applicability`.
        """
        layout = data_layout(data)
        if layout is not None and not layout.time_course:
            raise InputDataError(
                f"classic {END_POINT_REASON}; use hybrid, discrepancy, scaling_law, gp or ridge "
                "for end-point data"
            )
        return super().fit(data, seed=seed, **options)

    @property
    def growth_cls(self) -> type[GrowthModel]:
        return get_growth_model(self.config["growth"])

    def _columns(self, d: int) -> tuple[int, int]:
        iv = feature_index(self, "log10_volume_L", 0)
        it = feature_index(self, "time_h", 1 if d >= 2 else None)
        if iv is None or it is None:
            raise InputDataError(
                f"classic {END_POINT_REASON}; use hybrid, discrepancy, scaling_law, gp or ridge "
                "for end-point data"
            )
        return iv, it

    def _build(self, X: Tensor, Y: Tensor, Yvar: Tensor | None) -> None:
        Xf, _ = top_fidelity_rows(X, Y)
        self._columns(Xf.shape[-1])
        vols = torch.unique(torch.round(Xf[:, self._columns(Xf.shape[-1])[0]] * 1e9) / 1e9)
        if vols.numel() < 3:
            raise InputDataError(
                f"the classic workflow needs at least 3 distinct training volumes among the "
                f"top-fidelity rows, got {vols.numel()}"
            )
        k, b = len(self.growth_cls.param_names), len(self.config["bases"])
        dt = dict(dtype=X.dtype, device=X.device)
        self.register_buffer("volumes_", vols)
        self.register_buffer("log_params_", torch.zeros(vols.numel(), k, **dt))
        self.register_buffer("weights_", torch.full((k, b), 1.0 / b, **dt))
        self.register_buffer("param_var_", torch.zeros(k, **dt))
        self.register_buffer("noise_var_", torch.zeros((), **dt))

    def _optimize(self, *, seed: int | None, **options: Any) -> None:
        Xf, Y = top_fidelity_rows(self.train_X_, self.train_Y_)
        iv, it = self._columns(Xf.shape[-1])
        v_all = torch.round(Xf[:, iv] * 1e9) / 1e9
        sse, n = 0.0, 0
        for i, v in enumerate(self.volumes_):
            rows = v_all == v
            t, y = Xf[rows, it], Y[rows, 0]
            try:
                curve = self.growth_cls().fit(t, y)
            except (InputDataError, ModelFittingError) as err:
                raise type(err)(f"growth-curve fit at log10 V = {float(v):.3g}: {err}") from err
            self.log_params_[i] = curve.raw.detach().to(self.log_params_)
            sse += 2.0 * curve.cost_
            n += int(rows.sum())
        k = self.log_params_.shape[-1]
        self.noise_var_.fill_(sse / max(n - k * self.volumes_.numel(), 1))
        cols = [BASES.index(b) for b in self.config["bases"]]
        v = self.volumes_
        for j in range(self.log_params_.shape[-1]):
            z = self.log_params_[:, j]
            P = _loso_basis_matrix(v, z)[:, cols]
            w, mse = self._fit_weights(P, z)
            self.weights_[j] = w
            self.param_var_[j] = mse
        log.debug("classic: weights %s", self.weights_.tolist())

    def _fit_weights(self, P: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
        """Simplex weights for the leave-one-scale-out basis predictions ``P`` (``m x B``).

        Minimises ``[mse(P w - z) + error_penalty * sum_b w_b mse_b] / s + ridge * |w|^2`` over
        the simplex (SLSQP), with ``mse_b`` each basis's own held-out error and ``s`` the variance
        of ``z`` across scales.
        The first term alone (stacking) can cancel the errors of biased bases with 3-5 scales;
        the second keeps the weight on bases that are good on their own; the ridge term splits
        the weight between equally good bases. Returns the weights and the expected held-out
        error ``sum_b w_b mse_b`` (at least the mixture's, by convexity) used as the parameter
        variance.
        """
        from scipy.optimize import minimize

        Pn, zn = P.detach().double().cpu().numpy(), z.detach().double().cpu().numpy()
        err = Pn - zn[:, None]
        mse_b = (err**2).mean(0)
        s = float(zn.var()) + 1e-12  # errors relative to the spread across scales
        gamma, ridge = self.config["error_penalty"], self.config["ridge"]
        m, b = err.shape

        def objective(w: Any) -> tuple[float, Any]:
            r = err @ w
            f = (r @ r / m + gamma * mse_b @ w) / s + ridge * w @ w
            g = (2 * err.T @ r / m + gamma * mse_b) / s + 2 * ridge * w
            return float(f), g

        res = minimize(
            objective,
            x0=[1.0 / b] * b,
            jac=True,
            method="SLSQP",
            bounds=[(0.0, 1.0)] * b,
            constraints=[
                {"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: 1 + 0 * w}
            ],
            options={"maxiter": 200, "ftol": 1e-14},
        )
        w = torch.as_tensor(res.x, dtype=torch.float64).clamp_min(0)
        w = w / w.sum()
        expected = torch.as_tensor(mse_b, dtype=torch.float64) @ w
        return w.to(self.weights_), expected.to(self.weights_)

    # -------------------------------------------------------------------- prediction
    def extrapolate(self, v: Tensor) -> tuple[Tensor, Tensor]:
        """Log growth parameters and their variances at ``v = log10 V``.

        Args:
            v: ``q`` volumes (log10 litres).

        Returns:
            ``q x k`` log parameters and ``q x k`` variances.
        """
        cols = [BASES.index(b) for b in self.config["bases"]]
        vt = self.volumes_
        logp = torch.stack(
            [
                basis_predictions(vt, self.log_params_[:, j], v)[:, cols] @ self.weights_[j]
                for j in range(self.log_params_.shape[-1])
            ],
            dim=-1,
        )
        m = vt.numel()
        lever = 1.0 + 1.0 / m + (v - vt.mean()) ** 2 / ((vt - vt.mean()) ** 2).sum()
        return logp, lever.unsqueeze(-1) * self.param_var_

    def growth_parameters(self, volume_L: float) -> dict[str, float]:
        """Extrapolated growth-curve parameters (natural scale) at ``volume_L`` litres.

        The keys are the growth model's parameter names:

        >>> ClassicScaling(growth="logistic").growth_cls.param_names
        ('y0', 'ymax', 'mu')
        """
        self._check_fitted()
        v = torch.tensor([volume_L], dtype=self.log_params_.dtype).log10()
        logp, _ = self.extrapolate(v.to(self.log_params_.device))
        names = self.growth_cls.param_names
        return dict(zip(names, logp[0].exp().tolist(), strict=True))

    def posterior(
        self,
        X: Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | Tensor = False,
        posterior_transform: Any = None,
        **kwargs: Any,
    ) -> Posterior:
        """Posterior of the top level at ``X`` (``batch x n x d``; fidelity column ignored), with
        diagonal covariance. The mean is differentiable with respect to ``X``; the variance is
        not (it is computed from detached parameters)."""
        self._check_X(X)
        iv, it = self._columns(X.shape[-1] - 1)
        v, t = X[..., iv].reshape(-1), X[..., it].reshape(-1)
        logp, var_logp = self.extrapolate(v)
        mean = self.growth_cls.curve(t, logp.exp())  # differentiable in X (time, volume)
        with torch.enable_grad():  # delta method: d curve / d log-parameters
            lp = logp.detach().requires_grad_(True)
            y = self.growth_cls.curve(t.detach(), lp.exp())
            (grad,) = torch.autograd.grad(y.sum(), lp)
        var = (grad**2 * var_logp.detach()).sum(-1)
        if isinstance(observation_noise, Tensor):
            var = var + observation_noise.reshape(-1).to(var)
        elif observation_noise:
            var = var + self.noise_var_
        shape = X.shape[:-1]
        var = var.clamp_min(variance_floor(var.dtype))
        post = gaussian_posterior(mean.reshape(shape), var.reshape(shape))
        return posterior_transform(post) if posterior_transform is not None else post
