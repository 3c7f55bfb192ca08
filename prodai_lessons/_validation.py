"""Shared input validation: every public function of the package checks its arguments here.

Each checker takes the *argument name* first and raises ``TypeError`` (wrong kind of object)
or ``ValueError`` (right kind, bad value) with a message that names the argument and says what
was expected, in the style of scikit-learn::

    reference must be a non-empty 1-D array of finite numbers; got shape (0,)

Checkers return the validated (and, for arrays, converted) value, so callers write
``x = as_1d_array("reference", reference)``. Nothing is silently dropped, clipped or turned into NaN.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "as_1d_array",
    "as_2d_array",
    "as_bool_array",
    "as_category_array",
    "check_int",
    "check_real",
    "check_probability",
    "check_choice",
    "check_str",
    "check_weights",
    "check_callable",
    "as_real_or_array",
]


def _describe(value: Any) -> str:
    """A short, safe description of a value for error messages."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _where(arr: np.ndarray, flat_index: int) -> str:
    """``index 3`` for a 1-D array, ``index (1, 2)`` for higher dimensions."""
    if arr.ndim <= 1:
        return f"index {flat_index}"
    return f"index {tuple(int(k) for k in np.unravel_index(flat_index, arr.shape))}"


def _asarray(name: str, values: Any) -> np.ndarray:
    """``np.asarray(values)``, with ragged nested sequences reported as a ``ValueError`` naming ``name``."""
    try:
        return np.asarray(values)
    except ValueError:
        raise ValueError(f"{name} must be a rectangular array of numbers; got ragged nested sequences") from None


def _check_real_objects(name: str, arr: np.ndarray, *, allow_bool: bool) -> None:
    """``TypeError`` naming ``name`` unless every element of the object array ``arr`` is a real number.

    Real numbers are ``numbers.Real`` instances (Python and numpy ints and floats, ``Fraction``);
    strings, bytes, complex, ``None``, ``Decimal`` and nested sequences are not. Booleans (``bool``,
    ``np.bool_``) pass only with ``allow_bool``.
    """
    for i, v in enumerate(arr.flat):
        if isinstance(v, (bool, np.bool_)):
            if allow_bool:
                continue
            raise TypeError(f"{name} must contain real numbers, not booleans; got {v!r} at {_where(arr, i)}")
        if not isinstance(v, numbers.Real):
            raise TypeError(f"{name} must contain real numbers only; got {_describe(v)} at {_where(arr, i)}")


def _to_float64(name: str, arr: np.ndarray) -> np.ndarray:
    """``arr`` (object array of real numbers, or dtype kind b/i/u/f) as float64, or ``ValueError`` naming
    ``name`` for a finite value beyond the float64 range (a Python int such as ``10**400``, a large
    ``np.longdouble``) instead of a bare ``OverflowError`` or a silent ``inf``."""
    if arr.dtype == object:
        try:
            return arr.astype(np.float64)
        except OverflowError:
            i = next(k for k, v in enumerate(arr.flat) if _overflows(v))
            raise ValueError(f"{name} must contain numbers within the float64 range (|x| <= "
                             f"{np.finfo(np.float64).max:.6g}); got {_describe(arr.flat[i])} at {_where(arr, i)}") from None
    if arr.dtype.kind == "f" and arr.dtype.itemsize > 8:
        with np.errstate(over="ignore"):
            out = arr.astype(np.float64)
        lost = np.isinf(out) & np.isfinite(arr)
        if lost.any():
            i = int(np.flatnonzero(lost.ravel())[0])
            raise ValueError(f"{name} must contain numbers within the float64 range (|x| <= "
                             f"{np.finfo(np.float64).max:.6g}); got {arr.flat[i]} at {_where(arr, i)}")
        return out
    return arr.astype(np.float64, copy=False)


def _overflows(value: Any) -> bool:
    try:
        float(value)
    except OverflowError:
        return True
    return False


