"""Reference answers of the lessons' "Your turn" tasks: what ``solution()`` prints, and what the checks
compare against. Each is written the way a learner would write it, with numpy and the standard library.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np


def break_even_rate(config) -> float:
    """Requests per second at which the always-on API and warm serverless cost the same."""
    api_per_second = config.replicas * config.instance_usd_per_hour / 3600
    # serverless bills busy seconds: the *mean* inference time, and a lognormal's mean is above its median
    mean_service_s = config.service_median_s * math.exp(config.service_sigma ** 2 / 2)
    per_request = mean_service_s * config.serverless_usd_per_second + config.serverless_usd_per_request
    return api_per_second / per_request


def psi_from_counts(ref_counts, cur_counts, eps: float = 1e-4) -> float:
    """PSI of two histograms over the same bins: sum of (c - r) ln(c / r) over the bins' shares."""
    r = np.asarray(ref_counts, dtype=float)
    c = np.asarray(cur_counts, dtype=float)
    r, c = r / r.sum(), c / c.sum()
    r, c = np.where(r == 0, eps, r), np.where(c == 0, eps, c)  # an empty bin would make ln(c / r) infinite
    return float(np.sum((c - r) * np.log(c / r)))


def burn_rate_threshold(budget_share: float, window_hours: float, period_days: float = 30) -> float:
    """The burn rate at which ``budget_share`` of a ``period_days`` error budget is spent in ``window_hours``."""
    return budget_share * period_days * 24 / window_hours


def closed_form_n(sigma: float, delta: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Per-arm sample size of a two-sided test of a mean difference ``delta`` (normal approximation)."""
    z = NormalDist().inv_cdf
    return 2 * sigma ** 2 * (z(1 - alpha / 2) + z(power)) ** 2 / delta ** 2


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n``."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return center - half, center + half


class BudgetPager:
    """Pages once when the projected spend goes over ``budget``; re-arms only once it is back below
    ``clear_ratio * budget`` (hysteresis), so a projection that hovers at the budget pages once."""

    def __init__(self, budget: float, clear_ratio: float = 0.9) -> None:
        self.budget, self.clear_at, self.active = budget, clear_ratio * budget, False

    def update(self, projected: float) -> bool:
        if not self.active and projected > self.budget:
            self.active = True
            return True
        if self.active and projected < self.clear_at:
            self.active = False
        return False


def mttd_mttr(incidents) -> tuple:
    """(MTTD, MTTR) of incident records: the mean time to detect, over incidents whose impact start is known,
    and the mean time to resolve, over resolved incidents, both counted from the impact start (from the
    page when it is unknown), as the lesson's ``response_times`` counts them."""
    detect, resolve = [], []
    for inc in incidents:
        start = inc.opened_at if inc.impact_started_at is None else inc.impact_started_at
        if inc.impact_started_at is not None:
            detect.append(inc.opened_at - inc.impact_started_at)
        if inc.resolved_at is not None:  # an open incident has no time to resolve yet
            resolve.append(inc.resolved_at - start)
    return (sum(detect) / len(detect) if detect else None,
            sum(resolve) / len(resolve) if resolve else None)


def hourly_panel(timestamps, latency_ms, error) -> dict:
    """One dashboard panel: per hour of the day with traffic, its requests, error rate and p95 latency."""
    t, lat, err = np.asarray(timestamps), np.asarray(latency_ms), np.asarray(error, dtype=bool)
    hour = (t // 3600).astype(int)  # hour h holds [h:00, h+1:00)
    panel: dict = {"hour": [], "requests": [], "error_rate": [], "p95_ms": []}
    for h in np.unique(hour):
        mask = hour == h
        panel["hour"].append(int(h))
        panel["requests"].append(int(mask.sum()))
        panel["error_rate"].append(float(err[mask].mean()))
        panel["p95_ms"].append(float(np.percentile(lat[mask], 95)))
    return panel
