"""Cost control for LLM systems: pricing as data, exact cost accounting, budgets and a response cache.

What a request costs
    A provider bills tokens: ``cost = input_tokens * p_in + output_tokens * p_out`` where prices are quoted in
    USD per million tokens (``$/MTok``). Input tokens read from the provider's *prompt cache* are billed at a
    lower ``cached_input`` price where the model has one. A request answered from *our* response cache
    (:class:`ResponseCache`) makes no model call and costs nothing; a request that needed ``retries`` extra
    attempts paid for each of them.

Money is exact
    Prices with at most six decimals in ``$/MTok`` are whole numbers of **picodollars per token**
    (1 pUSD = 1e-12 USD; ``$0.80/MTok = 800,000 pUSD/token``), so every request's cost is an exact integer and
    every total, per-model and per-feature sum is an exact integer sum. Floats appear only when a figure is
    reported in dollars, once, at the end. Totals therefore equal the sum of the per-request costs exactly (to
    the picodollar, far below the cent), however many requests are added, in whatever order.

Cache savings are exact
    The saving of a cache hit is what *that* request would have cost (its model, its tokens). The original
    lesson estimated ``hits x average paid cost``, which is right only when cached and paid requests cost the
    same on average; on a skewed mix (cached large-model requests, paid small-model ones) it is off by orders
    of magnitude. :attr:`CostReport.cache_savings` is the exact sum.

The prices shipped in ``data/pricing.json`` are public list prices with the date they were taken; they change
often, so check the provider's current price list before budgeting with them.
"""

from __future__ import annotations

import html
import json
import math
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from prodai_lessons._validation import (
    as_1d_array,
    as_bool_array,
    as_category_array,
    check_callable,
    check_int,
    check_real,
    check_str,
)

__all__ = [
    "PICO_PER_USD",
    "SECONDS_PER_DAY",
    "UNASSIGNED",
    "ModelPrice",
    "Pricing",
    "load_pricing",
    "Usage",
    "CostReport",
    "BudgetAlert",
    "BudgetStatus",
    "BudgetTrace",
    "CostTracker",
    "CacheStats",
    "ResponseCache",
    "normalize_prompt",
    "estimate_tokens",
]

#: Picodollars per US dollar: the integer unit in which all money is counted.
PICO_PER_USD = 10**12
#: Length of the budget day, in seconds (days start at multiples of this, i.e. midnight UTC for Unix time).
SECONDS_PER_DAY = 86_400.0
#: The ``by_feature`` key of requests logged without a feature.
UNASSIGNED = "(unassigned)"

_PRICE_FIELDS = ("input_per_mtok", "output_per_mtok")
_OPTIONAL_PRICE_FIELDS = ("cached_input_per_mtok",)
_INT64_SAFE = 2**62  # margin under 2**63 for exact int64 sums
_INT64_MAX = 2**63 - 1


def _readonly(values: Any) -> np.ndarray:
    """A read-only copy of ``values``: a frozen result's array cannot be changed through its field."""
    arr = np.array(values, copy=True)
    arr.flags.writeable = False
    return arr


def _dataclass_repr(obj: Any) -> str:
    """The repr ``@dataclass`` would write, with read-only mappings shown as the plain dicts they hold."""
    parts = []
    for f in fields(obj):
        if f.repr:
            v = getattr(obj, f.name)
            parts.append(f"{f.name}={dict(v) if isinstance(v, MappingProxyType) else v!r}")
    return f"{type(obj).__qualname__}({', '.join(parts)})"


def _usd(pico: int) -> float:
    """Dollars from an exact picodollar integer (one rounding, here)."""
    return int(pico) / PICO_PER_USD


def _price_to_pico(name: str, value: Any) -> int:
    """``$/MTok`` -> integer picodollars per token; at most six decimals, non-negative."""
    v = check_real(name, value, minimum=0.0)
    scaled = v * 1e6
    whole = round(scaled)
    if abs(scaled - whole) > max(1e-6, 1e-13 * abs(scaled)):
        raise ValueError(f"{name} must have at most 6 decimal places (in USD per 1M tokens); got {v!r}")
    return int(whole)


# --------------------------------------------------------------------------------------------------- pricing
@dataclass(frozen=True)
class ModelPrice:
    """List price of one model, in USD per million tokens.

    ``cached_input_per_mtok`` is the price of input tokens served from the provider's prompt cache, or
    ``None`` where the model has no such discount (cached tokens are then billed at the input price); it may
    not exceed ``input_per_mtok``.
    The ``*_pico`` fields are the same prices as exact integers in picodollars per token.
    """

    name: str
    tier: str
    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None = None
    provider: str = ""
    input_pico: int = field(init=False, repr=False, compare=False)
    output_pico: int = field(init=False, repr=False, compare=False)
    cached_input_pico: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_str("name", self.name)
        check_str(f"tier of model {self.name!r}", self.tier)
        if not isinstance(self.provider, str):
            raise TypeError(f"provider of model {self.name!r} must be a str; got {self.provider!r}")
        pin = _price_to_pico(f"input_per_mtok of model {self.name!r}", self.input_per_mtok)
        pout = _price_to_pico(f"output_per_mtok of model {self.name!r}", self.output_per_mtok)
        if self.cached_input_per_mtok is None:
            pcached = pin
        else:
            pcached = _price_to_pico(f"cached_input_per_mtok of model {self.name!r}", self.cached_input_per_mtok)
            if pcached > pin:
                raise ValueError(f"cached_input_per_mtok of model {self.name!r} must be <= its input_per_mtok "
                                 f"({self.input_per_mtok!r}): prompt-cached input is a discount; "
                                 f"got {self.cached_input_per_mtok!r}")
        object.__setattr__(self, "input_pico", pin)
        object.__setattr__(self, "output_pico", pout)
        object.__setattr__(self, "cached_input_pico", pcached)

    def cost_pico(self, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0) -> int:
        """Exact cost of one call in picodollars (integers in, integer out; no validation, see Pricing.cost)."""
        return ((input_tokens - cached_input_tokens) * self.input_pico
                + cached_input_tokens * self.cached_input_pico
                + output_tokens * self.output_pico)


