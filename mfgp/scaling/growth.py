"""Growth-curve models (Baranyi-Roberts, logistic, Gompertz) as torch modules fitted by least
squares.

Each model is a ``torch.nn.Module`` whose positive parameters live on the log scale (``raw``);
``forward(t)`` evaluates the curve, and :meth:`GrowthModel.fit` minimises the sum of squared
residuals with :func:`scipy.optimize.least_squares` (trust-region reflective, bounds on the log
parameters, finite-difference Jacobian: cheaper than autograd for four parameters) from a few
data-driven starting points. The curves are
also available as pure, broadcasting functions of a parameter tensor (``... x k``), which is how
:class:`~mfgp.scaling.bases.ScalingLawSurrogate` evaluates them with volume-dependent parameters.

References:
    - Baranyi & Roberts (1994), Int. J. Food Microbiol. 23:277-294, eqs. (5)-(6): with
      ``h0 = mu lambda``, ``A(t) = t + ln(e^(-mu t) + e^(-h0) - e^(-mu t - h0)) / mu`` and
      ``ln y = ln y0 + mu A(t) - ln(1 + (e^(mu A(t)) - 1) / (ymax / y0))``.
    - Verhulst logistic: ``y = ymax / (1 + (ymax / y0 - 1) e^(-mu t))``.
    - Zwietering, Jongenburger, Rombouts & van 't Riet (1990), Appl. Environ. Microbiol.
      56:1875, modified Gompertz: ``y = y0 + A exp(-exp(mu e (lambda - t) / A + 1))``.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import torch
from scipy.optimize import least_squares
from torch import Tensor, nn

from mfgp.exceptions import InputDataError, ModelFittingError, NotFittedError
from mfgp.settings import DEFAULT_DTYPE

__all__ = [
    "GROWTH_MODELS",
    "BaranyiGrowth",
    "GompertzGrowth",
    "GrowthModel",
    "LogisticGrowth",
    "baranyi",
    "get_growth_model",
    "gompertz",
    "logistic",
]


def baranyi(t: Tensor, params: Tensor) -> Tensor:
    """Baranyi-Roberts curve.

    Args:
        t: times, shape ``...``.
        params: ``... x 4`` (broadcasting with ``t``): ``y0, ymax, mu, lag`` (all > 0).

    Returns:
        ``y(t)`` of the broadcast shape.

    >>> p = torch.tensor([0.1, 50.0, 0.4, 3.0], dtype=torch.float64)
    >>> y = baranyi(torch.tensor([0.0, 100.0], dtype=torch.float64), p)
    >>> [round(v, 3) for v in y.tolist()]
    [0.1, 50.0]
    """
    y0, ymax, mu, lag = params.unbind(-1)
    h0 = mu * lag
    mt = mu * t
    # mu A(t) = ln(1 + e^x - e^-h0) with x = mu t - h0, written without overflow for either sign
    x = mt - h0
    xp, xn = torch.clamp(x, min=0.0), torch.clamp(x, max=0.0)
    pos = xp + torch.log1p(torch.exp(-xp) - torch.exp(-xp - h0))
    neg = torch.log1p(torch.exp(xn) - torch.exp(-h0))
    mu_a = torch.where(x > 0, pos, neg)  # >= 0
    ratio = ymax / y0
    log_excess = torch.logaddexp(torch.log(torch.clamp(ratio - 1.0, min=1e-12)), mu_a)
    ln_y = torch.log(y0) + mu_a - (log_excess - torch.log(ratio))
    return torch.exp(ln_y)


def logistic(t: Tensor, params: Tensor) -> Tensor:
    """Verhulst logistic curve; ``params`` is ``... x 3``: ``y0, ymax, mu``.

    >>> p = torch.tensor([1.0, 10.0, 0.5], dtype=torch.float64)
    >>> round(float(logistic(torch.tensor(0.0, dtype=torch.float64), p)), 6)
    1.0
    """
    y0, ymax, mu = params.unbind(-1)
    return ymax / (1.0 + (ymax / y0 - 1.0) * torch.exp(-mu * t))


def gompertz(t: Tensor, params: Tensor) -> Tensor:
    """Modified Gompertz curve (Zwietering 1990); ``params`` ``... x 4``: ``y0, A, mu, lag``.

    ``mu`` is the maximum slope (units of y per unit time) and ``lag`` the time where the tangent
    at the inflection point crosses ``y0``.

    >>> p = torch.tensor([0.0 + 1e-9, 5.0, 0.3, 10.0], dtype=torch.float64)
    >>> round(float(gompertz(torch.tensor(200.0, dtype=torch.float64), p)), 4)
    5.0
    """
    y0, amp, mu, lag = params.unbind(-1)
    return y0 + amp * torch.exp(-torch.exp(mu * math.e * (lag - t) / amp + 1.0))


class GrowthModel(nn.Module):
    """Base class: a growth curve with positive parameters stored as ``raw = log(param)``.

    Subclasses define ``param_names``, :meth:`curve` and :meth:`initial_guesses`.

    Args:
        dtype: parameter dtype (float64 default).
        **values: initial parameter values by name (defaults are neutral placeholders).
    """

    param_names: ClassVar[tuple[str, ...]] = ()
    name: ClassVar[str] = "base"

    def __init__(self, *, dtype: torch.dtype = DEFAULT_DTYPE, **values: float) -> None:
        super().__init__()
        unknown = set(values) - set(self.param_names)
        if unknown:
            raise InputDataError(
                f"unknown parameter(s) {sorted(unknown)} for {type(self).__name__}; "
                f"valid: {list(self.param_names)}"
            )
        init = [float(values.get(n, 1.0)) for n in self.param_names]
        if any(not (v > 0 and math.isfinite(v)) for v in init):
            raise InputDataError(f"growth parameters must be positive, got {dict(values)}")
        self.raw = nn.Parameter(torch.log(torch.tensor(init, dtype=dtype)))
        self.fitted_ = False

    @staticmethod
    def curve(t: Tensor, params: Tensor) -> Tensor:
        """Evaluate the curve at ``t`` (``...``) for ``params`` (``... x k``)."""
        raise NotImplementedError

    @property
    def params(self) -> Tensor:
        """The ``k`` positive parameters, in ``param_names`` order."""
        return self.raw.exp()

    def param_dict(self) -> dict[str, float]:
        """Parameters by name as floats."""
        return dict(zip(self.param_names, self.params.detach().tolist(), strict=True))

    def forward(self, t: Tensor) -> Tensor:
        """``y(t)`` for times ``t`` of any shape (converted to the parameter dtype)."""
        t = torch.as_tensor(t, dtype=self.raw.dtype, device=self.raw.device)
        return self.curve(t, self.params)

    @classmethod
    def initial_guesses(cls, t: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        """A few starting points (natural parameter values) for the least-squares fit."""
        raise NotImplementedError

    @classmethod
    def default_bounds(cls, t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds (natural values) for the fit, from the data's ranges."""
        raise NotImplementedError

    def fit(
        self,
        t: Tensor | np.ndarray,
        y: Tensor | np.ndarray,
        *,
        bounds: tuple[np.ndarray, np.ndarray] | None = None,
        max_nfev: int = 200,
    ) -> GrowthModel:
        """Least-squares fit to observations ``y`` at times ``t`` (1-D, same length).

        Args:
            t: times, shape ``n``.
            y: observations, shape ``n`` (in the curve's units; non-negative).
            bounds: ``(lower, upper)`` natural parameter bounds (default: from the data).
            max_nfev: function evaluations per start.

        Returns:
            ``self`` with fitted parameters (``fitted_`` True, ``cost_`` the best half sum of
            squares).

        Raises:
            InputDataError: mismatched shapes, too few points, non-finite values.
            ModelFittingError: every start failed.
        """
        tn = np.asarray(torch.as_tensor(t).detach().cpu(), dtype=np.float64).ravel()
        yn = np.asarray(torch.as_tensor(y).detach().cpu(), dtype=np.float64).ravel()
        k = len(self.param_names)
        if tn.shape != yn.shape:
            raise InputDataError(f"t and y must have the same length, got {tn.size} and {yn.size}")
        if tn.size < k:
            raise InputDataError(
                f"{type(self).__name__} has {k} parameters but only {tn.size} points were given; "
                "give at least as many time points as parameters"
            )
        if not (np.isfinite(tn).all() and np.isfinite(yn).all()):
            raise InputDataError("t and y must be finite; drop rows with NaN or inf")
        if yn.max() <= 0:
            raise InputDataError("growth curves need some positive observations; check y")
        lo, hi = bounds if bounds is not None else self.default_bounds(tn, yn)
        lo_l, hi_l = np.log(lo), np.log(hi)
        tt = torch.as_tensor(tn, dtype=torch.float64)
        yy = torch.as_tensor(yn, dtype=torch.float64)
        curve = self.curve

        def resid(theta: np.ndarray) -> np.ndarray:
            p = torch.as_tensor(theta, dtype=torch.float64).exp()
            return (curve(tt, p) - yy).numpy()

        best = None
        for guess in self.initial_guesses(tn, yn):
            x0 = np.clip(np.log(guess), lo_l + 1e-9, hi_l - 1e-9)
            try:
                res = least_squares(
                    resid, x0, jac="2-point", bounds=(lo_l, hi_l), method="trf", max_nfev=max_nfev
                )
            except (ValueError, FloatingPointError):
                continue
            if np.isfinite(res.cost) and (best is None or res.cost < best.cost):
                best = res
        if best is None:
            raise ModelFittingError(
                f"{type(self).__name__}: every least-squares start failed; check that y grows "
                "over t and rescale t to hours"
            )
        with torch.no_grad():
            self.raw.copy_(torch.as_tensor(best.x, dtype=self.raw.dtype))
        self.cost_ = float(best.cost)
        self.fitted_ = True
        return self

    def check_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless :meth:`fit` was called."""
        if not self.fitted_:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(t, y) first")


def _rate_guess(t: np.ndarray, y: np.ndarray) -> float:
    order = np.argsort(t)
    ts, ls = t[order], np.log(np.maximum(y[order], 1e-6 * max(y.max(), 1e-12)))
    dt = np.diff(ts)
    ok = dt > 0
    if not ok.any():
        return 0.3
    slopes = np.diff(ls)[ok] / dt[ok]
    return float(np.clip(slopes.max(), 1e-2, 5.0))


class BaranyiGrowth(GrowthModel):
    """Baranyi-Roberts growth with lag: parameters ``y0, ymax, mu, lag`` (``mu`` per unit time,
    on the log scale).

    >>> t = torch.linspace(0, 40, 14, dtype=torch.float64)
    >>> y = BaranyiGrowth.curve(t, torch.tensor([0.2, 60.0, 0.35, 4.0], dtype=torch.float64))
    >>> m = BaranyiGrowth().fit(t, y)
    >>> round(m.param_dict()["ymax"], 2)
    60.0
    """

    param_names = ("y0", "ymax", "mu", "lag")
    name = "baranyi"
    curve = staticmethod(baranyi)

    @classmethod
    def initial_guesses(cls, t: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        ymax = 1.05 * y.max()
        y0 = max(float(y[np.argmin(t)]), 1e-3 * ymax)
        mu = _rate_guess(t, y)
        span = float(t.max() - t.min()) or 1.0
        return [np.array([y0, ymax, mu, f * span]) for f in (0.05, 0.2, 0.4)]

    @classmethod
    def default_bounds(cls, t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        top = float(y.max())
        span = float(t.max() - t.min()) or 1.0
        return (
            np.array([1e-6 * top, 0.5 * top, 1e-3 / span, 1e-3 * span]),
            np.array([top, 20.0 * top, 10.0, span]),
        )


class LogisticGrowth(GrowthModel):
    """Verhulst logistic growth: parameters ``y0, ymax, mu``.

    >>> t = torch.linspace(0, 30, 12, dtype=torch.float64)
    >>> y = LogisticGrowth.curve(t, torch.tensor([0.5, 40.0, 0.4], dtype=torch.float64))
    >>> round(LogisticGrowth().fit(t, y).param_dict()["mu"], 3)
    0.4
    """

    param_names = ("y0", "ymax", "mu")
    name = "logistic"
    curve = staticmethod(logistic)

    @classmethod
    def initial_guesses(cls, t: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        ymax = 1.05 * y.max()
        y0 = max(float(y[np.argmin(t)]), 1e-3 * ymax)
        mu = _rate_guess(t, y)
        return [np.array([y0, ymax, mu]), np.array([y0, ymax, 0.5 * mu])]

    @classmethod
    def default_bounds(cls, t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        top = float(y.max())
        span = float(t.max() - t.min()) or 1.0
        return np.array([1e-6 * top, 0.5 * top, 1e-3 / span]), np.array([top, 20 * top, 10.0])


class GompertzGrowth(GrowthModel):
    """Modified Gompertz (Zwietering 1990): parameters ``y0`` (baseline), ``A`` (amplitude),
    ``mu`` (maximum slope, y units per time unit) and ``lag``.

    >>> t = torch.linspace(0, 36, 13, dtype=torch.float64)
    >>> y = GompertzGrowth.curve(t, torch.tensor([0.01, 5.0, 0.3, 8.0], dtype=torch.float64))
    >>> round(GompertzGrowth().fit(t, y).param_dict()["A"], 2)
    5.0
    """

    param_names = ("y0", "A", "mu", "lag")
    name = "gompertz"
    curve = staticmethod(gompertz)

    @classmethod
    def initial_guesses(cls, t: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        top = float(y.max())
        span = float(t.max() - t.min()) or 1.0
        y0 = max(float(y.min()), 1e-4 * top)
        order = np.argsort(t)
        slope = float(np.max(np.diff(y[order]) / np.maximum(np.diff(t[order]), 1e-12)))
        slope = max(slope, 1e-3 * top / span)
        return [np.array([y0, 1.1 * top, slope, f * span]) for f in (0.1, 0.3)]

    @classmethod
    def default_bounds(cls, t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        top = float(y.max())
        span = float(t.max() - t.min()) or 1.0
        return (
            np.array([1e-3 * top, 0.1 * top, 1e-4 * top / span, 1e-3 * span]),
            np.array([max(top, 1e-6), 20.0 * top, 100.0 * top / span, 1.5 * span]),
        )


#: name -> growth model class
GROWTH_MODELS: dict[str, type[GrowthModel]] = {
    "baranyi": BaranyiGrowth,
    "logistic": LogisticGrowth,
    "gompertz": GompertzGrowth,
}


def get_growth_model(name: str | type[GrowthModel]) -> type[GrowthModel]:
    """The growth model class called ``name`` (``baranyi``, ``logistic``, ``gompertz``).

    >>> get_growth_model("gompertz").__name__
    'GompertzGrowth'
    """
    if isinstance(name, type) and issubclass(name, GrowthModel):
        return name
    try:
        return GROWTH_MODELS[str(name).lower()]
    except KeyError:
        raise InputDataError(
            f"unknown growth model {name!r}; choose one of: {', '.join(GROWTH_MODELS)}"
        ) from None
