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
        (np.array([1.0, None], dtype=object), {}, TypeError, r"reference must contain real numbers only; got None at index 1"),
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


# --------------------------------------------------------------------------------------------
# Holes found in review: strings/complex in 2-D input, booleans and strings inside arrays given to
# as_real_or_array, numbers beyond the float64 range (a bare OverflowError without the argument name)
# --------------------------------------------------------------------------------------------

BIG = 10**400  # a Python int no float64 can hold


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([["1", "2", "3"]], r"X must contain real numbers; got dtype <U1"),
        ([[b"1", b"2"]], r"X must contain real numbers; got dtype \|S1"),
        (np.array([[1 + 5j, 2, 3]]), r"X must contain real numbers; got dtype complex128"),
        (np.array([[1 + 0j, 2]]), r"X must contain real numbers; got dtype complex128"),  # even a zero imaginary part
        (np.array([["1.5", 2.0]], dtype=object), r"X must contain real numbers only; got '1.5' at index \(0, 0\)"),
        (np.array([[1.0, 2 + 1j]], dtype=object), r"X must contain real numbers only; got \(2\+1j\) at index \(0, 1\)"),
        (np.array([[1.0, None]], dtype=object), r"X must contain real numbers only; got None at index \(0, 1\)"),
        (np.array([[1.0, b"2"]], dtype=object), r"X must contain real numbers only; got b'2' at index \(0, 1\)"),
    ],
)
def test_as_2d_array_rejects_strings_bytes_and_complex(values, message):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning: complex input is refused, never cast
        with pytest.raises(TypeError, match=message):
            v.as_2d_array("X", values)


def test_as_2d_array_accepts_real_objects_and_booleans_as_documented():
    from fractions import Fraction

    out = v.as_2d_array("X", np.array([[Fraction(1, 2), np.float32(2.5), np.int64(3)], [1, 2.0, True]], dtype=object))
    assert out.dtype == np.float64 and out.tolist() == [[0.5, 2.5, 3.0], [1.0, 2.0, 1.0]]
    # booleans: 0/1, exactly as as_1d_array (a 0/1 conversion matrix is a real use)
    assert v.as_2d_array("X", np.array([[True, False], [False, False]])).tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert v.as_2d_array("X", [[1, 2], [3, 4]]).dtype == np.float64
    with pytest.raises(ValueError, match="X must be a rectangular array of numbers; got ragged"):
        v.as_2d_array("X", [[1.0, 2.0], [3.0]])


@pytest.mark.parametrize(
    ("values", "exc", "message"),
    [
        ([b"1", b"2"], TypeError, r"x must contain real numbers; got dtype \|S1"),
        (np.array([1.0, 1j], dtype=object), TypeError, r"x must contain real numbers only; got 1j at index 1"),
        (np.array([1.0, "2"], dtype=object), TypeError, r"x must contain real numbers only; got '2' at index 1"),
        ([1, BIG], ValueError, r"x must contain numbers within the float64 range .*got 1000.*\.\.\. at index 1"),
        ([[1.0], [2.0, 3.0]], ValueError, r"x must be a rectangular array of numbers; got ragged"),
    ],
)
def test_as_1d_array_same_holes(values, exc, message):
    with pytest.raises(exc, match=message):
        v.as_1d_array("x", values)


def test_as_1d_array_booleans_stay_accepted_in_every_form():
    for values in ([True, 2.0], np.array([True, False]), np.array([np.True_, 2.0], dtype=object)):
        assert v.as_1d_array("x", values).tolist()[0] == 1.0


@pytest.mark.skipif(np.finfo(np.longdouble).max <= np.finfo(np.float64).max, reason="longdouble is float64 here")
def test_as_1d_array_longdouble_beyond_float64_is_named_not_turned_into_inf():
    big = np.array([1.0, 2.0], dtype=np.longdouble)
    big[1] = np.longdouble(np.finfo(np.float64).max) * 4
    with pytest.raises(ValueError, match=r"x must contain numbers within the float64 range .* at index 1"):
        v.as_1d_array("x", big)
    with pytest.raises(ValueError, match=r"x must contain numbers within the float64 range .* at index \(0, 1\)"):
        v.as_2d_array("x", big[np.newaxis])
    with pytest.raises(ValueError, match=r"x must contain numbers within the float64 range .* at index 1"):
        v.as_real_or_array("x", big, allow_inf=True)