@dataclass(frozen=True)
class Pricing:
    """A price list: model name -> :class:`ModelPrice`, with where and when the prices were taken.

    Build it with :func:`load_pricing` (the shipped ``data/pricing.json`` or your own file) or
    :meth:`from_dict`. A malformed entry raises ``ValueError``/``TypeError`` naming the model and the field.
    ``models`` is a read-only mapping (``types.MappingProxyType``).
    """

    models: Mapping[str, ModelPrice]
    prices_as_of: str = ""
    source: str = ""
    note: str = ""
    currency: str = "USD"

    def __post_init__(self) -> None:
        if not isinstance(self.models, Mapping) or not self.models:
            raise ValueError(f"pricing must list at least one model; got {self.models!r}")
        for key, mp in self.models.items():
            if not isinstance(mp, ModelPrice):
                raise TypeError(f"pricing model {key!r} must be a ModelPrice; got {type(mp).__name__}")
            if key != mp.name:
                raise ValueError(f"pricing model key {key!r} differs from its name {mp.name!r}")
        object.__setattr__(self, "models", MappingProxyType(dict(self.models)))

    __repr__ = _dataclass_repr

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, name: str = "pricing") -> "Pricing":
        """Build from the JSON layout of ``data/pricing.json``::

            {"prices_as_of": "...", "source": "...", "note": "...",
             "models": {"<model>": {"tier": "small", "input_per_mtok": 0.8, "output_per_mtok": 4.0,
                                    "cached_input_per_mtok": 0.08, "provider": "..."}}}

        A bare ``{"<model>": {...}}`` mapping (no ``"models"`` key) is accepted too. ``tier``,
        ``input_per_mtok`` and ``output_per_mtok`` are required; ``cached_input_per_mtok`` may be null or absent.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"{name} must be a mapping (the parsed pricing JSON); got {type(data).__name__}")
        models = data.get("models", data) if isinstance(data.get("models"), Mapping) else data
        meta = data if models is not data else {}
        if not models:
            raise ValueError(f"{name} must list at least one model")
        out: dict[str, ModelPrice] = {}
        for model, entry in models.items():
            if not isinstance(model, str) or not model:
                raise TypeError(f"{name}: model names must be non-empty strings; got {model!r}")
            if not isinstance(entry, Mapping):
                raise TypeError(f"{name}: model {model!r} must map field -> value; got {type(entry).__name__}")
            for f in ("tier",) + _PRICE_FIELDS:
                if f not in entry:
                    raise ValueError(f"{name}: model {model!r} is missing field {f!r}")
            unknown = sorted(set(entry) - {"tier", "provider", *_PRICE_FIELDS, *_OPTIONAL_PRICE_FIELDS})
            if unknown:
                raise ValueError(f"{name}: model {model!r} has unknown field(s) {', '.join(map(repr, unknown))}")
            for f in _PRICE_FIELDS + _OPTIONAL_PRICE_FIELDS:
                v = entry.get(f)
                if f in _OPTIONAL_PRICE_FIELDS and v is None:
                    continue
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise TypeError(f"{name}: model {model!r} field {f!r} must be a number (USD per 1M tokens); "
                                    f"got {v!r}")
            out[model] = ModelPrice(
                name=model,
                tier=entry["tier"],
                input_per_mtok=float(entry["input_per_mtok"]),
                output_per_mtok=float(entry["output_per_mtok"]),
                cached_input_per_mtok=(None if entry.get("cached_input_per_mtok") is None
                                       else float(entry["cached_input_per_mtok"])),
                provider=entry.get("provider", ""),
            )
        return cls(
            models=out,
            prices_as_of=str(meta.get("prices_as_of", "")),
            source=str(meta.get("source", "")),
            note=str(meta.get("note", "")),
            currency=str(meta.get("currency", "USD")),
        )

    def price(self, model: str) -> ModelPrice:
        """The :class:`ModelPrice` of ``model``; ``ValueError`` listing the known models otherwise."""
        try:
            return self.models[model]
        except (KeyError, TypeError):
            known = ", ".join(repr(m) for m in self.models)
            raise ValueError(f"model must be one of {known}; got {model!r}") from None

    def cost(self, model: str, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0) -> float:
        """USD cost of one call: ``(in - cached)*p_in + cached*p_cached + out*p_out`` with prices per token."""
        mp = self.price(model)
        i = check_int("input_tokens", input_tokens, minimum=0)
        o = check_int("output_tokens", output_tokens, minimum=0)
        c = check_int("cached_input_tokens", cached_input_tokens, minimum=0, maximum=i)
        return _usd(mp.cost_pico(i, o, c))

    @property
    def tiers(self) -> dict[str, tuple[str, ...]]:
        """Tier -> model names, tiers ordered by their cheapest model's output price, models by price."""
        groups: dict[str, list[ModelPrice]] = {}
        for mp in self.models.values():
            groups.setdefault(mp.tier, []).append(mp)

        def key(mp: ModelPrice) -> tuple[int, int, str]:
            return (mp.output_pico, mp.input_pico, mp.name)

        ordered = sorted(groups.items(), key=lambda kv: min(key(m) for m in kv[1]))
        return {tier: tuple(m.name for m in sorted(ms, key=key)) for tier, ms in ordered}

    def model_for_tier(self, tier: str) -> str:
        """The cheapest model of ``tier`` (e.g. ``"small"``, ``"medium"``, ``"large"``)."""
        tiers = self.tiers
        if tier not in tiers:
            raise ValueError(f"tier must be one of {', '.join(map(repr, tiers))}; got {tier!r}")
        return tiers[tier][0]

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(m.name)}</td><td>{html.escape(m.tier)}</td><td>{m.input_per_mtok:.2f}</td>"
            f"<td>{m.output_per_mtok:.2f}</td><td>"
            f"{'-' if m.cached_input_per_mtok is None else f'{m.cached_input_per_mtok:.2f}'}</td></tr>"
            for m in self.models.values())
        return ("<table><thead><tr><th>model</th><th>tier</th><th>input $/MTok</th><th>output $/MTok</th>"
                f"<th>cached input $/MTok</th></tr></thead><tbody>{rows}</tbody></table>"
                f"<p><small>Prices as of {html.escape(self.prices_as_of or '?')}. {html.escape(self.note)}"
                "</small></p>")


