"""Seeded production traffic shared by the notebooks (monitoring, incidents, cost, dashboard).

Every generator takes a ``seed`` and draws everything from one ``np.random.default_rng(seed)``:
the same seed gives the same traffic in every process (no global state, no ``hash()``).

What a simulated request carries (:class:`Requests`, one numpy array per field, all the same length):

============== ========= ===============================================================================
field          dtype     meaning
============== ========= ===============================================================================
timestamp      float64   seconds since the start of the simulation (non-decreasing)
latency_ms     float64   response time, log-normal: ``exp(N(mu, sigma))`` milliseconds
error          bool      the request failed (Bernoulli with the phase's error rate)
confidence     float64   the model's confidence in (0, 1), ``Beta(a, b)``
model          str       which model served it, drawn from ``model_mix``
input_tokens   int64     prompt tokens, ``1 + Poisson(...)`` around a log-normal mean
output_tokens  int64     completion tokens; 0 for a failed request (nothing was generated)
cost_usd       float64   ``input_tokens * p_in + output_tokens * p_out`` with ``prices`` per million tokens
phase          str       ``"normal"``, ``"degraded"`` or ``"spike"`` (the ground truth)
============== ========= ===============================================================================

Phases (:data:`PHASES`) describe how the system behaves:

- ``normal``: ~148 ms median latency, 2 % errors, confident model (``Beta(5, 1)``, mean 0.83);
- ``degraded``: a sick dependency: ~400 ms median and a heavy tail, 15 % errors, ``Beta(2, 3)``
  confidence (mean 0.4), twice the output tokens (retries, rambling);
- ``spike``: 2.5x the traffic, queueing pushes latency to ~270 ms, 8 % errors, slightly less confident.

Incidents are injected as phases with a known start and end (:class:`IncidentWindow`, half-open
``[start, end)`` in seconds and in request indices), so detectors can be scored against ground truth.

Generators:

- :func:`simulate_requests`: ``n`` requests of one phase, Poisson arrivals.
- :func:`simulate_phases`: consecutive segments, e.g. ``[("normal", 150), ("degraded", 50)]``.
- :func:`standard_scenario`: the monitoring lesson's scenario (150 normal, then 50 degraded).
- :func:`simulate_day`: 24 hours with a daily cycle; hours ``incident_hours = (14, 17)`` mean
  14:00 up to (not including) 17:00, i.e. hours 14, 15 and 16.

Alert rules measured on many seeds of this traffic (the monitoring lesson's figures, stated on seeds no
rule was tuned on): :func:`first_firing_delays` on the standard scenario and :func:`false_pages` on normal
traffic, each running :class:`prodai_lessons.monitoring.MonitoringPipeline` once per seed, cached.

The phases are plain, round models of a healthy and a sick service (log-normal(5, 0.5) ms, 2 % errors,
``Beta(5, 1)`` normal; log-normal(6, 0.8), 15 %, ``Beta(2, 3)`` degraded); the model names and prices
are fictional round numbers (pass ``prices`` to use a real price list).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from prodai_lessons._validation import (
    as_1d_array,
    check_choice,
    check_int,
    check_probability,
    check_real,
    check_str,
)
from prodai_lessons.monitoring import AlertRule, BurnRateRule, MonitoringPipeline

__all__ = [
    "PhaseProfile",
    "PHASES",
    "DEFAULT_MODEL_MIX",
    "DEFAULT_PRICES",
    "Requests",
    "IncidentWindow",
    "Traffic",
    "simulate_requests",
    "simulate_phases",
    "standard_scenario",
    "simulate_day",
    "hourly_counts",
    "first_firing_delays",
    "false_pages",
]


@dataclass(frozen=True)
class PhaseProfile:
    """How the system behaves in one phase: latency, errors, confidence, traffic and token counts.

    Parameters
    ----------
    name: the phase's name; a segment whose profile is named ``"normal"`` is not an incident.
    latency_log_mean, latency_log_sigma: latency is ``exp(N(mean, sigma))`` ms (median ``exp(mean)``).
    error_rate: errors are Bernoulli(``error_rate``).
    confidence_a, confidence_b: confidence is ``Beta(a, b)``.
    rate_multiplier: scales the arrival rate.
    input_tokens_mean, output_tokens_mean: token counts are ``1 + Poisson(lambda)`` with ``lambda``
        log-normal around these means (over-dispersed like real prompts).

    Examples
    --------
    >>> p = PHASES["degraded"]
    >>> round(p.median_latency_ms), p.error_rate, p.mean_confidence
    (403, 0.15, 0.4)

    Notes
    -----
    The generators take a phase by name (a key of :data:`PHASES`) or as a profile, so a lesson can vary
    one property of a phase: ``dataclasses.replace(PHASES["degraded"], name="outage", error_rate=0.4)``.
    """

    name: str
    latency_log_mean: float
    latency_log_sigma: float
    error_rate: float
    confidence_a: float
    confidence_b: float
    rate_multiplier: float = 1.0
    input_tokens_mean: float = 600.0
    output_tokens_mean: float = 250.0

    def __post_init__(self) -> None:
        check_str("name", self.name)
        check_real("latency_log_mean", self.latency_log_mean)
        check_real("latency_log_sigma", self.latency_log_sigma, minimum=0.0)
        check_probability("error_rate", self.error_rate, open_interval=False)
        for name in ("confidence_a", "confidence_b", "rate_multiplier", "input_tokens_mean", "output_tokens_mean"):
            check_real(name, getattr(self, name), minimum=0.0, strict_minimum=True)

    @property
    def median_latency_ms(self) -> float:
        """``exp(latency_log_mean)``: the median of a log-normal latency."""
        return math.exp(self.latency_log_mean)

    @property
    def mean_confidence(self) -> float:
        """``a / (a + b)``: the mean of ``Beta(a, b)``."""
        return self.confidence_a / (self.confidence_a + self.confidence_b)


#: The three phases; see the module docstring.
PHASES: Mapping[str, PhaseProfile] = {
    "normal": PhaseProfile("normal", 5.0, 0.5, 0.02, 5.0, 1.0),
    "degraded": PhaseProfile("degraded", 6.0, 0.8, 0.15, 2.0, 3.0, output_tokens_mean=500.0),
    "spike": PhaseProfile("spike", 5.6, 0.6, 0.08, 4.0, 1.5, rate_multiplier=2.5),
}

#: Share of requests per model (fictional names).
DEFAULT_MODEL_MIX: Mapping[str, float] = {"small": 0.6, "medium": 0.3, "large": 0.1}

#: USD per million tokens (input, output); fictional round numbers of today's order of magnitude.
DEFAULT_PRICES: Mapping[str, tuple[float, float]] = {
    "small": (0.5, 1.5),
    "medium": (3.0, 15.0),
    "large": (15.0, 75.0),
}


@dataclass(frozen=True)
class Requests:
    """A batch of simulated requests: one read-only numpy array per field (see the module docstring).

    Parameters
    ----------
    timestamp, latency_ms, error, confidence, model, input_tokens, output_tokens, cost_usd, phase:
        1-D arrays of one length (copied and made read-only when writable).

    Examples
    --------
    >>> r = simulate_requests(5, seed=0)
    >>> r
    Requests(n=5, t=[0.7, 2.3] s, error_rate=0.200, median_latency_ms=178, cost_usd=0.0059)
    >>> len(r[r.error]), len(r[:3])
    (1, 3)
    """

    timestamp: np.ndarray
    latency_ms: np.ndarray
    error: np.ndarray
    confidence: np.ndarray
    model: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    cost_usd: np.ndarray
    phase: np.ndarray

    _FIELDS = ("timestamp", "latency_ms", "error", "confidence", "model",
               "input_tokens", "output_tokens", "cost_usd", "phase")

    def __post_init__(self) -> None:
        n = len(self.timestamp)
        for name in self._FIELDS:
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray) or arr.ndim != 1 or len(arr) != n:
                raise ValueError(f"{name} must be a 1-D numpy array of length {n}")
            if arr.flags.writeable:  # a read-only copy: the caller's array stays writable, ours cannot change
                arr = arr.copy()
                arr.flags.writeable = False
                object.__setattr__(self, name, arr)

    def __len__(self) -> int:
        return len(self.timestamp)

    def __getitem__(self, index) -> Requests:
        return Requests(**{f: np.atleast_1d(np.array(getattr(self, f)[index])) for f in self._FIELDS})

    def __repr__(self) -> str:
        n = len(self)
        if n == 0:
            return "Requests(n=0)"
        return (f"Requests(n={n}, t=[{self.timestamp[0]:.1f}, {self.timestamp[-1]:.1f}] s, "
                f"error_rate={self.error.mean():.3f}, median_latency_ms={np.median(self.latency_ms):.0f}, "
                f"cost_usd={self.cost_usd.sum():.4f})")

    @property
    def hour(self) -> np.ndarray:
        """Hour of the day of each request, ``floor(timestamp / 3600)`` as int64."""
        return (self.timestamp // 3600.0).astype(np.int64)

    @staticmethod
    def concat(parts: Sequence[Requests]) -> Requests:
        """Concatenate batches in the given order (their timestamps must not go backwards)."""
        if not parts:
            raise ValueError("parts must hold at least one Requests batch")
        out = Requests(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in Requests._FIELDS})
        if len(out) and np.any(np.diff(out.timestamp) < 0):
            raise ValueError("parts must be in time order; concatenated timestamps go backwards")
        return out


@dataclass(frozen=True)
class IncidentWindow:
    """Ground truth of one injected incident: ``[start_s, end_s)`` and requests ``[start_index, end_index)``.

    Parameters
    ----------
    phase: the incident's phase name.
    start_s, end_s: the incident in seconds, half-open.
    start_index, end_index: the same requests by index, half-open.

    Examples
    --------
    >>> inc = standard_scenario(2).incidents[0]
    >>> inc.label(), inc.n_requests
    ('degraded requests [150, 200)', 50)

    Notes
    -----
    Both intervals select the same requests: ``end_s`` is the arrival time of the first request after
    the incident, or, when the incident ends the traffic, the next float after its last request's time
    (so that request is inside).
    """

    phase: str
    start_s: float
    end_s: float
    start_index: int
    end_index: int

    @property
    def n_requests(self) -> int:
        """Requests inside the incident."""
        return self.end_index - self.start_index

    def label(self) -> str:
        """Human label: ``"degraded [150, 200)"`` for request windows; clock times for a day."""
        if self.end_s - self.start_s >= 3600 and self.start_s % 3600 == 0 and self.end_s % 3600 == 0:
            return f"{self.phase} {int(self.start_s // 3600):02d}:00-{int(self.end_s // 3600):02d}:00"
        return f"{self.phase} requests [{self.start_index}, {self.end_index})"


@dataclass(frozen=True)
class Traffic:
    """Simulated traffic: the requests, the injected incidents (ground truth) and how it was made.

    Parameters
    ----------
    requests: the :class:`Requests`.
    incidents: one :class:`IncidentWindow` per injected incident.
    seed, description: how the traffic was made.
    expected_per_hour: the arrival rate per hour :func:`simulate_day` drew the counts from (``None`` for
        request-indexed scenarios).

    Examples
    --------
    >>> t = standard_scenario(0)
    >>> len(t), t.description, int(t.incident_mask().sum())
    (200, '150 normal + 50 degraded', 50)
    """

    requests: Requests
    incidents: tuple[IncidentWindow, ...]
    seed: int
    description: str
    expected_per_hour: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.requests)

    def incident_mask(self) -> np.ndarray:
        """Boolean mask: True for requests inside any injected incident."""
        mask = np.zeros(len(self.requests), dtype=bool)
        for inc in self.incidents:
            mask[inc.start_index:inc.end_index] = True
        return mask


def _check_mix(model_mix: Mapping[str, float], prices: Mapping[str, tuple[float, float]]):
    if not isinstance(model_mix, Mapping) or not model_mix:
        raise TypeError(f"model_mix must be a non-empty mapping of model name -> share; got {model_mix!r}")
    if not isinstance(prices, Mapping):
        raise TypeError(f"prices must be a mapping of model name -> (input, output) USD per million tokens; got {prices!r}")
    names = list(model_mix)
    shares = np.array([check_real(f"model_mix[{k!r}]", v, minimum=0.0, strict_minimum=True)
                       for k, v in model_mix.items()])
    if abs(shares.sum() - 1.0) > 1e-9:
        raise ValueError(f"model_mix shares must sum to 1; got {shares.sum():.12g}")
    p_in = np.empty(len(names))
    p_out = np.empty(len(names))
    for i, name in enumerate(names):
        check_str("model_mix key", name)
        if name not in prices:
            raise ValueError(f"prices has no entry for model {name!r}; known: {', '.join(sorted(prices))}")
        pair = prices[name]
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"prices[{name!r}] must be a pair (input, output) in USD per million tokens; got {pair!r}")
        p_in[i] = check_real(f"prices[{name!r}][0]", pair[0], minimum=0.0) / 1e6
        p_out[i] = check_real(f"prices[{name!r}][1]", pair[1], minimum=0.0) / 1e6
    return np.array(names), shares, p_in, p_out


def _draw(rng: np.random.Generator, timestamps: np.ndarray, profile: PhaseProfile,
          mix: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> Requests:
    """Draw the per-request fields of one phase for the given arrival times (in this fixed order)."""
    n = len(timestamps)
    names, shares, p_in, p_out = mix
    latency = rng.lognormal(profile.latency_log_mean, profile.latency_log_sigma, n)
    error = rng.random(n) < profile.error_rate
    confidence = rng.beta(profile.confidence_a, profile.confidence_b, n)
    model_idx = rng.choice(len(names), size=n, p=shares)
    in_lam = profile.input_tokens_mean * rng.lognormal(-0.125, 0.5, n)   # E[lognormal(-s^2/2, s)] = 1
    out_lam = profile.output_tokens_mean * rng.lognormal(-0.125, 0.5, n)
    input_tokens = 1 + rng.poisson(in_lam).astype(np.int64)
    output_tokens = np.where(error, 0, 1 + rng.poisson(out_lam)).astype(np.int64)
    cost = input_tokens * p_in[model_idx] + output_tokens * p_out[model_idx]
    return Requests(
        timestamp=np.asarray(timestamps, dtype=np.float64),
        latency_ms=latency,
        error=error,
        confidence=confidence,
        model=names[model_idx],
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=cost,
        phase=np.full(n, profile.name),
    )


def _profile(phase: str | PhaseProfile, name: str = "phase") -> PhaseProfile:
    """A phase given by name (a key of :data:`PHASES`) or as a :class:`PhaseProfile` (validated when made)."""
    if isinstance(phase, PhaseProfile):
        return phase
    if not isinstance(phase, str):
        raise TypeError(f"{name} must be a phase name ({', '.join(map(repr, PHASES))}) or a PhaseProfile; "
                        f"got {type(phase).__name__} {phase!r}")
    return PHASES[check_choice(name, phase, PHASES)]


def simulate_requests(
    n: int,
    *,
    phase: str | PhaseProfile = "normal",
    seed: int = 0,
    start_s: float = 0.0,
    rate_per_s: float = 1.0,
    model_mix: Mapping[str, float] = DEFAULT_MODEL_MIX,
    prices: Mapping[str, tuple[float, float]] = DEFAULT_PRICES,
) -> Requests:
    """``n`` requests of one ``phase``; Poisson arrivals at ``rate_per_s * rate_multiplier`` from ``start_s``.

    Parameters
    ----------
    n: how many requests.
    phase: a name in :data:`PHASES` or a :class:`PhaseProfile`.
    seed: the seed of the one generator everything is drawn from.
    start_s, rate_per_s: the clock's start and the arrival rate (requests per second).
    model_mix, prices: the share of each model and its price per million tokens (input, output).

    Examples
    --------
    >>> r = simulate_requests(1000, seed=1)
    >>> len(r), str(r.phase[0]), round(float(r.error.mean()), 3)
    (1000, 'normal', 0.02)

    Notes
    -----
    Inter-arrival gaps are exponential, so timestamps are ``start_s + cumsum(Exp(1/rate))``.
    """
    n = check_int("n", n, minimum=0)
    profile = _profile(phase)
    seed = check_int("seed", seed)
    start_s = check_real("start_s", start_s, minimum=0.0)
    rate = check_real("rate_per_s", rate_per_s, minimum=0.0, strict_minimum=True) * profile.rate_multiplier
    mix = _check_mix(model_mix, prices)
    rng = np.random.default_rng(seed)
    ts = start_s + np.cumsum(rng.exponential(1.0 / rate, n))
    return _draw(rng, ts, profile, mix)


def simulate_phases(
    phases: Sequence[tuple[str | PhaseProfile, int]],
    *,
    seed: int = 0,
    rate_per_s: float = 1.0,
    model_mix: Mapping[str, float] = DEFAULT_MODEL_MIX,
    prices: Mapping[str, tuple[float, float]] = DEFAULT_PRICES,
) -> Traffic:
    """Consecutive segments ``[(phase, n_requests), ...]``; every non-normal segment is an incident.

    Parameters
    ----------
    phases: ``(phase, n_requests)`` pairs; a phase is a name in :data:`PHASES` or a :class:`PhaseProfile`.
    seed, rate_per_s, model_mix, prices: as in :func:`simulate_requests`.

    Examples
    --------
    >>> t = simulate_phases([("normal", 100), ("spike", 40)], seed=3)
    >>> [(i.phase, i.start_index, i.end_index) for i in t.incidents]
    [('spike', 100, 140)]

    Notes
    -----
    One generator draws all segments in order, so changing a later segment leaves earlier ones as
    they were. An incident's ``start_s`` is the arrival time of its first request and ``end_s`` that
    of the first request after it (or the next float after its last request's time when it ends the
    scenario, so ``[start_s, end_s)`` holds exactly its requests).
    """
    if isinstance(phases, (str, bytes)) or not isinstance(phases, Sequence) or not phases:
        raise TypeError(f"phases must be a non-empty sequence of (phase, n_requests) pairs; got {phases!r}")
    seed = check_int("seed", seed)
    rate = check_real("rate_per_s", rate_per_s, minimum=0.0, strict_minimum=True)
    mix = _check_mix(model_mix, prices)
    segs = []
    for i, seg in enumerate(phases):
        if not isinstance(seg, (tuple, list)) or len(seg) != 2:
            raise TypeError(f"phases[{i}] must be a (phase, n_requests) pair; got {seg!r}")
        segs.append((_profile(seg[0], f"phases[{i}] phase"), check_int(f"phases[{i}] n_requests", seg[1], minimum=1)))
    rng = np.random.default_rng(seed)
    parts: list[Requests] = []
    bounds = []
    t = 0.0
    index = 0
    for profile, n in segs:
        ts = t + np.cumsum(rng.exponential(1.0 / (rate * profile.rate_multiplier), n))
        parts.append(_draw(rng, ts, profile, mix))
        bounds.append((profile.name, index, index + n))
        index += n
        t = float(ts[-1])
    requests = Requests.concat(parts)
    ts_all = requests.timestamp
    incidents = tuple(
        IncidentWindow(name, float(ts_all[a]),
                       float(ts_all[b]) if b < len(ts_all) else math.nextafter(float(ts_all[-1]), math.inf), a, b)
        for name, a, b in bounds if name != "normal"
    )
    desc = " + ".join(f"{n} {p.name}" for p, n in segs)
    return Traffic(requests, incidents, seed, desc)


def standard_scenario(seed: int = 0, *, n_normal: int = 150, n_incident: int = 50,
                      incident_phase: str | PhaseProfile = "degraded") -> Traffic:
    """The monitoring lesson's scenario: ``n_normal`` normal requests, then ``n_incident`` degraded ones.

    Parameters
    ----------
    seed: the seed of the traffic.
    n_normal, n_incident: the lengths of the two segments; the incident starts at index ``n_normal``.
    incident_phase: the incident's phase (default ``"degraded"``: 15 % errors, higher latency).

    Examples
    --------
    >>> r = standard_scenario(2).requests
    >>> len(r), int(r.error[:150].sum()), int(r.error[150:].sum())
    (200, 2, 8)

    Notes
    -----
    Arrivals come at one request per second on average, in both segments.
    """
    return simulate_phases([("normal", n_normal), (incident_phase, n_incident)], seed=seed)


def simulate_day(
    seed: int = 0,
    *,
    incident_hours: tuple[int, int] | None = (14, 17),
    incident_phase: str | PhaseProfile = "spike",
    requests_per_hour: float = 1000.0,
    daily_amplitude: float = 0.5,
    peak_hour: float = 15.0,
    n_hours: int = 24,
    model_mix: Mapping[str, float] = DEFAULT_MODEL_MIX,
    prices: Mapping[str, tuple[float, float]] = DEFAULT_PRICES,
) -> Traffic:
    """A day of traffic with a daily cycle and an injected incident.

    Parameters
    ----------
    seed: the seed of the traffic.
    incident_hours: ``(a, b)``, the incident's hours, half-open; None for a normal day.
    incident_phase: the incident's phase (default ``"spike"``).
    requests_per_hour, daily_amplitude, peak_hour, n_hours: the daily cycle (see Notes).
    model_mix, prices: as in :func:`simulate_requests`.

    Examples
    --------
    >>> day = simulate_day(0)
    >>> day.incidents[0].label(), len(day.expected_per_hour)
    ('spike 14:00-17:00', 24)

    Notes
    -----
    Expected arrivals in hour ``h``: ``requests_per_hour * (1 + daily_amplitude * cos(2 pi (h + 0.5 -
    peak_hour) / 24))``, times the phase's ``rate_multiplier`` during the incident hours (a ``spike``
    brings 2.5x traffic). Each hour's count is Poisson with that mean and its arrival times are uniform
    within the hour (a non-homogeneous Poisson process, piecewise constant per hour), sorted.

    ``incident_hours=(a, b)`` is half-open: the incident covers ``[a*3600, b*3600)`` seconds, hours
    ``a .. b-1`` (the default (14, 17) is 14:00-17:00, hours 14, 15, 16). ``None`` gives a normal day.
    Timestamps are seconds within the day; ``Traffic.expected_per_hour`` holds the hourly means.
    """
    seed = check_int("seed", seed)
    n_hours = check_int("n_hours", n_hours, minimum=1)
    base = check_real("requests_per_hour", requests_per_hour, minimum=0.0, strict_minimum=True)
    amp = check_real("daily_amplitude", daily_amplitude, minimum=0.0, maximum=1.0)
    peak = check_real("peak_hour", peak_hour, minimum=0.0, maximum=24.0)
    profile_inc = _profile(incident_phase, "incident_phase")
    if incident_hours is not None:
        if not isinstance(incident_hours, (tuple, list)) or len(incident_hours) != 2:
            raise TypeError(f"incident_hours must be a pair (start_hour, end_hour) or None; got {incident_hours!r}")
        a = check_int("incident_hours[0]", incident_hours[0], minimum=0, maximum=n_hours - 1)
        b = check_int("incident_hours[1]", incident_hours[1], minimum=a + 1, maximum=n_hours)
    mix = _check_mix(model_mix, prices)
    hours = np.arange(n_hours)
    expected = base * (1.0 + amp * np.cos(2.0 * np.pi * (hours + 0.5 - peak) / 24.0))
    in_incident = np.zeros(n_hours, dtype=bool)
    if incident_hours is not None:
        in_incident[a:b] = True
        expected = np.where(in_incident, expected * profile_inc.rate_multiplier, expected)
    rng = np.random.default_rng(seed)
    counts = rng.poisson(expected)
    parts = []
    for h in range(n_hours):
        ts = np.sort(h * 3600.0 + 3600.0 * rng.random(counts[h]))
        parts.append(_draw(rng, ts, profile_inc if in_incident[h] else PHASES["normal"], mix))
    requests = Requests.concat(parts)
    incidents: tuple[IncidentWindow, ...] = ()
    if incident_hours is not None:
        start_i = int(counts[:a].sum())
        end_i = int(counts[:b].sum())
        incidents = (IncidentWindow(profile_inc.name, a * 3600.0, b * 3600.0, start_i, end_i),)
    desc = f"{n_hours} h, ~{base:g} requests/h, daily cycle +-{amp:g} peaking at {peak:g}h"
    if incident_hours is not None:
        desc += f", {profile_inc.name} {a:02d}:00-{b:02d}:00"
    expected.flags.writeable = False
    return Traffic(requests, incidents, seed, desc, expected_per_hour=expected)


def hourly_counts(timestamps, n_hours: int = 24) -> np.ndarray:
    """Requests per hour: ``bincount(floor(t / 3600))`` over ``n_hours`` bins (int64).

    Parameters
    ----------
    timestamps: seconds since the start of the day, in ``[0, n_hours * 3600)`` (``ValueError`` otherwise).
    n_hours: the number of bins.

    Examples
    --------
    >>> hourly_counts([10.0, 3599.0, 3600.0, 7300.0], n_hours=3)
    array([2, 1, 1])
    """
    n_hours = check_int("n_hours", n_hours, minimum=1)
    t = as_1d_array("timestamps", timestamps, min_size=0, nonnegative=True)
    if t.size and t.max() >= n_hours * 3600.0:
        raise ValueError(f"timestamps must be < n_hours * 3600 = {n_hours * 3600}; got {t.max()}")
    return np.bincount((t // 3600.0).astype(np.int64), minlength=n_hours)


# --------------------------------------------------------------------------------------------------
# Alert rules measured on many seeds of the traffic
# --------------------------------------------------------------------------------------------------
def _sweep_args(rules: Sequence[AlertRule | BurnRateRule], seeds: Sequence[int]) -> tuple[tuple, tuple[int, ...]]:
    """The rules and seeds as tuples (hashable, for the cache), checked as the pipeline checks them."""
    rules = tuple(MonitoringPipeline(rules).rules)
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or len(seeds) == 0:
        raise TypeError(f"seeds must be a non-empty sequence of ints (e.g. a range); got {seeds!r}")
    return rules, tuple(check_int("seeds", s) for s in seeds)


def _frozen(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A fresh dict of read-only views: a caller cannot change what the cache holds."""
    out = {}
    for name, arr in columns.items():
        view = arr.view()
        view.flags.writeable = False
        out[name] = view
    return out


