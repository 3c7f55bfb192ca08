"""Section 1: deployment patterns, and a small simulation that makes their trade-offs measurable.

Three ways to serve the same model are simulated on the same seeded Poisson traffic:

``"api"``
    An always-on service: ``replicas`` instances, each serving one request at a time, requests
    queue first-in first-out for the earliest free instance (an M/G/c queue). You pay for every
    instance-hour whether traffic comes or not.
``"serverless"``
    One instance per concurrent request, started on demand. An instance that has been idle for
    more than ``keep_warm_s`` is reclaimed, so the next request pays a cold start (loading the
    model). You pay per request and per busy second only.
``"batch"``
    Requests are collected and processed every ``batch_interval_s`` by a job that fans out over as
    many workers as it needs, on discounted compute. Cheap, but a request waits for the next job.

The two ideas come first, each a short function the simulation runs: :func:`fifo_queue` (the queue of
the always-on API) and :func:`serverless_cold_starts` (which requests find no warm instance). The
pattern table, the configuration, the simulation and the figures follow.

The prices and timings in :class:`DeploymentConfig` are illustrative round numbers, not quotes;
what the lesson shows is the *shape* of the trade-off (who wins at which traffic), which holds
for any realistic prices.
"""

from __future__ import annotations

import heapq
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from prodai_lessons._validation import as_1d_array, check_choice, check_int, check_real

__all__ = [
    "DeploymentPattern",
    "PATTERNS",
    "PatternTable",
    "pattern_table",
    "DeploymentConfig",
    "DeploymentStats",
    "simulate_deployment",
    "compare_patterns",
    "fifo_queue",
    "serverless_cold_starts",
    "draw_architecture",
    "plot_tradeoffs",
]

SIMULATED = ("api", "serverless", "batch")


def fifo_queue(arrivals: np.ndarray, service: np.ndarray, servers: int) -> np.ndarray:
    """Waiting time of each request in a first-come first-served queue with ``servers`` servers.

    A request takes the server that frees up first and waits ``max(0, free_at - arrival)``. With one
    server this is Lindley's recursion, ``W[i] = max(0, W[i-1] + S[i-1] - (A[i] - A[i-1]))``.

    >>> fifo_queue([0.0, 1.0, 1.5], [2.0, 2.0, 2.0], servers=1)
    array([0. , 1. , 2.5])
    """
    arrivals, service = _requests(arrivals, service)
    servers = check_int("servers", servers, minimum=1)
    free_at = [0.0] * servers  # a heap of the times the servers are next free
    wait = np.empty_like(arrivals)
    for i, (t, s) in enumerate(zip(arrivals.tolist(), service.tolist())):
        start = max(t, free_at[0])  # now, or when the earliest server frees up
        wait[i] = start - t
        heapq.heapreplace(free_at, start + s)
    return wait


def serverless_cold_starts(arrivals: np.ndarray, service: np.ndarray, cold_start_s: float,
                           keep_warm_s: float) -> np.ndarray:
    """Which requests pay a cold start (True), with one instance per concurrent request.

    A request reuses the most recently freed instance that has been idle at most ``keep_warm_s``;
    if there is none, it starts a new one and waits ``cold_start_s`` (loading the model) first.

    >>> serverless_cold_starts([0.0, 0.5, 30.0, 200.0], [1.0] * 4, cold_start_s=2.0, keep_warm_s=60.0)
    array([ True,  True, False,  True])
    """
    arrivals, service = _requests(arrivals, service)
    cold_start_s, keep_warm_s = _seconds(cold_start_s=cold_start_s, keep_warm_s=keep_warm_s)
    free_at: list[float] = []  # when each live instance is (or will be) free
    cold = np.zeros(arrivals.shape, dtype=bool)
    for i, (t, s) in enumerate(zip(arrivals.tolist(), service.tolist())):
        free_at = [f for f in free_at if t - f <= keep_warm_s]  # idle too long: reclaimed
        idle = [f for f in free_at if f <= t]
        if idle:
            free_at.remove(max(idle))  # the most recently freed instance serves it
            free_at.append(t + s)
        else:
            cold[i] = True
            free_at.append(t + cold_start_s + s)
    return cold


