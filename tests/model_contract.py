"""The contract every registered model must meet, shared by the CPU and CUDA test files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mfgp.data import ScaleUpData
from mfgp.models import get_model, load_model


def skip_if_missing(name: str) -> None:
    """Skip (a real pytest skip) when the model's optional package is not installed."""
    try:
        get_model(name)
    except ImportError as err:
        pytest.skip(f"{name}: {err}")


def check_model_contract(name: str, frame, *, device: str, tmp_path: Path) -> None:
    """Fit ``name`` on ``frame`` (two fidelities, run ids, one operating variable) on ``device``,
    hold out the largest volume, and check shapes, finiteness, device, posterior covariance and
    a save/load round trip."""
    data = ScaleUpData(frame, target="C", device=device)
    train, test = data.holdout_largest(1)
    model = get_model(name).fit(train, seed=0)
    pred = model.predict(test.X)
    n = len(test)
    assert pred.mean.shape == (n,) and pred.variance.shape == (n,)
    assert pred.mean.device.type == torch.device(device).type
    assert torch.isfinite(pred.mean).all() and (pred.variance > 0).all()
    assert (pred.lower <= pred.mean).all() and (pred.upper >= pred.mean).all()
    post = model.posterior(test.X[:5])
    assert post.mean.shape == (5, 1)
    noisy = model.predict(test.X, observation_noise=True)
    assert (noisy.variance >= pred.variance - 1e-9).all()
    model.save(tmp_path / name)
    loaded = load_model(tmp_path / name, device=device)
    again = loaded.predict(test.X)
    assert torch.allclose(again.mean, pred.mean, rtol=1e-5, atol=1e-6)
    choices = model.fit_choices()
    assert json.loads(json.dumps(choices)) == choices == loaded.fit_choices()
    # the seed fixes the whole fit, whatever the global RNG held before (building included)
    torch.rand(7)
    refit = get_model(name).fit(train, seed=0).predict(test.X)
    assert torch.allclose(refit.mean, pred.mean, rtol=1e-6, atol=1e-8)
    assert torch.allclose(refit.variance, pred.variance, rtol=1e-6, atol=1e-10)
