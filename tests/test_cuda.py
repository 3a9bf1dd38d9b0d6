"""Key tests repeated on CUDA. Skipped (a real pytest skip) where no GPU is available."""

from __future__ import annotations

import pytest
import torch

from mfgp.data import ScaleUpData
from mfgp.models import available_models

from .model_contract import check_model_contract, skip_if_missing

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")


def test_data_on_cuda(mf_frame):
    data = ScaleUpData(mf_frame, target="C", device="cuda")
    assert data.X.is_cuda and data.Y.is_cuda
    train, test = data.holdout_largest(1)
    assert train.X.is_cuda and test.X.is_cuda
    tf, ot = data.standardizers()
    assert torch.allclose(tf.untransform(tf(data.X)), data.X)


@pytest.mark.parametrize("name", [m for m in available_models() if m != "hybrid"])
def test_model_contract_cuda(name, mf_frame, tmp_path):
    skip_if_missing(name)
    check_model_contract(name, mf_frame, device="cuda", tmp_path=tmp_path)


def test_cpu_and_cuda_agree(mf_frame):
    from mfgp.models import get_model

    preds = []
    for device in ("cpu", "cuda"):
        train, test = ScaleUpData(mf_frame, target="C", device=device).holdout_largest(1)
        model = get_model("gp", restarts=1).fit(train, seed=0)
        preds.append(model.predict(test.X).mean.cpu())
    assert torch.allclose(preds[0], preds[1], rtol=1e-4, atol=1e-4)