def _requests(arrivals: Any, service: Any) -> tuple[np.ndarray, np.ndarray]:
    """``arrivals`` and ``service`` as float arrays of one shape, non-negative, arrivals sorted."""
    arrivals = as_1d_array("arrivals", arrivals, nonnegative=True)
    service = as_1d_array("service", service, nonnegative=True)
    if arrivals.shape != service.shape:
        raise ValueError(f"service must have the same shape as arrivals {arrivals.shape}; got {service.shape}")
    if np.any(np.diff(arrivals) < 0):
        raise ValueError("arrivals must be sorted in increasing order")
    return arrivals, service


def _seconds(**durations: Any) -> tuple[float, ...]:
    """Each keyword argument checked as a non-negative number of seconds, in order."""
    return tuple(check_real(name, value, minimum=0.0) for name, value in durations.items())


@dataclass(frozen=True)
class DeploymentPattern:
    """One way of putting a model in front of its users: how it runs, what it suits, what it costs.

    >>> PATTERNS[0].name, PATTERNS[0].trade_off
    ('API service', 'pays for idle capacity; must scale for peaks')
    """

    name: str
    how: str
    best_for: str
    trade_off: str


PATTERNS: tuple[DeploymentPattern, ...] = (
    DeploymentPattern("API service", "model behind an always-on REST or gRPC endpoint",
                      "interactive, real-time requests", "pays for idle capacity; must scale for peaks"),
    DeploymentPattern("Batch", "predictions computed on stored data on a schedule",
                      "reports, backfills, embeddings of a corpus", "results are minutes to hours old"),
    DeploymentPattern("Edge", "model runs on the device or in the browser",
                      "privacy, offline use, lowest latency", "model must fit the device; updates ship slowly"),
    DeploymentPattern("Serverless", "instances started on demand per request",
                      "spiky or low traffic", "cold starts when a model must be loaded"),
    DeploymentPattern("Streaming", "model consumes an event stream (e.g. Kafka)",
                      "continuous signals: fraud, monitoring", "operational complexity, ordering, replays"),
)


