"""The machinery behind :mod:`prodai_lessons.cost`: input checks, exact integer sums, the request ledger, the budget.

Private. The lesson module reads the idea (a request's cost, a cache hit's saving); this module makes it
exact at any volume and fast on a million requests:

- integer sums that never overflow (int64 while safe, Python integers beyond);
- the checks of a batch of requests (all-or-nothing: a bad batch records nothing);
- the columnar ledger of logged requests (rows appended one by one, or arrays at once);
- the run-rate budget projection, request by request and vectorised, with lesson 3's alert rule on it;
- the parsing of a price list and the typed keys of the response cache.

Nothing here imports :mod:`prodai_lessons.cost`: imports run one way, lesson module -> engine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping
from dataclasses import fields
from types import MappingProxyType
from typing import Any

import numpy as np

from prodai_lessons._validation import as_1d_array, as_bool_array, as_category_array, check_real
from prodai_lessons.monitoring import alert_step

#: Picodollars per US dollar: the integer unit in which all money is counted.
PICO_PER_USD = 10**12
#: Length of the budget day, in seconds (days start at multiples of this, i.e. midnight UTC for Unix time).
SECONDS_PER_DAY = 86_400.0

INT64_SAFE = 2**62  # margin under 2**63 for exact int64 sums
INT64_MAX = 2**63 - 1
PRICE_FIELDS = ("input_per_mtok", "output_per_mtok")
OPTIONAL_PRICE_FIELDS = ("cached_input_per_mtok",)


# --------------------------------------------------------------------------------------------- money
def usd(pico: int) -> float:
    """Dollars from an exact picodollar integer (one rounding, here)."""
    return int(pico) / PICO_PER_USD


def usd_array(pico: np.ndarray) -> np.ndarray:
    """Dollars (float64) from an int64 or object (Python int) array of exact picodollars."""
    if pico.dtype == object:
        return np.array([int(v) / PICO_PER_USD for v in pico.tolist()], dtype=float)
    return pico / PICO_PER_USD


def exact_sum(values: np.ndarray) -> int:
    """Exact integer sum of an int64 array (falls back to Python integers if int64 could overflow)."""
    if values.size == 0:
        return 0
    if int(np.abs(values).max()) * values.size < INT64_SAFE:
        return int(values.sum())
    return sum(int(v) for v in values.tolist())


def group_sum(index: np.ndarray, values: np.ndarray, n_groups: int) -> list[int]:
    """Exact per-group integer sums."""
    if values.size and int(np.abs(values).max()) * values.size >= INT64_SAFE:
        out = [0] * n_groups
        for g, v in zip(index.tolist(), values.tolist()):
            out[g] += v
        return out
    acc = np.zeros(n_groups, dtype=np.int64)
    np.add.at(acc, index, values)
    return [int(v) for v in acc]


def check_price(name: str, value: Any) -> float:
    """A price in ``$/MTok``: a non-negative number with at most six decimals (so a whole number of pUSD/token)."""
    v = check_real(name, value, minimum=0.0)
    scaled = v * 1e6
    if abs(scaled - round(scaled)) > max(1e-6, 1e-13 * abs(scaled)):
        raise ValueError(f"{name} must have at most 6 decimal places (in USD per 1M tokens); got {v!r}")
    return v


# --------------------------------------------------------------------------------------------- results
def readonly(values: Any) -> np.ndarray:
    """A read-only copy of ``values``: a frozen result's array cannot be changed through its field."""
    arr = np.array(values, copy=True)
    arr.flags.writeable = False
    return arr


def dataclass_repr(obj: Any) -> str:
    """The repr ``@dataclass`` would write, with read-only mappings shown as the plain dicts they hold."""
    parts = []
    for f in fields(obj):
        if f.repr:
            v = getattr(obj, f.name)
            parts.append(f"{f.name}={dict(v) if isinstance(v, MappingProxyType) else v!r}")
    return f"{type(obj).__qualname__}({', '.join(parts)})"