def as_1d_array(
    name: str,
    values: Any,
    *,
    min_size: int = 1,
    allow_nan: bool = False,
    nonnegative: bool = False,
) -> np.ndarray:
    """Return ``values`` as a 1-D float64 array of finite numbers, or raise naming ``name``.

    - ``TypeError`` for strings, ``None``, mappings, and data that is not numeric (strings,
      bytes, objects, complex); booleans are accepted and converted to 0.0/1.0.
    - ``ValueError`` for anything that is not 1-D, has fewer than ``min_size`` elements, contains
      NaN or infinity (unless ``allow_nan``), negative values when ``nonnegative``, or a number
      beyond the float64 range (``10**400``).
    """
    if values is None or isinstance(values, (str, bytes, Mapping)):
        raise TypeError(f"{name} must be a 1-D array of numbers; got {_describe(values)}")
    arr = _asarray(name, values)
    if arr.dtype == object:
        _check_real_objects(name, arr, allow_bool=True)
        arr = _to_float64(name, arr)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must contain real numbers; got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array; got shape {arr.shape}")
    if arr.size < min_size:
        what = "non-empty" if min_size == 1 else f"at least {min_size}-element"
        raise ValueError(f"{name} must be a {what} 1-D array of finite numbers; got shape {arr.shape}")
    arr = _to_float64(name, arr)
    if not allow_nan:
        bad = ~np.isfinite(arr)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name} must contain finite numbers only; got {arr[i]} at index {i} "
                f"({int(bad.sum())} non-finite value(s) in all)"
            )
    if nonnegative and (arr < 0).any():
        i = int(np.flatnonzero(arr < 0)[0])
        raise ValueError(f"{name} must be non-negative; got {arr[i]} at index {i}")
    return arr


def as_2d_array(name: str, values: Any, *, min_rows: int = 1, n_columns: int | None = None,
                min_columns: int = 0, what: str = "rows x features") -> np.ndarray:
    """Return ``values`` as a 2-D float64 array (rows x columns) of finite numbers, or raise naming ``name``.

    A 1-D input is *not* promoted silently: a feature matrix must say which axis is which.
    ``what`` names the axes in the message (e.g. ``"experiments x observations"``).
    The same element rules as :func:`as_1d_array`: ``TypeError`` for strings (even ``"1.5"``),
    bytes, complex numbers (never cast to their real part) and non-numeric objects; booleans are
    accepted as 0.0/1.0; ``ValueError`` for a number beyond the float64 range.
    """
    if values is None or isinstance(values, (str, bytes, Mapping)):
        raise TypeError(f"{name} must be a 2-D array of numbers; got {_describe(values)}")
    arr = _asarray(name, values)
    if arr.dtype == object:
        _check_real_objects(name, arr, allow_bool=True)
        arr = _to_float64(name, arr)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must contain real numbers; got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array ({what}); got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise ValueError(f"{name} must have at least {min_rows} row(s); got shape {arr.shape}")
    if arr.shape[1] < min_columns:
        raise ValueError(f"{name} must have at least {min_columns} column(s); got shape {arr.shape}")
    if n_columns is not None and arr.shape[1] != n_columns:
        raise ValueError(f"{name} must have {n_columns} column(s); got shape {arr.shape}")
    arr = _to_float64(name, arr)
    if not np.isfinite(arr).all():
        r, c = (int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"{name} must contain finite numbers only; got {arr[r, c]} at row {r}, column {c}")
    return arr


def as_bool_array(name: str, values: Any, *, min_size: int = 1) -> np.ndarray:
    """Return ``values`` as a 1-D bool array; accepts bools and the integers 0/1 only.

    ``TypeError`` for floats such as 0.5 or strings; ``ValueError`` for integers other than 0 and 1,
    for shapes that are not 1-D and for fewer than ``min_size`` elements.
    """
    if values is None or isinstance(values, (str, bytes, Mapping)):
        raise TypeError(f"{name} must be a 1-D array of booleans (or 0/1); got {_describe(values)}")
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of booleans; got shape {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name} must be a non-empty 1-D array of booleans; got shape {arr.shape}")
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind in "iu":
        bad = (arr != 0) & (arr != 1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name} must contain booleans or 0/1; got {arr[i]} at index {i}")
        return arr.astype(bool)
    raise TypeError(f"{name} must contain booleans or the integers 0/1; got dtype {arr.dtype}")