def test_check_real_beyond_float64_names_the_argument():
    from fractions import Fraction

    for value in (BIG, -BIG, Fraction(BIG, 3)):
        for allow_inf in (False, True):  # never silently made infinite
            with pytest.raises(ValueError, match=r"ttl must be within the float64 range"):
                v.check_real("ttl", value, allow_inf=allow_inf)
    assert v.check_real("ttl", 10**308) == 1e308  # the largest ints that fit still pass


@pytest.mark.parametrize(
    ("values", "exc", "message"),
    [
        ([True, 2.0], TypeError, r"x must contain real numbers, not booleans; got True at index 0"),
        ([2.0, np.bool_(False)], TypeError, r"x must contain real numbers, not booleans; got np.False_ at index 1|"
                                            r"x must contain real numbers, not booleans; got False at index 1"),
        ([[1.0, 2.0], [3.0, True]], TypeError, r"x must contain real numbers, not booleans; got True at index \(1, 1\)"),
        (np.array([1.5, True], dtype=object), TypeError, r"x must contain real numbers, not booleans"),
        ([np.array([True, False])], TypeError, r"x must contain real numbers, not booleans"),
        (np.array([True, False]), TypeError, r"x must contain real numbers; got dtype bool"),
        (np.array(["1.5", 2], dtype=object), TypeError, r"x must contain real numbers only; got '1.5' at index 0"),
        (["1.5", 2.0], TypeError, r"x must contain real numbers only; got '1.5' at index 0"),
        ([1.0, 1j], TypeError, r"x must contain real numbers only; got 1j at index 1"),
        (np.array([1.0, 2.0 + 0j]), TypeError, r"x must contain real numbers; got dtype complex128"),
        ([b"1"], TypeError, r"x must contain real numbers only; got b'1' at index 0"),
        ([1.0, None], TypeError, r"x must contain real numbers only; got None at index 1"),
        ([[1.0, 2.0], [3.0]], TypeError, r"x must contain real numbers only; got \[1.0, 2.0\] at index 0"),
        ([1.0, BIG], ValueError, r"x must contain numbers within the float64 range .* at index 1"),
        pytest.param(BIG, ValueError, r"x must be within the float64 range", id="int-10**400"),
        (True, TypeError, r"x must be a real number, not a boolean; got True"),
        (np.bool_(False), TypeError, r"x must be a real number, not a boolean"),
    ],
)
def test_as_real_or_array_rejects_booleans_strings_and_overflow_inside_arrays(values, exc, message):
    with pytest.raises(exc, match=message):
        v.as_real_or_array("x", values, allow_inf=True)


def test_as_real_or_array_keeps_converting_real_data():
    from fractions import Fraction

    assert v.as_real_or_array("x", 2) == 2.0 and isinstance(v.as_real_or_array("x", 2), float)
    assert v.as_real_or_array("x", np.array(2.5)) == 2.5
    out = v.as_real_or_array("x", [[1, 2.5], [np.int32(3), Fraction(1, 4)]])
    assert out.dtype == np.float64 and out.tolist() == [[1.0, 2.5], [3.0, 0.25]]
    assert v.as_real_or_array("x", np.arange(3)).tolist() == [0.0, 1.0, 2.0]
    assert v.as_real_or_array("x", [1.0, math.inf], allow_inf=True).tolist() == [1.0, math.inf]
    assert v.as_real_or_array("x", (0.5, 10**300)).tolist() == [0.5, 1e300]
    with pytest.raises(ValueError, match=r"x must be finite and >= 0.0; got -1.0 at index 1"):
        v.as_real_or_array("x", [1, -1], minimum=0.0)


def test_vectorised_stats_function_rejects_a_boolean_inside_an_array_like_a_boolean_scalar():
    from prodai_lessons import stats

    with pytest.raises(TypeError, match="t must be a real number, not a boolean"):
        stats.t_sf(True, 3.0)
    with pytest.raises(TypeError, match="t must contain real numbers, not booleans; got True at index 0"):
        stats.t_sf([True, 2.0], 3.0)
    with pytest.raises(TypeError, match="t must contain real numbers only; got '1.5' at index 0"):
        stats.t_sf(np.array(["1.5", 2], dtype=object), 3.0)
    assert stats.t_sf([1.0, 2.0], 3.0).tolist() == [stats.t_sf(1.0, 3.0), stats.t_sf(2.0, 3.0)]