# --------------------------------------------------------------------------------------------- price lists
def parse_pricing(data: Any, name: str) -> tuple[dict[str, dict[str, Any]], Mapping[str, Any]]:
    """``(model -> ModelPrice keyword arguments, metadata)`` from the JSON layout of ``data/pricing.json``.

    A bare ``{"<model>": {...}}`` mapping (no ``"models"`` key) is accepted too. Errors name ``name`` (the
    file), the model and the field.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"{name} must be a mapping (the parsed pricing JSON); got {type(data).__name__}")
    models = data.get("models", data) if isinstance(data.get("models"), Mapping) else data
    meta = data if models is not data else {}
    if not models:
        raise ValueError(f"{name} must list at least one model")
    out: dict[str, dict[str, Any]] = {}
    for model, entry in models.items():
        if not isinstance(model, str) or not model:
            raise TypeError(f"{name}: model names must be non-empty strings; got {model!r}")
        if not isinstance(entry, Mapping):
            raise TypeError(f"{name}: model {model!r} must map field -> value; got {type(entry).__name__}")
        for f in ("tier",) + PRICE_FIELDS:
            if f not in entry:
                raise ValueError(f"{name}: model {model!r} is missing field {f!r}")
        unknown = sorted(set(entry) - {"tier", "provider", *PRICE_FIELDS, *OPTIONAL_PRICE_FIELDS})
        if unknown:
            raise ValueError(f"{name}: model {model!r} has unknown field(s) {', '.join(map(repr, unknown))}")
        for f in PRICE_FIELDS + OPTIONAL_PRICE_FIELDS:
            v = entry.get(f)
            if f in OPTIONAL_PRICE_FIELDS and v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(f"{name}: model {model!r} field {f!r} must be a number (USD per 1M tokens); "
                                f"got {v!r}")
        cached = entry.get("cached_input_per_mtok")
        out[model] = dict(name=model, tier=entry["tier"], input_per_mtok=float(entry["input_per_mtok"]),
                          output_per_mtok=float(entry["output_per_mtok"]),
                          cached_input_per_mtok=None if cached is None else float(cached),
                          provider=entry.get("provider", ""))
    return out, meta


# --------------------------------------------------------------------------------------------- batches
def count_array(name: str, values: Any, n: int | None) -> np.ndarray:
    """A 1-D int64 array of ``n`` (any number if None) non-negative integers; floats are refused."""
    if values is None or isinstance(values, (str, bytes, Mapping)):
        raise TypeError(f"{name} must be a 1-D array of non-negative integers; got {values!r}")
    arr = np.asarray(values)
    if arr.dtype.kind == "f" and not isinstance(values, np.ndarray):
        # numpy turns a list mixing int64-sized and larger integers (e.g. [0, 2**63]) into float64:
        # look at the elements themselves, so such a list is reported as too large, not as floats
        as_objects = np.asarray(values, dtype=object)
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in as_objects.ravel()):
            arr = as_objects
    if arr.dtype == object and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                   for v in arr.ravel()):
        # Python integers beyond int64 (e.g. 2**64) give an object array: check the range before converting,
        # so the error names the argument instead of numpy's bare OverflowError
        if arr.ndim != 1:
            raise ValueError(f"{name} must be a 1-D array (one count per request); got shape {arr.shape}")
        for k, v in enumerate(arr.tolist()):
            if v < 0:
                raise ValueError(f"{name} must be non-negative; got {v} at index {k}")
            if v > INT64_MAX:
                raise ValueError(f"{name} must be at most {INT64_MAX} (a count that fits in int64); "
                                 f"got {v} at index {k}")
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must contain integers (token and retry counts are whole numbers); "
                        f"got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array (one count per request); got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} must have one count per request ({n}); got shape {arr.shape}")
    if arr.dtype.kind == "u" and arr.size and arr.max() > INT64_MAX:
        k = int(np.flatnonzero(arr > INT64_MAX)[0])
        raise ValueError(f"{name} must be at most {INT64_MAX} (a count that fits in int64); "
                         f"got {arr[k]} at index {k}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        i = int(np.flatnonzero(arr < 0)[0])
        raise ValueError(f"{name} must be non-negative; got {arr[i]} at index {i}")
    return arr


def batch_flags(i: np.ndarray, cached_input_tokens: Any, cached: Any, retries: Any
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(cached_input_tokens, cached, retries)`` of a batch of ``len(i)`` requests, checked against each other."""
    n = i.shape[0]
    c = np.zeros(n, np.int64) if cached_input_tokens is None else count_array(
        "cached_input_tokens", cached_input_tokens, n)
    if (c > i).any():
        k = int(np.flatnonzero(c > i)[0])
        raise ValueError(f"cached_input_tokens must be <= input_tokens; got {c[k]} > {i[k]} at index {k}")
    hit = np.zeros(n, bool) if cached is None else as_bool_array("cached", cached, min_size=0)
    if hit.shape != (n,):
        raise ValueError(f"cached must have one flag per request ({n}); got shape {hit.shape}")
    r = np.zeros(n, np.int64) if retries is None else count_array("retries", retries, n)
    if (hit & (r > 0)).any():
        k = int(np.flatnonzero(hit & (r > 0))[0])
        raise ValueError(f"retries must be 0 for a cached request (a cache hit makes no model call); "
                         f"got {r[k]} at index {k}")
    return c, hit, r