def as_category_array(name: str, values: Any, *, min_size: int = 1) -> np.ndarray:
    """Return categorical ``values`` as a 1-D array (strings or integers kept as they are).

    Floats with NaN and ``None`` entries are rejected: a missing category must be spelled out
    (e.g. ``"missing"``), never dropped.
    """
    if values is None or isinstance(values, (str, bytes, Mapping)):
        raise TypeError(f"{name} must be a 1-D sequence of categories; got {_describe(values)}")
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of categories; got shape {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of categories; got shape {arr.shape}")
    if arr.dtype == object:
        if any(v is None for v in arr):
            raise ValueError(f"{name} must not contain None; encode missing values as their own category")
        if any(isinstance(v, float) and math.isnan(v) for v in arr):
            raise ValueError(f"{name} must not contain NaN; encode missing values as their own category")
    elif arr.dtype.kind == "f" and np.isnan(arr).any():
        raise ValueError(f"{name} must not contain NaN; encode missing values as their own category")
    return arr


def check_int(
    name: str,
    value: Any,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    """Return ``value`` as an ``int`` within [minimum, maximum], or raise naming ``name``.

    Booleans and floats (even 3.0) are rejected with ``TypeError``: a count is an integer.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {_describe(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}; got {value}")
    return value


def check_real(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
    strict_maximum: bool = False,
    allow_inf: bool = False,
) -> float:
    """Return ``value`` as a finite ``float`` within the bounds, or raise naming ``name``.

    ``strict_minimum``/``strict_maximum`` make the bounds exclusive (e.g. ``ttl > 0``);
    ``allow_inf`` lets +/-infinity through (NaN never passes). Booleans are a ``TypeError``; a
    number beyond the float64 range (``10**400``) a ``ValueError``, even with ``allow_inf``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {_describe(value)}")
    try:
        value = float(value)
    except OverflowError:  # a Python int (or Fraction) beyond the float range, e.g. 10**400
        raise ValueError(f"{name} must be within the float64 range (|x| <= {np.finfo(np.float64).max:.6g}); "
                         f"got {_describe(value)}") from None
    if not allow_inf and not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    if minimum is not None and (value <= minimum if strict_minimum else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict_minimum else '>='} {minimum}; got {value}")
    if maximum is not None and (value >= maximum if strict_maximum else value > maximum):
        raise ValueError(f"{name} must be {'<' if strict_maximum else '<='} {maximum}; got {value}")
    return value


def check_probability(name: str, value: Any, *, open_interval: bool = True) -> float:
    """Return ``value`` as a float in (0, 1) (or [0, 1] with ``open_interval=False``)."""
    return check_real(name, value, minimum=0.0, maximum=1.0,
                      strict_minimum=open_interval, strict_maximum=open_interval)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``; otherwise ``ValueError`` listing them (sorted, stable)."""
    options = list(choices)
    try:
        ok = value in options
    except TypeError:
        ok = False
    if not ok:
        listed = ", ".join(repr(o) for o in sorted(options, key=str))
        raise ValueError(f"{name} must be one of {listed}; got {_describe(value)}")
    return value


def check_str(name: str, value: Any, *, allow_empty: bool = False) -> str:
    """Return ``value`` if it is a ``str`` (non-empty unless ``allow_empty``)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str; got {type(value).__name__} {_describe(value)}")
    if not allow_empty and not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value


def check_weights(name: str, weights: Any, *, tolerance: float = 1e-9) -> dict[str, float]:
    """Validate a mapping of label -> positive weight summing to 1 (within ``tolerance``).

    Returns a plain dict with float weights in the mapping's own order.
    """
    if not isinstance(weights, Mapping):
        raise TypeError(f"{name} must be a mapping of name -> weight; got {_describe(weights)}")
    if not weights:
        raise ValueError(f"{name} must have at least one entry; got an empty mapping")
    out: dict[str, float] = {}
    for key, w in weights.items():
        out[key] = check_real(f"{name}[{key!r}]", w, minimum=0.0, strict_minimum=True)
    total = math.fsum(out.values())
    if abs(total - 1.0) > tolerance:
        raise ValueError(f"{name} weights must sum to 1 (within {tolerance:g}); got {total:.12g}")
    return out


def check_callable(name: str, value: Any, *, methods: Sequence[str] = ()) -> Any:
    """Check ``value`` is callable, or has all of ``methods``; the message lists what is missing."""
    if methods:
        missing = [m for m in methods if not callable(getattr(value, m, None))]
        if missing:
            raise TypeError(f"{name} must have method(s) {', '.join(missing)}; got {_describe(value)}")
    elif not callable(value):
        raise TypeError(f"{name} must be callable; got {_describe(value)}")
    return value


def as_real_or_array(
    name: str,
    value: Any,
    *,
    allow_inf: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
    strict_maximum: bool = False,
) -> float | np.ndarray:
    """Return a real scalar as ``float``, or array-like data (any shape) as a float64 ndarray.

    The same checks apply to a scalar and to every element of an array: ``TypeError`` for
    booleans (``[True, 2.0]`` and bool arrays too), strings (``"1.5"`` too), ``None`` and non-real
    data; ``ValueError`` for NaN, for infinities (unless ``allow_inf``), for values outside the
    bounds (``strict_*`` makes a bound exclusive) and for numbers beyond the float64 range. A 0-d array counts as a scalar. This is the checker for vectorised numeric
    functions such as ``prodai_lessons.stats.t_sf``: scalars in give a float out, arrays an array.
    """
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        return check_real(name, value, minimum=minimum, maximum=maximum, strict_minimum=strict_minimum,
                          strict_maximum=strict_maximum, allow_inf=allow_inf)
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, not a boolean; got {value!r}")
    if value is None or isinstance(value, (str, bytes, Mapping)):
        raise TypeError(f"{name} must be a real number or an array of real numbers; got {_describe(value)}")
    if isinstance(value, np.ndarray) and value.dtype != object:
        arr = value
    else:
        # Element by element: np.asarray([True, 2.0]) would turn the boolean into 1.0 unseen.
        try:
            arr = np.asarray(value, dtype=object)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a real number or an array of real numbers; got {_describe(value)}") from None
        _check_real_objects(name, arr, allow_bool=False)
    if arr.dtype != object and arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must contain real numbers; got dtype {arr.dtype}")
    arr = _to_float64(name, arr)
    if arr.ndim == 0:
        return as_real_or_array(name, float(arr), allow_inf=allow_inf, minimum=minimum, maximum=maximum,
                                strict_minimum=strict_minimum, strict_maximum=strict_maximum)
    nan = np.isnan(arr)
    if nan.any():
        i = tuple(int(k) for k in np.argwhere(nan)[0])
        raise ValueError(f"{name} must not contain NaN; got NaN at index {i[0] if len(i) == 1 else i}")
    bad = np.zeros(arr.shape, dtype=bool)
    if not allow_inf:
        bad |= np.isinf(arr)
    if minimum is not None:
        bad |= (arr <= minimum) if strict_minimum else (arr < minimum)
    if maximum is not None:
        bad |= (arr >= maximum) if strict_maximum else (arr > maximum)
    if bad.any():
        i = tuple(int(k) for k in np.argwhere(bad)[0])
        where = i[0] if len(i) == 1 else i
        bounds = []
        if minimum is not None:
            bounds.append(f"{'>' if strict_minimum else '>='} {minimum}")
        if maximum is not None:
            bounds.append(f"{'<' if strict_maximum else '<='} {maximum}")
        what = " and ".join(([] if allow_inf else ["finite"]) + bounds)
        raise ValueError(f"{name} must be {what}; got {arr[i]} at index {where}")
    return arr
