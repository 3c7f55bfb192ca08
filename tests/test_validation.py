"""The shared input checks: right values pass through converted, wrong ones raise naming the argument."""

import math

import numpy as np
import pytest

from prodai_lessons import _validation as v


def test_as_1d_array_converts_and_keeps_values():
    out = v.as_1d_array("x", [1, 2, 3])
    assert out.dtype == np.float64 and out.tolist() == [1.0, 2.0, 3.0]
    assert v.as_1d_array("x", np.array([True, False])).tolist() == [1.0, 0.0]
    assert v.as_1d_array("x", [1.0, math.nan], allow_nan=True).shape == (2,)


@pytest.mark.parametrize(
    ("values", "kwargs", "exc", "message"),
    [
        ([], {}, ValueError, r"reference must be a non-empty 1-D array of finite numbers; got shape \(0,\)"),
        ([[1.0, 2.0]], {}, ValueError, r"reference must be a 1-D array; got shape \(1, 2\)"),
        ([1.0, math.nan], {}, ValueError, r"reference must contain finite numbers only; got nan at index 1"),
        ([1.0, math.inf, math.inf], {}, ValueError, r"got inf at index 1 \(2 non-finite value\(s\) in all\)"),
        (["a", "b"], {}, TypeError, r"reference must contain real numbers; got dtype <U1"),
        ([1.0, "a"], {}, TypeError, r"reference must contain real numbers"),
        (np.array([1.0, None], dtype=object), {}, TypeError, r"reference must contain numbers only"),
        ("abc", {}, TypeError, r"reference must be a 1-D array of numbers; got 'abc'"),
        (None, {}, TypeError, r"reference must be a 1-D array of numbers; got None"),
        ([1 + 2j], {}, TypeError, r"reference must contain real numbers; got dtype complex128"),
        ([1.0], {"min_size": 2}, ValueError, r"reference must be a at least 2-element"),
        ([1.0, -2.0], {"nonnegative": True}, ValueError, r"reference must be non-negative; got -2.0 at index 1"),
    ],
)
def test_as_1d_array_errors_name_the_argument(values, kwargs, exc, message):
    with pytest.raises(exc, match=message):
        v.as_1d_array("reference", values, **kwargs)


def test_as_2d_array():
    assert v.as_2d_array("X", [[1, 2], [3, 4]]).shape == (2, 2)
    with pytest.raises(ValueError, match=r"X must be a 2-D array \(rows x features\); got shape \(3,\)"):
        v.as_2d_array("X", [1, 2, 3])
    with pytest.raises(ValueError, match=r"X must have 3 column\(s\); got shape \(2, 2\)"):
        v.as_2d_array("X", [[1, 2], [3, 4]], n_columns=3)
    with pytest.raises(ValueError, match=r"X must contain finite numbers only; got nan at row 1, column 0"):
        v.as_2d_array("X", [[1, 2], [math.nan, 4]])
    with pytest.raises(ValueError, match=r"X must have at least 1 row"):
        v.as_2d_array("X", np.empty((0, 3)))


def test_as_bool_array():
    assert v.as_bool_array("errors", [0, 1, 1]).tolist() == [False, True, True]
    assert v.as_bool_array("errors", np.array([True])).dtype == bool
    with pytest.raises(ValueError, match="errors must contain booleans or 0/1; got 2 at index 1"):
        v.as_bool_array("errors", [0, 2])
    with pytest.raises(TypeError, match="errors must contain booleans or the integers 0/1; got dtype float64"):
        v.as_bool_array("errors", [0.0, 0.5])
    with pytest.raises(ValueError, match="errors must be a non-empty"):
        v.as_bool_array("errors", [])


def test_as_category_array():
    assert v.as_category_array("c", ["a", "b"]).tolist() == ["a", "b"]
    with pytest.raises(ValueError, match="c must not contain None"):
        v.as_category_array("c", ["a", None])
    with pytest.raises(ValueError, match="c must not contain NaN"):
        v.as_category_array("c", [1.0, math.nan])
    with pytest.raises(ValueError, match="c must not contain NaN"):
        v.as_category_array("c", np.array(["a", math.nan], dtype=object))


def test_scalars():
    assert v.check_int("n", np.int64(3), minimum=1) == 3
    for bad, exc in [(3.0, TypeError), (True, TypeError), ("3", TypeError), (0, ValueError)]:
        with pytest.raises(exc, match="n must be"):
            v.check_int("n", bad, minimum=1)
    with pytest.raises(ValueError, match="n must be <= 5; got 6"):
        v.check_int("n", 6, maximum=5)
    assert v.check_real("ttl", 2) == 2.0
    with pytest.raises(ValueError, match=r"ttl must be > 0.0; got 0.0"):
        v.check_real("ttl", 0, minimum=0.0, strict_minimum=True)
    with pytest.raises(ValueError, match="ttl must be finite; got nan"):
        v.check_real("ttl", math.nan)
    with pytest.raises(TypeError, match="ttl must be a real number; got None"):
        v.check_real("ttl", None)
    with pytest.raises(ValueError, match=r"alpha must be < 1.0; got 1.0"):
        v.check_probability("alpha", 1.0)
    assert v.check_probability("alpha", 1.0, open_interval=False) == 1.0


def test_choice_str_weights_callable():
    assert v.check_choice("method", "exact", ["auto", "exact"]) == "exact"
    with pytest.raises(ValueError, match="method must be one of 'asymp', 'auto', 'exact'; got 'fast'"):
        v.check_choice("method", "fast", ["exact", "asymp", "auto"])
    with pytest.raises(ValueError, match="method must be one of"):
        v.check_choice("method", ["unhashable"], ["exact"])
    with pytest.raises(TypeError, match="name must be a str; got int 3"):
        v.check_str("name", 3)
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        v.check_str("name", "")
    assert v.check_weights("split", {"a": 0.5, "b": 0.5}) == {"a": 0.5, "b": 0.5}
    with pytest.raises(ValueError, match="split weights must sum to 1"):
        v.check_weights("split", {"a": 0.5, "b": 0.6})
    with pytest.raises(ValueError, match=r"split\['b'\] must be > 0.0; got -0.5"):
        v.check_weights("split", {"a": 1.5, "b": -0.5})
    with pytest.raises(TypeError, match="split must be a mapping"):
        v.check_weights("split", [0.5, 0.5])
    with pytest.raises(ValueError, match="split must have at least one entry"):
        v.check_weights("split", {})
    with pytest.raises(TypeError, match="detector must have method\\(s\\) update"):
        v.check_callable("detector", object(), methods=["update"])
    with pytest.raises(TypeError, match="fn must be callable"):
        v.check_callable("fn", 3)