def batch_times(timestamps: Any, n: int, last_time: float) -> np.ndarray:
    """The ``n`` timestamps of a batch: non-decreasing, and not before the previous request's ``last_time``."""
    t = as_1d_array("timestamps", timestamps, min_size=0)
    if t.shape != (n,):
        raise ValueError(f"timestamps must have one value per request ({n}); got shape {t.shape}")
    if n and t[0] < last_time:
        raise ValueError(f"timestamps must not start before the previous request's ({last_time}); "
                         f"got {t[0]}: requests are logged in time order")
    if n > 1 and (np.diff(t) < 0).any():
        k = int(np.flatnonzero(np.diff(t) < 0)[0]) + 1
        raise ValueError(f"timestamps must be non-decreasing; got {t[k]} after {t[k - 1]} at index {k}")
    return t


def check_exact_bound(i: np.ndarray, o: np.ndarray, r: np.ndarray, prices: tuple[np.ndarray, ...]) -> None:
    """``ValueError`` unless the largest possible cost of one request of the batch fits comfortably in int64.

    ``prices``: the per-model input, output and cached-input prices in picodollars per token.
    """
    p_in, p_out, p_cached = prices
    bound = ((int(i.max()) * int(max(p_in.max(), p_cached.max())) + int(o.max()) * int(p_out.max()))
             * (1 + int(r.max())))
    if bound >= INT64_SAFE:
        raise ValueError("token or retry counts too large to account exactly in one batch; "
                         "check input_tokens, output_tokens and retries")


def index_array(name: str, values: Any, n: int, lookup: Callable[[Any], int]) -> np.ndarray:
    """Integer codes of ``n`` names (one string for all, or one per request), each looked up once."""
    if isinstance(values, str):
        return np.full(n, lookup(values), dtype=np.int32)
    arr = as_category_array(name, values, min_size=0)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have one entry per request ({n}); got shape {arr.shape}")
    uniq, inverse = np.unique(arr, return_inverse=True)
    codes = np.array([lookup(u.item() if isinstance(u, np.generic) else u) for u in uniq], dtype=np.int32)
    return codes[inverse.reshape(-1)]


# --------------------------------------------------------------------------------------------- ledger
COLUMNS = ("model", "input", "output", "cached_input", "cached", "feature", "retries", "time", "base", "paid")
DTYPES = {"model": np.int32, "input": np.int64, "output": np.int64, "cached_input": np.int64, "cached": bool,
          "feature": np.int32, "retries": np.int64, "time": np.float64, "base": np.int64, "paid": np.int64}


