"""Numerical defaults: dtype, device resolution, dtype checks and the Cholesky jitter ladder."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from mfgp.exceptions import InputDataError

__all__ = [
    "DEFAULT_DTYPE",
    "JITTER_LADDER",
    "check_same_dtype",
    "jitter_ladder",
    "resolve_device",
    "resolve_dtype",
]

#: mfgp computes in float64 unless the data say otherwise.
DEFAULT_DTYPE: torch.dtype = torch.float64

#: Diagonal jitter tried, in order, when a Cholesky factorisation fails. Relative to a
#: standardised (unit-variance) covariance, so one ladder serves every problem of a dtype.
JITTER_LADDER: dict[torch.dtype, tuple[float, ...]] = {
    torch.float64: (0.0, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4),
    torch.float32: (0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2),
}


def jitter_ladder(dtype: torch.dtype) -> tuple[float, ...]:
    """The jitter values to try for ``dtype`` (float64 and float32 are supported).

    >>> jitter_ladder(torch.float64)[:2]
    (0.0, 1e-08)
    """
    try:
        return JITTER_LADDER[dtype]
    except KeyError:
        raise InputDataError(
            f"unsupported dtype {dtype}: use torch.float64 (default) or torch.float32"
        ) from None


def resolve_dtype(dtype: torch.dtype | str | None) -> torch.dtype:
    """Turn ``None``, ``"float64"``/``"float32"`` or a torch dtype into a float dtype."""
    if dtype is None:
        return DEFAULT_DTYPE
    if isinstance(dtype, str):
        name = dtype.removeprefix("torch.")
        if name in ("float64", "double"):
            return torch.float64
        if name in ("float32", "float"):
            return torch.float32
        raise InputDataError(f"unknown dtype {dtype!r}: use 'float64' (default) or 'float32'")
    if dtype not in JITTER_LADDER:
        raise InputDataError(f"unsupported dtype {dtype}: use torch.float64 or torch.float32")
    return dtype


def resolve_device(device: torch.device | str | None) -> torch.device:
    """Turn ``None`` (CPU), ``"cpu"``, ``"cuda"`` or a device into a usable ``torch.device``.

    Raises:
        InputDataError: CUDA was asked for but is not available.
    """
    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise InputDataError(f"unknown device {device!r}: use 'cpu' or 'cuda'") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputDataError(
            "device 'cuda' was requested but CUDA is not available on this machine; "
            "use --device cpu, or install a CUDA build of torch (make ... TORCH=torch)"
        )
    return dev


def check_same_dtype(*tensors: torch.Tensor | None, names: Iterable[str] | None = None) -> None:
    """Raise if the given tensors (``None`` entries skipped) do not share one dtype and device.

    >>> check_same_dtype(torch.zeros(2), torch.ones(3))
    """
    labels = list(names) if names is not None else [f"tensor {i}" for i in range(len(tensors))]
    present = [(lab, t) for lab, t in zip(labels, tensors, strict=False) if t is not None]
    if not present:
        return
    lab0, t0 = present[0]
    for lab, t in present[1:]:
        if t.dtype != t0.dtype:
            raise InputDataError(
                f"mixed dtypes: {lab0} is {t0.dtype} but {lab} is {t.dtype}; "
                "convert both with .to(torch.float64) (or float32)"
            )
        if t.device != t0.device:
            raise InputDataError(
                f"mixed devices: {lab0} is on {t0.device} but {lab} is on {t.device}; "
                "move both with .to(device)"
            )
