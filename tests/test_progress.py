"""Progress: bars on a terminal, one log line per outer step elsewhere, nothing with -q."""

from __future__ import annotations

import logging

import pytest

from mfgp import progress


@pytest.fixture(autouse=True)
def _reset():
    yield
    progress.configure(enabled=None)


def test_off_a_terminal_outer_steps_log_one_line_each(caplog):
    with caplog.at_level(logging.INFO, logger="mfgp.progress"):
        got = list(progress.steps(["gp", "ar1"], desc="fitting models"))
        inner = list(progress.steps(range(3), desc="restarts", leave=False))
    assert got == ["gp", "ar1"] and inner == [0, 1, 2]
    assert caplog.messages == ["fitting models [1/2]: gp", "fitting models [2/2]: ar1"]


def test_configure_off_shows_nothing(caplog):
    progress.configure(enabled=False)
    with caplog.at_level(logging.INFO, logger="mfgp.progress"):
        assert list(progress.steps(iter([1, 2]), desc="x")) == [1, 2]
    assert caplog.messages == []


def test_on_a_terminal_a_bar_is_drawn(monkeypatch, capsys):
    monkeypatch.setattr(progress, "_on_terminal", lambda: True)
    assert list(progress.steps(range(3), desc="demo", label=lambda i: f"item {i}")) == [0, 1, 2]
    err = capsys.readouterr().err
    assert "demo" in err and "3/3" in err
