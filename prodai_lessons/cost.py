"""Cost control for LLM systems: what a request costs, what a cache saves, and a tracker that adds it all up.

What a request costs
    A provider bills tokens: ``cost = input_tokens * p_in + output_tokens * p_out`` where prices are quoted in
    USD per million tokens (``$/MTok``). Input tokens read from the provider's *prompt cache* are billed at a
    lower ``cached_input`` price where the model has one. A request answered from *our* response cache
    (:class:`ResponseCache`) makes no model call and costs nothing; a request that needed ``retries`` extra
    attempts paid for each of them.

Money is exact
    Prices with at most six decimals in ``$/MTok`` are whole numbers of **picodollars per token**
    (1 pUSD = 1e-12 USD; ``$0.80/MTok = 800,000 pUSD/token``, see :func:`pico_per_token`), so every request's
    cost is an exact integer (:func:`request_cost_pico`) and every total, per-model and per-feature sum is an
    exact integer sum. Floats appear only when a figure is reported in dollars, once, at the end.

What a cache hit saves
    The saving of a cache hit is what *that* request would have cost: its model, its tokens
    (:func:`cache_savings`). A common shortcut, ``hits x average paid cost``, is right only when cached and
    paid requests cost the same on average; on a skewed mix (cheap requests repeat, expensive ones do not) it
    is off by an order of magnitude or more.

Read the cores first (:func:`pico_per_token`, :func:`request_cost_pico`, :func:`cache_savings`); the price list,
the :class:`CostTracker` (which calls them, with input checks, a vectorised batch path and a daily budget) and
the :class:`ResponseCache` follow. The exact-sum, batch and budget machinery lives in
``prodai_lessons/_cost_engine.py``.

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
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from prodai_lessons._cost_engine import (
    INT64_SAFE,
    PICO_PER_USD,
    SECONDS_PER_DAY,
    Budget,
    Ledger,
    batch_flags,
    batch_times,
    check_exact_bound,
    check_price,
    count_array,
    dataclass_repr,
    exact_sum,
    group_sum,
    index_array,
    params_key,
    parse_pricing,
    profile_weights,
    readonly,
    usd,
    usd_array,
)
from prodai_lessons._validation import check_callable, check_int, check_real, check_str

__all__ = [
    "PICO_PER_USD",
    "SECONDS_PER_DAY",
    "UNASSIGNED",
    "pico_per_token",
    "request_cost_pico",
    "cache_savings",
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

#: The ``by_feature`` key of requests logged without a feature.
UNASSIGNED = "(unassigned)"


# --------------------------------------------------------------------------------------------------- cores
def pico_per_token(usd_per_mtok: float) -> int:
    """A price in USD per million tokens as a whole number of picodollars (1e-12 USD) per token.

    ``p $/MTok = p * 1e-6 $/token = p * 10**6 pUSD/token``: exact for any price with at most six decimals
    (the price list checks that). Assumes such a price.

    >>> pico_per_token(0.80)  # $0.80 per million tokens
    800000
    """
    return round(usd_per_mtok * 10**6)


def request_cost_pico(input_tokens: int, output_tokens: int, input_pico: int, output_pico: int,
                      cached_input_tokens: int = 0, cached_input_pico: int = 0) -> int:
    """Exact cost of one model call, in picodollars: each kind of token times its price per token.

    ``cost = (input - cached_input) * p_in + cached_input * p_cached + output * p_out``, where the
    ``cached_input`` tokens were read from the provider's prompt cache. Integers in, integer out: no
    rounding, so a total of a million costs is exact too. Works element-wise on int64 arrays.
    Assumes clean input (counts >= 0, ``cached_input_tokens <= input_tokens``).

    >>> pico = request_cost_pico(1200, 400, pico_per_token(3.0), pico_per_token(15.0))
    >>> pico, pico / PICO_PER_USD  # 1,200 tokens in at $3/MTok, 400 out at $15/MTok
    (9600000000, 0.0096)
    """
    return ((input_tokens - cached_input_tokens) * input_pico
            + cached_input_tokens * cached_input_pico
            + output_tokens * output_pico)


def cache_savings(would_be_costs: Sequence[int], hit: Sequence[bool]) -> int:
    """What a response cache saved: the sum, over the cache hits, of what each hit would have cost.

    A hit saves the price of the call it avoided: its model, its tokens. A common shortcut,
    ``hits x average paid cost``, assumes hits cost what the paid requests cost on average; when
    the cache catches short, cheap requests it is far too high. Assumes equal lengths.

    >>> costs, hit = [5, 5, 900, 900], [True, True, False, False]  # two cheap requests hit
    >>> cache_savings(costs, hit), 2 * (900 + 900) // 2  # exact, and the shortcut
    (10, 1800)
    """
    return sum(cost for cost, h in zip(would_be_costs, hit) if h)


# --------------------------------------------------------------------------------------------------- pricing
@dataclass(frozen=True)
class ModelPrice:
    """List price of one model, in USD per million tokens.

    ``cached_input_per_mtok`` is the price of input tokens served from the provider's prompt cache, or
    ``None`` where the model has no such discount (cached tokens are then billed at the input price); it may
    not exceed ``input_per_mtok``. The ``*_pico`` fields are the same prices as exact integers in picodollars
    per token (:func:`pico_per_token`).

    >>> mp = ModelPrice("small-model", "small", input_per_mtok=0.8, output_per_mtok=4.0)
    >>> mp.input_pico, mp.cost_pico(1000, 200)
    (800000, 1600000000)
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
        pin = pico_per_token(check_price(f"input_per_mtok of model {self.name!r}", self.input_per_mtok))
        pout = pico_per_token(check_price(f"output_per_mtok of model {self.name!r}", self.output_per_mtok))
        pcached = pin
        if self.cached_input_per_mtok is not None:
            pcached = pico_per_token(check_price(f"cached_input_per_mtok of model {self.name!r}",
                                                 self.cached_input_per_mtok))
            if pcached > pin:
                raise ValueError(f"cached_input_per_mtok of model {self.name!r} must be <= its input_per_mtok "
                                 f"({self.input_per_mtok!r}): prompt-cached input is a discount; "
                                 f"got {self.cached_input_per_mtok!r}")
        object.__setattr__(self, "input_pico", pin)
        object.__setattr__(self, "output_pico", pout)
        object.__setattr__(self, "cached_input_pico", pcached)

    def cost_pico(self, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0) -> int:
        """Exact cost of one call in picodollars (integers in, integer out; no validation, see Pricing.cost)."""
        return request_cost_pico(input_tokens, output_tokens, self.input_pico, self.output_pico,
                                 cached_input_tokens, self.cached_input_pico)