def first_firing_delays(rules: Sequence[AlertRule | BurnRateRule], seeds: Sequence[int]) -> dict[str, np.ndarray]:
    """How many requests after the incident's start each rule first fires, on ``standard_scenario(seed)``.

    Per rule name, one delay per seed (in the order of ``seeds``): the request number of the rule's first
    ``"firing"`` notification during or after the incident, minus the incident's start (150), so 1 is the
    incident's first request; ``inf`` when the rule did not fire then. (A page on the normal requests
    before the incident is a false page: :func:`false_pages` counts those.) ``"any rule"`` holds the
    smallest delay of all rules. Rules are evaluated after every request, by
    :class:`MonitoringPipeline` with ``log_requests``. Results are cached (the same rules and seeds are
    computed once per process) and returned read-only.

    >>> from prodai_lessons.monitoring import standard_rules
    >>> d = first_firing_delays(standard_rules(), range(2, 4))
    >>> sorted(d), d["high p95 latency"].tolist()
    (['any rule', 'cost per request', 'error budget burn', 'high p95 latency', 'low confidence'], [25.0, 12.0])
    """
    return _frozen(_delays_cached(*_sweep_args(rules, seeds)))


@lru_cache(maxsize=16)
def _delays_cached(rules: tuple, seeds: tuple[int, ...]) -> dict[str, np.ndarray]:
    delays = {r.name: np.full(len(seeds), np.inf) for r in rules}
    for k, seed in enumerate(seeds):
        traffic = standard_scenario(seed)
        start = traffic.incidents[0].start_index
        p = MonitoringPipeline(rules)
        p.log_requests(traffic.requests)
        for a in p.history:
            if a.status == "firing" and a.n_requests > start and np.isinf(delays[a.rule][k]):
                delays[a.rule][k] = a.n_requests - start
    delays["any rule"] = np.minimum.reduce(list(delays.values()))
    return delays


