"""``mfgp run`` and ``mfgp suggest`` write their output folder whole or not at all: reruns
replace it, failures and Ctrl-C leave it exactly as it was, bad destinations are refused before
any fitting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mfgp import acquisition, datasets
from mfgp.cli import main
from mfgp.exceptions import InputDataError

ROOT = Path(__file__).resolve().parents[1]
DATA = datasets.file("bioreactor_scales")
QUICK = ["--target", "C", "--model", "gp", "--model-option", "restarts=1"]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


@pytest.fixture
def earlier(tmp_path) -> tuple[Path, dict[str, bytes]]:
    """An output folder of an earlier run, with a stale file a new run must not keep."""
    out = tmp_path / "out"
    assert main(["-q", "run", "--data", str(DATA), *QUICK, "--out", str(out)]) == 0
    (out / "figures" / "predictions_old_model.png").write_bytes(b"stale")
    return out, _snapshot(out)


def test_rerun_replaces_the_folder_whole(earlier):
    out, before = earlier
    assert main(["-q", "run", "--data", str(DATA), *QUICK, "--out", str(out)]) == 0
    after = _snapshot(out)
    assert "figures/predictions_old_model.png" not in after
    assert set(before) - set(after) == {"figures/predictions_old_model.png"}
    assert not _leftovers(out.parent)


def test_failure_after_fitting_leaves_the_earlier_folder(earlier, monkeypatch, capsys):
    out, before = earlier

    def broken(*args, **kwargs):
        raise InputDataError("the suggestion step broke")

    monkeypatch.setattr(acquisition, "suggest", broken)
    argv = ["run", "--data", str(DATA), *QUICK, "--out", str(out), "--suggest-costs", "lab=1"]
    assert main(argv) == 2
    assert capsys.readouterr().err.splitlines()[-1] == "error: the suggestion step broke"
    assert _snapshot(out) == before
    assert not _leftovers(out.parent)


def _a_file(t: Path) -> Path:
    (t / "f.csv").write_text("x")
    return t / "f.csv"


def _under_a_file(t: Path) -> Path:
    return _a_file(t) / "sub"


def _a_folder_of_other_files(t: Path) -> Path:
    (t / "d").mkdir()
    (t / "d" / "notes.txt").write_text("x")
    return t / "d"


@pytest.mark.parametrize(
    ("make_out", "words"),
    [
        (_a_file, "is a file"),
        (_under_a_file, "is a file, not a folder"),
        (_a_folder_of_other_files, "did not write"),
    ],
)
def test_bad_out_is_refused_before_fitting(tmp_path, capsys, make_out, words):
    out = make_out(tmp_path)
    t0 = time.perf_counter()
    rc = main(["run", "--data", str(DATA), "--target", "C", "--model", "ar1", "--out", str(out)])
    assert rc == 2 and time.perf_counter() - t0 < 5  # refused, not fitted first
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and words in err
    assert "Traceback" not in err


def test_suggest_refuses_a_file_as_out(tmp_path, capsys):
    out = tmp_path / "f.csv"
    out.write_text("keep")
    argv = ["suggest", "--data", str(DATA), "--target", "C", "--costs", "lab=1", "--out", str(out)]
    assert main(argv) == 2
    assert "is a file" in capsys.readouterr().err
    assert out.read_text() == "keep"


def test_ctrl_c_during_fitting_exits_130_and_keeps_the_folder(earlier):
    out, before = earlier
    argv = [sys.executable, "-m", "mfgp.cli", "run", "--data", str(DATA), "--target", "C"]
    argv += ["--model", "ar1,nargp,hybrid", "--out", str(out)]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while not [p for p in out.parent.iterdir() if ".tmp-" in p.name]:  # fitting has started
        assert proc.poll() is None, proc.communicate()[1].decode()
        assert time.monotonic() < deadline, "no temporary output folder appeared"
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 130
    assert lines[-1].startswith("interrupted:") and "Traceback" not in err.decode()
    assert _snapshot(out) == before
    assert not _leftovers(out.parent)
