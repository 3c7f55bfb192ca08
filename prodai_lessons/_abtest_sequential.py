"""Group-sequential boundaries and the peeking simulation behind :mod:`prodai_lessons.abtest`.

The lesson states peeking on one experiment (:func:`prodai_lessons.abtest.first_significant_look`);
here the same rule runs on thousands of simulated A/A tests at once, and the Pocock and
O'Brien-Fleming boundaries are computed by numerical integration over the looks. Everything public
here is re-exported by :mod:`prodai_lessons.abtest`; import it from there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from prodai_lessons._abtest_engine import _readonly, welch_from_moments
from prodai_lessons._validation import check_choice, check_int, check_probability
from prodai_lessons.stats import normal_cdf, normal_isf, normal_sf

__all__ = ["SequentialBoundary", "sequential_boundary", "PeekingResult", "simulate_peeking"]


# --------------------------------------------------------------------------------------------
# Peeking and group-sequential boundaries
# --------------------------------------------------------------------------------------------

_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _simpson(lo: float, hi: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    n = max(2, 2 * math.ceil((hi - lo) / (2 * step)))  # even number of intervals
    x = np.linspace(lo, hi, n + 1)
    w = np.ones(n + 1)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return x, w * (hi - lo) / (3.0 * n)


def _crossing_probability(z_bounds: np.ndarray, step: float = 0.08) -> float:
    """P(|Z_k| >= z_k for some k) under H0 for K equally spaced looks (Armitage, McPherson & Rowe 1969).

    ``S_k`` (sum of k unit-variance increments) is followed on a grid over the continuation region
    ``|S_k| < z_k sqrt(k)``; each step convolves the density with the N(0, 1) increment (Simpson's rule).
    With the default grid step 0.08 the result agrees with a 4x finer grid to about 1e-8.
    """
    bounds = z_bounds * np.sqrt(np.arange(1, z_bounds.size + 1))
    crossed = 2.0 * float(normal_sf(bounds[0]))
    x, w = _simpson(-bounds[0], bounds[0], step)
    dens = np.exp(-0.5 * x * x) / _SQRT_2PI
    for b in bounds[1:]:
        mass = w * dens
        out = np.asarray(normal_sf(b - x), dtype=np.float64) + np.asarray(normal_cdf(-b - x), dtype=np.float64)
        crossed += float(mass @ out)
        new_x, new_w = _simpson(-b, b, step)
        diff = new_x[:, None] - x[None, :]
        dens = (np.exp(-0.5 * diff * diff) / _SQRT_2PI) @ mass
        x, w = new_x, new_w
    return crossed


@dataclass(frozen=True)
class SequentialBoundary:
    """Critical |z| per look (``z_bounds``) and the matching nominal two-sided p-value thresholds.

    >>> b = sequential_boundary(3, kind="pocock")
    >>> round(b.constant, 3), [round(p, 4) for p in b.nominal_alpha]
    (2.289, [0.0221, 0.0221, 0.0221])
    """

    kind: str
    looks: int
    alpha: float
    constant: float
    z_bounds: tuple[float, ...]
    nominal_alpha: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "z_bounds", tuple(self.z_bounds))
        object.__setattr__(self, "nominal_alpha", tuple(self.nominal_alpha))

    def __repr__(self) -> str:
        zs = ", ".join(f"{z:.3f}" for z in self.z_bounds)
        ps = ", ".join(f"{p:.4f}" for p in self.nominal_alpha)
        return (f"SequentialBoundary({self.kind}, looks={self.looks}, alpha={self.alpha:g}, "
                f"constant={self.constant:.4f}, z=[{zs}], nominal p=[{ps}])")


def sequential_boundary(looks: int, alpha: float = 0.05, kind: str = "pocock") -> SequentialBoundary:
    """Two-sided group-sequential boundary for ``looks`` equally spaced analyses at overall level ``alpha``.

    - ``"pocock"`` (Pocock 1977): the same critical value ``c`` at every look.
    - ``"obrien-fleming"`` (O'Brien & Fleming 1979): ``c * sqrt(looks / k)`` at look ``k``: very strict
      early, close to the fixed-horizon 1.96 at the end.

    The constant ``c`` is found by bisection so that the probability, under no difference, of crossing
    at any look is ``alpha``, computed by numerical integration (:func:`_crossing_probability`). For
    alpha = 0.05 this reproduces the published constants (Jennison & Turnbull 2000, Tables 2.1 and
    2.3): Pocock 2.178, 2.289, 2.361, 2.413 and O'Brien-Fleming 1.977, 2.004, 2.024, 2.040 for 2-5 looks.
    Stop at look ``k`` when ``|z_k| >= z_bounds[k-1]``, i.e. when the p-value is below ``nominal_alpha[k-1]``.

    >>> [round(z, 3) for z in sequential_boundary(4, kind="obrien-fleming").z_bounds]
    [4.049, 2.863, 2.337, 2.024]
    """
    looks = check_int("looks", looks, minimum=1, maximum=100)
    alpha = check_probability("alpha", alpha)
    kind = check_choice("kind", kind, ("pocock", "obrien-fleming"))
    k = np.arange(1, looks + 1, dtype=np.float64)
    shape = np.ones(looks) if kind == "pocock" else np.sqrt(looks / k)
    lo, hi = float(normal_isf(alpha / 2.0)) * 0.99, float(normal_isf(alpha / (2.0 * looks))) * 1.01 + 0.5
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if _crossing_probability(mid * shape) > alpha:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-6:
            break
    c = 0.5 * (lo + hi)
    z = c * shape
    nominal = 2.0 * np.asarray(normal_sf(z), dtype=np.float64)
    return SequentialBoundary(kind=kind, looks=looks, alpha=alpha, constant=c,
                              z_bounds=tuple(float(v) for v in z), nominal_alpha=tuple(float(v) for v in nominal))


@dataclass(frozen=True, eq=False)
class PeekingResult:
    """A/A experiments analysed after every batch.

    ``naive_fpr[k-1]`` is the share of experiments that a "stop as soon as p < alpha" rule would have
    declared significant within the first ``k`` looks; ``boundary_fpr`` is the share declared
    significant at any of the ``looks`` looks by the group-sequential boundary (None without one);
    ``p_values[i, k-1]`` is experiment ``i``'s p-value at look ``k``.

    >>> r = simulate_peeking(n_experiments=200, looks=5, batch_size=20, seed=0)
    >>> r.p_values.shape, bool(r.naive_fpr[-1] >= r.naive_fpr[0])
    ((200, 5), True)
    """

    looks: int
    batch_size: int
    n_experiments: int
    alpha: float
    naive_fpr: np.ndarray
    boundary: SequentialBoundary | None
    boundary_fpr: float | None
    p_values: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "naive_fpr", _readonly(self.naive_fpr))
        object.__setattr__(self, "p_values", _readonly(self.p_values))

    def __repr__(self) -> str:
        naive = ", ".join(f"{v:.3f}" for v in self.naive_fpr)
        extra = "" if self.boundary is None else f", {self.boundary.kind} FPR={self.boundary_fpr:.4f}"
        return (f"PeekingResult({self.n_experiments} A/A experiments, {self.looks} looks of {self.batch_size} "
                f"per arm, alpha={self.alpha:g}: naive FPR by look=[{naive}]{extra})")


def _aa_data(n_experiments: int, looks: int, batch_size: int, seed: int) -> np.ndarray:
    """The outcomes :func:`simulate_peeking` analyses: ``[arm, experiment, look, unit]``, all N(0, 1)."""
    return np.random.default_rng(seed).standard_normal((2, n_experiments, looks, batch_size))


def simulate_peeking(n_experiments: int = 2000, looks: int = 10, batch_size: int = 50, alpha: float = 0.05,
                     boundary: SequentialBoundary | None = None, seed: int = 0) -> PeekingResult:
    """Simulate ``n_experiments`` A/A tests (no true difference) checked after every batch.

    Parameters: the number of experiments, of looks and of N(0, 1) outcomes per arm and look
    (``batch_size``), the level ``alpha``, an optional ``boundary`` (computed for the same number of
    looks) and the ``seed``. After each look Welch's test runs on all data so far
    (:func:`welch_from_moments` on the running sums): every significant result is a false positive.
    With a ``boundary``, an experiment stops at the first look whose p-value is below that look's
    nominal threshold. Each experiment is what :func:`prodai_lessons.abtest.first_significant_look`
    does to one A/A test, for thousands at once.

    >>> r = simulate_peeking(n_experiments=2000, looks=10, batch_size=50, seed=0)
    >>> round(float(r.naive_fpr[0]), 3), round(float(r.naive_fpr[-1]), 3)
    (0.049, 0.189)
    """
    n_experiments = check_int("n_experiments", n_experiments, minimum=1)
    looks = check_int("looks", looks, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=2)
    alpha = check_probability("alpha", alpha)
    if boundary is not None:
        if not isinstance(boundary, SequentialBoundary):
            raise TypeError(f"boundary must be a SequentialBoundary or None; got {type(boundary).__name__}")
        if boundary.looks != looks:
            raise ValueError(f"boundary must be computed for looks={looks}; got one for {boundary.looks} looks")
    data = _aa_data(n_experiments, looks, batch_size, seed)
    # Running sums and sums of squares after each look. The data are N(0, 1), so the textbook
    # variance formula (sum x^2 - n mean^2) / (n - 1) has no cancellation problem here.
    n = batch_size * np.arange(1, looks + 1, dtype=np.float64)
    mean = np.cumsum(data.sum(axis=3), axis=2) / n
    var = (np.cumsum((data * data).sum(axis=3), axis=2) - n * mean * mean) / (n - 1)
    _, _, p, _ = welch_from_moments(mean[0], var[0], n, mean[1], var[1], n)
    naive = np.logical_or.accumulate(p < alpha, axis=1).mean(axis=0)
    boundary_fpr = None
    if boundary is not None:
        boundary_fpr = float((p < np.asarray(boundary.nominal_alpha)).any(axis=1).mean())
    return PeekingResult(looks=looks, batch_size=batch_size, n_experiments=n_experiments, alpha=alpha,
                         naive_fpr=naive, boundary=boundary, boundary_fpr=boundary_fpr, p_values=p)
