"""Multi-fidelity test functions, nested space-filling designs and benchmark problems.

Every function is a small frozen dataclass with ``dim``, ``bounds`` (``2 x dim``), ``n_levels``
(level 0 is the cheapest, ``n_levels - 1`` the truth), ``name``, ``linear_correlation`` (whether
the levels are related by the linear autoregressive model ``f_H = rho f_L + delta`` with a smooth
``delta``, used to group results) and ``evaluate(x, level) -> n`` in torch. ``x`` is ``n x dim`` in
the function's own units; the output follows ``x``'s dtype and device.

Definitions (pinned where libraries disagree, see ``DESIGN.md``):

- Forrester: Forrester, Sobester & Keane (2007), Proc. R. Soc. A 463:3251, as used by SMT and
  mf2: ``f_H = (6x - 2)^2 sin(12x - 4)``, ``f_L = 0.5 f_H + 10 (x - 0.5) - 5`` (minus 5, not
  plus 5) on ``[0, 1]``.
- Currin: Currin et al. (1991), J. Am. Stat. Assoc. 86:953; low fidelity of Xiong, Qian & Wu
  (2013), Technometrics 55:37: the average of ``f_H`` at the four points shifted by ``+-0.05``,
  with the shifted ``x2`` clipped at 0 and the ``exp`` factor taken as 1 for ``x2 <= 1e-8``.
- Park: Park (1991), PhD thesis, Stanford; Xiong et al. (2013): ``f_H = (x1/2)[sqrt(1 + (x2 +
  x3^2) x4 / x1^2) - 1] + (x1 + 3 x4) exp(1 + sin x3)`` (``x3`` squared, not ``x2 + x3``),
  ``f_L = (1 + sin(x1)/10) f_H - 2 x1 + x2^2 + x3^2 + 0.5`` on ``[0, 1]^4``. The first term is
  evaluated as ``(sqrt(x1^2 + (x2 + x3^2) x4) - x1) / 2``, equal for ``x1 > 0`` and finite at 0.
- Borehole: Harper & Gupta (1983); two levels of Xiong et al. (2013): ``a T_u (H_u - H_l) /
  (ln(r/r_w) [b + 2 L T_u / (ln(r/r_w) r_w^2 K_w) + T_u/T_l])`` with ``(a, b) = (2 pi, 1)`` for
  the high and ``(5, 1.5)`` for the low level.
- Branin, 3 levels: Perdikaris et al. (2017), Proc. R. Soc. A 473:20160751, sec. 3(c):
  ``f_M(x) = 10 sqrt(f_H(x - 2)) + 2 (x1 - 0.5) - 3 (3 x2 - 1) - 1``, ``f_L(x) = f_M(1.2 (x + 2))
  - 3 x2 + 1`` on ``[-5, 10] x [0, 15]``; ``f_H`` is the standard Branin function (minimum
  0.397887 at ``(-pi, 12.275)``, ``(pi, 2.275)``, ``(9.42478, 2.475)``).
- Hartmann-3, 3 levels (as in Emukit): ``f = -sum_i alpha_i exp(-sum_j A_ij (x_j - P_ij)^2)``
  (minus sign: the high level has its minimum -3.86278 at ``(0.114614, 0.555649, 0.852547)``),
  ``alpha_H = (1.0, 1.2, 3.0, 3.2)``, ``alpha_M = alpha_H + delta``, ``alpha_L = alpha_H + 2
  delta``, ``delta = (0.01, -0.01, -0.1, 0.1)``, on ``[0, 1]^3``.
- Nonlinear pair: Perdikaris et al. (2017), sec. 3(a): ``f_L = sin(8 pi x)``, ``f_H = (x -
  sqrt 2) f_L^2`` on ``[0, 1]``.

Designs are nested (each higher level's points are a subset of the level below, which is what the
recursive co-kriging of Le Gratiet & Garnier (2014) and NARGP assume): by default the prefixes of
one scrambled Sobol sequence (Owen 1998; ``scipy.stats.qmc.Sobol``), whose first ``n`` points are
themselves space-filling.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.stats import qmc
from torch import Tensor

from mfgp.exceptions import InputDataError

__all__ = [
    "DEFAULT_SIZES",
    "FUNCTIONS",
    "Borehole",
    "Branin",
    "Currin",
    "Forrester",
    "Hartmann3",
    "MultiFidelityFunction",
    "NonlinearPair",
    "Park",
    "get_function",
    "make_problem",
    "nested_design",
]


@dataclass(frozen=True)
class MultiFidelityFunction:
    """Base class: a deterministic function with ``n_levels`` fidelities.

    Subclasses define the class attributes and :meth:`_level`.

    Attributes:
        name: short identifier used in results tables.
        dim: number of inputs.
        n_levels: number of fidelities (0 = cheapest, ``n_levels - 1`` = truth).
        linear_correlation: whether consecutive levels follow ``f_k = rho f_{k-1} + delta_k`` with
            a smooth discrepancy (for grouping results only).
        lower: lower bounds of the inputs (length ``dim``).
        upper: upper bounds of the inputs (length ``dim``).
    """

    name: str = field(default="base", init=False)
    dim: int = field(default=1, init=False)
    n_levels: int = field(default=2, init=False)
    linear_correlation: bool = field(default=True, init=False)
    lower: tuple[float, ...] = field(default=(0.0,), init=False)
    upper: tuple[float, ...] = field(default=(1.0,), init=False)

    @property
    def bounds(self) -> Tensor:
        """``2 x dim`` float64 tensor of lower and upper bounds."""
        return torch.tensor([self.lower, self.upper], dtype=torch.float64)

    def evaluate(self, x: Tensor, level: int | None = None) -> Tensor:
        """Evaluate the function at ``x`` (``n x dim``) and fidelity ``level``.

        Args:
            x: ``n x dim`` inputs in the function's units (float32 or float64).
            level: fidelity index, ``0 .. n_levels - 1``; ``None`` means the top level.

        Returns:
            ``n`` values, with ``x``'s dtype and device.
        """
        level = self.n_levels - 1 if level is None else int(level)
        if not 0 <= level < self.n_levels:
            raise InputDataError(
                f"{self.name} has levels 0..{self.n_levels - 1}, got level {level}"
            )
        if not isinstance(x, Tensor):
            x = torch.as_tensor(x, dtype=torch.float64)
        if x.dim() == 1 and self.dim == 1:
            x = x.unsqueeze(-1)
        if x.dim() != 2 or x.shape[-1] != self.dim:
            raise InputDataError(
                f"{self.name} expects x of shape n x {self.dim}, got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            x = x.to(torch.float64)
        return self._level(x, level)

    def __call__(self, x: Tensor, level: int | None = None) -> Tensor:
        return self.evaluate(x, level)

    def _level(self, x: Tensor, level: int) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Forrester(MultiFidelityFunction):
    """Forrester function, 1D, two levels (Forrester et al. 2007, as used by SMT and mf2).

    ``f_H = (6x - 2)^2 sin(12x - 4)``; the low level is pinned to
    ``f_L = 0.5 f_H + 10 (x - 0.5) - 5`` (some libraries use ``+ 5``).

    >>> round(Forrester().evaluate(torch.zeros(1, 1)).item(), 4)
    3.0272
    """

    name: str = field(default="forrester", init=False)
    dim: int = field(default=1, init=False)
    n_levels: int = field(default=2, init=False)
    linear_correlation: bool = field(default=True, init=False)
    lower: tuple[float, ...] = field(default=(0.0,), init=False)
    upper: tuple[float, ...] = field(default=(1.0,), init=False)

    def _level(self, x: Tensor, level: int) -> Tensor:
        x1 = x[:, 0]
        high = (6 * x1 - 2) ** 2 * torch.sin(12 * x1 - 4)
        return high if level == 1 else 0.5 * high + 10 * (x1 - 0.5) - 5


def _currin_high(x1: Tensor, x2: Tensor) -> Tensor:
    safe = torch.where(x2 > 1e-8, x2, torch.ones_like(x2))
    factor = torch.where(x2 > 1e-8, 1 - torch.exp(-1 / (2 * safe)), torch.ones_like(x2))
    num = 2300 * x1**3 + 1900 * x1**2 + 2092 * x1 + 60
    den = 100 * x1**3 + 500 * x1**2 + 4 * x1 + 20
    return factor * num / den


@dataclass(frozen=True)
class Currin(MultiFidelityFunction):
    """Currin exponential function, 2D, two levels (Currin et al. 1991; Xiong et al. 2013).

    >>> f = Currin()
    >>> f.evaluate(torch.tensor([[0.5, 0.5]]), 1).shape
    torch.Size([1])
    """

    name: str = field(default="currin", init=False)
    dim: int = field(default=2, init=False)
    n_levels: int = field(default=2, init=False)
    linear_correlation: bool = field(default=True, init=False)
    lower: tuple[float, ...] = field(default=(0.0, 0.0), init=False)
    upper: tuple[float, ...] = field(default=(1.0, 1.0), init=False)

    def _level(self, x: Tensor, level: int) -> Tensor:
        x1, x2 = x[:, 0], x[:, 1]
        if level == 1:
            return _currin_high(x1, x2)
        x2m = (x2 - 0.05).clamp_min(0.0)
        return 0.25 * (
            _currin_high(x1 + 0.05, x2 + 0.05)
            + _currin_high(x1 + 0.05, x2m)
            + _currin_high(x1 - 0.05, x2 + 0.05)
            + _currin_high(x1 - 0.05, x2m)
        )


@dataclass(frozen=True)
class Park(MultiFidelityFunction):
    """Park function, 4D, two levels (Park 1991; Xiong et al. 2013).

    >>> round(Park().evaluate(torch.full((1, 4), 0.5)).item(), 4)
    8.9261
    """

    name: str = field(default="park", init=False)
    dim: int = field(default=4, init=False)
    n_levels: int = field(default=2, init=False)
    linear_correlation: bool = field(default=True, init=False)
    lower: tuple[float, ...] = field(default=(0.0, 0.0, 0.0, 0.0), init=False)
    upper: tuple[float, ...] = field(default=(1.0, 1.0, 1.0, 1.0), init=False)

    def _level(self, x: Tensor, level: int) -> Tensor:
        x1, x2, x3, x4 = x.unbind(-1)
        # (x1/2)[sqrt(1 + (x2 + x3^2) x4 / x1^2) - 1], rewritten to be finite at x1 = 0
        first = 0.5 * (torch.sqrt(x1**2 + (x2 + x3**2) * x4) - x1)
        high = first + (x1 + 3 * x4) * torch.exp(1 + torch.sin(x3))
        if level == 1:
            return high
        return (1 + torch.sin(x1) / 10) * high - 2 * x1 + x2**2 + x3**2 + 0.5


@dataclass(frozen=True)
class Borehole(MultiFidelityFunction):
    """Borehole water-flow function, 8D, two levels (Harper & Gupta 1983; Xiong et al. 2013).

    Inputs, in order: ``r_w, r, T_u, H_u, T_l, H_l, L, K_w``.

    >>> x = Borehole().bounds.mean(0, keepdim=True)
    >>> Borehole().evaluate(x, 1).item() > Borehole().evaluate(x, 0).item()
    True
    """

    name: str = field(default="borehole", init=False)
    dim: int = field(default=8, init=False)
    n_levels: int = field(default=2, init=False)
    linear_correlation: bool = field(default=True, init=False)
    lower: tuple[float, ...] = field(
        default=(0.05, 100.0, 63070.0, 990.0, 63.1, 700.0, 1120.0, 9855.0), init=False
    )
    upper: tuple[float, ...] = field(
        default=(0.15, 50000.0, 115600.0, 1110.0, 116.0, 820.0, 1680.0, 12045.0), init=False
    )

    def _level(self, x: Tensor, level: int) -> Tensor:
        rw, r, tu, hu, tl, hl, length, kw = x.unbind(-1)
        a, b = (2 * math.pi, 1.0) if level == 1 else (5.0, 1.5)
        log_ratio = torch.log(r / rw)
        den = log_ratio * (b + 2 * length * tu / (log_ratio * rw**2 * kw) + tu / tl)
        return a * tu * (hu - hl) / den


def _branin(x1: Tensor, x2: Tensor) -> Tensor:
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    t = 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * torch.cos(x1) + 10


@dataclass(frozen=True)
class Branin(MultiFidelityFunction):
    """Branin function, 2D, three levels (Perdikaris et al. 2017, sec. 3(c)).

    Level 2 is the standard Branin function, level 1 ``f_M`` and level 0 ``f_L`` (module
    docstring). The medium level involves ``sqrt(f_H(x - 2))``: not a linear correlation.

    >>> round(Branin().evaluate(torch.tensor([[math.pi, 2.275]]), 2).item(), 6)
    0.397887
    """

    name: str = field(default="branin", init=False)
    dim: int = field(default=2, init=False)
    n_levels: int = field(default=3, init=False)
    linear_correlation: bool = field(default=False, init=False)
    lower: tuple[float, ...] = field(default=(-5.0, 0.0), init=False)
    upper: tuple[float, ...] = field(default=(10.0, 15.0), init=False)

    @staticmethod
    def _medium(x1: Tensor, x2: Tensor) -> Tensor:
        high = _branin(x1 - 2, x2 - 2)
        return 10 * torch.sqrt(high) + 2 * (x1 - 0.5) - 3 * (3 * x2 - 1) - 1

    def _level(self, x: Tensor, level: int) -> Tensor:
        x1, x2 = x[:, 0], x[:, 1]
        if level == 2:
            return _branin(x1, x2)
        if level == 1:
            return self._medium(x1, x2)
        return self._medium(1.2 * (x1 + 2), 1.2 * (x2 + 2)) - 3 * x2 + 1


_H3_A = ((3.0, 10.0, 30.0), (0.1, 10.0, 35.0), (3.0, 10.0, 30.0), (0.1, 10.0, 35.0))
_H3_P = (
    (0.3689, 0.1170, 0.2673),
    (0.4699, 0.4387, 0.7470),
    (0.1091, 0.8732, 0.5547),
    (0.0381, 0.5743, 0.8828),
)
_H3_ALPHA = (1.0, 1.2, 3.0, 3.2)
_H3_DELTA = (0.01, -0.01, -0.1, 0.1)


@dataclass(frozen=True)
class Hartmann3(MultiFidelityFunction):
    """Hartmann-3 function, three levels (as in Emukit's ``multi_fidelity_hartmann_3d``).

    Sign convention: ``f = -sum alpha_i exp(...)``, so the top level's minimum is -3.86278.

    >>> x = torch.tensor([[0.114614, 0.555649, 0.852547]])
    >>> round(Hartmann3().evaluate(x, 2).item(), 4)
    -3.8628
    """

    name: str = field(default="hartmann3", init=False)
    dim: int = field(default=3, init=False)
    n_levels: int = field(default=3, init=False)
    linear_correlation: bool = field(default=True, init=False)
    lower: tuple[float, ...] = field(default=(0.0, 0.0, 0.0), init=False)
    upper: tuple[float, ...] = field(default=(1.0, 1.0, 1.0), init=False)

    def _level(self, x: Tensor, level: int) -> Tensor:
        A = torch.tensor(_H3_A, dtype=x.dtype, device=x.device)
        P = torch.tensor(_H3_P, dtype=x.dtype, device=x.device)
        steps = self.n_levels - 1 - level  # 0 for the top level, 2 for the lowest
        alpha = torch.tensor(
            [a + steps * d for a, d in zip(_H3_ALPHA, _H3_DELTA, strict=True)],
            dtype=x.dtype,
            device=x.device,
        )
        inner = (A * (x.unsqueeze(-2) - P) ** 2).sum(-1)  # n x 4
        return -(alpha * torch.exp(-inner)).sum(-1)


@dataclass(frozen=True)
class NonlinearPair(MultiFidelityFunction):
    """Nonlinear pair of Perdikaris et al. (2017), sec. 3(a), 1D, two levels.

    ``f_L = sin(8 pi x)``, ``f_H = (x - sqrt 2) f_L^2``: the high level is a nonlinear (quadratic,
    input-dependent) transformation of the low level, which defeats the linear AR1 model.

    >>> NonlinearPair().evaluate(torch.tensor([[0.0625]]), 0).item()
    1.0
    """

    name: str = field(default="nonlinear_pair", init=False)
    dim: int = field(default=1, init=False)
    n_levels: int = field(default=2, init=False)
    linear_correlation: bool = field(default=False, init=False)
    lower: tuple[float, ...] = field(default=(0.0,), init=False)
    upper: tuple[float, ...] = field(default=(1.0,), init=False)

    def _level(self, x: Tensor, level: int) -> Tensor:
        x1 = x[:, 0]
        low = torch.sin(8 * math.pi * x1)
        return low if level == 0 else (x1 - math.sqrt(2)) * low**2


#: name -> function class, for ``--problems`` flags.
FUNCTIONS: dict[str, type[MultiFidelityFunction]] = {
    cls.name: cls for cls in (Forrester, Currin, Park, Borehole, Branin, Hartmann3, NonlinearPair)
}


def get_function(name: str) -> MultiFidelityFunction:
    """Instantiate a test function by name.

    >>> get_function("forrester").n_levels
    2
    """
    try:
        return FUNCTIONS[name]()
    except KeyError:
        raise InputDataError(
            f"unknown test function {name!r}; choose one of: {', '.join(sorted(FUNCTIONS))}"
        ) from None


def _greedy_maximin(points: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` rows of ``points`` chosen greedily to maximise the minimum distance."""
    chosen = [int(rng.integers(len(points)))]
    dist = np.linalg.norm(points - points[chosen[0]], axis=1)
    while len(chosen) < n:
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(points - points[nxt], axis=1))
    return np.sort(np.asarray(chosen))


