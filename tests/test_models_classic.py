"""Tests of mfgp.models.classic: the classic parameter-scaling workflow."""

from __future__ import annotations

import pytest
import torch

from mfgp.exceptions import InputDataError
from mfgp.models import get_model, load_model
from mfgp.models.classic import BASES, ClassicScaling, basis_predictions, mixing_time_law
from mfgp.scaling.growth import baranyi, logistic

DTYPES = [torch.float64, torch.float32]


def planted(v: torch.Tensor) -> torch.Tensor:
    """Baranyi parameters (y0, ymax, mu, lag) that follow power laws in V (v = log10 V)."""
    return torch.stack(
        [
            0.2 * 10 ** (0.05 * v),
            20 * 10 ** (-0.1 * v),
            0.4 * 10 ** (-0.08 * v),
            4 * 10 ** (0.1 * v),
        ],
        -1,
    )


def curves(
    dtype: torch.dtype = torch.float64, *, noise: float = 0.0, curve=baranyi, low: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Time courses at 1 L to 1000 L (8 times each), top fidelity 1, optional level-0 rows."""
    v = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64)
    t = torch.linspace(0.0, 48.0, 8, dtype=torch.float64)
    V, T = (a.flatten() for a in torch.meshgrid(v, t, indexing="ij"))
    p = planted(V) if curve is baranyi else planted(V)[:, :3]
    y = curve(T, p)
    g = torch.Generator().manual_seed(5)
    y = y + noise * torch.randn(y.shape, generator=g, dtype=torch.float64)
    X = torch.stack([V, T, torch.ones_like(V)], -1)
    Y = y.unsqueeze(-1)
    if low:
        X0 = X.clone()
        X0[:, -1] = 0
        X, Y = torch.cat([X0, X]), torch.cat([0.5 * Y, Y])
    return X.to(dtype), Y.to(dtype)


def target_points(v: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    t = torch.linspace(0.0, 48.0, 7, dtype=dtype)
    return torch.stack([torch.full_like(t, v), t, torch.ones_like(t)], -1)


def test_recovers_planted_power_law_scaling() -> None:
    X, Y = curves()
    model = ClassicScaling().fit((X, Y))
    got = model.growth_parameters(1e4)
    want = planted(torch.tensor(4.0, dtype=torch.float64)).tolist()
    for name, w in zip(("y0", "ymax", "mu", "lag"), want, strict=True):
        assert got[name] == pytest.approx(w, rel=1e-4), name
    Xq = target_points(4.0)
    truth = baranyi(Xq[:, 1], planted(Xq[:, 0]))
    pred = model.predict(Xq)
    torch.testing.assert_close(pred.mean, truth, rtol=1e-4, atol=1e-4)
    # the weights lie on the simplex, on the exact bases (power law, piecewise log-linear)
    w = model.weights_
    torch.testing.assert_close(w.sum(-1), torch.ones(4, dtype=w.dtype))
    assert (w >= 0).all()
    exact = w[:, [BASES.index("power"), BASES.index("piecewise")]].sum(-1)
    assert (exact > 0.99).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_predict_save_load(dtype: torch.dtype, tmp_path) -> None:
    X, Y = curves(dtype, noise=0.05, curve=logistic, low=True)
    model = get_model("classic", growth="logistic").fit((X, Y), seed=0)
    Xq = torch.cat([X[-8:], target_points(4.0, dtype)])
    pred = model.predict(Xq)
    assert pred.mean.shape == pred.variance.shape == (Xq.shape[0],)
    assert pred.mean.dtype == dtype
    assert torch.isfinite(pred.mean).all() and (pred.variance > 0).all()
    noisy = model.predict(Xq, observation_noise=True)
    assert (noisy.variance > pred.variance).all()
    assert model.posterior(Xq.unsqueeze(0).expand(3, -1, -1)).mean.shape == (3, Xq.shape[0], 1)
    model.save(tmp_path / "classic")
    again = load_model(tmp_path / "classic").predict(Xq)
    assert torch.equal(again.mean, pred.mean) and torch.equal(again.variance, pred.variance)


def test_uncertainty_grows_with_extrapolation_and_same_seed() -> None:
    X, Y = curves(noise=0.05, curve=logistic)
    a = ClassicScaling(growth="logistic").fit((X, Y), seed=1)
    b = ClassicScaling(growth="logistic").fit((X, Y), seed=1)
    _, var = a.extrapolate(torch.tensor([3.5, 6.0], dtype=torch.float64))
    assert (var[1] > var[0]).all()  # log-parameter variance grows away from the data
    assert torch.equal(a.predict(target_points(5.0)).mean, b.predict(target_points(5.0)).mean)


def test_top_rows_only() -> None:
    X, Y = curves(noise=0.05, curve=logistic)
    X2, Y2 = curves(noise=0.05, curve=logistic, low=True)
    a = ClassicScaling(growth="logistic").fit((X, Y)).predict(target_points(4.0))
    b = ClassicScaling(growth="logistic").fit((X2, Y2)).predict(target_points(4.0))
    torch.testing.assert_close(a.mean, b.mean)


def test_bases_and_mixing_time_law() -> None:
    v = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    out = basis_predictions(v, torch.log(3.0 * 10 ** (0.2 * v)), torch.tensor([4.0]).double())
    assert out.shape == (1, len(BASES))
    assert out[0, BASES.index("power")].exp().item() == pytest.approx(3.0 * 10**0.8)
    # Grenville at constant P/V in geometrically similar squat tanks: theta ~ V^(2/9)
    assert mixing_time_law(torch.tensor(1.0, dtype=torch.float64)).item() == pytest.approx(
        10 ** (2 / 9), rel=1e-6
    )


def test_bad_input() -> None:
    X, Y = curves()
    two = X[:, 0] < 1.5
    with pytest.raises(InputDataError, match="3 distinct"):
        ClassicScaling().fit((X[two], Y[two]))
    with pytest.raises(InputDataError):
        ClassicScaling().fit((X[:, [0, 2]], Y))  # no time column
    with pytest.raises(InputDataError):
        ClassicScaling(growth="monod")
    with pytest.raises(InputDataError):
        ClassicScaling(bases=["cubic"])
    with pytest.raises(InputDataError):
        ClassicScaling(ridge=-1.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda(tmp_path) -> None:
    X, Y = (t.cuda() for t in curves(noise=0.05, curve=logistic))
    model = ClassicScaling(growth="logistic").fit((X, Y))
    pred = model.predict(target_points(4.0).cuda())
    assert pred.mean.device.type == "cuda" and torch.isfinite(pred.variance).all()
    model.save(tmp_path / "m")
    again = load_model(tmp_path / "m", device="cuda").predict(target_points(4.0).cuda())
    torch.testing.assert_close(again.mean, pred.mean)