class Ledger:
    """Every logged request, column by column: single rows are buffered in lists, batches kept as arrays.

    ``base`` is what the request's call costs once, ``paid`` what was paid (0 for a cache hit, ``base``
    times the attempts otherwise), both exact picodollars.
    """

    def __init__(self) -> None:
        self._chunks: list[dict[str, np.ndarray]] = []
        self._pending: dict[str, list] = {c: [] for c in COLUMNS}

    def add_row(self, **row: Any) -> None:
        for col in COLUMNS:
            self._pending[col].append(row[col])

    def add_chunk(self, **columns: np.ndarray) -> None:
        self._flush()
        self._chunks.append({c: np.asarray(columns[c], dtype=DTYPES[c]) for c in COLUMNS})

    def _flush(self) -> None:
        p = self._pending
        if p["model"]:
            self._chunks.append({c: np.asarray(p[c], dtype=DTYPES[c]) for c in COLUMNS})
            self._pending = {c: [] for c in COLUMNS}

    def arrays(self) -> dict[str, np.ndarray]:
        """All columns as arrays, in log order (the chunks are joined once, then kept joined)."""
        self._flush()
        if not self._chunks:
            return {c: np.zeros(0, dtype=DTYPES[c]) for c in COLUMNS}
        if len(self._chunks) > 1:
            self._chunks = [{c: np.concatenate([ch[c] for ch in self._chunks]) for c in COLUMNS}]
        return self._chunks[0]

    def __len__(self) -> int:
        return sum(len(ch["model"]) for ch in self._chunks) + len(self._pending["model"])


# --------------------------------------------------------------------------------------------- budget
def profile_weights(traffic_profile: Any) -> np.ndarray:
    """24 hourly traffic weights (all > 0), normalised to sum to 1; a flat profile for ``None``."""
    if traffic_profile is None:
        w = np.ones(24)
    else:
        w = as_1d_array("traffic_profile", traffic_profile, nonnegative=True)
        if w.shape != (24,):
            raise ValueError(f"traffic_profile must hold 24 hourly weights; got shape {w.shape}")
        if (w <= 0).any():
            raise ValueError("traffic_profile weights must be > 0 (a projection divides by the share so far); "
                             f"got {w[w <= 0][0]} at hour {int(np.flatnonzero(w <= 0)[0])}")
    return w / w.sum()


