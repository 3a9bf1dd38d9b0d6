"""Peer adapters: one fit_predict interface; optional packages behind importorskip."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from mfbench.peers import (
    PEERS,
    BoTorchMultiFidelity,
    MFGPAdapter,
    _require,
    get_peer,
)

from mfgp.exceptions import InputDataError
from mfgp.models.nargp import NARGP
from mfgp.test_functions import make_problem


@pytest.fixture(scope="module")
def forrester():
    return make_problem("forrester", (24, 10), seed=0, n_test=60)


def _check(mean, var, Yt, bound):
    assert mean.shape == (60,) and var.shape == (60,)
    assert mean.dtype == torch.float64 and (var >= 0).all() and torch.isfinite(mean).all()
    nrmse = ((mean - Yt.squeeze(-1)).pow(2).mean().sqrt() / Yt.std()).item()
    assert nrmse < bound


def test_botorch_adapter(forrester):
    X, Y, Xt, Yt = forrester
    mean, var = BoTorchMultiFidelity(maxiter=30).fit_predict(X, Y, Xt, seed=0)
    _check(mean, var, Yt, 1.0)
    again = BoTorchMultiFidelity(maxiter=30).fit_predict(X, Y, Xt, seed=0)
    assert again[0].equal(mean)


def test_botorch_adapter_noise_free(forrester):
    """Noise-free by default: a known tiny observation variance, so the top level's training
    points are (nearly) interpolated; noise_free=False infers the noise as before."""
    X, Y, _, _ = forrester
    top = X[:, -1] == X[:, -1].max()
    mean, var = BoTorchMultiFidelity(maxiter=30).fit_predict(X, Y, X[top], seed=0)
    assert (var <= 1e-3 * Y[top].var()).all()
    assert (mean - Y[top].squeeze(-1)).abs().max() < 1e-2 * Y[top].std()
    mean, var = BoTorchMultiFidelity(maxiter=30, noise_free=False).fit_predict(X, Y, X[top], seed=0)
    assert mean.shape == (int(top.sum()),) and (var >= 0).all()


def test_mfgp_adapter_predicts_top_level(forrester):
    X, Y, Xt, Yt = forrester
    Xlow = Xt.clone()
    Xlow[:, -1] = 0  # the adapter predicts the top level whatever the fidelity column says
    adapter = MFGPAdapter("nargp", lambda: NARGP(restarts=1, maxiter=50, n_samples=30))
    mean, var = adapter.fit_predict(X, Y, Xlow, seed=0)
    _check(mean, var, Yt, 1.0)


def test_emukit_adapters_restore_numpy_state(forrester):
    pytest.importorskip("GPy")
    pytest.importorskip("emukit")
    X, Y, Xt, Yt = forrester
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    mean, var = get_peer("emukit_ar1", restarts=1).fit_predict(X, Y, Xt, seed=0)
    _check(mean, var, Yt, 0.2)
    mean, var = get_peer("emukit_nargp", restarts=1, n_samples=20).fit_predict(X, Y, Xt, seed=0)
    _check(mean, var, Yt, 0.3)
    assert np.array_equal(np.random.get_state()[1], before)
    # noise fixed at 0: the top level's training points are interpolated
    top = X[:, -1] == X[:, -1].max()
    mean, var = get_peer("emukit_ar1", restarts=1).fit_predict(X, Y, X[top], seed=0)
    assert (var <= 1e-3 * Y[top].var()).all()
    assert (mean - Y[top].squeeze(-1)).abs().max() < 1e-2 * Y[top].std()


def test_emukit_adapters_noise_free_defaults():
    """The tutorial's noise-free settings are the defaults (no fit: runs without the peers)."""
    for name in ("emukit_ar1", "emukit_nargp"):
        peer = get_peer(name)
        assert peer.noise_free and peer.restarts == 5, name
    assert get_peer("emukit_nargp").n_samples == 100
    assert get_peer("emukit_ar1", noise_free=False).noise_free is False


def test_smt_adapter(forrester):
    pytest.importorskip("smt")
    X, Y, Xt, Yt = forrester
    mean, var = get_peer("smt_mfk", n_start=2).fit_predict(X, Y, Xt, seed=0)
    _check(mean, var, Yt, 0.2)


def test_missing_package_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "smt", None)  # import smt now raises ImportError
    with pytest.raises(ImportError, match=r"mfgp\[peers\]"):
        _require("smt")
    X, Y, Xt, _ = make_problem("forrester", (6, 3), seed=0, n_test=5)
    with pytest.raises(ImportError, match=r"pip install 'mfgp\[peers\]'"):
        get_peer("smt_mfk").fit_predict(X, Y, Xt, seed=0)


def test_registry():
    assert set(PEERS) == {"botorch_stmf", "emukit_ar1", "emukit_nargp", "smt_mfk"}
    with pytest.raises(InputDataError, match="unknown peer"):
        get_peer("gpy_magic")
