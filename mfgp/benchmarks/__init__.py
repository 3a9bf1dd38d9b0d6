"""Benchmark problems: multi-fidelity test functions, nested designs and peer adapters.

The peer adapters (:mod:`mfgp.benchmarks.peers`) import their optional packages lazily, so
importing this package never needs Emukit or SMT.
"""

from __future__ import annotations

from mfgp.benchmarks.functions import (
    DEFAULT_SIZES,
    FUNCTIONS,
    Borehole,
    Branin,
    Currin,
    Forrester,
    Hartmann3,
    MultiFidelityFunction,
    NonlinearPair,
    Park,
    get_function,
    make_problem,
    nested_design,
)

__all__ = [
    "DEFAULT_SIZES",
    "FUNCTIONS",
    "Borehole",
    "Branin",
    "Currin",
    "Forrester",
    "Hartmann3",
    "MultiFidelityFunction",
    "NonlinearPair",
    "Park",
    "get_function",
    "make_problem",
    "nested_design",
]