def load_pricing(path: str | Path | None = None) -> Pricing:
    """Load a price list from a JSON file (default: the course's ``prodai_lessons/data/pricing.json``).

    Errors name the file, and for a malformed entry the model and the field.
    """
    if path is None:
        text = resources.files("prodai_lessons").joinpath("data/pricing.json").read_text(encoding="utf-8")
        where = "pricing.json"
    else:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"path: pricing file {str(p)!r} does not exist")
        text = p.read_text(encoding="utf-8")
        where = str(p)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where} is not valid JSON: {exc}") from None
    return Pricing.from_dict(data, name=where)


def _as_pricing(pricing: Any) -> Pricing:
    if isinstance(pricing, Pricing):
        return pricing
    if isinstance(pricing, Mapping):
        return Pricing.from_dict(pricing)
    raise TypeError(f"pricing must be a Pricing (see load_pricing) or a mapping; got {type(pricing).__name__}")


# --------------------------------------------------------------------------------------------------- report
@dataclass(frozen=True)
class Usage:
    """Usage and cost of one group of requests (a model or a feature). Money in USD."""

    requests: int
    cached: int
    input_tokens: int
    output_tokens: int
    cost: float
    retry_cost: float
    cache_savings: float

    @property
    def cost_per_request(self) -> float:
        """Paid USD per request of the group (0.0 for an empty group)."""
        return self.cost / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class CostReport:
    """A snapshot of what a :class:`CostTracker` recorded. Money in USD, computed from exact integers.

    - ``total_cost``: what was paid, retries included; ``retry_cost`` is the part paid for extra attempts.
    - ``cache_savings``: the exact sum, over cache hits, of what each would have cost (its model and tokens).
    - ``prompt_cache_savings``: the discount from provider-cached input tokens, on the requests paid for.
    - ``cost_per_request`` and ``cost_per_1k_tokens`` divide ``total_cost`` by all requests served and by
      all tokens served (input + output, cache hits included); both 0.0 when nothing was logged.
    - ``by_model`` and ``by_feature`` are read-only mappings (``types.MappingProxyType``) of :class:`Usage`.
    """

    n_requests: int
    n_cached: int
    input_tokens: int
    output_tokens: int
    total_cost: float
    retry_cost: float
    cache_savings: float
    prompt_cache_savings: float
    cache_hit_rate: float
    cost_per_request: float
    cost_per_1k_tokens: float
    by_model: Mapping[str, Usage]
    by_feature: Mapping[str, Usage]

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_model", MappingProxyType(dict(self.by_model)))
        object.__setattr__(self, "by_feature", MappingProxyType(dict(self.by_feature)))

    __repr__ = _dataclass_repr

    @property
    def cost_without_cache(self) -> float:
        """What the same traffic would have cost with no response cache."""
        return self.total_cost + self.cache_savings

    def _repr_html_(self) -> str:
        def rows(groups: Mapping[str, Usage]) -> str:
            return "".join(
                f"<tr><td>{html.escape(k)}</td><td>{u.requests:,}</td><td>{u.cached:,}</td>"
                f"<td>{u.input_tokens + u.output_tokens:,}</td><td>${u.cost:,.4f}</td>"
                f"<td>${u.retry_cost:,.4f}</td><td>${u.cache_savings:,.4f}</td></tr>"
                for k, u in groups.items())

        head = ("<tr><th>{}</th><th>requests</th><th>cache hits</th><th>tokens</th><th>cost</th>"
                "<th>retry cost</th><th>cache savings</th></tr>")
        return (
            f"<p><b>{self.n_requests:,} requests</b>, total cost <b>${self.total_cost:,.4f}</b> "
            f"(${self.cost_per_request:.6f}/request, ${self.cost_per_1k_tokens:.6f}/1k tokens); "
            f"cache hit rate {self.cache_hit_rate:.1%}, cache savings ${self.cache_savings:,.4f}, "
            f"retry cost ${self.retry_cost:,.4f}</p>"
            f"<table><thead>{head.format('model')}</thead><tbody>{rows(self.by_model)}</tbody></table>"
            f"<table><thead>{head.format('feature')}</thead><tbody>{rows(self.by_feature)}</tbody></table>"
        )


@dataclass(frozen=True)
class BudgetAlert:
    """The projected end-of-day spend crossed the daily limit at ``timestamp`` (one alert per crossing)."""

    timestamp: float
    day: int
    spent: float
    projected: float
    daily_limit: float


@dataclass(frozen=True)
class BudgetStatus:
    """The budget of the day containing ``now``.

    ``projected_spend = spent_today / expected_fraction`` where ``expected_fraction`` is the share of the
    day's traffic expected by ``now`` (``elapsed / 24 h`` for a flat profile): the run-rate projection.
    It is ``None`` during the first ``min_elapsed`` seconds of a day, when a rate is mostly noise.
    """

    daily_limit: float | None
    day: int
    now: float
    spent_today: float
    expected_fraction: float
    projected_spend: float | None
    alert: bool
    exceeded: bool


@dataclass(frozen=True)
class BudgetTrace:
    """Spend and projection after every logged request (read-only arrays aligned with the request log)."""

    timestamps: np.ndarray
    spent_today: np.ndarray
    projected: np.ndarray  # NaN where no projection is made yet (warm-up)
    daily_limit: float | None

    def __post_init__(self) -> None:
        for name in ("timestamps", "spent_today", "projected"):
            object.__setattr__(self, name, _readonly(getattr(self, name)))


# --------------------------------------------------------------------------------------------------- tracker
_COLUMNS = ("model", "input", "output", "cached_input", "cached", "feature", "retries", "time", "base", "paid")
_DTYPES = {"model": np.int32, "input": np.int64, "output": np.int64, "cached_input": np.int64, "cached": bool,
           "feature": np.int32, "retries": np.int64, "time": np.float64, "base": np.int64, "paid": np.int64}