def nested_design(
    n_per_level: Sequence[int],
    bounds: Tensor,
    *,
    seed: int = 0,
    method: str = "sobol",
    dtype: torch.dtype = torch.float64,
) -> list[Tensor]:
    """Seeded, nested space-filling designs, one per level (low to high).

    Each higher level's points are a subset of the level below. With ``method="sobol"`` the
    level-``k`` design is the first ``n_k`` points of one scrambled Sobol sequence; with
    ``method="lhs"`` the lowest level is an optimised Latin hypercube and each higher level is a
    greedy maximin subset of the level below.

    Args:
        n_per_level: points per level, from the lowest to the highest, non-increasing.
        bounds: ``2 x d`` lower and upper bounds.
        seed: seed of the scrambling / hypercube and of the maximin start.
        method: ``"sobol"`` (default) or ``"lhs"``.
        dtype: dtype of the returned tensors.

    Returns:
        a list of ``n_k x d`` tensors, level 0 first.

    >>> X0, X1 = nested_design((8, 3), torch.tensor([[0.0], [1.0]]), seed=1)
    >>> bool(all((X0 == x).all(-1).any() for x in X1))
    True
    """
    ns = [int(n) for n in n_per_level]
    if not ns or min(ns) < 1:
        raise InputDataError(f"n_per_level must hold positive integers, got {tuple(n_per_level)}")
    if any(b > a for a, b in zip(ns, ns[1:], strict=False)):
        raise InputDataError(
            f"n_per_level must be non-increasing from the lowest level up (nested designs), "
            f"got {tuple(ns)}"
        )
    bounds = torch.as_tensor(bounds, dtype=torch.float64)
    d = bounds.shape[-1]
    lo, hi = bounds[0].numpy(), bounds[1].numpy()
    if method == "sobol":
        sampler = qmc.Sobol(d, scramble=True, seed=np.random.default_rng(seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # balance warning for n != 2^m
            unit = sampler.random(ns[0])
        idx = [np.arange(n) for n in ns]
    elif method == "lhs":
        rng = np.random.default_rng(seed)
        unit = qmc.LatinHypercube(d, optimization="random-cd", seed=rng).random(ns[0])
        idx = [np.arange(ns[0])]
        for n in ns[1:]:
            parent = idx[-1]
            idx.append(parent[_greedy_maximin(unit[parent], n, rng)])
    else:
        raise InputDataError(f"method must be 'sobol' or 'lhs', got {method!r}")
    pts = lo + unit * (hi - lo)
    return [torch.as_tensor(pts[i], dtype=dtype) for i in idx]


def make_problem(
    fn: MultiFidelityFunction | str,
    n_per_level: Sequence[int] = (50, 10),
    seed: int = 0,
    noise_std: float = 0.0,
    n_test: int = 1000,
    *,
    method: str = "sobol",
    dtype: torch.dtype = torch.float64,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Training data at every level (nested design) and test data at the top level.

    Args:
        fn: a test function or its name.
        n_per_level: training points per level, lowest level first; its length must equal
            ``fn.n_levels``.
        seed: seed of the design, the noise and the test points.
        noise_std: standard deviation of Gaussian noise added to the training outputs, in the
            units of the function (the test outputs are noise-free).
        n_test: number of test points (a seeded Latin hypercube, independent of the design).
        method: design method of :func:`nested_design`.
        dtype: dtype of the returned tensors.

    Returns:
        ``train_X`` (``N x (d + 1)``, fidelity index last), ``train_Y`` (``N x 1``),
        ``test_X`` (``n_test x (d + 1)``, all at the top level), ``test_Y`` (``n_test x 1``).

    >>> tX, tY, sX, sY = make_problem("forrester", (6, 3), seed=0, n_test=5)
    >>> tX.shape, tY.shape, sX.shape, sX[:, -1].unique().item()
    (torch.Size([9, 2]), torch.Size([9, 1]), torch.Size([5, 2]), 1.0)
    """
    f = get_function(fn) if isinstance(fn, str) else fn
    if len(n_per_level) != f.n_levels:
        raise InputDataError(
            f"{f.name} has {f.n_levels} levels but n_per_level has {len(n_per_level)} entries"
        )
    if noise_std < 0:
        raise InputDataError(f"noise_std must be >= 0, got {noise_std}")
    designs = nested_design(n_per_level, f.bounds, seed=seed, method=method, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    xs, ys = [], []
    for level, Xk in enumerate(designs):
        yk = f.evaluate(Xk, level)
        if noise_std > 0:
            yk = yk + noise_std * torch.randn(yk.shape, generator=gen, dtype=yk.dtype)
        xs.append(torch.cat([Xk, torch.full((len(Xk), 1), float(level), dtype=Xk.dtype)], -1))
        ys.append(yk.unsqueeze(-1))
    lo, hi = f.bounds[0].numpy(), f.bounds[1].numpy()
    test_rng = np.random.default_rng([seed, 7919])
    unit = qmc.LatinHypercube(f.dim, seed=test_rng).random(n_test)
    Xt = torch.as_tensor(lo + unit * (hi - lo), dtype=torch.float64)
    Yt = f.evaluate(Xt, f.n_levels - 1).unsqueeze(-1)
    Xt = torch.cat([Xt, torch.full((n_test, 1), float(f.n_levels - 1), dtype=Xt.dtype)], -1)
    out = (torch.cat(xs), torch.cat(ys), Xt, Yt)
    return tuple(t.to(dtype) for t in out)  # type: ignore[return-value]


#: Convenience for scripts: the per-level sizes used by ``benchmarks/accuracy_test_functions.py``.
DEFAULT_SIZES: dict[str, tuple[int, ...]] = {
    "forrester": (50, 10),
    "nonlinear_pair": (50, 10),
    "currin": (80, 20),
    "park": (80, 20),
    "hartmann3": (80, 40, 20),
    "branin": (80, 40, 20),
    "borehole": (200, 40),
}
