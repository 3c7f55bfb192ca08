"""How a drift report looks (private): the text table, the HTML table and the figure of
:class:`prodai_lessons.drift.DriftReport`. The report is passed in (duck-typed), so nothing here imports
the lesson module."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
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