class Budget:
    """The run-rate projection of each day's spend, and the budget alert as lesson 3's alert rule.

    ``projected = spent_today / F(elapsed)`` where ``F`` is the expected share of the day's traffic by then
    (the cumulative hourly profile, interpolated within the hour). After every projection the alert takes
    one step of :func:`prodai_lessons.monitoring.alert_step` (inactive -> pending -> firing -> inactive):
    breached is ``projected > daily_limit``, recovered is ``projected < clear_ratio * daily_limit``, and the
    projection must stay over the limit ``for_`` seconds before the alert fires. Entering firing records a
    ``"firing"`` notification, leaving it a ``"resolved"`` one: one of each per episode, so a projection that
    hovers around the limit pages once (hysteresis). A new day starts inactive; an alert still firing at
    midnight is resolved at midnight (``projected`` is then the day's final spend, since the whole day's
    traffic is in), recorded when the next day's first request arrives. Notifications are ``(timestamp, day,
    spent, projected, daily_limit, status)`` tuples. No projection (warm-up), no step: the state is kept.
    """

    def __init__(self, daily_limit: float | None, profile: np.ndarray, min_elapsed: float,
                 clear_ratio: float = 0.9, for_: float = 0.0) -> None:
        self.daily_limit = daily_limit
        self.min_elapsed = min_elapsed
        self.for_ = for_
        self.clear_at = None if daily_limit is None else clear_ratio * daily_limit
        self._cum_profile = np.concatenate([[0.0], np.cumsum(profile)])
        self._cum_profile[-1] = 1.0
        self._hour_edges = np.arange(25) * 3600.0
        self.notifications: list[tuple[float, int, float, float, float, str]] = []
        self._day: int | None = None
        self._day_spent = 0  # picodollars
        self.state, self._since = "inactive", 0.0  # the alert rule's state, and when it left "inactive"

    @property
    def alerts(self) -> list[tuple[float, int, float, float, float, str]]:
        """The ``"firing"`` notifications (one per episode)."""
        return [n for n in self.notifications if n[5] == "firing"]

    def fraction(self, elapsed: np.ndarray | float) -> np.ndarray | float:
        """Expected share of a day's traffic by ``elapsed`` seconds after midnight."""
        return np.interp(elapsed, self._hour_edges, self._cum_profile)

    def _end_day(self, day: int, spent: int) -> None:
        """Day ``day`` ended with ``spent`` picodollars: a firing alert resolves at midnight, a pending one lapses."""
        if self.state == "firing":
            self.notifications.append(((day + 1) * SECONDS_PER_DAY, day, usd(spent), usd(spent),
                                       self.daily_limit, "resolved"))
        self.state = "inactive"

    def _judge(self, t: float, day: int, spent: int, projected: float) -> None:
        """One step of the alert rule on the projection at ``t`` (NaN: no projection, no step)."""
        if math.isnan(projected):
            return
        before = self.state
        self.state, self._since = alert_step(before, self._since, t, projected > self.daily_limit,
                                             projected < self.clear_at, self.for_)
        if (before == "firing") != (self.state == "firing"):
            self.notifications.append((t, day, usd(spent), projected, self.daily_limit,
                                       "firing" if self.state == "firing" else "resolved"))

    def add(self, t: float, paid: int) -> None:
        """One request of ``paid`` picodollars at ``t``."""
        day = math.floor(t / SECONDS_PER_DAY)
        if day != self._day:
            if self._day is not None:
                self._end_day(self._day, self._day_spent)
            self._day, self._day_spent = day, 0
        self._day_spent += paid
        if self.daily_limit is None:
            return
        elapsed = t - day * SECONDS_PER_DAY
        if elapsed >= self.min_elapsed and elapsed > 0:
            self._judge(t, day, self._day_spent, usd(self._day_spent) / float(self.fraction(elapsed)))

    def add_batch(self, t: np.ndarray, paid: np.ndarray) -> None:
        """Many requests at once: the same state and notifications as :meth:`add` on each in turn.

        The rule is stepped with :func:`alert_step` only at the requests where its state can change (the
        next breach when inactive; the next non-breach, the ``for_`` deadline or a new day when pending;
        the next recovery or new day when firing), so a long batch costs a loop over episodes, not requests.
        """
        days = np.floor(t / SECONDS_PER_DAY).astype(np.int64)
        same_day = days[0] == self._day
        if not same_day and self._day is not None:
            self._end_day(self._day, self._day_spent)
        spent, projected = self.project(t, days, paid, self._day_spent if same_day else 0)
        if self.daily_limit is not None:
            self._step_batch(t, days, spent, projected)
        self._day = int(days[-1])
        self._day_spent = int(spent[-1])

    def _step_batch(self, t: np.ndarray, days: np.ndarray, spent: np.ndarray, projected: np.ndarray) -> None:
        n = len(t)
        valid = ~np.isnan(projected)
        above = valid & (projected > self.daily_limit)
        new_day = np.zeros(n, bool)
        new_day[1:] = days[1:] != days[:-1]
        idx = {"up": np.flatnonzero(above), "not_up": np.flatnonzero(valid & ~above), "valid": np.flatnonzero(valid),
               "down": np.flatnonzero(valid & (projected < self.clear_at)), "day": np.flatnonzero(new_day)}

        def nxt(name: str, k: int) -> int:
            """The first index >= k in ``idx[name]`` (n if none)."""
            arr = idx[name]
            j = int(np.searchsorted(arr, k))
            return int(arr[j]) if j < len(arr) else n

        k = 0
        while k < n:
            if self.state == "inactive":   # only a breach changes it (a new day leaves it inactive)
                j = nxt("up", k)
            elif self.state == "pending":  # a non-breach, a new day, or the for_ deadline (checked by alert_step)
                due = self._since + self.for_
                due -= 1e-9 * (abs(due) + 1.0)  # a little early: alert_step itself decides at that request
                j = min(nxt("not_up", k), nxt("day", k), nxt("valid", max(k, int(np.searchsorted(t, due)))))
            else:                          # firing: a recovery or a new day
                j = min(nxt("down", k), nxt("day", k))
            if j >= n:
                break
            if new_day[j]:
                self._end_day(int(days[j - 1]), int(spent[j - 1]))
            self._judge(float(t[j]), int(days[j]), int(spent[j]), float(projected[j]))
            k = j + 1

    def project(self, t: np.ndarray, days: np.ndarray, paid: np.ndarray, carry: int
                ) -> tuple[np.ndarray, np.ndarray]:
        """Spend so far today (exact picodollars) and the run-rate projection (USD, NaN in warm-up).

        The running sums are int64 when ``carry + max(paid) * len(paid)`` cannot overflow (the guard of
        :func:`exact_sum`), else exact Python integers (an object array), so a day above $9.2M (2**63
        picodollars) neither wraps around to a negative spend nor loses its alerts.
        """
        big = bool(paid.size) and int(carry) + int(np.abs(paid).max()) * paid.size >= INT64_SAFE
        cs = np.cumsum(paid.astype(object) if big else paid, dtype=object if big else np.int64)
        starts = np.ones(len(t), bool)
        starts[1:] = days[1:] != days[:-1]
        start_idx = np.maximum.accumulate(np.where(starts, np.arange(len(t)), 0))
        offset = np.where(start_idx > 0, cs[np.maximum(start_idx - 1, 0)], 0)
        spent = cs - offset
        spent[start_idx == 0] += int(carry)
        elapsed = t - days * SECONDS_PER_DAY
        frac = self.fraction(elapsed)
        with np.errstate(divide="ignore", invalid="ignore"):
            projected = np.where((elapsed >= self.min_elapsed) & (elapsed > 0), usd_array(spent) / frac, np.nan)
        return spent, projected