@dataclass(frozen=True)
class PatternTable:
    """The deployment-pattern table; renders as HTML in Jupyter and as aligned text elsewhere.

    ``patterns``: the rows, each a :class:`DeploymentPattern`.

    >>> print(str(PatternTable(PATTERNS[:1])).splitlines()[0])
    Pattern      How it runs                                      Best for                         Trade-off
    """

    patterns: tuple[DeploymentPattern, ...]

    _HEAD = ("Pattern", "How it runs", "Best for", "Trade-off")

    def _rows(self) -> list[tuple[str, str, str, str]]:
        return [(p.name, p.how, p.best_for, p.trade_off) for p in self.patterns]

    def __str__(self) -> str:
        rows = [self._HEAD, *self._rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{h}</th>" for h in self._HEAD)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in r) + "</tr>"
            for r in self._rows()
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def pattern_table() -> PatternTable:
    """The five deployment patterns (API, batch, edge, serverless, streaming) as a table.

    >>> [p.name for p in pattern_table().patterns]
    ['API service', 'Batch', 'Edge', 'Serverless', 'Streaming']
    """
    return PatternTable(PATTERNS)


@dataclass(frozen=True)
class DeploymentConfig:
    """Illustrative timings and prices for :func:`simulate_deployment` (all in seconds and USD).

    ``service_median_s`` and ``service_sigma`` define a lognormal inference time (median 120 ms,
    a right tail as real model latencies have). ``instance_usd_per_hour`` prices one always-on
    instance; serverless bills ``serverless_usd_per_second`` of busy time plus a per-request fee;
    batch runs on compute ``batch_discount`` cheaper than the always-on price.

    >>> cfg = DeploymentConfig(replicas=3)
    >>> cfg.replicas, cfg.cold_start_s
    (3, 2.5)
    """

    service_median_s: float = 0.12
    service_sigma: float = 0.35
    replicas: int = 2
    instance_usd_per_hour: float = 1.20
    cold_start_s: float = 2.5
    keep_warm_s: float = 60.0
    serverless_usd_per_second: float = 0.0008
    serverless_usd_per_request: float = 0.0000002
    batch_interval_s: float = 900.0
    batch_discount: float = 0.5

    def __post_init__(self) -> None:
        for name in ("service_median_s", "instance_usd_per_hour", "cold_start_s", "keep_warm_s",
                     "serverless_usd_per_second", "batch_interval_s"):
            check_real(name, getattr(self, name), minimum=0.0, strict_minimum=True)
        check_real("service_sigma", self.service_sigma, minimum=0.0)
        check_real("serverless_usd_per_request", self.serverless_usd_per_request, minimum=0.0)
        check_real("batch_discount", self.batch_discount, minimum=0.0, maximum=1.0, strict_maximum=True)
        check_int("replicas", self.replicas, minimum=1)


@dataclass(frozen=True)
class DeploymentStats:
    """What one pattern delivered on one traffic level: latency percentiles (seconds) and cost per 1,000 requests.

    >>> s = simulate_deployment("api", 1.0, n_requests=200, seed=0)
    >>> s.pattern, s.n_requests, round(s.p50_s, 3), round(s.cost_per_1k_usd, 3)
    ('api', 200, 0.12, 0.666)
    """

    pattern: str
    rate_per_s: float
    n_requests: int
    p50_s: float
    p95_s: float
    cost_per_1k_usd: float
    cold_start_share: float  # share of requests that paid a cold start (serverless only, else 0)


def _traffic(rate_per_s: float, n_requests: int, seed: int, config: DeploymentConfig):
    """Arrival times and inference times of ``n_requests`` requests.

    Arrivals and service times come from two independent streams (children of ``SeedSequence(seed)``),
    each drawn element by element, so the first ``k`` requests are the same whatever ``n_requests`` is:
    a pattern that simulates more requests (``batch``) serves the others' traffic, then more of it.
    """
    arrival_seed, service_seed = np.random.SeedSequence(seed).spawn(2)
    gaps = np.random.default_rng(arrival_seed).exponential(1.0 / rate_per_s, n_requests)
    z = np.random.default_rng(service_seed).standard_normal(n_requests)
    return np.cumsum(gaps), config.service_median_s * np.exp(config.service_sigma * z)


def simulate_deployment(pattern: str, rate_per_s: float, *, n_requests: int = 2000, seed: int = 0,
                        config: DeploymentConfig | None = None) -> DeploymentStats:
    """Serve ``n_requests`` Poisson arrivals at ``rate_per_s`` with ``pattern`` and measure it.

    Latency is end-to-end (queueing or batch wait + cold start + inference). Cost per 1,000
    requests: ``api`` pays ``replicas`` instances for the whole period; ``serverless`` pays busy
    seconds (cold starts included) plus the per-request fee; ``batch`` pays the discounted
    instance price for the busy seconds of its batches. The same ``seed`` gives the same traffic
    to every pattern, so differences come from the pattern alone; ``batch`` extends it to cover at
    least four batch intervals (``n_requests`` in the result says how many were served).

    Parameters: ``pattern`` (``"api"``, ``"serverless"`` or ``"batch"``), ``rate_per_s`` (mean arrivals
    per second), ``n_requests``, ``seed`` and ``config`` (default :class:`DeploymentConfig`).

    >>> s = simulate_deployment("serverless", 0.1, n_requests=100, seed=0)
    >>> s.cold_start_share, round(s.p95_s, 2)
    (0.03, 0.22)
    """
    pattern = check_choice("pattern", pattern, SIMULATED)
    rate_per_s = check_real("rate_per_s", rate_per_s, minimum=0.0, strict_minimum=True)
    n_requests = check_int("n_requests", n_requests, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    cfg = config if config is not None else DeploymentConfig()
    if not isinstance(cfg, DeploymentConfig):
        raise TypeError(f"config must be a DeploymentConfig; got {type(cfg).__name__}")
    if pattern == "batch":
        # the wait for the next job is only representative over several whole intervals: at high
        # traffic, 2,000 requests would all arrive early in the first interval and all wait long
        n_requests = max(n_requests, int(np.ceil(4 * rate_per_s * cfg.batch_interval_s)))
    arrivals, service = _traffic(rate_per_s, n_requests, seed, cfg)
    period_s = float(arrivals[-1])
    cold_share = 0.0
    if pattern == "api":
        latency = fifo_queue(arrivals, service, cfg.replicas) + service
        cost = cfg.replicas * cfg.instance_usd_per_hour * period_s / 3600.0
    elif pattern == "serverless":
        cold = serverless_cold_starts(arrivals, service, cfg.cold_start_s, cfg.keep_warm_s)
        latency = service + cold * cfg.cold_start_s
        cost = (latency.sum() * cfg.serverless_usd_per_second
                + n_requests * cfg.serverless_usd_per_request)
        cold_share = float(cold.mean())
    else:  # batch: a job at every multiple of the interval processes everything that arrived before it,
        # fanned out over as many workers as it needs, so each request waits for the job, then its own inference
        run_at = (np.floor(arrivals / cfg.batch_interval_s) + 1.0) * cfg.batch_interval_s
        latency = run_at - arrivals + service
        cost = service.sum() * cfg.instance_usd_per_hour * (1.0 - cfg.batch_discount) / 3600.0
    p50, p95 = np.percentile(latency, [50, 95])
    return DeploymentStats(pattern, rate_per_s, n_requests, float(p50), float(p95),
                           float(cost / n_requests * 1000.0), cold_share)


def compare_patterns(rates_per_s: Sequence[float], *, patterns: Sequence[str] = SIMULATED,
                     n_requests: int = 2000, seed: int = 0,
                     config: DeploymentConfig | None = None) -> tuple[DeploymentStats, ...]:
    """:func:`simulate_deployment` for every pattern at every rate.

    All patterns at the ``i``-th rate see the same traffic (seed ``seed + i``; ``batch`` serves a longer
    stretch of it). ``patterns`` is a list or tuple of pattern names, in the order of the results.

    >>> [(s.pattern, s.n_requests) for s in compare_patterns([0.1], n_requests=100)]
    [('api', 100), ('serverless', 100), ('batch', 360)]
    """
    rates = as_1d_array("rates_per_s", rates_per_s)
    if np.any(rates <= 0):
        raise ValueError("rates_per_s must all be > 0")
    seed = check_int("seed", seed, minimum=0)
    if isinstance(patterns, (str, bytes)):
        raise TypeError(f"patterns must be a list or tuple of pattern names, e.g. [{patterns!r}]; "
                        f"got the string {patterns!r}")
    if isinstance(patterns, (set, frozenset)) or not isinstance(patterns, Iterable):
        raise TypeError(f"patterns must be a list or tuple of pattern names (in the order wanted); "
                        f"got {type(patterns).__name__}")
    patterns = [str(check_choice("patterns", p, SIMULATED)) for p in patterns]
    if not patterns:
        raise ValueError(f"patterns must name at least one of {', '.join(map(repr, SIMULATED))}; got none")
    return tuple(simulate_deployment(p, float(r), n_requests=n_requests, seed=seed + i, config=config)
                 for i, r in enumerate(rates) for p in patterns)


def plot_tradeoffs(stats: Sequence[DeploymentStats]):
    """Two panels, p95 latency and cost per 1k requests against traffic, one line per pattern (log axes).

    ``stats``: the results of :func:`compare_patterns`. Returns the figure.

    >>> fig = plot_tradeoffs(compare_patterns([0.1, 1.0], n_requests=100))
    >>> [len(ax.lines) for ax in fig.axes]
    [3, 3]
    >>> plt.close(fig)
    """
    if not stats:
        raise ValueError("stats must be a non-empty sequence of DeploymentStats")
    fig, (ax_lat, ax_cost) = plt.subplots(1, 2, figsize=(11, 4))
    colors = {"api": "#1f77b4", "serverless": "#d62728", "batch": "#2ca02c"}
    for pattern in dict.fromkeys(s.pattern for s in stats):
        rows = sorted((s for s in stats if s.pattern == pattern), key=lambda s: s.rate_per_s)
        x = [s.rate_per_s for s in rows]
        ax_lat.plot(x, [s.p95_s for s in rows], "o-", color=colors.get(pattern), label=pattern)
        ax_cost.plot(x, [s.cost_per_1k_usd for s in rows], "o-", color=colors.get(pattern), label=pattern)
    for ax, title, unit in ((ax_lat, "p95 latency", "seconds"), (ax_cost, "Cost per 1,000 requests", "USD")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("traffic (requests per second)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def draw_architecture(ax=None):
    """Draw a production AI system: users, gateway with guardrails, model service, cache, vector store, monitoring.

    The request path and the telemetry path are arrows; ``ax`` is an axes to draw on (default: a new
    figure). Returns the figure.

    >>> fig = draw_architecture()
    >>> len(fig.axes)
    1
    >>> plt.close(fig)
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(11, 5.5))
    else:
        fig = ax.figure
    ax.set_xlim(0, 12)
    ax.set_ylim(0, 7)
    ax.axis("off")
    boxes = {  # name: (x, y, w, h, colour, label)
        "users": (0.2, 3.0, 1.6, 1.2, "#7f8c8d", "Users /\nclients"),
        "gateway": (2.9, 3.0, 2.0, 1.2, "#2e86c1", "API gateway\n+ guardrails"),
        "model": (6.1, 3.0, 1.8, 1.2, "#c0392b", "Model\nservice"),
        "cache": (6.1, 5.3, 1.8, 1.0, "#d68910", "Response\ncache"),
        "vectors": (6.1, 0.5, 1.8, 1.0, "#7d3c98", "Vector store /\nfeatures"),
        "monitor": (9.3, 3.0, 2.5, 1.2, "#229954", "Monitoring,\nlogs, alerts"),
    }
    for x, y, w, h, colour, label in boxes.values():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.08", facecolor=colour,
                                    edgecolor="black", linewidth=1.2))
        ax.text(x + w / 2, y + h / 2, label, ha="center", va="center", color="white", fontsize=10,
                fontweight="bold")

    def anchor(name, side):
        x, y, w, h, *_ = boxes[name]
        return {"l": (x - 0.08, y + h / 2), "r": (x + w + 0.08, y + h / 2), "t": (x + w / 2, y + h + 0.08),
                "b": (x + w / 2, y - 0.08)}[side]

    arrows = [  # (from, side, to, side, label, style)
        ("users", "r", "gateway", "l", "request", "-|>"),
        ("gateway", "r", "model", "l", "checked\ninput", "-|>"),
        ("model", "t", "cache", "b", "lookup / store", "<|-|>"),
        ("model", "b", "vectors", "t", "retrieve context", "<|-|>"),
        ("model", "r", "monitor", "l", "metrics,\ntraces", "-|>"),
    ]
    for a, sa, b, sb, label, style in arrows:
        (x0, y0), (x1, y1) = anchor(a, sa), anchor(b, sb)
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle=style, mutation_scale=14,
                                     color="#555555", linewidth=1.5))
        if x0 == x1:  # vertical arrow: label to its right
            ax.text(x0 + 0.12, (y0 + y1) / 2 - (0.25 if y1 < y0 else 0.0), label, fontsize=8.5, color="#333333", ha="left", va="center")
        else:  # horizontal arrow: label above it
            ax.text((x0 + x1) / 2, y0 + 0.12, label, fontsize=8.5, color="#333333", ha="center", va="bottom")
    # telemetry from the gateway (guardrail triggers) to monitoring, routed below the request path
    (gx, gy), (mx, my) = anchor("gateway", "b"), anchor("monitor", "b")
    ax.plot([gx, gx, mx], [gy, 2.55, 2.55], color="#229954", linewidth=1.3, linestyle="--")
    ax.add_patch(FancyArrowPatch((mx, 2.55), (mx, my), arrowstyle="-|>", mutation_scale=14,
                                 color="#229954", linewidth=1.3, linestyle="--"))
    ax.text((gx + 6.1) / 2, 2.45, "guardrail triggers,\nrejections", fontsize=8.5, color="#229954",
            ha="center", va="top")
    ax.set_title("A production AI system: request path and telemetry", fontsize=12, fontweight="bold")
    return fig