def false_pages(rules: Sequence[AlertRule | BurnRateRule], seeds: Sequence[int],
                n_requests: int = 1000) -> dict[str, np.ndarray]:
    """How often each rule pages on purely normal traffic: ``simulate_requests(n_requests, seed=seed)``.

    Per rule name, the number of ``"firing"`` notifications on each seed's stretch (in the order of
    ``seeds``); ``"any rule"`` their sum. Every page on normal traffic is a false page. Rules are evaluated
    after every request, by :class:`MonitoringPipeline` with ``log_requests``. Results are cached (the same
    rules, seeds and length are computed once per process) and returned read-only.

    >>> from prodai_lessons.monitoring import standard_rules
    >>> pages = false_pages(standard_rules(), range(3), n_requests=500)
    >>> pages["any rule"].tolist()
    [0, 0, 0]
    """
    n_requests = check_int("n_requests", n_requests, minimum=1)
    return _frozen(_pages_cached(*_sweep_args(rules, seeds), n_requests))


@lru_cache(maxsize=16)
def _pages_cached(rules: tuple, seeds: tuple[int, ...], n_requests: int) -> dict[str, np.ndarray]:
    pages = {r.name: np.zeros(len(seeds), dtype=np.int64) for r in rules}
    for k, seed in enumerate(seeds):
        p = MonitoringPipeline(rules)
        p.log_requests(simulate_requests(n_requests, seed=seed))
        for a in p.history:
            if a.status == "firing":
                pages[a.rule][k] += 1
    pages["any rule"] = np.sum(list(pages.values()), axis=0)
    return pages