# --------------------------------------------------------------------------------------------- cache keys
def tagged(name: str, value: Hashable) -> tuple:
    """``(type name, value)`` with the elements of tuples and frozensets tagged the same way, recursively.

    Python treats ``True == 1 == 1.0`` (and ``(True, False) == (1, 0)``), so without the type at every level
    a response stored for one parameter value would be returned for another. A value that is not equal to
    itself (a NaN, in a float, a complex or a numpy scalar) would make a key that never matches, so every
    ``put`` would add an unreachable entry; non-finite numbers are therefore refused with a ``ValueError``.
    """
    kind = type(value).__name__
    if isinstance(value, tuple):
        return (kind, tuple(tagged(f"{name}[{i}]", v) for i, v in enumerate(value)))
    if isinstance(value, frozenset):
        return (kind, frozenset(tagged(f"{name} element", v) for v in value))
    if isinstance(value, (float, complex, np.floating, np.complexfloating)):
        parts = (value.real, value.imag) if isinstance(value, (complex, np.complexfloating)) else (value,)
        if not all(math.isfinite(float(x)) for x in parts):
            raise ValueError(f"{name} must be a finite number (a NaN never equals itself, so it cannot be a "
                             f"cache key); got {value!r}")
    elif not isinstance(value, (str, bytes, int, type(None))):
        try:
            reflexive = bool(value == value)
        except Exception:  # noqa: BLE001 - an __eq__ that fails cannot match a stored key either
            reflexive = False
        if not reflexive:
            raise ValueError(f"{name} must equal itself to be usable in a cache key; got {value!r}")
    return (kind, value)


def params_key(params: Mapping[str, Hashable] | None) -> tuple:
    """Generation parameters as a sorted tuple of ``(name, tagged value)``, checked (names str, values hashable)."""
    if params is None:
        return ()
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping of parameter name -> value; got {type(params).__name__}")
    out = []
    for k, v in params.items():
        if not isinstance(k, str):
            raise TypeError(f"params keys must be strings; got {k!r}")
        try:
            hash(v)
        except TypeError:
            raise TypeError(f"params[{k!r}] must be hashable (a number, string, bool, None or tuple); "
                            f"got {type(v).__name__}") from None
        out.append((k, tagged(f"params[{k!r}]", v)))
    return tuple(sorted(out, key=lambda kv: kv[0]))
