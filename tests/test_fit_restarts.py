"""The restart-and-optimise path shared by the GP models (mfgp.fit.restarts)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mfgp.exceptions import ModelFittingError, NumericalWarning
from mfgp.fit import fit_with_restarts, seeded, stream, torch_lbfgs


class _Quartic(nn.Module):
    """Loss (x^2 - 1)^2 + 0.1 x: two minima, the deeper one near x = -1."""

    def __init__(self) -> None:
        super().__init__()
        self.x = nn.Parameter(torch.tensor(1.2, dtype=torch.float64))

    def loss(self) -> torch.Tensor:
        return (self.x**2 - 1) ** 2 + 0.1 * self.x


def test_restarts_keep_the_best_start() -> None:
    m = _Quartic()
    starts = [1.2, -1.3, 0.9]

    def start(r: int) -> None:
        with torch.no_grad():
            m.x.fill_(starts[r])

    best = fit_with_restarts(
        m, m.loss, restarts=3, maxiter=50, start=start, what="quartic", hint="none"
    )
    assert m.x.item() == pytest.approx(-1.0, abs=0.05)  # the deeper minimum, from start 1
    assert best == pytest.approx(m.loss().item())
    # one start from the shallow side stays in the shallow minimum
    fit_with_restarts(m, m.loss, restarts=1, maxiter=50, start=start, what="q", hint="none")
    assert m.x.item() > 0


def test_failed_restarts_warn_and_all_failing_raise() -> None:
    m = _Quartic()
    calls = []

    def start(r: int) -> None:
        calls.append(r)

    def bad(params, loss, maxiter) -> None:  # an optimiser that always fails numerically
        raise RuntimeError("not positive definite")

    with pytest.warns(NumericalWarning, match="restart [01] failed"):
        with pytest.raises(ModelFittingError, match="all 2 restarts.*rescale it"):
            fit_with_restarts(
                m, m.loss, restarts=2, maxiter=5, start=start, optimise=bad, what="q",
                hint="rescale it",
            )  # fmt: skip
    assert calls == [0, 1]


def test_maxiter_zero_evaluates_the_start_and_reset_restores_it() -> None:
    m = _Quartic()
    seen = []

    def start(r: int) -> None:
        seen.append(m.x.item())

    fit_with_restarts(m, m.loss, restarts=2, maxiter=0, start=start, what="q", hint="-")
    assert seen == [1.2, 1.2] and m.x.item() == 1.2
    torch_lbfgs([m.x], m.loss, 30)
    assert m.x.item() == pytest.approx(0.96, abs=0.03)  # the shallow minimum


def test_seeding_is_reproducible_and_leaves_the_global_generator_alone() -> None:
    before = torch.random.get_rng_state()
    with seeded(3):
        a = torch.rand(3)
    with seeded(3):
        b = torch.rand(3)
    assert torch.equal(a, b)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.equal(
        torch.rand(2, generator=stream(2, 7, 1)), torch.rand(2, generator=stream(2, 7, 1))
    )
    assert not torch.equal(
        torch.rand(2, generator=stream(2, 7, 1)), torch.rand(2, generator=stream(2, 7, 2))
    )
