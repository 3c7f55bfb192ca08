"""The drift report's records and how they look (private): :class:`FeatureDrift` and :class:`DriftReport`
(re-exported by :mod:`prodai_lessons.drift`), their text table, HTML table and figure. Nothing here imports
the lesson module."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from prodai_lessons._drift_engine import _category_counts, _ks_gap_sorted
from prodai_lessons._validation import check_int


_HEADER = ("feature", "type", "test", "statistic", "p-value", "drift if", "PSI",
           "ref mean", "cur mean", "shift", "verdict")


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _rows(report: Any, test_labels: Mapping[str, str]) -> list[list[str]]:
    return [[f.name, f.kind, test_labels[f.test], f"{f.statistic:.4f}", _fmt(f.p_value, ".3g"), f.rule,
             f"{f.psi:.4f}", _fmt(f.ref_mean, ".3f"), _fmt(f.cur_mean, ".3f"), _fmt(f.mean_shift, "+.3f"),
             "DRIFT" if f.drifted else "ok"] for f in report.features]


def _summary(report: Any) -> str:
    k = len(report.features)
    n_drift = sum(f.drifted for f in report.features)
    verdict = "yes" if report.dataset_drift else "no"
    return (f"Drift report: {n_drift} of {k} features drifted ({report.share_drifted:.0%}); "
            f"dataset drift: {verdict} (threshold share {report.drift_share:g}); "
            f"reference rows {report.n_reference}, current rows {report.n_current}")


def report_text(report: Any, test_labels: Mapping[str, str]) -> str:
    """The summary line and a fixed-width table, one row per feature."""
    rows = [list(_HEADER)] + _rows(report, test_labels)
    widths = [max(len(r[j]) for r in rows) for j in range(len(_HEADER))]
    lines = [_summary(report)]
    for i, r in enumerate(rows):
        cells = [r[j].ljust(widths[j]) if j < 3 else r[j].rjust(widths[j]) for j in range(len(r))]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report_html(report: Any, test_labels: Mapping[str, str]) -> str:
    """The summary line and an HTML table (drifted verdicts in bold red), every text escaped."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in _HEADER)
    body = []
    for f, r in zip(report.features, _rows(report, test_labels)):
        style = ' style="color:#c0392b;font-weight:bold"' if f.drifted else ""
        cells = "".join(f"<td>{html.escape(c)}</td>" for c in r[:-1])
        body.append(f"<tr>{cells}<td{style}>{html.escape(r[-1])}</td></tr>")
    return (f"<p>{html.escape(_summary(report))}</p><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def plot_report(report: Any, features: Sequence[str] | None, bins: int, test_labels: Mapping[str, str]) -> Any:
    """One column per feature of ``report`` (a ``DriftReport``): histograms or category shares on top,
    ECDFs with the KS gap or the change of each category's share below (a discrete feature is drawn
    as categories, one per value). Returns the ``Figure``."""
    names = [f.name for f in report.features]
    if features is None:
        chosen = list(range(len(names)))
    else:
        if isinstance(features, str) or not isinstance(features, Iterable):
            raise TypeError(f"features must be a sequence of feature names; got {features!r}")
        chosen = []
        for name in features:
            if name not in names:
                raise ValueError(f"features: no feature named {name!r}; features are {names}")
            chosen.append(names.index(name))
        if not chosen:
            raise ValueError("features must name at least one feature")
    bins = check_int("bins", bins, minimum=2)
    k = len(chosen)
    fig, axes = plt.subplots(2, k, figsize=(3.6 * k, 6.2), squeeze=False)
    ref_colour, cur_colour = "#1f77b4", "#d62728"
    for col, j in enumerate(chosen):
        f = report.features[j]
        x, y = report.reference_columns[j], report.current_columns[j]
        top, bottom = axes[0, col], axes[1, col]
        if f.kind == "numerical":
            lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
            if lo == hi:
                lo, hi = lo - 0.5, hi + 0.5
            edges = np.linspace(lo, hi, bins + 1)
            top.hist(x, bins=edges, density=True, alpha=0.5, color=ref_colour, label="reference")
            top.hist(y, bins=edges, density=True, alpha=0.5, color=cur_colour, label="current")
            xs, ys = np.sort(x), np.sort(y)
            bottom.step(xs, np.arange(1, xs.size + 1) / xs.size, where="post", color=ref_colour,
                        label="reference")
            bottom.step(ys, np.arange(1, ys.size + 1) / ys.size, where="post", color=cur_colour,
                        label="current")
            d, loc = _ks_gap_sorted(xs, ys)
            f_ref = np.searchsorted(xs, loc, side="right") / xs.size
            f_cur = np.searchsorted(ys, loc, side="right") / ys.size
            bottom.vlines(loc, min(f_ref, f_cur), max(f_ref, f_cur), color="black", linewidth=2.5,
                          label=f"KS gap D={d:.3f}")
            bottom.set_ylabel("ECDF")
            top.set_ylabel("density")
        else:
            cats, cr, cc = _category_counts(x, y)
            pos = np.arange(cats.size)
            r, c = cr / x.size, cc / y.size
            top.bar(pos - 0.2, r, width=0.4, color=ref_colour, alpha=0.7, label="reference")
            top.bar(pos + 0.2, c, width=0.4, color=cur_colour, alpha=0.7, label="current")
            bottom.bar(pos, c - r, color=np.where(c >= r, cur_colour, ref_colour))
            bottom.axhline(0, color="black", linewidth=0.8)
            for ax in (top, bottom):
                ax.set_xticks(pos, [format(v, "g") if isinstance(v, (float, np.floating)) else str(v)
                                    for v in cats], rotation=45 if cats.size > 4 else 0)
            top.set_ylabel("share")
            bottom.set_ylabel("share change (cur - ref)")
        stat = f"{f.statistic:.3f}" + (f", p={f.p_value:.2g}" if f.p_value is not None else "")
        top.set_title(f"{f.name}\n{test_labels[f.test]} {stat}: {'DRIFT' if f.drifted else 'ok'}",
                      color="#c0392b" if f.drifted else "black", fontsize=10)
        top.legend(fontsize=8)
        if f.kind == "numerical":
            bottom.legend(fontsize=8, loc="lower right")
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


_TEST_LABEL = {
    "ks": "KS",
    "wasserstein_normed": "Wasserstein (normed)",
    "chi2": "chi-squared",
    "jensen_shannon": "Jensen-Shannon",
}


@dataclass(frozen=True)
class FeatureDrift:
    """One row of a :class:`DriftReport`: the drift of one feature.

    Attributes: ``name``; ``kind`` (``"numerical"``, ``"discrete"``: numbers with few distinct
    values, tested as categories, or ``"categorical"``); ``test`` (``"ks"``,
    ``"wasserstein_normed"``, ``"chi2"`` or ``"jensen_shannon"``); ``statistic``; ``p_value``
    (``None`` for the distances); ``threshold``; ``drifted`` (p_value < threshold for a test,
    statistic >= threshold for a distance); ``psi``; ``ref_mean``, ``cur_mean``, ``mean_shift``
    (``None`` for categorical features).

    >>> row = FeatureDrift("age", "numerical", "ks", 0.4, 1e-14, 0.05, True, 1.1, 0.0, 1.0, 1.0)
    >>> row.rule
    'p < 0.05'
    """

    name: str
    kind: str
    test: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    psi: float
    ref_mean: float | None
    cur_mean: float | None
    mean_shift: float | None

    @property
    def rule(self) -> str:
        """The drift rule as text, e.g. ``"p < 0.05"`` or ``">= 0.1"``."""
        return f"p < {self.threshold:g}" if self.p_value is not None else f">= {self.threshold:g}"


@dataclass(frozen=True, eq=False, repr=False)
class DriftReport:
    """Per-feature drift results and the dataset-level verdict (:func:`feature_drift_report`).

    ``share_drifted`` is the fraction of features flagged; ``dataset_drift`` is
    ``share_drifted >= drift_share`` (Evidently's default drift_share is 0.5). ``report["name"]``
    gives one :class:`FeatureDrift`. Renders as a text table (``repr``/``str``) and as an HTML table
    in Jupyter; ``plot()`` draws every feature.

    >>> from prodai_lessons.drift import feature_drift_report
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(size=(200, 2))
    >>> report = feature_drift_report(ref, ref + [0.0, 1.0], ["age", "income"])
    >>> report.drifted_features, report.dataset_drift
    (('income',), True)
    """

    features: tuple[FeatureDrift, ...]
    n_reference: int
    n_current: int
    share_drifted: float
    dataset_drift: bool
    drift_share: float
    reference_columns: tuple[np.ndarray, ...] = field(repr=False)
    current_columns: tuple[np.ndarray, ...] = field(repr=False)

    @property
    def drifted_features(self) -> tuple[str, ...]:
        """Names of the features flagged as drifted, in column order."""
        return tuple(f.name for f in self.features if f.drifted)

    def __getitem__(self, name: str) -> FeatureDrift:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(f"no feature named {name!r}; features are {[f.name for f in self.features]}")

    def __repr__(self) -> str:
        return report_text(self, _TEST_LABEL)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        return report_html(self, _TEST_LABEL)

    def plot(self, features: Sequence[str] | None = None, *, bins: int = 30) -> Any:
        """Figure with one column per feature: overlaid histograms (top) and ECDFs (bottom) with
        the KS gap marked as a vertical segment; categorical features show the share per category
        (top) and the change in share (bottom). ``features``: names to draw (default all);
        ``bins``: histogram bins, an integer >= 2. Returns the matplotlib ``Figure``."""
        return plot_report(self, features, bins, _TEST_LABEL)
