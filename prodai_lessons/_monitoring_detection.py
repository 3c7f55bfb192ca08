"""How fast an error-rate alert can be, and at what price: the engine behind the monitoring lesson's
trade-off between detection delay and false pages.

Everything here works on many sequences of error flags at once (rows of a boolean array, one request per
column), vectorised with numpy:

- :func:`cusum_llr` and :func:`cusum_paths`: the CUSUM statistic of :class:`prodai_lessons.monitoring.ErrorCusum`
  (the lesson's teaching core) after every request of every row, by Lindley's formula instead of a loop;
- :func:`cusum_arl` (the average run length of that CUSUM, from a Markov chain on a fine lattice) and
  :func:`siegmund_arl` (Wald's approximation, as Siegmund writes it for a CUSUM), to turn a threshold into a
  false-page rate and a delay without simulating rare events;
- :func:`burn_rule_pages`: the pages of a :class:`prodai_lessons.monitoring.BurnRateRule` on count windows,
  evaluated after every request, with the pipeline's own float arithmetic and hysteresis (the tests hold it
  equal to :class:`prodai_lessons.monitoring.MonitoringPipeline`);
- :func:`first_crossing`, a small helper of the lesson's figures (the intervals come from
  :func:`prodai_lessons.stats.wilson_interval`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from prodai_lessons._validation import check_int, check_probability, check_real

__all__ = ["cusum_llr", "cusum_paths", "first_crossing", "cusum_arl", "siegmund_arl", "burn_rule_pages"]


def _rates(p_normal: float, p_incident: float) -> tuple[float, float]:
    p0 = check_probability("p_normal", p_normal)
    p1 = check_probability("p_incident", p_incident)
    if not p1 > p0:
        raise ValueError(f"p_incident must be larger than p_normal ({p0}): the CUSUM watches for more errors; "
                         f"got {p1}")
    return p0, p1


def cusum_llr(p_normal: float, p_incident: float) -> tuple[float, float]:
    """Evidence for "incident" carried by one error and by one success: ``(ln(p1/p0), ln((1-p1)/(1-p0)))``.

    >>> [round(x, 4) for x in cusum_llr(0.02, 0.15)]
    [2.0149, -0.1423]
    """
    p0, p1 = _rates(p_normal, p_incident)
    return math.log(p1 / p0), math.log((1.0 - p1) / (1.0 - p0))


def _flags(name: str, errors: Any) -> np.ndarray:
    arr = np.asarray(errors)
    if arr.dtype != bool or arr.ndim != 2 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be a 2-D boolean array (sequences x requests) with at least one "
                         f"request; got dtype {arr.dtype}, shape {arr.shape}")
    return arr


def cusum_paths(errors: Any, p_normal: float, p_incident: float) -> np.ndarray:
    """The CUSUM statistic after each request of each row, starting from 0 and never restarted.

    ``S_j = max(0, S_{j-1} + x_j)`` with ``x_j`` the request's log-likelihood ratio (:func:`cusum_llr`). By
    Lindley's formula ``S_j = X_j - min(0, X_1, ..., X_j)`` with ``X`` the running sum of the ``x``, which numpy
    computes for all rows at once (equal to the recursion up to float rounding, ~1e-12 on a lesson's lengths).

    >>> cusum_paths(np.array([[True, False, False]]), 0.02, 0.15).round(3)
    array([[2.015, 1.873, 1.73 ]])
    """
    e = _flags("errors", errors)
    up, down = cusum_llr(p_normal, p_incident)
    walk = np.cumsum(np.where(e, up, down), axis=1)
    return walk - np.minimum(np.minimum.accumulate(walk, axis=1), 0.0)


def first_crossing(paths: Any, h: float) -> np.ndarray:
    """Request number (1-based) at which each row of ``paths`` first exceeds ``h``; 0 where it never does.

    >>> first_crossing(np.array([[0.5, 2.5, 1.0], [0.1, 0.2, 0.3]]), 2.0)
    array([2, 0])
    """
    p = np.asarray(paths, dtype=np.float64)
    over = p > check_real("h", h)
    return np.where(over.any(axis=1), over.argmax(axis=1) + 1, 0)


def _lattice(u: float, d: float, h: float, max_states: int) -> tuple[int, int, int]:
    """Integer steps ``(U, m)`` and top state ``H`` of a lattice that keeps the ratio ``u / |d|``: the
    smallest ``m`` whose rounding is within 1e-4 of the ratio, or the best one within ``max_states``."""
    candidates = []
    for m in range(1, max_states + 1):
        top = math.floor(h * m / -d + 1e-12)
        if top + 1 > max_states:
            break
        ratio = m * u / -d
        candidates.append((abs(ratio - round(ratio)) / ratio, int(round(ratio)), m, top))
    if not candidates:
        raise ValueError(f"max_states ({max_states}) is too small for h = {h}")
    good_enough = max(1e-4, min(c[0] for c in candidates))
    _, up, m, top = next(c for c in candidates if c[0] <= good_enough)
    return up, m, top


def cusum_arl(h: float, p_error: float, p_normal: float, p_incident: float, *, max_states: int = 2000) -> float:
    """Average run length of the CUSUM from 0: the mean number of requests until ``S > h`` when each request
    fails with probability ``p_error``.

    With ``p_error = p_normal`` it is the mean number of normal requests between two false pages (the
    CUSUM restarts from 0 after a page, so ``1000 / ARL`` is its false-page rate per 1,000 requests); with
    ``p_error = p_incident`` the detection delay when the incident starts with the statistic at 0.

    The statistic moves by ``u > 0`` (an error) or ``d < 0`` (a success). On a lattice whose unit is
    ``|d| / m`` a success is ``m`` steps down and an error ``U = round(m u / |d|)`` steps up, with ``m`` chosen
    so that the rounding changes ``u`` by at most 1e-4 of itself where ``max_states`` states allow it. The run length from each state ``i``
    satisfies ``L(i) = 1 + p L(i + U) [i + U <= H] + (1 - p) L(max(0, i - m))``: a linear system, solved
    directly (the Markov-chain method of Brook and Evans 1972). The tests hold it to a brute-force
    simulation of :class:`prodai_lessons.monitoring.ErrorCusum` within its sampling error.

    >>> round(cusum_arl(3.0, 0.02, 0.02, 0.15)), round(cusum_arl(3.0, 0.15, 0.02, 0.15), 1)
    (373, 15.6)
    """
    h = check_real("h", h, minimum=0.0)
    p = check_probability("p_error", p_error)
    max_states = check_int("max_states", max_states, minimum=2)
    u, d = cusum_llr(p_normal, p_incident)
    up, m, top = _lattice(u, d, h, max_states)
    return _lattice_run_length(up, m, top, p)


def _lattice_run_length(up: int, m: int, top: int, p: float) -> float:
    """``L(0)`` of ``L(i) = 1 + p L(i + up) [i + up <= top] + (1 - p) L(max(0, i - m))``, ``i = 0..top``.

    In blocks of ``up`` states an error moves a state to the same place in the next block and a success
    within its block or into the previous one (``m < up``), so the system is block tridiagonal: solved by
    block elimination in ``O(top up^2)``, not ``O(top^3)``. States past ``top`` pad the last block; they are
    the alarm, with run length 0.
    """
    if m >= up:                                   # not block tridiagonal: solve the system whole
        n = top + 1
        i = np.arange(n)
        a = np.eye(n)
        stay = i + up <= top
        a[i[stay], i[stay] + up] -= p
        np.subtract.at(a, (i, np.maximum(i - m, 0)), 1.0 - p)
        return float(np.linalg.solve(a, np.ones(n))[0])
    k = top // up + 1                             # blocks
    r = np.arange(up)
    live = [(b * up + r) <= top for b in range(k)]
    inner = np.eye(up)                            # a success that stays in the block: r -> r - m
    inner[r[m:], r[m:] - m] -= 1.0 - p
    first = inner.copy()                          # block 0: r < m falls to state 0
    first[r[:m], 0] -= 1.0 - p
    spill = np.zeros((up, up))                    # a success into the previous block: r -> r - m + up
    spill[r[:m], r[:m] - m + up] = -(1.0 - p)
    g_prev = rhs_prev = None
    gains, rhs = [], []
    for b in range(k):
        diag = np.where(live[b][:, None], first if b == 0 else inner, np.eye(up))
        f = live[b].astype(float)
        if b:
            low = np.where(live[b][:, None], spill, 0.0)
            diag = diag - low @ g_prev
            f = f - low @ rhs_prev
        upper = -p * np.diag(live[b].astype(float)) if b + 1 < k else np.zeros((up, up))
        sol = np.linalg.solve(diag, np.column_stack([upper, f]))
        g_prev, rhs_prev = sol[:, :up], sol[:, up]
        gains.append(g_prev)
        rhs.append(rhs_prev)
    x = rhs[-1]
    for b in range(k - 2, -1, -1):
        x = rhs[b] - gains[b] @ x
    return float(x[0])


def siegmund_arl(h: float, p_error: float, p_normal: float, p_incident: float) -> float:
    """Wald's approximation of :func:`cusum_arl`, in the form Siegmund (1985, *Sequential Analysis*, ch. II)
    gives for a CUSUM: ``(exp(theta h) - theta h - 1) / (-theta mu)``.

    ``mu`` is the mean step and ``theta`` the nonzero root of ``E[exp(theta x)] = 1`` (1 on normal traffic,
    -1 during the incident, when the steps are log-likelihood ratios). It treats the walk as stopping
    exactly at ``h`` and at 0; the real statistic overshoots ``h`` by up to one error's evidence ``u``, so
    the exact value lies between this approximation at ``h`` and at ``h + u``.

    >>> round(siegmund_arl(10.0, 0.02, 0.02, 0.15)), round(siegmund_arl(10.0, 0.15, 0.02, 0.15), 1)
    (221993, 49.7)
    """
    h = check_real("h", h, minimum=0.0)
    p = check_probability("p_error", p_error)
    u, d = cusum_llr(p_normal, p_incident)
    mu = p * u + (1.0 - p) * d
    if mu == 0.0:
        raise ValueError("p_error gives the CUSUM no drift; the approximation needs a nonzero mean step")

    def g(t: float) -> float:
        return p * math.exp(t * u) + (1.0 - p) * math.exp(t * d) - 1.0

    sign = 1.0 if mu < 0 else -1.0             # theta has the sign opposite to the drift
    near, far = 1e-9, 1.0                       # |theta|: g < 0 just off zero, g > 0 far enough out
    while g(sign * far) <= 0:
        far *= 2.0
    for _ in range(200):                        # bisection on the sign change of g
        mid = 0.5 * (near + far)
        if g(sign * mid) < 0:
            near = mid
        else:
            far = mid
    theta = sign * 0.5 * (near + far)
    return (math.exp(theta * h) - theta * h - 1.0) / (-theta * mu)


def _window(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a request count (int) for burn_rule_pages; got {value!r}")
    return int(value)


def burn_rule_pages(errors: Any, rule: Any) -> tuple[np.ndarray, np.ndarray]:
    """Where a ``BurnRateRule`` on count windows pages, for each row of error flags: ``(first, count)``.

    ``first`` is the request number (1-based) of the row's first page, 0 if none; ``count`` the number of
    pages (firing notifications) in the row. The rule is evaluated after every request, as
    ``MonitoringPipeline`` does by default: it needs both windows full, fires when both burn faster than
    ``rule.burn_rate`` (``(k / n) / budget > burn_rate``, the pipeline's float arithmetic, tabulated for
    every count ``k``), and once firing resolves when the long window's burn is at or below
    ``rule.clear_burn_rate`` (or as soon as the condition is false when that is None); the next page is
    the next breach after that. ``rule.for_`` must be 0 and ``rule.min_count`` None.

    >>> from prodai_lessons.monitoring import SLO, BurnRateRule
    >>> rule = BurnRateRule("burn", SLO(0.96), 3.0, long_window=50, short_window=10)
    >>> flags = np.zeros((1, 300), dtype=bool)
    >>> flags[0, [60, 62, 64, 66, 68, 70, 72, 200, 202, 204, 206, 208, 210, 212]] = True
    >>> burn_rule_pages(flags, rule)
    (array([73]), array([2]))
    """
    e = _flags("errors", errors)
    long_n, short_n = _window("long_window", rule.long_window), _window("short_window", rule.short_window)
    if rule.for_ != 0:
        raise ValueError(f"burn_rule_pages replicates rules with for_ = 0; got {rule.for_}")
    if rule.min_count not in (None, long_n):
        raise ValueError(f"burn_rule_pages replicates rules that wait for a full long window (min_count None); "
                         f"got min_count={rule.min_count}")
    budget, burn, clear_burn = rule.slo.error_budget, rule.burn_rate, rule.clear_burn_rate
    rows, n = e.shape
    if n < long_n:
        return np.zeros(rows, dtype=np.int64), np.zeros(rows, dtype=np.int64)
    c = np.zeros((rows, n + 1), dtype=np.int32)
    np.cumsum(e, axis=1, out=c[:, 1:])
    in_long = c[:, long_n:] - c[:, :n + 1 - long_n]              # column t: the window ending at request t + long_n
    in_short = c[:, long_n:] - c[:, long_n - short_n:n + 1 - short_n]
    hot_long = np.array([(k / long_n) / budget > burn for k in range(long_n + 1)])
    hot_short = np.array([(k / short_n) / budget > burn for k in range(short_n + 1)])
    fire = hot_long[in_long] & hot_short[in_short]
    if clear_burn is None:
        calm = ~fire
    else:
        calm = np.array([(k / long_n) / budget <= clear_burn for k in range(long_n + 1)])[in_long]
    any_fire = fire.any(axis=1)
    first = np.where(any_fire, fire.argmax(axis=1) + long_n, 0).astype(np.int64)
    count = any_fire.astype(np.int64)
    for r in np.flatnonzero(any_fire).tolist():              # rare: follow the episodes of the rows that page
        fires, calms = np.flatnonzero(fire[r]), np.flatnonzero(calm[r])
        t = fires[0]
        while True:
            k = np.searchsorted(calms, t, side="right")          # the episode resolves here ...
            if k == calms.size:
                break
            k = np.searchsorted(fires, calms[k], side="right")   # ... and the next breach pages again
            if k == fires.size:
                break
            t = fires[k]
            count[r] += 1
    return first, count