@dataclass(frozen=True)
class Pricing:
    """A price list: model name -> :class:`ModelPrice`, with where and when the prices were taken.

    Build it with :func:`load_pricing` (the shipped ``data/pricing.json`` or your own file) or
    :meth:`from_dict`. A malformed entry raises ``ValueError``/``TypeError`` naming the model and the field.
    ``models`` is a read-only mapping (``types.MappingProxyType``).

    >>> p = Pricing.from_dict({"m": {"tier": "small", "input_per_mtok": 1.0, "output_per_mtok": 5.0}})
    >>> p.cost("m", 1_000_000, 200_000), p.model_for_tier("small")
    (2.0, 'm')
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

    __repr__ = dataclass_repr

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, name: str = "pricing") -> "Pricing":
        """Build from the JSON layout of ``data/pricing.json``::

            {"prices_as_of": "...", "source": "...", "note": "...",
             "models": {"<model>": {"tier": "small", "input_per_mtok": 0.8, "output_per_mtok": 4.0,
                                    "cached_input_per_mtok": 0.08, "provider": "..."}}}

        A bare ``{"<model>": {...}}`` mapping (no ``"models"`` key) is accepted too. ``tier``,
        ``input_per_mtok`` and ``output_per_mtok`` are required; ``cached_input_per_mtok`` may be null or absent.
        """
        models, meta = parse_pricing(data, name)
        return cls(models={m: ModelPrice(**kwargs) for m, kwargs in models.items()},
                   prices_as_of=str(meta.get("prices_as_of", "")), source=str(meta.get("source", "")),
                   note=str(meta.get("note", "")), currency=str(meta.get("currency", "USD")))

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
        return usd(mp.cost_pico(i, o, c))

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

    ``path``: the JSON file, in the layout of :meth:`Pricing.from_dict`. Errors name the file, and for a
    malformed entry the model and the field.

    >>> pricing = load_pricing()
    >>> pricing.model_for_tier("small"), pricing.models["claude-3-5-haiku"].output_per_mtok
    ('claude-3-5-haiku', 4.0)
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
    """Usage and cost of one group of requests (a model or a feature). Money in USD.

    >>> Usage(requests=4, cached=1, input_tokens=4000, output_tokens=800, cost=0.03, retry_cost=0.0,
    ...       cache_savings=0.01).cost_per_request
    0.0075
    """

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

    >>> tracker = CostTracker(load_pricing(), clock=lambda: 0.0)
    >>> tracker.log_batch("claude-sonnet-4", [1200, 1200], [400, 400], cached=[False, True])
    0.0096
    >>> report = tracker.report()
    >>> report.total_cost, report.cache_savings, report.cost_without_cache
    (0.0096, 0.0096, 0.0192)
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

    __repr__ = dataclass_repr

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
    """A budget notification: the alert began ``"firing"`` (the projection stayed above the limit
    ``alert_for`` seconds) or was ``"resolved"`` (it fell below the clearing level, or the day ended) at
    ``timestamp``. ``day``: the day number (at midnight, the day that ended); ``spent``: USD spent that day
    so far; ``projected``: the run-rate projection then (at midnight, the day's whole spend).

    >>> tracker = CostTracker(load_pricing(), daily_limit=1.0, min_elapsed=0.0)
    >>> _ = tracker.log_request("claude-opus-4-1", 100_000, 0, timestamp=43_200.0)  # $1.50 by noon
    >>> (alert,) = tracker.budget_alerts
    >>> alert.timestamp, alert.spent, round(alert.projected, 2), alert.status
    (43200.0, 1.5, 3.0, 'firing')
    """

    timestamp: float
    day: int
    spent: float
    projected: float
    daily_limit: float
    status: str = "firing"


@dataclass(frozen=True)
class BudgetStatus:
    """The budget of the day containing ``now``.

    ``projected_spend = spent_today / expected_fraction`` where ``expected_fraction`` is the share of the
    day's traffic expected by ``now`` (``elapsed / 24 h`` for a flat profile): the run-rate projection.
    It is ``None`` during the first ``min_elapsed`` seconds of a day, when a rate is mostly noise.

    >>> tracker = CostTracker(load_pricing(), daily_limit=5.0)
    >>> _ = tracker.log_request("claude-opus-4-1", 100_000, 0, timestamp=21_600.0)  # $1.50 by 6 a.m.
    >>> status = tracker.budget()
    >>> round(status.expected_fraction, 6), round(status.projected_spend, 2), status.alert
    (0.25, 6.0, True)
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
    """Spend and projection after every logged request (read-only arrays aligned with the request log).

    >>> tracker = CostTracker(load_pricing(), min_elapsed=0.0)
    >>> tracker.log_batch("claude-opus-4-1", [100_000, 100_000], [0, 0], timestamps=[21_600.0, 43_200.0])
    3.0
    >>> trace = tracker.budget_trace()
    >>> trace.spent_today.tolist(), trace.projected.round(2).tolist()
    ([1.5, 3.0], [6.0, 6.0])
    """

    timestamps: np.ndarray
    spent_today: np.ndarray
    projected: np.ndarray  # NaN where no projection is made yet (warm-up)
    daily_limit: float | None

    def __post_init__(self) -> None:
        for name in ("timestamps", "spent_today", "projected"):
            object.__setattr__(self, name, readonly(getattr(self, name)))


# --------------------------------------------------------------------------------------------------- tracker
class CostTracker:
    """Log what each LLM request cost; report totals, per-model and per-feature usage, savings and budget.

    ``log_request`` records one request, ``log_batch`` many at once (numpy arrays; the fast path). Both price a
    request with :func:`request_cost_pico`. Each request carries a timestamp in seconds (default: ``clock()``),
    non-decreasing; budget days start at multiples of :data:`SECONDS_PER_DAY`.

    Parameters: ``pricing`` (a :class:`Pricing` or its JSON mapping); ``daily_limit`` (USD, or None for no
    budget); ``traffic_profile`` (24 hourly weights of the day's traffic, default flat); ``min_elapsed``
    (seconds into a day before any projection); ``alert_clear_ratio``, ``alert_for`` (below); ``clock`` (timestamps).

    Budget: with ``daily_limit``, after every request the end-of-day spend is projected from the run rate,
    ``projected = spent_today / F(elapsed)``, ``F`` the expected share of the day's traffic by then. The alert
    is lesson 3's rule (:func:`~prodai_lessons.monitoring.alert_step`) on it: firing after ``alert_for``
    seconds above the limit, resolved below ``alert_clear_ratio * daily_limit`` or at midnight; the gap
    (hysteresis) pages a wobbling projection once. Both are listed in :attr:`budget_notifications`.

    >>> tracker = CostTracker(load_pricing(), clock=lambda: 0.0)
    >>> tracker.log_request("claude-sonnet-4", 1200, 400, feature="chat")
    0.0096
    >>> tracker.log_request("claude-sonnet-4", 1200, 400, feature="chat", retries=1)  # paid twice
    0.0192
    >>> tracker.report().retry_cost
    0.0096
    """

    def __init__(self, pricing: Pricing | Mapping[str, Any], *, daily_limit: float | None = None,
                 traffic_profile: Any = None, min_elapsed: float = 3600.0, alert_clear_ratio: float = 0.9,
                 alert_for: float = 0.0, clock: Callable[[], float] = time.time) -> None:
        self.pricing = _as_pricing(pricing)
        self.daily_limit = None if daily_limit is None else check_real(
            "daily_limit", daily_limit, minimum=0.0, strict_minimum=True)
        self.min_elapsed = check_real("min_elapsed", min_elapsed, minimum=0.0, maximum=SECONDS_PER_DAY)
        self.alert_clear_ratio = check_real("alert_clear_ratio", alert_clear_ratio, minimum=0.0, maximum=1.0,
                                            strict_minimum=True)
        self.alert_for = check_real("alert_for", alert_for, minimum=0.0)
        self.clock = check_callable("clock", clock)
        self.traffic_profile = profile_weights(traffic_profile)
        self._model_names = list(self.pricing.models)
        self._model_idx = {m: i for i, m in enumerate(self._model_names)}
        prices = [self.pricing.models[m] for m in self._model_names]
        self._pin = np.array([p.input_pico for p in prices], dtype=np.int64)
        self._pout = np.array([p.output_pico for p in prices], dtype=np.int64)
        self._pcached = np.array([p.cached_input_pico for p in prices], dtype=np.int64)
        self._features: list[str] = [UNASSIGNED]
        self._feature_idx: dict[str, int] = {UNASSIGNED: 0}
        self._ledger = Ledger()
        self._budget = Budget(self.daily_limit, self.traffic_profile, self.min_elapsed, alert_clear_ratio,
                              self.alert_for)
        self._last_time = -math.inf

    def _model(self, model: Any) -> int:
        try:
            return self._model_idx[model]
        except (KeyError, TypeError):
            known = ", ".join(repr(m) for m in self._model_names)
            raise ValueError(f"model must be one of the priced models {known}; got {model!r}") from None

    def _feature(self, feature: Any, name: str = "feature", new: list[str] | None = None) -> int:
        """The index of ``feature`` (0 for None); a new name is registered, or only queued in ``new``."""
        if feature is None and new is None:
            return 0
        if not isinstance(feature, str) or not feature:
            what = "a non-empty str or None" if new is None else "non-empty strings"
            raise TypeError(f"{name} must be {what}; got {feature!r}")
        feature = str(feature)  # a numpy str_ becomes a plain str
        if feature in self._feature_idx:
            return self._feature_idx[feature]
        if new is None:
            self._feature_idx[feature] = len(self._features)
            self._features.append(feature)
            return self._feature_idx[feature]
        if feature not in new:
            new.append(feature)
        return len(self._features) + new.index(feature)

    def _check_time(self, t: Any) -> float:
        t = check_real("timestamp", t)
        if t < self._last_time:
            raise ValueError(f"timestamp must not be earlier than the previous request's ({self._last_time}); "
                             f"got {t}: requests are logged in time order")
        return t

    def log_request(self, model: str, input_tokens: int, output_tokens: int, cached: bool = False,
                    feature: str | None = None, retries: int = 0, *, cached_input_tokens: int = 0,
                    timestamp: float | None = None) -> float:
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
        t = self._check_time(self.clock() if timestamp is None else timestamp)
        base = self.pricing.models[self._model_names[mi]].cost_pico(i, o, c)
        paid = 0 if cached else base * (1 + r)
        if paid >= INT64_SAFE:
            raise ValueError("the request's cost is too large to account exactly; check input_tokens, "
                             f"output_tokens and retries (got {i}, {o}, {r})")
        self._ledger.add_row(model=mi, input=i, output=o, cached_input=c, cached=bool(cached),
                             feature=self._feature(feature), retries=r, time=t, base=base, paid=paid)
        self._last_time = t
        self._budget.add(t, paid)
        return usd(paid)

    def log_batch(self, models: Any, input_tokens: Any, output_tokens: Any, cached: Any = None,
                  features: Any = None, retries: Any = None, *, cached_input_tokens: Any = None,
                  timestamps: Any = None) -> float:
        """Record many requests at once (the same semantics as :meth:`log_request`); return their cost in USD.

        ``models``/``features``: one string for all requests or one per request; token and retry counts:
        integer arrays, one per request; ``cached``: booleans; ``timestamps``: non-decreasing seconds (default:
        one ``clock()`` reading for the whole batch). Validation is all-or-nothing: on an error nothing is
        recorded. This is the fast path (vectorized, >= 500k requests/s; see ``benchmarks/bench_cost.py``).
        """
        i = count_array("input_tokens", input_tokens, None)
        n = i.shape[0]
        o = count_array("output_tokens", output_tokens, n)
        mi = index_array("models", models, n, self._model)
        c, hit, r = batch_flags(i, cached_input_tokens, cached, retries)
        new: list[str] = []
        fi = (np.zeros(n, np.int32) if features is None
              else index_array("features", features, n, lambda f: self._feature(f, "features", new)))
        t = (np.full(n, self._check_time(self.clock())) if timestamps is None
             else batch_times(timestamps, n, self._last_time))
        if n == 0:
            return 0.0
        check_exact_bound(i, o, r, (self._pin, self._pout, self._pcached))
        for name in new:  # all valid: register the new feature names, then compute
            self._feature(name)
        base = request_cost_pico(i, o, self._pin[mi], self._pout[mi], c, self._pcached[mi])
        paid = np.where(hit, 0, base * (1 + r))
        self._ledger.add_chunk(model=mi, input=i, output=o, cached_input=c, cached=hit, feature=fi,
                               retries=r, time=t, base=base, paid=paid)
        self._last_time = float(t[-1])
        self._budget.add_batch(t, paid)
        return usd(exact_sum(paid))

    def __len__(self) -> int:
        return len(self._ledger)

    def costs(self) -> np.ndarray:
        """USD paid for each logged request, in log order (cache hits are 0.0)."""
        return self._ledger.arrays()["paid"] / PICO_PER_USD

    def timestamps(self) -> np.ndarray:
        """Timestamp of each logged request, in seconds."""
        return self._ledger.arrays()["time"].copy()

    def models(self) -> np.ndarray:
        """Model name of each logged request."""
        return np.array(self._model_names, dtype=object)[self._ledger.arrays()["model"]]

    def binned_costs(self, bin_seconds: float = 3600.0, n_bins: int = 24, start: float = 0.0) -> np.ndarray:
        """USD paid in each of ``n_bins`` intervals ``[start + k*bin_seconds, start + (k+1)*bin_seconds)``.

        Sums are exact (integers) before conversion. Requests outside the range are not counted, so the
        bins add up to :attr:`CostReport.total_cost` only when they cover every request.
        """
        w = check_real("bin_seconds", bin_seconds, minimum=0.0, strict_minimum=True)
        n = check_int("n_bins", n_bins, minimum=1)
        s = check_real("start", start)
        a = self._ledger.arrays()
        k = np.floor((a["time"] - s) / w)
        inside = (k >= 0) & (k < n)
        return np.array(group_sum(k[inside].astype(np.int64), a["paid"][inside], n), dtype=float) / PICO_PER_USD

    def report(self) -> CostReport:
        """Totals, per-model and per-feature usage, cache and retry figures; see :class:`CostReport`."""
        a = self._ledger.arrays()
        n, hit = len(a["model"]), a["cached"]
        total = exact_sum(a["paid"])
        retried = a["paid"] - np.where(hit, 0, a["base"])  # the extra attempts' share of what was paid
        savings = exact_sum(a["base"][hit])  # = cache_savings(a["base"], hit), as an exact vectorised sum
        no_prompt_cache = request_cost_pico(a["input"], a["output"], self._pin[a["model"]], self._pout[a["model"]])
        prompt_savings = exact_sum((no_prompt_cache - a["base"])[~hit] * (1 + a["retries"][~hit]))
        tokens_in, tokens_out = exact_sum(a["input"]), exact_sum(a["output"])
        n_cached = int(hit.sum())

        def groups(index: np.ndarray, labels: list[str]) -> dict[str, Usage]:
            g = len(labels)
            req, cch = np.bincount(index, minlength=g), np.bincount(index[hit], minlength=g)
            cols = [group_sum(index, v, g) for v in (a["input"], a["output"], a["paid"], retried,
                                                     np.where(hit, a["base"], 0))]
            return {labels[k]: Usage(int(req[k]), int(cch[k]), cols[0][k], cols[1][k], usd(cols[2][k]),
                                     usd(cols[3][k]), usd(cols[4][k]))
                    for k in range(g) if req[k] > 0}

        tokens = tokens_in + tokens_out
        return CostReport(
            n_requests=n, n_cached=n_cached, input_tokens=tokens_in, output_tokens=tokens_out,
            total_cost=usd(total), retry_cost=usd(exact_sum(retried)), cache_savings=usd(savings),
            prompt_cache_savings=usd(prompt_savings), cache_hit_rate=n_cached / n if n else 0.0,
            cost_per_request=usd(total) / n if n else 0.0,
            cost_per_1k_tokens=usd(total) * 1000 / tokens if tokens else 0.0,
            by_model=groups(a["model"], self._model_names), by_feature=groups(a["feature"], self._features))

    @property
    def budget_alerts(self) -> tuple[BudgetAlert, ...]:
        """The ``"firing"`` budget notifications so far (one per episode), oldest first."""
        return tuple(BudgetAlert(*alert) for alert in self._budget.alerts)

    @property
    def budget_notifications(self) -> tuple[BudgetAlert, ...]:
        """Every budget notification so far, ``"firing"`` and ``"resolved"``, in time order."""
        return tuple(BudgetAlert(*n) for n in self._budget.notifications)

    def budget(self, now: float | None = None) -> BudgetStatus:
        """Budget status of the day containing ``now`` (default: the last request's time, else ``clock()``)."""
        if now is None:
            now = self._last_time if math.isfinite(self._last_time) else self.clock()
        now = check_real("now", now)
        day = math.floor(now / SECONDS_PER_DAY)
        a = self._ledger.arrays()
        lo = np.searchsorted(a["time"], day * SECONDS_PER_DAY, side="left")
        hi = np.searchsorted(a["time"], now, side="right")
        spent = usd(exact_sum(a["paid"][lo:hi]))
        elapsed = now - day * SECONDS_PER_DAY
        frac = float(self._budget.fraction(elapsed))
        projected = spent / frac if elapsed >= self.min_elapsed and frac > 0 else None
        limit = self.daily_limit
        return BudgetStatus(daily_limit=limit, day=day, now=now, spent_today=spent, expected_fraction=frac,
                            projected_spend=projected,
                            alert=bool(limit is not None and projected is not None and projected > limit),
                            exceeded=bool(limit is not None and spent > limit))

    def budget_trace(self) -> BudgetTrace:
        """Spend so far today and the projected end-of-day spend after each logged request (for plots)."""
        t = self._ledger.arrays()["time"]
        if len(t) == 0:
            z = np.zeros(0)
            return BudgetTrace(z, z, z, self.daily_limit)
        days = np.floor(t / SECONDS_PER_DAY).astype(np.int64)
        spent, projected = self._budget.project(t, days, self._ledger.arrays()["paid"], 0)
        return BudgetTrace(t, usd_array(spent), projected, self.daily_limit)  # copied read-only there

    def __repr__(self) -> str:
        limit = "None" if self.daily_limit is None else f"{self.daily_limit:g}"
        return f"CostTracker({len(self)} requests, models={self._model_names}, daily_limit={limit})"


# --------------------------------------------------------------------------------------------------- cache
def normalize_prompt(prompt: str) -> str:
    """The cache's view of a prompt: Unicode NFKC, case folded, runs of whitespace collapsed, ends stripped.

    So ``"What is  MLOps?\\n"`` and ``"what is mlops?"`` share an entry; anything else (punctuation, word
    order, a synonym) is a different prompt: this is an *exact-match* cache, not a semantic one.

    >>> normalize_prompt("  What is  MLOps?\\n")
    'what is mlops?'
    """
    check_str("prompt", prompt, allow_empty=True)
    return " ".join(unicodedata.normalize("NFKC", prompt).casefold().split())


@dataclass(frozen=True)
class CacheStats:
    """Counters of a :class:`ResponseCache`. ``hit_rate = hits / (hits + misses)`` (0.0 before any lookup).

    >>> CacheStats(hits=3, misses=1, evictions=0, expirations=0, size=1, capacity=10).hit_rate
    0.75
    """

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

    >>> cache = ResponseCache(capacity=100, ttl=None)
    >>> cache.fetch("What is MLOps?", "small-model", lambda: "an answer")
    ('an answer', False)
    >>> cache.fetch("what is  mlops?", "small-model", lambda: "never called")
    ('an answer', True)
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
        items = params_key(params)
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

    def fetch(self, prompt: str, model: str, compute: Callable[[], Any],
              params: Mapping[str, Hashable] | None = None) -> tuple[Any, bool]:
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

    >>> estimate_tokens("What is the refund policy for annual plans?")
    11
    """
    check_str("text", text, allow_empty=True)
    if not text:
        return 0
    n_ascii = sum(1 for ch in text if ord(ch) < 128)
    by_chars = math.ceil(n_ascii / 4 + (len(text) - n_ascii))
    by_words = math.ceil(len(text.split()) * 4 / 3)
    return max(by_chars, by_words)
