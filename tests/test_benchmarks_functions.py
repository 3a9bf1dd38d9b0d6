"""Multi-fidelity test functions (known values), nested designs and make_problem."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mfgp.exceptions import InputDataError
from mfgp.test_functions import (
    FUNCTIONS,
    Borehole,
    Branin,
    Currin,
    Forrester,
    Hartmann3,
    NonlinearPair,
    Park,
    get_function,
    make_problem,
    nested_design,
)

from .conftest import DTYPES


def t(*rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_forrester_known_values():
    f = Forrester()
    x = t([0.0], [0.75], [1.0])
    high = f.evaluate(x, 1)
    assert high[0].item() == pytest.approx(3.0272, abs=1e-4)
    assert high[2].item() == pytest.approx(16 * math.sin(8), rel=1e-12)
    # pinned low fidelity: 0.5 f_H + 10 (x - 0.5) - 5 (not + 5)
    expected = 0.5 * high + 10 * (x[:, 0] - 0.5) - 5
    torch.testing.assert_close(f.evaluate(x, 0), expected)
    assert f.evaluate(t([0.0]), 0).item() == pytest.approx(0.5 * 3.0272 - 10, abs=1e-4)
    assert f.evaluate(x).equal(high)  # default level is the top one


def test_branin_three_minima_and_levels():
    f = Branin()
    x = t([-math.pi, 12.275], [math.pi, 2.275], [9.42478, 2.475])
    torch.testing.assert_close(
        f.evaluate(x, 2), torch.full((3,), 0.397887, dtype=torch.float64), atol=1e-5, rtol=0
    )
    # medium and low levels follow Perdikaris et al. (2017) sec. 3(c)
    xm = t([1.0, 5.0])
    fh_shift = f.evaluate(xm - 2, 2)
    fm = 10 * fh_shift.sqrt() + 2 * (1.0 - 0.5) - 3 * (3 * 5.0 - 1) - 1
    torch.testing.assert_close(f.evaluate(xm, 1), fm)
    fl = f.evaluate(1.2 * (xm + 2), 1) - 3 * 5.0 + 1
    torch.testing.assert_close(f.evaluate(xm, 0), fl)
    assert f.n_levels == 3 and not f.linear_correlation


def test_hartmann3_minimum_sign_and_levels():
    f = Hartmann3()
    xopt = t([0.114614, 0.555649, 0.852547])
    assert f.evaluate(xopt, 2).item() == pytest.approx(-3.86278, abs=1e-4)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(200, 3, generator=gen, dtype=torch.float64)
    assert (f.evaluate(x, 2) >= -3.86278 - 1e-5).all()
    # alpha_L = alpha_H + 2 delta, alpha_M = alpha_H + delta: the medium is the average
    torch.testing.assert_close(f.evaluate(x, 1), 0.5 * (f.evaluate(x, 0) + f.evaluate(x, 2)))


def test_park_reference_point_and_x3_squared():
    f = Park()
    x1, x2, x3, x4 = 0.3, 0.6, 0.8, 0.4
    ref = (x1 / 2) * (math.sqrt(1 + (x2 + x3**2) * x4 / x1**2) - 1) + (x1 + 3 * x4) * math.exp(
        1 + math.sin(x3)
    )
    assert f.evaluate(t([x1, x2, x3, x4]), 1).item() == pytest.approx(ref, rel=1e-12)
    low = (1 + math.sin(x1) / 10) * ref - 2 * x1 + x2**2 + x3**2 + 0.5
    assert f.evaluate(t([x1, x2, x3, x4]), 0).item() == pytest.approx(low, rel=1e-12)
    assert f.evaluate(t([0.5, 0.5, 0.5, 0.5]), 1).item() == pytest.approx(8.9261, abs=1e-4)
    assert torch.isfinite(f.evaluate(t([0.0, 0.5, 0.5, 0.5]), 1)).all()  # finite at x1 = 0


def test_borehole_reference_point():
    f = Borehole()
    x = [0.1, 25050.0, 89335.0, 1050.0, 89.55, 760.0, 1400.0, 10950.0]
    rw, r, tu, hu, tl, hl, length, kw = x
    lr = math.log(r / rw)

    def ref(a, b):
        return a * tu * (hu - hl) / (lr * (b + 2 * length * tu / (lr * rw**2 * kw) + tu / tl))

    assert f.evaluate(t(x), 1).item() == pytest.approx(ref(2 * math.pi, 1.0), rel=1e-12)
    assert f.evaluate(t(x), 0).item() == pytest.approx(ref(5.0, 1.5), rel=1e-12)
    assert f.bounds.shape == (2, 8)


def test_currin_low_is_shifted_average_and_clipped():
    f = Currin()
    x = t([0.5, 0.02])
    hi = lambda a, b: f.evaluate(t([a, b]), 1).item()  # noqa: E731
    expected = 0.25 * (hi(0.55, 0.07) + hi(0.55, 0.0) + hi(0.45, 0.07) + hi(0.45, 0.0))
    assert f.evaluate(x, 0).item() == pytest.approx(expected, rel=1e-12)
    # exp factor taken as 1 at x2 = 0
    num, den = 2300 * 0.125 + 1900 * 0.25 + 2092 * 0.5 + 60, 100 * 0.125 + 500 * 0.25 + 2 + 20
    assert hi(0.5, 0.0) == pytest.approx(num / den, rel=1e-12)


def test_nonlinear_pair():
    f = NonlinearPair()
    x = t([1 / 16], [0.3])
    torch.testing.assert_close(f.evaluate(x, 0)[0], torch.tensor(1.0, dtype=torch.float64))
    low = torch.sin(8 * math.pi * x[:, 0])
    torch.testing.assert_close(f.evaluate(x, 1), (x[:, 0] - math.sqrt(2)) * low**2)
    assert not f.linear_correlation


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_function_shapes_dtype_finite(name, dtype):
    f = get_function(name)
    assert f.name == name and f.bounds.shape == (2, f.dim)
    assert f.__doc__ and ("et al" in f.__doc__ or "(" in f.__doc__)  # a citation
    gen = torch.Generator().manual_seed(1)
    x = f.bounds[0] + torch.rand(50, f.dim, generator=gen, dtype=torch.float64) * (
        f.bounds[1] - f.bounds[0]
    )
    for level in range(f.n_levels):
        y = f.evaluate(x.to(dtype), level)
        assert y.shape == (50,) and y.dtype == dtype and torch.isfinite(y).all()
    with pytest.raises(InputDataError, match="levels"):
        f.evaluate(x, f.n_levels)
    with pytest.raises(InputDataError, match="expects x"):
        f.evaluate(torch.zeros(3, f.dim + 1, dtype=torch.float64))


def test_get_function_unknown():
    with pytest.raises(InputDataError, match="unknown test function"):
        get_function("rosenbrock")


def _is_subset(small: torch.Tensor, big: torch.Tensor) -> bool:
    return bool(((small.unsqueeze(1) == big.unsqueeze(0)).all(-1)).any(-1).all())


@pytest.mark.parametrize("method", ["sobol", "lhs"])
def test_nested_design_nested_reproducible_in_bounds(method):
    b = Branin().bounds
    d1 = nested_design((40, 20, 7), b, seed=3, method=method)
    d2 = nested_design((40, 20, 7), b, seed=3, method=method)
    d3 = nested_design((40, 20, 7), b, seed=4, method=method)
    assert [x.shape for x in d1] == [(40, 2), (20, 2), (7, 2)]
    for a, c in zip(d1, d2, strict=True):
        assert a.equal(c)
    assert not d1[0].equal(d3[0])
    assert _is_subset(d1[1], d1[0]) and _is_subset(d1[2], d1[1])
    for x in d1:
        assert (x >= b[0]).all() and (x <= b[1]).all()
        assert len(torch.unique(x, dim=0)) == len(x)


def test_nested_design_validation():
    b = Forrester().bounds
    with pytest.raises(InputDataError, match="non-increasing"):
        nested_design((5, 10), b)
    with pytest.raises(InputDataError, match="positive"):
        nested_design((5, 0), b)
    with pytest.raises(InputDataError, match="method"):
        nested_design((5, 2), b, method="grid")


@pytest.mark.parametrize("dtype", DTYPES)
def test_make_problem(dtype):
    X, Y, Xt, Yt = make_problem("hartmann3", (30, 15, 6), seed=2, n_test=100, dtype=dtype)
    assert X.shape == (51, 4) and Y.shape == (51, 1) and Xt.shape == (100, 4)
    assert Yt.shape == (100, 1) and X.dtype == dtype
    assert torch.bincount(X[:, -1].long()).tolist() == [30, 15, 6]
    assert (Xt[:, -1] == 2).all()
    lv = [X[X[:, -1] == k, :-1] for k in range(3)]
    assert _is_subset(lv[1], lv[0]) and _is_subset(lv[2], lv[1])
    f = Hartmann3()
    for k in range(3):
        rows = X[:, -1] == k
        torch.testing.assert_close(Y[rows, 0], f.evaluate(X[rows, :-1], k))
    torch.testing.assert_close(Yt[:, 0], f.evaluate(Xt[:, :-1], 2))
    again = make_problem("hartmann3", (30, 15, 6), seed=2, n_test=100, dtype=dtype)
    assert all(a.equal(b) for a, b in zip((X, Y, Xt, Yt), again, strict=True))


def test_make_problem_noise_and_validation():
    X, Y, _, Yt = make_problem(Forrester(), (20, 5), seed=0, noise_std=0.5, n_test=10)
    X0, Y0, _, Yt0 = make_problem(Forrester(), (20, 5), seed=0, n_test=10)
    assert X.equal(X0) and Yt.equal(Yt0)  # test values are noise-free
    resid = (Y - Y0).squeeze(-1).numpy()
    assert 0.2 < np.std(resid) < 1.0
    with pytest.raises(InputDataError, match="levels"):
        make_problem("branin", (20, 5))
    with pytest.raises(InputDataError, match="noise_std"):
        make_problem("forrester", (20, 5), noise_std=-1.0)


def test_matches_emukit_where_definitions_agree():
    """Borehole and Currin agree with Emukit; Park deliberately does not (Emukit's x2 + x3)."""
    mf = pytest.importorskip("emukit.test_functions.multi_fidelity")
    rng = np.random.default_rng(0)
    for ours, theirs in (
        (Borehole(), mf.multi_fidelity_borehole_function),
        (Currin(), mf.multi_fidelity_currin_function),
    ):
        fn, _ = theirs()
        b = ours.bounds.numpy()
        x = b[0] + rng.random((20, ours.dim)) * (b[1] - b[0])
        for level in range(2):
            np.testing.assert_allclose(
                ours.evaluate(torch.tensor(x), level).numpy(), fn.f[level](x).ravel(), rtol=1e-10
            )
