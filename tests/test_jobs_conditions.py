"""The default production set point and the warnings where a request leaves the data."""

from __future__ import annotations

import pandas as pd
import pytest

from mfgp.data import ScaleUpData
from mfgp.exceptions import InputDataError
from mfgp.jobs.conditions import (
    carried_set_point,
    condition_warnings,
    harvest_time,
    set_point,
    stirrer_column,
)
from mfgp.scaling.criteria import Vessel, scale_up


def _data(rpm_col: str = "rpm") -> ScaleUpData:
    rows = []
    for v, rpms in ((2.0, (800.0, 900.0)), (20.0, (450.0, 500.0)), (200.0, (150.0, 170.0))):
        for i, rpm in enumerate(rpms):
            for t in (0.0, 24.0, 48.0):
                rows.append({"V": v, "t": t, rpm_col: rpm, "vvm": 1.0 + 0.1 * i, "C": 1 + t})
    return ScaleUpData(pd.DataFrame(rows), target="C")


def test_stirrer_columns_are_found_by_name():
    assert stirrer_column(["vvm", "rpm"]) == "rpm"
    assert stirrer_column(["Agitation (rpm)", "T"]) == "Agitation (rpm)"
    assert stirrer_column(["stirrer speed", "pH"]) == "stirrer speed"
    assert stirrer_column(["vvm", "feed"]) is None


def test_the_set_point_is_the_largest_scale_carried_at_constant_power_per_volume():
    data = _data()
    assert set_point(data) == (200.0, {"rpm": 160.0, "vvm": 1.05})
    assert harvest_time(data) == 48.0
    frame = carried_set_point(data, [20000.0])
    expected = float(scale_up(Vessel(200.0), 160.0, Vessel(20000.0), "constant-P/V").rpm)
    assert frame.loc[0, "rpm"] == pytest.approx(expected)
    assert frame.loc[0, "rpm"] < 160.0 and frame.loc[0, "vvm"] == 1.05
    assert frame.loc[0, "time_h"] == 48.0
    tip = carried_set_point(data, [20000.0], rule="constant tip speed").loc[0, "rpm"]
    assert tip < frame.loc[0, "rpm"]  # N ~ D^-1 falls faster than N ~ D^-2/3
    given = carried_set_point(data, [20000.0], at={"rpm": 60.0}, time_h=36.0)
    assert given.loc[0, "rpm"] == 60.0 and given.loc[0, "time_h"] == 36.0


def test_unit_bearing_stirrer_names_are_carried_too():
    frame = carried_set_point(_data("Agitation (rpm)"), [20000.0])
    assert frame.loc[0, "Agitation (rpm)"] < 160.0


def test_requests_outside_the_data_are_named():
    data = _data()
    asked = carried_set_point(data, [20000.0], at={"rpm": 40.0, "vvm": 1.0}, time_h=60.0)
    found = condition_warnings(data, asked)
    assert any("2.00 decades (100x) beyond the largest measured scale (200 L)" in w for w in found)
    assert any("rpm = 40 at 20000 L lies outside the measured range 150-900" in w for w in found)
    assert any("time 60 h lies beyond the longest measured run (48 h)" in w for w in found)
    inside = carried_set_point(data, [20.0], at={"rpm": 800.0})
    assert condition_warnings(data, inside) == [
        "rpm = 800 at 20 L lies outside the range 450-500 measured at that scale"
    ]
    assert condition_warnings(data, carried_set_point(data, [200.0])) == []


def test_bad_requests_are_one_line_errors():
    with pytest.raises(InputDataError, match="--at rmp: not an operating variable"):
        carried_set_point(_data(), [1000.0], at={"rmp": 100})
    with pytest.raises(InputDataError, match="positive litres"):
        carried_set_point(_data(), [-5.0])
