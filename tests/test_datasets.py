"""mfgp.datasets: the shipped data sets, found through importlib.resources."""

from __future__ import annotations

import pytest

from mfgp import datasets
from mfgp.data import ScaleUpData
from mfgp.exceptions import InputDataError


def test_every_shipped_data_set_loads_with_its_documented_target() -> None:
    assert datasets.names() == sorted(datasets.DESCRIPTIONS) == sorted(datasets.TARGETS)
    for name in datasets.names():
        path = datasets.file(name)
        assert path.is_file() and path.suffix == ".csv"
        frame = datasets.load(name)
        target, options = datasets.TARGETS[name]
        assert target in frame.columns and len(frame) > 10
        kwargs = {}
        if "--ignore" in options:
            kwargs["ignore"] = [options.split()[-1]]
        if "--categorical" in options:
            kwargs["categorical"] = [options.split()[-1]]
        data = ScaleUpData(path, target=target, **kwargs)
        assert len(data.volumes()) >= 3


def test_an_unknown_name_lists_the_shipped_ones() -> None:
    with pytest.raises(InputDataError, match="no shipped data set 'bioreactor'.*cho_endpoint"):
        datasets.file("bioreactor")
