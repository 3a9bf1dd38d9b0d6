"""Known answers of the end-point scaling law (mfgp.scaling.endpoint_law)."""

from __future__ import annotations

import math

import pytest
import torch

from mfgp.exceptions import InputDataError, NotFittedError
from mfgp.models.hybrid import select_surrogate_basis
from mfgp.scaling.bases import ScalingLawSurrogate
from mfgp.scaling.endpoint_law import (
    ENDPOINT_BASES,
    EndPointScalingLaw,
    build_surrogate,
    endpoint_link,
)

LN10 = math.log(10.0)


def power_law_data(
    volumes: tuple[float, ...] = (0.0, 1.0, 2.0, 3.0), runs: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise-free ``y = 6 V^-0.04 exp(0.002 rpm - 0.05 temp)``: columns log10 V, rpm, temp."""
    g = torch.Generator().manual_seed(7)
    lv = torch.tensor(volumes, dtype=torch.float64).repeat_interleave(runs)
    rpm = 200.0 + 400.0 * torch.rand(lv.shape, generator=g, dtype=torch.float64)
    temp = 30.0 + 7.0 * torch.rand(lv.shape, generator=g, dtype=torch.float64)
    return torch.stack([lv, rpm, temp], -1), truth(torch.stack([lv, rpm, temp], -1))


def truth(X: torch.Tensor) -> torch.Tensor:
    V = 10.0 ** X[..., 0]
    return 6.0 * V**-0.04 * torch.exp(0.002 * X[..., 1] - 0.05 * X[..., 2])


def test_recovers_power_law_and_linear_effects_exactly() -> None:
    X, y = power_law_data()
    law = EndPointScalingLaw("power", ridge=0.0).fit_features(X, y)
    c = law.coefficients()
    assert c["link"] == "log" and law.link_ == "log"
    assert c["intercept"] == pytest.approx(math.log(6.0), abs=1e-6)
    assert c["basis"] == pytest.approx([-0.04 * LN10], abs=1e-6)  # ln y per log10 V
    assert c["operating"] == pytest.approx([0.002, -0.05], abs=1e-6)
    # an unseen volume (10,000 L) at new operating points is predicted exactly
    Xq = torch.tensor([[4.0, 350.0, 33.0], [4.0, 550.0, 36.0]], dtype=torch.float64)
    torch.testing.assert_close(law(Xq), truth(Xq), rtol=1e-10, atol=0.0)


def test_default_ridge_is_small() -> None:
    """The default ridge (1e-3 per observation) moves well-determined coefficients by < 1 %."""
    X, y = power_law_data()
    law = EndPointScalingLaw().fit_features(X, y)
    c = law.coefficients()
    assert law.ridge == 1e-3
    assert c["basis"][0] == pytest.approx(-0.04 * LN10, rel=1e-2)
    assert c["operating"] == pytest.approx([0.002, -0.05], rel=1e-2)


def test_identity_link_when_a_value_is_not_positive() -> None:
    lv = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64).repeat_interleave(2)
    op = torch.tensor([1.0, -1.0] * 4, dtype=torch.float64)
    y = 1.0 - 0.6 * lv + 0.3 * op  # negative at the larger volumes
    assert endpoint_link(y) == "identity"
    law = EndPointScalingLaw(ridge=0.0).fit_features(torch.stack([lv, op], -1), y)
    c = law.coefficients()
    assert c["link"] == "identity"
    assert c["intercept"] == pytest.approx(1.0, abs=1e-9)
    assert c["basis"] == pytest.approx([-0.6], abs=1e-9)
    assert c["operating"] == pytest.approx([0.3], abs=1e-9)


def test_log_link_keeps_extrapolations_positive() -> None:
    """A titer falling steeply with scale stays positive far beyond the data under the log
    link; the identity link (a log law) goes negative."""
    lv = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64)
    y = torch.tensor([10.0, 7.0, 4.0, 1.5], dtype=torch.float64)
    far = torch.tensor([[5.0], [8.0]], dtype=torch.float64)
    auto = EndPointScalingLaw().fit_features(lv.unsqueeze(-1), y)
    assert auto.link_ == "log" and (auto(far) > 0).all()
    ident = EndPointScalingLaw(link="identity").fit_features(lv.unsqueeze(-1), y)
    assert (ident(far) < 0).all()


def test_shapes_dtype_gradient_and_batches() -> None:
    X, y = power_law_data()
    law = EndPointScalingLaw().fit_features(X, y)
    Xb = X.unsqueeze(0).expand(2, -1, -1).clone().requires_grad_(True)
    out = law(Xb)
    assert out.shape == (2, X.shape[0])
    (grad,) = torch.autograd.grad(out.sum(), Xb)
    assert torch.isfinite(grad).all() and (grad[..., 0] < 0).all()  # falls with volume
    assert law(X.float()).dtype == torch.float32


def test_config_round_trip_and_state_dict() -> None:
    X, y = power_law_data()
    law = EndPointScalingLaw("piecewise", knots=[1.5]).fit_features(X, y)
    cfg = law.get_config()
    assert cfg["kind"] == "endpoint" and cfg["operating_columns"] == [1, 2]
    again = build_surrogate(cfg)
    assert isinstance(again, EndPointScalingLaw)
    again.load_state_dict(law.state_dict())
    torch.testing.assert_close(again(X), law(X), rtol=0.0, atol=0.0)
    assert isinstance(build_surrogate({"growth": "logistic", "basis": "log"}), ScalingLawSurrogate)
    only_volume = EndPointScalingLaw(operating_columns=()).fit_features(X, y)
    assert only_volume.coefficients()["operating"] == []


def test_errors() -> None:
    X, y = power_law_data()
    with pytest.raises(NotFittedError):
        EndPointScalingLaw()(X)
    with pytest.raises(InputDataError, match="distinct volume"):
        EndPointScalingLaw().fit_features(X[:3], y[:3])  # one volume
    bad = y.clone()
    bad[4] = -1.0
    groups = [f"R{i}" for i in range(len(y))]
    with pytest.raises(InputDataError, match=r"runs \['R4'\]"):
        EndPointScalingLaw(link="log").fit_features(X, bad, groups=groups)
    bad[4] = float("nan")
    with pytest.raises(InputDataError, match="R4"):
        EndPointScalingLaw().fit_features(X, bad, groups=groups)
    with pytest.raises(InputDataError, match="operating_columns"):
        EndPointScalingLaw(operating_columns=[0])
    law = EndPointScalingLaw().fit_features(X, y)
    with pytest.raises(InputDataError, match="columns"):
        law(X[:, :2])


def test_basis_selection_finds_a_break_in_the_scaling() -> None:
    """``ln y`` bends at 100 L: leave-one-scale-out error picks the piecewise basis."""
    lv = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0], dtype=torch.float64).repeat_interleave(2)
    y = torch.exp(1.5 - 0.05 * lv - 0.3 * torch.clamp(lv - 2.0, min=0.0))
    best, scores = select_surrogate_basis(
        lv.unsqueeze(-1),
        y,
        candidates=ENDPOINT_BASES,
        surrogate_cls=EndPointScalingLaw,
        knots=[2.0],
        ridge=0.0,
    )
    assert best == "piecewise" and scores["piecewise"] < 1e-9 < scores["power"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda() -> None:
    X, y = power_law_data()
    law = EndPointScalingLaw().fit_features(X.cuda(), y.cuda()).cuda()
    out = law(X.cuda())
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu(), EndPointScalingLaw().fit_features(X, y)(X))


def test_collinear_columns_need_the_ridge() -> None:
    """Indicators of both levels of a factor are collinear: the default ridge copes, ridge=0
    says what is wrong."""
    lv = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64).repeat_interleave(2)
    a = torch.tensor([1.0, 0.0] * 4, dtype=torch.float64)
    X = torch.stack([lv, a, 1 - a], -1)
    y = 3.0 * (10**lv) ** -0.05 * (1 + 0.1 * a)
    law = EndPointScalingLaw().fit_features(X, y)
    torch.testing.assert_close(law(X), y, rtol=1e-2, atol=0.0)
    with pytest.raises(InputDataError, match="collinear"):
        EndPointScalingLaw(ridge=0.0).fit_features(X, y)