def _count_array(name: str, values: Any, n: int | None) -> np.ndarray:
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
            if v > _INT64_MAX:
                raise ValueError(f"{name} must be at most {_INT64_MAX} (a count that fits in int64); "
                                 f"got {v} at index {k}")
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must contain integers (token and retry counts are whole numbers); "
                        f"got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array (one count per request); got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} must have one count per request ({n}); got shape {arr.shape}")
    if arr.dtype.kind == "u" and arr.size and arr.max() > _INT64_MAX:
        k = int(np.flatnonzero(arr > _INT64_MAX)[0])
        raise ValueError(f"{name} must be at most {_INT64_MAX} (a count that fits in int64); "
                         f"got {arr[k]} at index {k}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        i = int(np.flatnonzero(arr < 0)[0])
        raise ValueError(f"{name} must be non-negative; got {arr[i]} at index {i}")
    return arr


def _exact_sum(values: np.ndarray) -> int:
    """Exact integer sum of an int64 array (falls back to Python integers if int64 could overflow)."""
    if values.size == 0:
        return 0
    if int(np.abs(values).max()) * values.size < _INT64_SAFE:
        return int(values.sum())
    return sum(int(v) for v in values.tolist())


def _usd_array(pico: np.ndarray) -> np.ndarray:
    """Dollars (float64) from an int64 or object (Python int) array of exact picodollars."""
    if pico.dtype == object:
        return np.array([int(v) / PICO_PER_USD for v in pico.tolist()], dtype=float)
    return pico / PICO_PER_USD


def _group_sum(index: np.ndarray, values: np.ndarray, n_groups: int) -> list[int]:
    """Exact per-group integer sums."""
    if values.size and int(np.abs(values).max()) * values.size >= _INT64_SAFE:
        out = [0] * n_groups
        for g, v in zip(index.tolist(), values.tolist()):
            out[g] += v
        return out
    acc = np.zeros(n_groups, dtype=np.int64)
    np.add.at(acc, index, values)
    return [int(v) for v in acc]


class CostTracker:
    """Log what each LLM request cost; report totals, per-model and per-feature usage, savings and budget.

    ``log_request`` records one request, ``log_batch`` many at once (numpy arrays; the fast path). Each request
    carries a timestamp in seconds (default: ``clock()``), non-decreasing; budget days start at multiples of
    :data:`SECONDS_PER_DAY`.

    Budget: with ``daily_limit`` (USD), after every request the end-of-day spend is projected from the run
    rate, ``projected = spent_today / F(elapsed)``, where ``F`` is the expected share of the day's traffic by
    then: ``elapsed / 24 h`` for flat traffic, or the cumulative share of ``traffic_profile`` (24 hourly
    weights, interpolated within the hour) for traffic with a daily cycle. No projection is made in the
    first ``min_elapsed`` seconds of a day. A :class:`BudgetAlert` is recorded when the projection goes from
    at-or-below the limit to above it (once per crossing, re-armed when it falls back; reset each day), in
    the way an alerting rule notifies once per episode rather than on every evaluation.
    """

    def __init__(
        self,
        pricing: Pricing | Mapping[str, Any],
        *,
        daily_limit: float | None = None,
        traffic_profile: Any = None,
        min_elapsed: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pricing = _as_pricing(pricing)
        self.daily_limit = None if daily_limit is None else check_real(
            "daily_limit", daily_limit, minimum=0.0, strict_minimum=True)
        self.min_elapsed = check_real("min_elapsed", min_elapsed, minimum=0.0, maximum=SECONDS_PER_DAY)
        self.clock = check_callable("clock", clock)
        if traffic_profile is None:
            w = np.ones(24)
        else:
            w = as_1d_array("traffic_profile", traffic_profile, nonnegative=True)
            if w.shape != (24,):
                raise ValueError(f"traffic_profile must hold 24 hourly weights; got shape {w.shape}")
            if (w <= 0).any():
                raise ValueError("traffic_profile weights must be > 0 (a projection divides by the share so far); "
                                 f"got {w[w <= 0][0]} at hour {int(np.flatnonzero(w <= 0)[0])}")
        self.traffic_profile = w / w.sum()
        self._cum_profile = np.concatenate([[0.0], np.cumsum(self.traffic_profile)])
        self._cum_profile[-1] = 1.0
        self._hour_edges = np.arange(25) * 3600.0
        names = list(self.pricing.models)
        self._model_names = names
        self._model_idx = {m: i for i, m in enumerate(names)}
        self._pin = np.array([self.pricing.models[m].input_pico for m in names], dtype=np.int64)
        self._pout = np.array([self.pricing.models[m].output_pico for m in names], dtype=np.int64)
        self._pcached = np.array([self.pricing.models[m].cached_input_pico for m in names], dtype=np.int64)
        self._features: list[str] = [UNASSIGNED]
        self._feature_idx: dict[str, int] = {UNASSIGNED: 0}
        self._chunks: list[dict[str, np.ndarray]] = []
        self._pending: dict[str, list] = {c: [] for c in _COLUMNS}
        self._last_time = -math.inf
        self._day: int | None = None
        self._day_spent = 0  # picodollars
        self._above = False
        self._alerts: list[BudgetAlert] = []

    # ---------------------------------------------------------------- logging
    def _model(self, model: Any) -> int:
        try:
            return self._model_idx[model]
        except (KeyError, TypeError):
            known = ", ".join(repr(m) for m in self._model_names)
            raise ValueError(f"model must be one of the priced models {known}; got {model!r}") from None

    def _feature(self, feature: Any, name: str = "feature") -> int:
        if feature is None:
            return 0
        if not isinstance(feature, str) or not feature:
            raise TypeError(f"{name} must be a non-empty str or None; got {feature!r}")
        feature = str(feature)  # a numpy str_ becomes a plain str
        idx = self._feature_idx.get(feature)
        if idx is None:
            idx = self._feature_idx[feature] = len(self._features)
            self._features.append(feature)
        return idx

    def _fraction(self, elapsed: np.ndarray | float) -> np.ndarray | float:
        """Expected share of a day's traffic by ``elapsed`` seconds after midnight."""
        return np.interp(elapsed, self._hour_edges, self._cum_profile)

    def log_request(
        self,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cached: bool = False,
        feature: str | None = None,
        retries: int = 0,
        *,
        cached_input_tokens: int = 0,
        timestamp: float | None = None,
    ) -> float:
        """Record one request and return what it cost in USD.

        ``cached=True``: answered from the response cache, no model call, cost 0 (its would-be cost is counted
        as savings; ``retries`` must then be 0). ``retries``: extra attempts before the one that succeeded,
        each billed like the request (a failed or rejected call is still paid for). ``cached_input_tokens``:
        how many of the input tokens the provider's prompt cache served (billed at the cached-input price).
        """
        mi = self._model(model)
        i = check_int("input_tokens", input_tokens, minimum=0)
        o = check_int("output_tokens", output_tokens, minimum=0)
        c = check_int("cached_input_tokens", cached_input_tokens, minimum=0)
        if c > i:
            raise ValueError(f"cached_input_tokens must be <= input_tokens ({i}); got {c}")
        if not isinstance(cached, (bool, np.bool_)):
            raise TypeError(f"cached must be a bool; got {cached!r}")
        r = check_int("retries", retries, minimum=0)
        if cached and r:
            raise ValueError(f"retries must be 0 for a cached request (a cache hit makes no model call); got {r}")
        fi = self._feature(feature)
        t = self._check_time(self.clock() if timestamp is None else timestamp)
        base = int((i - c) * int(self._pin[mi]) + c * int(self._pcached[mi]) + o * int(self._pout[mi]))
        paid = 0 if cached else base * (1 + r)
        if paid >= _INT64_SAFE:
            raise ValueError("the request's cost is too large to account exactly; check input_tokens, "
                             f"output_tokens and retries (got {i}, {o}, {r})")
        p = self._pending
        for col, v in (("model", mi), ("input", i), ("output", o), ("cached_input", c), ("cached", bool(cached)),
                       ("feature", fi), ("retries", r), ("time", t), ("base", base), ("paid", paid)):
            p[col].append(v)
        self._last_time = t
        self._budget_step(t, paid)
        return _usd(paid)

    def _check_time(self, t: Any) -> float:
        t = check_real("timestamp", t)
        if t < self._last_time:
            raise ValueError(f"timestamp must not be earlier than the previous request's ({self._last_time}); "
                             f"got {t}: requests are logged in time order")
        return t

    def _budget_step(self, t: float, paid: int) -> None:
        day = math.floor(t / SECONDS_PER_DAY)
        if day != self._day:
            self._day, self._day_spent, self._above = day, 0, False
        self._day_spent += paid
        if self.daily_limit is None:
            return
        elapsed = t - day * SECONDS_PER_DAY
        above = False
        if elapsed >= self.min_elapsed and elapsed > 0:
            projected = _usd(self._day_spent) / float(self._fraction(elapsed))
            above = projected > self.daily_limit
            if above and not self._above:
                self._alerts.append(BudgetAlert(t, day, _usd(self._day_spent), projected, self.daily_limit))
        self._above = above

    def log_batch(
        self,
        models: Any,
        input_tokens: Any,
        output_tokens: Any,
        cached: Any = None,
        features: Any = None,
        retries: Any = None,
        *,
        cached_input_tokens: Any = None,
        timestamps: Any = None,
    ) -> float:
        """Record many requests at once (the same semantics as :meth:`log_request`); return their cost in USD.

        ``models``/``features``: one string for all requests or one per request; token and retry counts:
        integer arrays, one per request; ``cached``: booleans; ``timestamps``: non-decreasing seconds (default:
        one ``clock()`` reading for the whole batch). Validation is all-or-nothing: on an error nothing is
        recorded. This is the fast path (vectorized, >= 500k requests/s; see ``benchmarks/bench_cost.py``).
        """
        i = _count_array("input_tokens", input_tokens, None)
        n = i.shape[0]
        o = _count_array("output_tokens", output_tokens, n)
        mi = self._index_array("models", models, n, self._model_lookup)
        c = np.zeros(n, np.int64) if cached_input_tokens is None else _count_array(
            "cached_input_tokens", cached_input_tokens, n)
        if (c > i).any():
            k = int(np.flatnonzero(c > i)[0])
            raise ValueError(f"cached_input_tokens must be <= input_tokens; got {c[k]} > {i[k]} at index {k}")
        hit = np.zeros(n, bool) if cached is None else as_bool_array("cached", cached, min_size=0)
        if hit.shape != (n,):
            raise ValueError(f"cached must have one flag per request ({n}); got shape {hit.shape}")
        r = np.zeros(n, np.int64) if retries is None else _count_array("retries", retries, n)
        if (hit & (r > 0)).any():
            k = int(np.flatnonzero(hit & (r > 0))[0])
            raise ValueError(f"retries must be 0 for a cached request (a cache hit makes no model call); "
                             f"got {r[k]} at index {k}")
        new_features: list[str] = []
        fi = (np.zeros(n, np.int32) if features is None
              else self._index_array("features", features, n, lambda name: self._feature_lookup(name, new_features)))
        if timestamps is None:
            t = np.full(n, self._check_time(self.clock()))
        else:
            t = as_1d_array("timestamps", timestamps, min_size=0)
            if t.shape != (n,):
                raise ValueError(f"timestamps must have one value per request ({n}); got shape {t.shape}")
            if n and t[0] < self._last_time:
                raise ValueError(f"timestamps must not start before the previous request's ({self._last_time}); "
                                 f"got {t[0]}: requests are logged in time order")
            if n > 1 and (np.diff(t) < 0).any():
                k = int(np.flatnonzero(np.diff(t) < 0)[0]) + 1
                raise ValueError(f"timestamps must be non-decreasing; got {t[k]} after {t[k - 1]} at index {k}")
        if n == 0:
            return 0.0
        # Exactness guard: the largest possible per-request cost must fit comfortably in int64.
        bound = ((int(i.max()) * int(max(self._pin.max(), self._pcached.max())) + int(o.max()) * int(self._pout.max()))
                 * (1 + int(r.max())))
        if bound >= _INT64_SAFE:
            raise ValueError("token or retry counts too large to account exactly in one batch; "
                             "check input_tokens, output_tokens and retries")
        # All valid: commit new feature names, then compute.
        for name in new_features:
            self._feature_idx[name] = len(self._features)
            self._features.append(name)
        base = (i - c) * self._pin[mi] + c * self._pcached[mi] + o * self._pout[mi]
        paid = np.where(hit, 0, base * (1 + r))
        self._flush()
        self._chunks.append({"model": mi.astype(np.int32), "input": i, "output": o, "cached_input": c,
                             "cached": hit, "feature": fi.astype(np.int32), "retries": r, "time": t,
                             "base": base, "paid": paid})
        self._last_time = float(t[-1])
        self._budget_batch(t, paid)
        return _usd(_exact_sum(paid))

    def _model_lookup(self, name: Any) -> int:
        return self._model(name)

    def _feature_lookup(self, name: Any, new: list[str]) -> int:
        if not isinstance(name, str) or not name:
            raise TypeError(f"features must be non-empty strings; got {name!r}")
        name = str(name)
        if name in self._feature_idx:
            return self._feature_idx[name]
        if name not in new:
            new.append(name)
        return len(self._features) + new.index(name)

    @staticmethod
    def _index_array(name: str, values: Any, n: int, lookup: Callable[[Any], int]) -> np.ndarray:
        if isinstance(values, str):
            return np.full(n, lookup(values), dtype=np.int32)
        arr = as_category_array(name, values, min_size=0)
        if arr.shape != (n,):
            raise ValueError(f"{name} must have one entry per request ({n}); got shape {arr.shape}")
        uniq, inverse = np.unique(arr, return_inverse=True)
        codes = np.array([lookup(u.item() if isinstance(u, np.generic) else u) for u in uniq], dtype=np.int32)
        return codes[inverse.reshape(-1)]

    def _budget_batch(self, t: np.ndarray, paid: np.ndarray) -> None:
        days = np.floor(t / SECONDS_PER_DAY).astype(np.int64)
        carry = self._day_spent if days[0] == self._day else 0
        prev_above = self._above if days[0] == self._day else False
        spent, projected = self._project(t, days, paid, carry)
        if self.daily_limit is not None:
            above = np.nan_to_num(projected, nan=-1.0) > self.daily_limit
            starts = np.ones(len(t), bool)
            starts[1:] = days[1:] != days[:-1]
            before = np.empty_like(above)
            before[0] = prev_above
            before[1:] = above[:-1]
            before[1:][starts[1:]] = False
            for k in np.flatnonzero(above & ~before):
                self._alerts.append(BudgetAlert(float(t[k]), int(days[k]), _usd(int(spent[k])),
                                                float(projected[k]), self.daily_limit))
            self._above = bool(above[-1])
        else:
            self._above = False
        self._day = int(days[-1])
        self._day_spent = int(spent[-1])

    def _project(self, t: np.ndarray, days: np.ndarray, paid: np.ndarray, carry: int) -> tuple[np.ndarray, np.ndarray]:
        """Spend so far today (exact picodollars) and the run-rate projection (USD, NaN in warm-up).

        The running sums are int64 when ``carry + max(paid) * len(paid)`` cannot overflow (the guard of
        :func:`_exact_sum`), else exact Python integers (an object array), so a day above $9.2M (2**63
        picodollars) neither wraps around to a negative spend nor loses its alerts.
        """
        big = bool(paid.size) and int(carry) + int(np.abs(paid).max()) * paid.size >= _INT64_SAFE
        cs = np.cumsum(paid.astype(object) if big else paid, dtype=object if big else np.int64)
        starts = np.ones(len(t), bool)
        starts[1:] = days[1:] != days[:-1]
        start_idx = np.maximum.accumulate(np.where(starts, np.arange(len(t)), 0))
        offset = np.where(start_idx > 0, cs[np.maximum(start_idx - 1, 0)], 0)
        spent = cs - offset
        spent[start_idx == 0] += int(carry)
        elapsed = t - days * SECONDS_PER_DAY
        frac = self._fraction(elapsed)
        with np.errstate(divide="ignore", invalid="ignore"):
            projected = np.where((elapsed >= self.min_elapsed) & (elapsed > 0),
                                 _usd_array(spent) / frac, np.nan)
        return spent, projected

    # ---------------------------------------------------------------- reading
    def _flush(self) -> None:
        p = self._pending
        if p["model"]:
            self._chunks.append({c: np.asarray(p[c], dtype=_DTYPES[c]) for c in _COLUMNS})
            self._pending = {c: [] for c in _COLUMNS}

    def _arrays(self) -> dict[str, np.ndarray]:
        self._flush()
        if not self._chunks:
            return {c: np.zeros(0, dtype=_DTYPES[c]) for c in _COLUMNS}
        if len(self._chunks) > 1:
            self._chunks = [{c: np.concatenate([ch[c] for ch in self._chunks]) for c in _COLUMNS}]
        return self._chunks[0]

    def __len__(self) -> int:
        return sum(len(ch["model"]) for ch in self._chunks) + len(self._pending["model"])

    def costs(self) -> np.ndarray:
        """USD paid for each logged request, in log order (cache hits are 0.0)."""
        return self._arrays()["paid"] / PICO_PER_USD

    def timestamps(self) -> np.ndarray:
        """Timestamp of each logged request, in seconds."""
        return self._arrays()["time"].copy()

    def models(self) -> np.ndarray:
        """Model name of each logged request."""
        return np.array(self._model_names, dtype=object)[self._arrays()["model"]]

    def binned_costs(self, bin_seconds: float = 3600.0, n_bins: int = 24, start: float = 0.0) -> np.ndarray:
        """USD paid in each of ``n_bins`` intervals ``[start + k*bin_seconds, start + (k+1)*bin_seconds)``.

        Sums are exact (integers) before conversion. Requests outside the range are not counted, so the
        bins add up to :attr:`CostReport.total_cost` only when they cover every request.
        """
        w = check_real("bin_seconds", bin_seconds, minimum=0.0, strict_minimum=True)
        n = check_int("n_bins", n_bins, minimum=1)
        s = check_real("start", start)
        a = self._arrays()
        k = np.floor((a["time"] - s) / w)
        inside = (k >= 0) & (k < n)
        return np.array(_group_sum(k[inside].astype(np.int64), a["paid"][inside], n), dtype=float) / PICO_PER_USD

    def report(self) -> CostReport:
        """Totals, per-model and per-feature usage, cache and retry figures; see :class:`CostReport`."""
        a = self._arrays()
        n = len(a["model"])
        hit = a["cached"]
        total = _exact_sum(a["paid"])
        retry = _exact_sum(a["paid"] - np.where(hit, 0, a["base"]))
        savings = _exact_sum(a["base"][hit])
        no_prompt_cache = a["input"] * self._pin[a["model"]] + a["output"] * self._pout[a["model"]]
        prompt_savings = _exact_sum((no_prompt_cache - a["base"])[~hit] * (1 + a["retries"][~hit]))
        tokens_in, tokens_out = _exact_sum(a["input"]), _exact_sum(a["output"])
        n_cached = int(hit.sum())

        def groups(index: np.ndarray, labels: list[str]) -> dict[str, Usage]:
            g = len(labels)
            req = np.bincount(index, minlength=g)
            cch = np.bincount(index[hit], minlength=g)
            cols = [_group_sum(index, a["input"], g), _group_sum(index, a["output"], g),
                    _group_sum(index, a["paid"], g), _group_sum(index, a["paid"] - np.where(hit, 0, a["base"]), g),
                    _group_sum(index, np.where(hit, a["base"], 0), g)]
            return {labels[k]: Usage(int(req[k]), int(cch[k]), cols[0][k], cols[1][k], _usd(cols[2][k]),
                                     _usd(cols[3][k]), _usd(cols[4][k]))
                    for k in range(g) if req[k] > 0}

        by_model = groups(a["model"], self._model_names)
        by_feature = groups(a["feature"], self._features)
        tokens = tokens_in + tokens_out
        return CostReport(
            n_requests=n,
            n_cached=n_cached,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            total_cost=_usd(total),
            retry_cost=_usd(retry),
            cache_savings=_usd(savings),
            prompt_cache_savings=_usd(prompt_savings),
            cache_hit_rate=n_cached / n if n else 0.0,
            cost_per_request=_usd(total) / n if n else 0.0,
            cost_per_1k_tokens=_usd(total) * 1000 / tokens if tokens else 0.0,
            by_model=by_model,
            by_feature=by_feature,
        )

    @property
    def budget_alerts(self) -> tuple[BudgetAlert, ...]:
        """Every budget alert so far, oldest first."""
        return tuple(self._alerts)

    def budget(self, now: float | None = None) -> BudgetStatus:
        """Budget status of the day containing ``now`` (default: the last request's time, else ``clock()``)."""
        if now is None:
            now = self._last_time if math.isfinite(self._last_time) else self.clock()
        now = check_real("now", now)
        day = math.floor(now / SECONDS_PER_DAY)
        a = self._arrays()
        lo = np.searchsorted(a["time"], day * SECONDS_PER_DAY, side="left")
        hi = np.searchsorted(a["time"], now, side="right")
        spent = _usd(_exact_sum(a["paid"][lo:hi]))
        elapsed = now - day * SECONDS_PER_DAY
        frac = float(self._fraction(elapsed))
        projected = spent / frac if elapsed >= self.min_elapsed and frac > 0 else None
        limit = self.daily_limit
        return BudgetStatus(
            daily_limit=limit,
            day=day,
            now=now,
            spent_today=spent,
            expected_fraction=frac,
            projected_spend=projected,
            alert=bool(limit is not None and projected is not None and projected > limit),
            exceeded=bool(limit is not None and spent > limit),
        )

    def budget_trace(self) -> BudgetTrace:
        """Spend so far today and the projected end-of-day spend after each logged request (for plots)."""
        a = self._arrays()
        t = a["time"]
        if len(t) == 0:
            z = np.zeros(0)
            return BudgetTrace(z, z, z, self.daily_limit)
        days = np.floor(t / SECONDS_PER_DAY).astype(np.int64)
        spent, projected = self._project(t, days, a["paid"], 0)
        return BudgetTrace(t, _usd_array(spent), projected, self.daily_limit)  # copied read-only there

    def __repr__(self) -> str:
        limit = "None" if self.daily_limit is None else f"{self.daily_limit:g}"
        return f"CostTracker({len(self)} requests, models={self._model_names}, daily_limit={limit})"


# --------------------------------------------------------------------------------------------------- cache
def normalize_prompt(prompt: str) -> str:
    """The cache's view of a prompt: Unicode NFKC, case folded, runs of whitespace collapsed, ends stripped.

    So ``"What is  MLOps?\\n"`` and ``"what is mlops?"`` share an entry; anything else (punctuation, word
    order, a synonym) is a different prompt: this is an *exact-match* cache, not a semantic one.
    """
    check_str("prompt", prompt, allow_empty=True)
    return " ".join(unicodedata.normalize("NFKC", prompt).casefold().split())


@dataclass(frozen=True)
class CacheStats:
    """Counters of a :class:`ResponseCache`. ``hit_rate = hits / (hits + misses)`` (0.0 before any lookup)."""

    hits: int
    misses: int
    evictions: int
    expirations: int
    size: int
    capacity: int

    @property
    def hit_rate(self) -> float:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


_MISSING = object()


def _tagged(name: str, value: Hashable) -> tuple:
    """``(type name, value)`` with the elements of tuples and frozensets tagged the same way, recursively.

    Python treats ``True == 1 == 1.0`` (and ``(True, False) == (1, 0)``), so without the type at every level
    a response stored for one parameter value would be returned for another. A value that is not equal to
    itself (a NaN, in a float, a complex or a numpy scalar) would make a key that never matches, so every
    ``put`` would add an unreachable entry; non-finite numbers are therefore refused with a ``ValueError``.
    """
    kind = type(value).__name__
    if isinstance(value, tuple):
        return (kind, tuple(_tagged(f"{name}[{i}]", v) for i, v in enumerate(value)))
    if isinstance(value, frozenset):
        return (kind, frozenset(_tagged(f"{name} element", v) for v in value))
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


class ResponseCache:
    """Exact-match LRU response cache with a time-to-live.

    The key is ``(normalize_prompt(prompt), model, sorted params)``: the same question asked of another model,
    or with another temperature or ``max_tokens``, is a different entry. At most ``capacity`` entries are
    kept; adding one to a full cache evicts the least recently *used* entry (a ``get`` hit refreshes
    recency, as ``functools.lru_cache`` does). An entry expires ``ttl`` seconds after it was stored
    (``ttl=None``: never), measured with ``clock`` (injectable; default ``time.monotonic``). An expired entry
    found by a lookup, or at the LRU end when making room, counts as an expiration, not an eviction.

    Caching is only sound for deterministic calls (temperature 0) and answers that do not depend on
    anything outside the key (user, time, retrieved documents): put those in ``params`` or do not cache.
    """

    def __init__(self, capacity: int, ttl: float | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = check_int("capacity", capacity, minimum=1)
        self.ttl = None if ttl is None else check_real("ttl", ttl, minimum=0.0, strict_minimum=True)
        self.clock = check_callable("clock", clock)
        self._data: OrderedDict[tuple, tuple[Any, float]] = OrderedDict()
        self.hits = self.misses = self.evictions = self.expirations = 0

    @staticmethod
    def key(prompt: str, model: str, params: Mapping[str, Hashable] | None = None) -> tuple:
        """The cache key: normalized prompt, model, and the parameters as a sorted tuple of ``(name, tagged)``.

        ``tagged`` is ``(type name, value)``, applied recursively inside tuples and frozensets, so ``0``,
        ``False`` and ``0.0`` (or ``(1, 0)`` and ``(True, False)``) are different keys. A non-finite number
        (NaN, inf), at any depth, raises ``ValueError`` naming the parameter: a NaN key never matches itself.
        """
        check_str("model", model)
        if params is None:
            items: tuple = ()
        elif not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping of parameter name -> value; got {type(params).__name__}")
        else:
            out = []
            for k, v in params.items():
                if not isinstance(k, str):
                    raise TypeError(f"params keys must be strings; got {k!r}")
                try:
                    hash(v)
                except TypeError:
                    raise TypeError(f"params[{k!r}] must be hashable (a number, string, bool, None or tuple); "
                                    f"got {type(v).__name__}") from None
                out.append((k, _tagged(f"params[{k!r}]", v)))
            items = tuple(sorted(out, key=lambda kv: kv[0]))
        return (normalize_prompt(prompt), model, items)

    def _lookup(self, key: tuple) -> Any:
        entry = self._data.get(key)
        if entry is None:
            self.misses += 1
            return _MISSING
        value, expires = entry
        if self.clock() >= expires:
            del self._data[key]
            self.expirations += 1
            self.misses += 1
            return _MISSING
        self._data.move_to_end(key)
        self.hits += 1
        return value

    def get(self, prompt: str, model: str, params: Mapping[str, Hashable] | None = None, default: Any = None) -> Any:
        """The cached response, or ``default`` on a miss (counted as a hit or a miss)."""
        value = self._lookup(self.key(prompt, model, params))
        return default if value is _MISSING else value

    def put(self, prompt: str, model: str, response: Any, params: Mapping[str, Hashable] | None = None) -> None:
        """Store ``response`` (replacing and refreshing an existing entry), evicting the LRU entry if full."""
        key = self.key(prompt, model, params)
        now = self.clock()
        expires = math.inf if self.ttl is None else now + self.ttl
        if key in self._data:
            self._data.move_to_end(key)
        else:
            while len(self._data) >= self.capacity:
                _, (_, old_expires) = self._data.popitem(last=False)
                if now >= old_expires:
                    self.expirations += 1
                else:
                    self.evictions += 1
        self._data[key] = (response, expires)

    def fetch(
        self,
        prompt: str,
        model: str,
        compute: Callable[[], Any],
        params: Mapping[str, Hashable] | None = None,
    ) -> tuple[Any, bool]:
        """``(response, hit)``: the cached response, or ``compute()`` stored and returned on a miss."""
        key = self.key(prompt, model, params)
        value = self._lookup(key)
        if value is not _MISSING:
            return value, True
        value = compute()
        self.put(prompt, model, value, params)
        return value, False

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, item: tuple) -> bool:
        """``(prompt, model)`` or ``(prompt, model, params)`` is stored and not expired (no counters change)."""
        entry = self._data.get(self.key(*item))
        return entry is not None and self.clock() < entry[1]

    def stats(self) -> CacheStats:
        """Current counters and size."""
        return CacheStats(self.hits, self.misses, self.evictions, self.expirations, len(self._data), self.capacity)

    def __repr__(self) -> str:
        return (f"ResponseCache(capacity={self.capacity}, ttl={self.ttl}, size={len(self._data)}, "
                f"hits={self.hits}, misses={self.misses}, evictions={self.evictions}, "
                f"expirations={self.expirations})")


# --------------------------------------------------------------------------------------------------- tokens
def estimate_tokens(text: str) -> int:
    """Rough token count of ``text`` without a tokenizer.

    Heuristic (OpenAI's rule of thumb for English BPE tokenizers: one token is about four characters, or
    about three quarters of a word): ``max(ceil(ascii_chars / 4 + other_chars), ceil(words * 4 / 3))``,
    where characters outside ASCII count one token each (CJK and other scripts, emoji are split into
    about one or more tokens per character). Empty text is 0 tokens. Expect +-25% on English prose and worse
    on code or unusual text; use the provider's tokenizer, or the token counts it returns, for billing.
    """
    check_str("text", text, allow_empty=True)
    if not text:
        return 0
    n_ascii = sum(1 for ch in text if ord(ch) < 128)
    by_chars = math.ceil(n_ascii / 4 + (len(text) - n_ascii))
    by_words = math.ceil(len(text.split()) * 4 / 3)
    return max(by_chars, by_words)
