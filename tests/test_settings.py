"""dtype, device and jitter settings."""

from __future__ import annotations

import pytest
import torch

from mfgp.exceptions import InputDataError
from mfgp.settings import (
    DEFAULT_DTYPE,
    check_same_dtype,
    jitter_ladder,
    resolve_device,
    resolve_dtype,
)


def test_defaults_and_ladders():
    assert DEFAULT_DTYPE == torch.float64
    for dtype in (torch.float32, torch.float64):
        ladder = jitter_ladder(dtype)
        assert ladder[0] == 0.0 and list(ladder) == sorted(ladder)
    assert jitter_ladder(torch.float32)[-1] > jitter_ladder(torch.float64)[-1]
    with pytest.raises(InputDataError):
        jitter_ladder(torch.int64)


def test_resolve_dtype_and_device():
    assert resolve_dtype(None) == torch.float64
    assert resolve_dtype("float32") == torch.float32
    assert resolve_dtype(torch.float64) == torch.float64
    with pytest.raises(InputDataError, match="unknown dtype"):
        resolve_dtype("int8")
    assert resolve_device(None).type == "cpu"
    with pytest.raises(InputDataError, match="unknown device"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_unavailable_message():
    with pytest.raises(InputDataError, match="CUDA is not available"):
        resolve_device("cuda")


def test_mixed_dtypes_raise():
    check_same_dtype(torch.zeros(1), None, torch.ones(2))
    with pytest.raises(InputDataError, match="mixed dtypes: X is torch.float32 but Y"):
        check_same_dtype(torch.zeros(1), torch.zeros(1, dtype=torch.float64), names=("X", "Y"))
