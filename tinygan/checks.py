"""Argument checks: one line at the call site, a message that says what was expected.

A value of the wrong kind (a string, a bool, a float where an integer belongs) is a
TypeError; a value of the right kind outside its range (or not finite) is a ValueError.
``where`` names the caller, e.g. ``"Adam"`` or ``"make_grid"``.
"""
from __future__ import annotations

import math
import numbers
import operator

import numpy


def _range(value, name, where, kind, low, high, open_low, open_high):
    if (low is None or value > low or (value == low and not open_low)) and \
            (high is None or value < high or (value == high and not open_high)):
        return value
    if high is None:
        expected = f"be {kind}{'>' if open_low else '>='} {low:g}"
    elif low is None:
        expected = f"be {kind}{'<' if open_high else '<='} {high:g}"
    else:
        expected = (f"{'be ' + kind if kind else 'lie '}in {'(' if open_low else '['}{low:g}, "
                    f"{high:g}{')' if open_high else ']'}")
    raise ValueError(f"{where}: {name} must {expected}, got {value!r}")


def integer(value, name: str, where: str, low=None, high=None) -> int:
    """An integer (Python or NumPy, not bool) in [low, high], as a Python int."""
    try:
        if isinstance(value, (bool, numpy.bool_)):
            raise TypeError
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{where}: {name} must be an integer, got {value!r}") from None
    return _range(value, name, where, "an integer ", low, high, False, False)


def real(value, name: str, where: str, low=None, high=None, open_low=False,
         open_high=False) -> float:
    """A finite real number (a 0-d array read back from a checkpoint too) in the given
    range, as a Python float: it never promotes a float32 array (NumPy 2)."""
    if isinstance(value, (bool, numpy.bool_)) or not (
            isinstance(value, numbers.Real) or getattr(value, "shape", None) == ()):
        raise TypeError(f"{where}: {name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{where}: {name} must be finite, got {value}")
    return _range(value, name, where, "", low, high, open_low, open_high)


def positive(value, name: str, where: str) -> float:
    """A finite real number > 0."""
    return real(value, name, where, low=0.0, open_low=True)


def unit_interval(value, name: str, where: str) -> float:
    """A decay rate or momentum in [0, 1)."""
    return real(value, name, where, low=0.0, high=1.0, open_high=True)


def boolean(value, name: str, where: str) -> bool:
    """True or False (NumPy's bool too)."""
    if not isinstance(value, (bool, numpy.bool_)):
        raise TypeError(f"{where}: {name} must be a bool, got {type(value).__name__}")
    return bool(value)


def choice(value, name: str, choices, where: str):
    """One of ``choices``."""
    if value not in choices:
        raise ValueError(f"{where}: unknown {name} {value!r}; expected one of {tuple(choices)}")
    return value


def float_dtype(dtype, where: str):
    """float32 or float64, else a TypeError."""
    if numpy.dtype(dtype) not in (numpy.float32, numpy.float64):
        raise TypeError(f"{where}: expected a float32 or float64 array, got dtype "
                        f"{numpy.dtype(dtype)}")


def point_sets(where: str, **sets):
    """Two sets of points, each (n, d) (samples, features), of the same d and dtype."""
    for name, a in sets.items():
        if a.ndim != 2:
            raise ValueError(f"{where}: expected {name} of shape (n, d), got {tuple(a.shape)}")
    (name_a, a), (name_b, b) = sets.items()
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{where}: dimensions differ, {name_a} d={a.shape[1]}, "
                         f"{name_b} d={b.shape[1]}")
    if a.dtype != b.dtype:
        raise TypeError(f"{where}: dtypes differ, {a.dtype} vs {b.dtype}")
