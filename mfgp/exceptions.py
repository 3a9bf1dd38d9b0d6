"""Exceptions and warnings raised by mfgp.

Every error caused by the user's input derives from :class:`InputDataError` (also a
``ValueError``) and says which column, row or value is at fault and how to fix it. Numerical
failures while fitting raise :class:`ModelFittingError` (also a ``RuntimeError``); outputs that
cannot be written raise :class:`OutputError` (also an ``OSError``).
"""

from __future__ import annotations

__all__ = [
    "MFGPError",
    "InputDataError",
    "ModelFittingError",
    "NotFittedError",
    "OutputError",
    "MFGPWarning",
    "NumericalWarning",
    "DataWarning",
]


class MFGPError(Exception):
    """Base class of every error raised by mfgp."""


class InputDataError(MFGPError, ValueError):
    """The user's data or arguments are invalid; the message names the problem and a fix."""


class ModelFittingError(MFGPError, RuntimeError):
    """A model could not be fitted (for example, every Cholesky factorisation failed)."""


class OutputError(MFGPError, OSError):
    """An output could not be written (read-only or full file system, a file where a folder is
    needed); the message names the path and what to do."""


class NotFittedError(MFGPError, AttributeError):
    """A model was used before :meth:`fit` (or :meth:`load`) was called."""


class MFGPWarning(UserWarning):
    """Base class of warnings issued by mfgp."""


class NumericalWarning(MFGPWarning):
    """A numerical safeguard was used (jitter added, a restart failed, ...)."""


class DataWarning(MFGPWarning):
    """The input data loaded, but something in them looks wrong (duplicate rows, a value far
    outside its column's scale, a constant column, empty rows or columns that were dropped).
    The message names the column and rows; the messages are also kept on the data object."""
