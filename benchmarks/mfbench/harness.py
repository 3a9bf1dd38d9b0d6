"""Benchmark harness: problems x models x seeds x splits, one tidy results schema, resumable.

A sweep is a list of :class:`Cell` s, one per ``(problem, model, seed, split)``. Each cell fits one
model on one training split and evaluates it on the held-out top-level rows; it returns tidy rows
with the columns of :data:`SCHEMA`::

    problem, model, seed, split, volume, metric, value, fit_seconds, predict_seconds, device,
    versions

``volume`` is a test volume in litres (``"%g"``), or ``"all"`` for the pooled test set; ``metric``
is one of :data:`mfgp.metrics.METRIC_NAMES`, ``srmse`` (RMSE over the standard deviation of all
top-level values of the problem: one scale for every volume, defined for single-point volumes), or
a bookkeeping row (``n_test``, ``n_train_top``, ``v_train_max``, ``ratio`` = V_test / V_max_train,
``failed:ErrorType`` for a model that raised, and the closing ``cell_rows``).

Splits (strings, so cells stay small and picklable):

- ``extrap:V``: train on every lower-fidelity row (all volumes) and on the top-level rows at
  volumes ``<= V``; test on the top-level rows at every larger volume (extrapolation versus
  volume; one split per measured volume but the largest, see :func:`extrapolation_splits`);
- ``loso:V``: leave one scale out (test on the top-level rows at ``V``, train on the rest);
- ``runs:N``: learning curve: ``N`` top-level runs drawn (by ``run_id``, seeded, nested in ``N``)
  from the non-production volumes; test on the production volumes;
- ``speed:N0xN1[xN2]``: a test function (:func:`mfgp.test_functions.make_problem`) with
  ``N_k`` nested points per level; fit and predict time and accuracy on 500 test points.

Models are registered mfgp model names (:func:`mfgp.available_models`) or peer names from
:data:`mfbench.peers.PEERS` (optionally prefixed ``peer:``); peers run on exactly the same
designs in the same worker. mfgp models are evaluated with ``observation_noise=True`` (intervals
for a new measurement, as ``mfgp run`` does) and scored (NLPD, CRPS, bounds) under their own
predictive distribution (log-normal, mixture over hyperparameter draws or Monte Carlo paths,
...); peers return the latent top level's mean and variance only, scored as Gaussians.

Runs in parallel with joblib (``backend="joblib"``) or on a Dask cluster (``backend="dask"``,
``scheduler="tcp://..."`` or a ``distributed.Client``). Every finished cell is appended to the
results CSV at once (one write, flushed and fsynced, closed by a ``cell_rows`` row); a rerun
reads the file, drops any half-written cell and skips every complete one.

>>> cells = make_cells(["forrester"], ["gp"], [0], kind="extrapolation")
>>> cells[0].split, len(cells)
('extrap:1', 9)
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from mfbench.peers import PEERS, get_peer
from mfbench.problems import Problem, load_problem

from mfgp import io
from mfgp.data import ScaleUpData
from mfgp.exceptions import InputDataError
from mfgp.metrics import METRIC_NAMES, evaluate, per_volume
from mfgp.models.base import Prediction
from mfgp.models.registry import available_models, get_model, model_option_names
from mfgp.test_functions import DEFAULT_SIZES, get_function, make_problem

__all__ = [
    "ALIASES",
    "SCHEMA",
    "Cell",
    "completed_keys",
    "default_models",
    "fast_options",
    "machine_info",
    "markdown_table",
    "parse_models",
    "parse_seeds",
    "extrapolation_splits",
    "learning_curve_splits",
    "loso_splits",
    "make_cells",
    "make_split",
    "peer_status",
    "read_results",
    "run_cell",
    "run_sweep",
    "speed_splits",
    "summarize",
    "sweep_parser",
    "versions_string",
    "write_outputs",
]

log = logging.getLogger(__name__)

#: columns of every results file, in order.
SCHEMA = (
    "problem",
    "model",
    "seed",
    "split",
    "volume",
    "metric",
    "value",
    "fit_seconds",
    "predict_seconds",
    "device",
    "versions",
)
KEY = ("problem", "model", "seed", "split")
#: bookkeeping metric closing every cell; its value is the number of rows of the cell.
SENTINEL = "cell_rows"

#: modules each peer needs (beyond the core dependencies).
_PEER_MODULES: dict[str, tuple[str, ...]] = {
    "botorch_stmf": (),
    "emukit_ar1": ("emukit", "GPy"),
    "emukit_nargp": ("emukit", "GPy"),
    "smt_mfk": ("smt",),
}


# --------------------------------------------------------------------------- cells and splits
@dataclass(frozen=True)
class Cell:
    """One unit of work: fit ``model`` on ``split`` of ``problem`` with ``seed``.

    Attributes:
        problem: problem spec (see :mod:`mfbench.problems`).
        model: mfgp model name or peer name.
        seed: seed of the fit (and of the run subsample of ``runs:N`` splits).
        split: split string (module docstring).
        device: ``"cpu"`` or ``"cuda"``.
        options: model constructor options as ``((key, value), ...)`` (not part of the key).
    """

    problem: str
    model: str
    seed: int
    split: str
    device: str = "cpu"
    options: tuple[tuple[str, Any], ...] = field(default=())

    @property
    def key(self) -> tuple[str, str, int, str]:
        """``(problem, model, seed, split)``: what a results file is deduplicated on."""
        return (self.problem, self.model, int(self.seed), self.split)


def _fmt(v: float) -> str:
    """A volume as written in split names and the ``volume`` column (12 significant digits)."""
    return f"{float(v):.12g}"


def _top_volumes(data: ScaleUpData) -> np.ndarray:
    return data.volumes()


def extrapolation_splits(problem: Problem | str, *, min_train_scales: int = 1) -> list[str]:
    """``extrap:V`` for every top-level volume ``V`` but the largest.

    Args:
        problem: a problem or its spec.
        min_train_scales: fewest top-level volumes in a training set.

    >>> extrapolation_splits("forrester", min_train_scales=4)
    ['extrap:1000']
    """
    p = load_problem(problem) if isinstance(problem, str) else problem
    vols = _top_volumes(p.data)
    return [f"extrap:{_fmt(v)}" for v in vols[max(min_train_scales, 1) - 1 : -1]]


def loso_splits(problem: Problem | str) -> list[str]:
    """``loso:V`` for every top-level volume."""
    p = load_problem(problem) if isinstance(problem, str) else problem
    return [f"loso:{_fmt(v)}" for v in _top_volumes(p.data)]


def _run_groups(data: ScaleUpData) -> np.ndarray:
    """Run label of every row (``run_id``, or the row index where there is none)."""
    if "run_id" in data.frame.columns:
        return data.frame["run_id"].astype(str).to_numpy()
    return np.array([f"row{i}" for i in range(len(data))])


def _pool_runs(p: Problem) -> list[str]:
    data = p.data
    top = data.fidelity == data.top_fidelity
    pool = top & ~np.isin(data.volume_L, p.production_volumes())
    groups = _run_groups(data)
    return list(dict.fromkeys(groups[pool]))


def learning_curve_splits(problem: Problem | str, sizes: Sequence[int] | None = None) -> list[str]:
    """``runs:N`` for ``N`` in ``sizes`` (default: 2, 4, 8, ... and all non-production runs).

    >>> learning_curve_splits("default")
    ['runs:2', 'runs:4', 'runs:8', 'runs:14']
    """
    p = load_problem(problem) if isinstance(problem, str) else problem
    total = len(_pool_runs(p))
    if sizes is None:
        sizes = [2**i for i in range(1, 32) if 2**i < total] + [total]
    bad = [n for n in sizes if not 1 <= n <= total]
    if bad:
        raise InputDataError(f"run counts {bad} are outside 1..{total} for problem {p.name!r}")
    return [f"runs:{int(n)}" for n in dict.fromkeys(sizes)]


def speed_splits(problem: str, factors: Sequence[float] = (0.5, 1.0, 2.0, 4.0)) -> list[str]:
    """``speed:N0xN1..`` for the default sizes of a test function scaled by ``factors``.

    >>> speed_splits("forrester", (1.0, 2.0))
    ['speed:50x10', 'speed:100x20']
    """

    base = DEFAULT_SIZES.get(problem)
    if base is None:
        get_function(problem)  # raises on unknown names
        raise InputDataError(f"no default sizes for {problem!r}")
    out = []
    for f in factors:
        sizes = [max(2, round(n * f)) for n in base]
        out.append("speed:" + "x".join(str(n) for n in sizes))
    return out


def make_split(
    problem: Problem | str, split: str, seed: int = 0
) -> tuple[ScaleUpData, ScaleUpData]:
    """Training and test data of ``split`` (not for ``speed:`` splits).

    Returns:
        ``(train, test)``; ``test`` holds top-level rows only, none of which is in ``train``.

    >>> train, test = make_split("forrester", "extrap:100")
    >>> float(test.volume_L.min()) > 100 >= float(train.volumes().max())
    True
    """
    p = load_problem(problem) if isinstance(problem, str) else problem
    data = p.data
    kind, _, arg = split.partition(":")
    top = data.fidelity == data.top_fidelity
    vol = data.volume_L
    if kind == "extrap":
        vmax = float(arg)
        test = top & (vol > vmax * (1 + 1e-9))
    elif kind == "loso":
        v = float(arg)
        test = top & np.isclose(vol, v, rtol=1e-9)
    elif kind == "runs":
        n = int(arg)
        runs = _pool_runs(p)
        if not 1 <= n <= len(runs):
            raise InputDataError(f"{split}: {p.name} has {len(runs)} non-production runs")
        order = np.random.default_rng([int(seed), 1789]).permutation(len(runs))
        chosen = {runs[i] for i in order[:n]}
        groups = _run_groups(data)
        prod = top & np.isin(vol, p.production_volumes())
        train = ~top | (top & ~prod & np.isin(groups, list(chosen)))
        return data.subset(train), data.subset(prod)
    else:
        raise InputDataError(f"unknown split {split!r} (extrap:V, loso:V, runs:N)")
    if not test.any():
        raise InputDataError(f"split {split!r} of {p.name} has no test rows")
    return data.subset(~test), data.subset(test)


def make_cells(
    problems: Sequence[str],
    models: Sequence[str],
    seeds: Sequence[int],
    *,
    kind: str,
    device: str = "cpu",
    model_options: Mapping[str, Mapping[str, Any]] | None = None,
    splits: Mapping[str, Sequence[str]] | None = None,
    min_train_scales: int = 1,
    peer_seeds: Sequence[int] | None = None,
) -> list[Cell]:
    """All cells of a sweep.

    Args:
        problems: problem specs.
        models: mfgp model or peer names.
        seeds: seeds.
        kind: ``"extrapolation"`` (``extrap:`` and ``loso:`` splits), ``"extrapolation-only"``,
            ``"learning_curve"`` or ``"speed"``.
        device: device of every cell.
        model_options: constructor options per model name.
        splits: explicit split lists per problem (overrides ``kind``'s default splits).
        min_train_scales: see :func:`extrapolation_splits`.
        peer_seeds: seeds of the peers (default ``seeds``; peers without random restarts give
            the same answer for every seed, so one seed saves their time).

    Returns:
        Cells ordered problem, split, seed, model.
    """
    options = model_options or {}
    cells = []
    for prob in problems:
        if splits is not None and prob in splits:
            sp = list(splits[prob])
        elif kind in ("extrapolation", "extrapolation-only"):
            sp = extrapolation_splits(prob, min_train_scales=min_train_scales)
            if kind == "extrapolation":
                sp += loso_splits(prob)
        elif kind == "learning_curve":
            sp = learning_curve_splits(prob)
        elif kind == "speed":
            sp = speed_splits(prob)
        else:
            raise InputDataError(f"unknown sweep kind {kind!r}")
        for s in sp:
            for seed in dict.fromkeys([*seeds, *(peer_seeds or [])]):
                for m in models:
                    peer = _is_peer(m)
                    if peer_seeds is not None and seed not in (peer_seeds if peer else seeds):
                        continue
                    opts = tuple(sorted(options.get(_bare(m), {}).items()))
                    cells.append(Cell(prob, _bare(m), int(seed), s, device, opts))
    return cells


# ------------------------------------------------------------------------------ running a cell
def _bare(name: str) -> str:
    return name.removeprefix("peer:")


def _is_peer(name: str) -> bool:

    return _bare(name) in PEERS and _bare(name) not in available_models()


def peer_status(names: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """Split peer names into the runnable ones and ``{name: why not}`` for the others.

    >>> ok, skipped = peer_status(["botorch_stmf"])
    >>> ok
    ['botorch_stmf']
    """
    import importlib

    ok, skipped = [], {}
    for raw in names:
        name = _bare(raw)
        if name not in PEERS:
            skipped[name] = f"unknown peer; choose from {sorted(PEERS)}"
            continue
        missing = []
        for mod in _PEER_MODULES.get(name, ()):
            try:
                importlib.import_module(mod)
            except Exception:  # noqa: BLE001 - any import failure means "not installed"
                missing.append(mod)
        if missing:
            skipped[name] = f"needs {', '.join(missing)}; install with pip install 'mfgp[peers]'"
        else:
            ok.append(name)
    return ok, skipped


def versions_string(extra: Mapping[str, str] | None = None) -> str:
    """``io.versions()`` (plus ``extra``) as one compact ``name=version;...`` string."""
    v = {**io.versions(), **(extra or {})}
    return ";".join(f"{k}={val}" for k, val in v.items())


@contextlib.contextmanager
def _quiet_warnings() -> Iterator[None]:
    """Turn warnings raised inside a cell into debug log records (nothing is printed).

    ``warnings.catch_warnings`` changes process-wide state: with several threads per Dask worker
    a warning may escape to stderr or be lost, never a result.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        log.debug("%s: %s", w.category.__name__, w.message)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _fit_predict(
    cell: Cell, train_X: torch.Tensor, train_Y: torch.Tensor, test_X: torch.Tensor, train: Any
) -> tuple[Prediction, float, float]:
    """Fit ``cell.model`` and predict the top level at ``test_X``; times in seconds. An mfgp
    model's prediction is its own ``predict(..., observation_noise=True)``, with its
    predictive distribution (log-normal, mixture, ...), which the scores use; a peer's is the
    Gaussian of the mean and variance it returns."""
    device = train_X.device
    if _is_peer(cell.model):
        peer = get_peer(cell.model, **dict(cell.options))
        _sync(device)
        t0 = time.perf_counter()
        mean, var = peer.fit_predict(train_X.cpu(), train_Y.cpu(), test_X.cpu(), cell.seed)
        fit_s = time.perf_counter() - t0
        # peers give moments only: scored as Gaussians
        return Prediction.gaussian(mean.double(), var.double()), fit_s, float("nan")
    model = get_model(cell.model, **dict(cell.options))
    _sync(device)
    t0 = time.perf_counter()
    model.fit(train, seed=cell.seed)
    _sync(device)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = model.predict(test_X, observation_noise=True)
    _sync(device)
    return pred, fit_s, time.perf_counter() - t0


def _row(cell: Cell, volume: str, metric: str, value: float, fit_s: float, pred_s: float,
         vers: str) -> dict[str, Any]:  # fmt: skip
    return {
        "problem": cell.problem,
        "model": cell.model,
        "seed": int(cell.seed),
        "split": cell.split,
        "volume": volume,
        "metric": metric,
        "value": float(value),
        "fit_seconds": float(fit_s),
        "predict_seconds": float(pred_s),
        "device": cell.device,
        "versions": vers,
    }


def _peer_versions(name: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for mod in _PEER_MODULES.get(name, ()):
        try:
            out[mod] = version(mod)
        except PackageNotFoundError:
            out[mod] = "?"
    return out


def run_cell(cell: Cell) -> list[dict[str, Any]]:
    """Fit and evaluate one cell; a model that raises gives a ``failed:ErrorType`` row (logged
    with its message) instead of stopping the sweep. ``KeyboardInterrupt`` still stops it.

    Returns:
        Rows of :data:`SCHEMA`, per test volume and ``"all"``, closed by a ``cell_rows`` row.

    >>> rows = run_cell(Cell("forrester", "gp", 0, "extrap:1000", options=(("restarts", 1),)))
    >>> sorted({r["metric"] for r in rows})[:3]
    ['cell_rows', 'coverage95', 'crps']
    """
    device = torch.device(cell.device)
    vers = versions_string(_peer_versions(cell.model) if _is_peer(cell.model) else None)
    rows: list[dict[str, Any]] = []
    fit_s = pred_s = float("nan")
    with _quiet_warnings():
        try:
            if cell.split.startswith("speed:"):
                rows = _speed_rows(cell, device, vers)
            else:
                rows = _split_rows(cell, device, vers)
        except Exception as err:  # a failing model is a result, not a crash of the sweep
            log.warning("cell %s failed: %s: %s", cell.key, type(err).__name__, err)
            rows = [
                _row(cell, "all", f"failed:{type(err).__name__}", math.nan, fit_s, pred_s, vers)
            ]
    n = len(rows) + 1
    last = rows[-1] if rows else _row(cell, "all", "", 0, fit_s, pred_s, vers)
    rows.append(_row(cell, "all", SENTINEL, n, last["fit_seconds"], last["predict_seconds"], vers))
    return rows


def _top_scale(problem: str) -> float:
    """Standard deviation of every top-level value of a problem (the ``srmse`` scale)."""
    data = load_problem(problem).data
    y = data.Y.squeeze(-1)[torch.as_tensor(data.fidelity == data.top_fidelity)]
    sd = float(y.double().std()) if y.numel() > 1 else 0.0
    return sd if sd > 0 else 1.0


def _split_rows(cell: Cell, device: torch.device, vers: str) -> list[dict[str, Any]]:
    train, test = make_split(cell.problem, cell.split, cell.seed)
    if device.type != "cpu":
        train, test = train.to(device), test.to(device)
    pred, fit_s, pred_s = _fit_predict(cell, train.X, train.Y, test.X, train)
    y = test.Y.squeeze(-1).detach().cpu()
    # scored under the model's own predictive distribution (log-normal, mixture, ...)
    table = per_volume(test.volume_L, y, pred.to("cpu", torch.float64))
    table["srmse"] = table["rmse"] / _top_scale(cell.problem)
    top = train.fidelity == train.top_fidelity
    v_train_max = float(train.volume_L[top].max())
    rows = []
    for rec in table.to_dict(orient="records"):
        vol = rec["volume_L"]
        label = "all" if isinstance(vol, str) else _fmt(vol)
        for m in (*METRIC_NAMES, "srmse"):
            rows.append(_row(cell, label, m, rec[m], fit_s, pred_s, vers))
        rows.append(_row(cell, label, "n_test", rec["n"], fit_s, pred_s, vers))
        if not isinstance(vol, str):
            rows.append(_row(cell, label, "ratio", vol / v_train_max, fit_s, pred_s, vers))
    if len(table) == 1:  # a single test volume: also give its pooled "all" rows
        rows += [{**r, "volume": "all"} for r in rows if r["metric"] != "ratio"]
    rows.append(_row(cell, "all", "n_train_top", int(top.sum()), fit_s, pred_s, vers))
    rows.append(_row(cell, "all", "v_train_max", v_train_max, fit_s, pred_s, vers))
    return rows


_WARMED: set[tuple[str, str, str]] = set()  # (problem, model, device) warmed in this process


def _warm_up(cell: Cell, device: torch.device) -> None:
    """Fit and predict ``cell.model`` once, untimed, on a small design of ``cell.problem``
    (first time per process only), so that one-off costs (lazy imports, the first optimiser
    step's ``torch._dynamo`` import, CUDA context and kernels) stay out of the timed cells."""

    key = (cell.problem, cell.model, str(device))
    if key in _WARMED:
        return
    _WARMED.add(key)
    small = [8 - 2 * k for k in range(get_function(cell.problem).n_levels)]  # nested, lowest first
    tX, tY, sX, _ = make_problem(cell.problem, small, seed=0, n_test=10)
    try:
        _fit_predict(replace(cell, seed=0), tX.to(device), tY.to(device), sX.to(device),
                     (tX.to(device), tY.to(device)))  # fmt: skip
    except Exception as err:  # the timed cell reports a real failure; this is only a warm-up
        log.debug("warm-up of %s failed: %s: %s", cell.key, type(err).__name__, err)


def _speed_rows(cell: Cell, device: torch.device, vers: str) -> list[dict[str, Any]]:

    _warm_up(cell, device)
    sizes = [int(n) for n in cell.split.removeprefix("speed:").split("x")]
    tX, tY, sX, sY = make_problem(cell.problem, sizes, seed=cell.seed, n_test=500)
    tX, tY, sX = tX.to(device), tY.to(device), sX.to(device)
    pred, fit_s, pred_s = _fit_predict(cell, tX, tY, sX, (tX, tY))
    scores = evaluate(sY.squeeze(-1), pred.to("cpu", torch.float64))
    rows = [_row(cell, "all", m, scores[m], fit_s, pred_s, vers) for m in METRIC_NAMES]
    rows.append(_row(cell, "all", "n_train", sum(sizes), fit_s, pred_s, vers))
    rows.append(_row(cell, "all", "n_top", sizes[-1], fit_s, pred_s, vers))
    return rows


# ----------------------------------------------------------------------------- results files
def read_results(path: str | Path, *, repair: bool = True) -> pd.DataFrame:
    """Read a results CSV, keeping complete cells only.

    A cell is complete when its closing ``cell_rows`` row is present and counts its rows. With
    ``repair=True`` a file holding a half-written cell (an interrupted write) is rewritten
    atomically without it.

    Returns:
        A frame with the columns of :data:`SCHEMA` (empty if the file does not exist).
    """
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return pd.DataFrame(columns=list(SCHEMA))
    text = path.read_text()
    complete_text = text if text.endswith("\n") else text[: text.rfind("\n") + 1]
    from io import StringIO

    try:
        df = pd.read_csv(StringIO(complete_text), dtype={"volume": str, "split": str})
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=list(SCHEMA))
    missing = [c for c in SCHEMA if c not in df.columns]
    if missing:
        raise InputDataError(f"{path} is not a results file (missing columns {missing})")
    sizes = df.groupby(list(KEY), sort=False).size()
    closing = df[df["metric"] == SENTINEL].set_index(list(KEY))["value"]
    ok = {k for k, n in closing.items() if k in sizes.index and int(sizes[k]) == int(n)}
    keys = list(zip(*(df[c] for c in KEY), strict=True))
    keep = np.array([k in ok for k in keys], dtype=bool)
    if not keep.all() or complete_text != text:
        log.warning("%s: dropping %d rows of unfinished cells", path, int((~keep).sum()))
        df = df[keep].reset_index(drop=True)
        if repair:
            io.atomic_write_csv(path, df[list(SCHEMA)])
    return df[list(SCHEMA)]


def completed_keys(path: str | Path) -> set[tuple[str, str, int, str]]:
    """Keys ``(problem, model, seed, split)`` of the complete cells in a results file."""
    df = read_results(path)
    return {(str(p), str(m), int(s), str(sp)) for p, m, s, sp in
            df[list(KEY)].drop_duplicates().itertuples(index=False)}  # fmt: skip


def _append(path: Path, rows: list[dict[str, Any]]) -> None:
    """Append one cell's rows in one write, flushed and fsynced (header if the file is new)."""
    frame = pd.DataFrame(rows, columns=list(SCHEMA))
    new = not path.exists() or path.stat().st_size == 0
    text = frame.to_csv(index=False, header=new)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _joblib_results(cells: list[Cell], n_jobs: int) -> Iterator[list[dict[str, Any]]]:
    from joblib import Parallel, delayed

    if n_jobs == 1:
        for c in cells:
            yield run_cell(c)
        return
    par = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    yield from par(delayed(run_cell)(c) for c in cells)


def _dask_results(cells: list[Cell], scheduler: Any) -> Iterator[list[dict[str, Any]]]:
    try:
        from distributed import Client, as_completed
    except ImportError as err:
        raise ImportError(
            "the dask backend needs distributed: pip install 'dask[distributed]'"
        ) from err
    own = not isinstance(scheduler, Client)
    if own and not scheduler:
        raise InputDataError("the dask backend needs --scheduler ADDRESS (tcp://host:8786)")
    client = Client(scheduler) if own else scheduler
    try:
        futures = [client.submit(run_cell, c, pure=False) for c in cells]
        for fut in as_completed(futures):
            yield fut.result()
            fut.release()
    finally:
        if own:
            client.close()


def run_sweep(
    cells: Sequence[Cell],
    out: str | Path,
    *,
    backend: str = "joblib",
    n_jobs: int = 1,
    scheduler: Any = None,
    quiet: bool = False,
    desc: str = "cells",
    execute: bool = True,
) -> pd.DataFrame:
    """Run every cell not yet in ``out`` and append each one's rows as it finishes.

    Args:
        cells: the sweep (see :func:`make_cells`); duplicate keys run once.
        out: the results CSV (created, or resumed: complete cells are skipped).
        backend: ``"joblib"`` (one machine, ``n_jobs`` processes) or ``"dask"``.
        n_jobs: joblib workers (``1``: in this process, ``-1``: all cores).
        scheduler: Dask scheduler address or a ``distributed.Client``.
        quiet: no progress bar (and nothing printed).
        desc: progress-bar label.
        execute: ``False`` runs nothing and only reads ``out`` (to rebuild tables from a
            partial sweep; the missing cells are logged).

    Returns:
        Every complete row in ``out`` after the sweep (old and new).

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "r.csv"
    >>> cells = make_cells(["forrester"], ["gp"], [0], kind="extrapolation-only",
    ...                    model_options={"gp": {"restarts": 1}}, min_train_scales=4)
    >>> df = run_sweep(cells, out, quiet=True)
    >>> sorted(df["split"].unique())
    ['extrap:1000']
    """
    out = Path(out)
    done = completed_keys(out)
    todo, seen = [], set(done)
    for c in cells:
        if c.key not in seen:
            seen.add(c.key)
            todo.append(c)
    skipped = len({c.key for c in cells} & done)
    if skipped:
        log.info("%s: %d cells already done, %d to run", out, skipped, len(todo))
    if todo and not execute:
        log.warning("%s: %d cells not run (report only)", out, len(todo))
    elif todo:
        if backend == "joblib":
            results = _joblib_results(todo, n_jobs)
        elif backend == "dask":
            results = _dask_results(todo, scheduler)
        else:
            raise InputDataError(f"backend must be 'joblib' or 'dask', got {backend!r}")
        from tqdm.auto import tqdm

        with tqdm(total=len(todo), desc=desc, disable=quiet, leave=False) as bar:
            for rows in results:
                _append(out, rows)
                bar.update(1)
    return read_results(out)


# ---------------------------------------------------------------------------------- summaries
def sweep_rows(cells: Sequence[Cell], args: Any, *, desc: str) -> tuple[pd.DataFrame, int]:
    """Run (or, with ``--report-only``, only read) a script's sweep from its parsed
    :func:`sweep_parser` arguments.

    Returns:
        ``(rows, n_missing)``: the result rows of these ``cells`` only (the CSV may hold other
        sweeps), and how many of the cells have no complete result yet.
    """
    rows = run_sweep(
        cells,
        Path(args.out).with_suffix(".csv"),
        backend=args.backend,
        n_jobs=args.n_jobs,
        scheduler=args.scheduler,
        quiet=args.quiet,
        execute=not args.report_only,
        desc=desc,
    )
    keys = {c.key for c in cells}
    found = list(zip(*(rows[c] for c in KEY), strict=True))
    rows = rows[[k in keys for k in found]]
    return rows, len(keys - set(found))


def _num_volume(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.inf


def summarize(
    df: pd.DataFrame,
    *,
    metrics: Sequence[str] = ("nrmse", "coverage95"),
    by: Sequence[str] = ("problem", "split", "volume"),
    ratio_metric: str = "nrmse",
) -> pd.DataFrame:
    """Mean and standard deviation over seeds of ``metrics`` per ``by`` and model, with the
    ratio of ``ratio_metric`` to the best peer's (when peers ran) and median fit/predict times.

    Returns:
        One row per ``by`` + model: ``<metric>`` (mean), ``<metric>_sd``, ``n_seeds``,
        ``fit_s``, ``predict_s`` and, with peers, ``best_peer`` and ``ratio_to_best_peer``.
    """

    by = list(by)
    d = df[df["metric"].isin(metrics)]
    g = d.groupby([*by, "model", "metric"], sort=False)["value"]
    mean = g.mean().unstack("metric")
    sd = g.std().unstack("metric").add_suffix("_sd")
    n = d[d["metric"] == metrics[0]].groupby([*by, "model"], sort=False)["seed"].nunique()
    fit = d.groupby([*by, "model"], sort=False)["fit_seconds"].median()
    predict = d.groupby([*by, "model"], sort=False)["predict_seconds"].median()
    table = pd.concat([mean, sd], axis=1)
    cols = [c for m in metrics for c in (m, f"{m}_sd") if c in table.columns]
    table = table[cols]
    table["n_seeds"] = n
    table["fit_s"] = fit
    table["predict_s"] = predict
    table = table.reset_index()
    peers = table[table["model"].isin(PEERS)]
    if not peers.empty and ratio_metric in table.columns:
        best = peers.loc[peers.groupby(by, sort=False)[ratio_metric].idxmin(),
                         [*by, "model", ratio_metric]]  # fmt: skip
        best = best.rename(columns={"model": "best_peer", ratio_metric: "_best"})
        table = table.merge(best, on=by, how="left")
        table["ratio_to_best_peer"] = table[ratio_metric] / table["_best"]
        table = table.drop(columns="_best")
    if "volume" in by:
        table["_v"] = table["volume"].map(_num_volume)
        sort = [c if c != "volume" else "_v" for c in by]
        if "split" in by:
            table["_s"] = table["split"].map(_split_order)
            sort = [c if c != "split" else "_s" for c in sort]
        table = table.sort_values([*sort, "model"]).drop(columns=["_v", "_s"], errors="ignore")
    return table.reset_index(drop=True)


def _split_order(split: str) -> tuple[str, float]:
    kind, _, arg = split.partition(":")
    nums = re.findall(r"[\d.]+", arg)
    return (kind, float(nums[0]) if nums else 0.0)


# ------------------------------------------------------------------------ command-line helpers
#: registered names left out of the default model list: aliases of another model on
#: multi-fidelity data (``hybrid`` is ``ar1`` when lower levels are present).
ALIASES = frozenset({"hybrid"})


#: optional packages some registered models need (``pip install 'mfgp[boost]'``).
OPTIONAL_MODULES: dict[str, str] = {"xgboost": "xgboost", "lightgbm": "lightgbm"}


def default_models() -> list[str]:
    """Registered mfgp models for default sweeps: every one but :data:`ALIASES` and those whose
    optional package (:data:`OPTIONAL_MODULES`) is not installed (logged)."""
    import importlib.util

    out = []
    for m in available_models():
        mod = OPTIONAL_MODULES.get(m)
        if m in ALIASES:
            continue
        if mod is not None and importlib.util.find_spec(mod) is None:
            log.warning("model %s left out: needs the optional package %s", m, mod)
            continue
        out.append(m)
    return out


def fast_options(models: Iterable[str], *, restarts: int = 1) -> dict[str, dict[str, Any]]:
    """Constructor options that cap optimiser restarts for every model that has ``restarts``.

    >>> fast_options(["gp"])
    {'gp': {'restarts': 1}}
    """
    known = set(available_models())
    out: dict[str, dict[str, Any]] = {}
    for m in models:
        name = _bare(m)
        if name in known and "restarts" in model_option_names(name):
            out[name] = {"restarts": restarts}
    return out


def parse_models(spec: str, peers: str = "none") -> tuple[list[str], dict[str, str]]:
    """Model list from ``--models`` and ``--peers`` flags.

    Args:
        spec: ``"default"`` (:func:`default_models`), ``"all"`` or comma-separated names
            (mfgp models or peers).
        peers: ``"none"``, ``"all"`` (every peer whose packages are installed) or names.

    Returns:
        ``(names, skipped)``: names to run and ``{peer: why it is skipped}``.
    """

    if spec in ("default", ""):
        names = default_models()
    elif spec == "all":
        names = available_models()
    else:
        names = [s.strip() for s in spec.split(",") if s.strip()]
    peer_names = [n for n in names if _is_peer(n)]
    names = [n for n in names if not _is_peer(n)]
    unknown = [n for n in names if n not in available_models()]
    if unknown:
        raise InputDataError(
            f"unknown models {unknown}; choose from {available_models()} or peers {sorted(PEERS)}"
        )
    if peers == "all":
        peer_names += sorted(PEERS)
    elif peers not in ("none", ""):
        peer_names += [s.strip() for s in peers.split(",") if s.strip()]
    ok, skipped = peer_status(dict.fromkeys(peer_names))
    for name, why in skipped.items():
        log.warning("peer %s skipped: %s", name, why)
    return names + ok, skipped


def sweep_parser(description: str, *, problems: str, seeds: str, out: str) -> Any:
    """The flags every benchmark script shares.

    ``--problems --models --peers --seeds --backend --scheduler --n-jobs --device --restarts
    --quiet --out``.
    """
    import argparse

    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--problems",
        default=problems,
        help="comma-separated problem specs "
        "(default, default-nolaw, simulator, csv:PATH:TARGET, forrester, branin, ...)",
    )
    p.add_argument("--models", default="default", help="'default', 'all' or comma-separated "
                   "mfgp model / peer names")  # fmt: skip
    p.add_argument("--peers", default="none", help="'none', 'all' (installed ones) or names "
                   "(botorch_stmf, emukit_ar1, emukit_nargp, smt_mfk)")  # fmt: skip
    p.add_argument("--seeds", default=seeds, help="number of seeds (N: 0..N-1) or a list 0,3,7")
    p.add_argument("--peer-seeds", default="", help="seeds of the peers (default: --seeds)")
    p.add_argument("--backend", choices=("joblib", "dask"), default="joblib")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address (tcp://host:8786)")
    p.add_argument("--n-jobs", type=int, default=1, help="joblib workers (-1: all cores)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--restarts", type=int, default=1, help="optimiser restarts of GP models")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no log output")
    p.add_argument("--out", default=out, help="output prefix: writes OUT.csv/.json/.md/.png")
    p.add_argument("--note", default="", help="a note written into the results files")
    p.add_argument(
        "--report-only", action="store_true", help="run nothing: rebuild the tables from OUT.csv"
    )
    return p


def parse_seeds(spec: str) -> list[int]:
    """``"3"`` -> ``[0, 1, 2]``; ``"0,5"`` -> ``[0, 5]``."""
    if "," in spec:
        return [int(s) for s in spec.split(",") if s.strip()]
    return list(range(int(spec)))


def machine_info(device: str = "cpu") -> dict[str, Any]:
    """CPU, core count, load average, accelerator and date, for results files."""
    import datetime
    import platform

    info: dict[str, Any] = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    with contextlib.suppress(OSError, AttributeError):
        info["load_average_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def write_outputs(
    prefix: str | Path,
    *,
    rows: pd.DataFrame,
    markdown: str,
    meta: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
    figure: Any = None,
) -> list[Path]:
    """Write ``prefix.json``, ``prefix.md`` and, with a matplotlib ``figure``, ``prefix.png``;
    all atomically. The CSV (``prefix.csv``) is the sweep's own results file.

    The JSON holds ``schema``, ``meta``'s keys, ``tables`` (summary tables as lists of records)
    and ``rows``: every result row as ``{"columns": SCHEMA, "data": [[...], ...]}`` (compact, one
    list per row; NaN written as ``null``). Returns the paths written.
    """
    import json

    prefix = Path(prefix)

    def clean(frame: pd.DataFrame) -> list[list[Any]]:
        obj = frame.astype(object).where(frame.notna(), None)
        return obj.to_numpy().tolist()

    payload = {
        "schema": list(SCHEMA),
        **{k: io.json_safe(v) for k, v in meta.items()},
        "tables": {
            k: [dict(zip(v.columns, r, strict=True)) for r in clean(v)] for k, v in tables.items()
        },
        "rows": {"columns": list(SCHEMA), "data": clean(rows[list(SCHEMA)])},
    }
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    paths = [
        io.atomic_write_text(prefix.with_suffix(".json"), text + "\n"),
        io.atomic_write_text(prefix.with_suffix(".md"), markdown),
    ]
    if figure is not None:
        import io as _io

        buf = _io.BytesIO()
        figure.savefig(buf, format="png", dpi=130, bbox_inches="tight")
        paths.append(io.atomic_write_bytes(prefix.with_suffix(".png"), buf.getvalue()))
    return paths


def markdown_table(table: pd.DataFrame, *, digits: int = 3) -> str:
    """A summary table as GitHub markdown (floats to ``digits`` significant digits)."""
    shown = table.copy()
    for c in shown.columns:
        if pd.api.types.is_float_dtype(shown[c]):
            shown[c] = shown[c].map(lambda x: "" if pd.isna(x) else f"{x:.{digits}g}")
    return shown.to_markdown(index=False)
