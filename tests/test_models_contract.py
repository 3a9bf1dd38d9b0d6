"""Every registered model meets the common interface contract (fit, predict, posterior,
observation noise, save/load) on a small two-fidelity problem, on the CPU."""

from __future__ import annotations

import pytest

from mfgp.models import available_models

from .model_contract import check_model_contract, skip_if_missing


@pytest.mark.parametrize("name", [m for m in available_models() if m != "hybrid"])
def test_model_contract_cpu(name, mf_frame, tmp_path):
    skip_if_missing(name)
    check_model_contract(name, mf_frame, device="cpu", tmp_path=tmp_path)
