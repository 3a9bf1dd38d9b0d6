"""Tests of the batched-posterior speed benchmark: its references, cells and files."""

from __future__ import annotations

import json

import pytest
import torch

from mfgp.models.ar1 import AR1MultiFidelityGP
from mfgp.test_functions import Borehole, make_problem

from .conftest import load_benchmark_script


@pytest.fixture(scope="module")
def sf():
    return load_benchmark_script("speed_posterior")


def test_dense_reference_matches_the_model(sf) -> None:
    """The benchmark's reference (one dense factorisation per batch element) gives the model's
    own joint and fantasy posteriors, so the timings compare equal outputs."""
    X, Y, _, _ = make_problem(Borehole(), (20, 4), seed=0, n_test=5)
    m = AR1MultiFidelityGP(restarts=1, maxiter=20).fit((X, Y), seed=0)
    m.eval()
    g = torch.Generator().manual_seed(1)
    Xq = torch.rand(4, 2, X.shape[-1], generator=g, dtype=X.dtype)  # 4: the fantasy batch
    Xq[..., -1] = 1.0
    joint = m.as_joint()
    cond = m.condition_on_observations(Xq[0, :1], torch.full((4, 1, 1), 80.0, dtype=X.dtype))
    for model in (joint, cond):
        with torch.no_grad():
            a, b = model.latent_posterior(Xq), sf.dense_latent(model, Xq)
        torch.testing.assert_close(a[0], b[0])
        torch.testing.assert_close(a[1], b[1])


def test_cells_and_results_files(sf, tmp_path) -> None:
    """A small run writes every cell for both methods, with agreeing outputs, and skips a
    reference cell over the memory bound instead of running it."""
    assert sf.main(["--sizes", "20", "--repeats", "1", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "speed_posterior.json").read_text())
    rows = data["rows"]
    assert {(r["cell"], r["method"]) for r in rows} == {
        (c, m) for c in sf.CELLS for m in ("mfgp", "before")
    }
    for r in rows:
        assert r["status"] == "ok" and r["seconds"] > 0
    assert all(r["max_abs_diff"] < 1e-6 for r in rows if r["method"] == "mfgp")
    assert (tmp_path / "speed_posterior.md").read_text().startswith("# Batched posterior")
    skipped = sf.run_size(20, 1, max_dense_gb=0.0)
    assert all(r["status"].startswith("skipped") for r in skipped if r["method"] == "before")
