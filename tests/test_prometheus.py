"""Prometheus bridge: the exposition read by prometheus_client's parser and linted by promtool, the rule
files loaded by promtool, the same traffic run through the pipeline and through ``promtool test rules``
(alert states compared at every evaluation, window values compared bit for bit), ``histogram_quantile``
against PromQL, and the percentile figures the lesson quotes.

Tests that need promtool (Debian's ``prometheus`` package) skip, with one reason, when it is missing.
"""

from __future__ import annotations

import doctest
import math
import re
import shutil
import subprocess
from dataclasses import dataclass, replace

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view
from prometheus_client import Histogram
from prometheus_client.parser import text_string_to_metric_families

import prodai_lessons.prometheus as prom
from prodai_lessons.monitoring import (SLO, AlertRule, BurnRateRule, MonitoringPipeline, alert_step, standard_rules,
                                      wilson_interval)
from prodai_lessons.prometheus import (
    DEFAULT_BUCKETS,
    PrometheusExporter,
    bucket_quantile,
    cumulative_counts,
    escape_label_value,
    histogram_quantile,
    hysteresis_expr,
    promql_metric,
    promql_string,
    rule_expr,
    rules_yaml,
    sanitize_metric_name,
    slo_buckets,
    standard_time_rules,
)
from prodai_lessons.simulate import (false_pages, first_firing_delays, simulate_phases, simulate_requests,
                                    standard_scenario)

PROMTOOL = shutil.which("promtool")
WEIRD_NAME = 'say "hi"\nbåck\\slash {{ $value }}'


def _promtool() -> str:
    """promtool's path; without it the test skips, from this one line, so the reason shows once."""
    if PROMTOOL is None:
        pytest.skip("promtool not found: apt-get install prometheus (only its promtool is used)")
    return PROMTOOL


def _run(cmd: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=300)


def _families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


# --------------------------------------------------------------------------------------------------
# The module's own examples
# --------------------------------------------------------------------------------------------------
def test_docstring_examples_run():
    result = doctest.testmod(prom, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 15 and result.failed == 0


def test_default_buckets_are_prometheus_clients():
    assert DEFAULT_BUCKETS == tuple(Histogram.DEFAULT_BUCKETS)


# --------------------------------------------------------------------------------------------------
# Names and escaping
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,expected", [("prodai", "prodai"), ("prod-ai v2", "prod_ai_v2"), ("9lives", "_9lives"),
                                           ("a:b_c", "a:b_c"), ("é", "_"), ('x"\ny', "x__y")])
def test_metric_names_are_sanitised(name, expected):
    assert sanitize_metric_name(name) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1))
def test_any_text_becomes_a_valid_metric_name(text):
    assert re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", sanitize_metric_name(text))


def test_bad_names_are_rejected():
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        sanitize_metric_name("")
    with pytest.raises(TypeError, match="name must be a str"):
        sanitize_metric_name(3)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_yaml_strings_round_trip(text):
    """The double-quoted scalars of the rule file (PromQL escapes) read back as the text itself."""
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        with pytest.raises(ValueError, match="lone surrogate"):
            promql_string(text)
        return
    assert yaml.safe_load("v: " + promql_string(text))["v"] == text


def test_label_values_are_escaped_and_read_back():
    text = f'm{{rule="{escape_label_value(WEIRD_NAME)}"}} 1\n'
    (family,) = text_string_to_metric_families(text)
    assert family.samples[0].labels == {"rule": WEIRD_NAME}
    assert escape_label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


# --------------------------------------------------------------------------------------------------
# Metrics export
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lesson_export():
    traffic = standard_scenario(2)
    pipe = MonitoringPipeline(standard_time_rules(), window=200, slo=SLO(0.96))
    ex = PrometheusExporter(pipe, buckets=slo_buckets([0.45, 0.6]))
    ex.log_requests(traffic.requests)
    return traffic.requests, pipe, ex


def test_exposition_parses_and_equals_the_pipeline(lesson_export):
    r, pipe, ex = lesson_export
    fam = _families(ex.exposition())
    assert fam["prodai_requests"].type == "counter"
    assert fam["prodai_requests"].samples[0].value == len(r)
    assert fam["prodai_request_errors"].samples[0].value == r.error.sum()
    assert fam["prodai_request_cost_usd"].samples[0].value == pytest.approx(r.cost_usd.sum(), rel=1e-12)
    hist = fam["prodai_request_latency_seconds"]
    assert hist.type == "histogram"
    buckets = {float(s.labels["le"]): s.value for s in hist.samples if s.name.endswith("_bucket")}
    assert list(buckets) == list(ex.buckets)
    assert list(buckets.values()) == cumulative_counts(r.latency_ms / 1000.0, ex.buckets).tolist()
    sums = {s.name: s.value for s in hist.samples if not s.name.endswith("_bucket")}
    assert sums["prodai_request_latency_seconds_count"] == len(r)
    assert sums["prodai_request_latency_seconds_sum"] == pytest.approx(r.latency_ms.sum() / 1000.0, rel=1e-12)
    conf = {s.name: s.value for s in fam["prodai_request_confidence"].samples}
    assert conf == {"prodai_request_confidence_sum": pytest.approx(r.confidence.sum(), rel=1e-12),
                    "prodai_request_confidence_count": len(r)}
    m = pipe.metrics()
    pct = {s.labels["percentile"]: s.value for s in fam["prodai_window_latency_seconds"].samples}
    assert pct == {"50": m.latency_p50_ms / 1000.0, "95": m.latency_p95_ms / 1000.0, "99": m.latency_p99_ms / 1000.0}
    for name, value in [("requests", m.n_in_window), ("error_ratio", m.error_rate),
                        ("requests_per_second", m.throughput_per_s), ("mean_confidence", m.mean_confidence),
                        ("cost_per_request_usd", m.cost_per_request_usd), ("cost_usd", m.cost_in_window_usd)]:
        (sample,) = fam[f"prodai_window_{name}"].samples
        assert sample.labels == {"window": "last 200 requests"} and sample.value == value, name
    assert fam["prodai_error_budget_remaining_ratio"].samples[0].value == m.error_budget_remaining
    states = {s.labels["rule"]: s.value for s in fam["prodai_alert_rule_state"].samples}
    codes = {"inactive": 0, "pending": 1, "firing": 2}
    assert states == {k: codes[v] for k, v in pipe.rule_states.items()}
    assert 2 in states.values()  # the incident is on when the traffic ends


def test_exposition_running_sums_equal_the_pipelines_bit_for_bit():
    """A difference of two scrapes is the pipeline's window sum: the same sequential additions."""
    r = simulate_requests(300, seed=5)
    rule = AlertRule("conf", "mean_confidence", "<", 0.5, window=100)
    pipe = MonitoringPipeline([rule], window=100, keep_trace=True)
    ex = PrometheusExporter(pipe)
    ex.log_batch(r.latency_ms[:200], r.error[:200], r.confidence[:200], r.cost_usd[:200], r.timestamp[:200])
    first = ex.confidence_sum, ex.cost_sum_usd
    for i in range(200, 300):
        ex.log_request(float(r.latency_ms[i]), bool(r.error[i]), float(r.confidence[i]), float(r.cost_usd[i]),
                       float(r.timestamp[i]))
    assert (ex.confidence_sum - first[0]) / 100 == pipe.trace()["conf"][-1]
    assert (ex.cost_sum_usd - first[1]) / 100 == pipe.metrics().cost_per_request_usd


def test_log_request_and_log_batch_export_the_same_text():
    r = simulate_requests(120, seed=1)
    one, many = (PrometheusExporter(MonitoringPipeline(standard_time_rules())) for _ in range(2))
    for i in range(len(r)):
        one.log_request(float(r.latency_ms[i]), bool(r.error[i]), float(r.confidence[i]), float(r.cost_usd[i]),
                        float(r.timestamp[i]))
    many.log_requests(r)
    assert one.exposition() == many.exposition()


def test_a_rejected_request_is_not_counted():
    ex = PrometheusExporter(MonitoringPipeline(window=10))
    ex.log_request(100.0, False, 0.9, 0.001)
    before = ex.exposition()
    with pytest.raises(ValueError, match="confidence must be in"):
        ex.log_request(100.0, False, 1.5, 0.001)
    with pytest.raises(ValueError, match="latency_ms must be non-negative"):
        ex.log_batch([100.0, -1.0], [False, False], [0.9, 0.9], [0.001, 0.001])
    assert ex.exposition() == before and ex.n_requests == 1


def test_an_empty_pipeline_exports_zeros_and_nan():
    fam = _families(PrometheusExporter(MonitoringPipeline([AlertRule(WEIRD_NAME, "error_rate", ">", 0.1)]))
                    .exposition())
    assert fam["prodai_requests"].samples[0].value == 0
    assert math.isnan(fam["prodai_window_error_ratio"].samples[0].value)
    assert fam["prodai_alert_rule_state"].samples[0].labels["rule"] == WEIRD_NAME


def test_exporter_arguments_are_checked():
    with pytest.raises(TypeError, match="pipeline must be a MonitoringPipeline"):
        PrometheusExporter(standard_time_rules())
    with pytest.raises(ValueError, match="end with inf"):
        PrometheusExporter(MonitoringPipeline(), buckets=(0.1, 0.5))
    with pytest.raises(ValueError, match="strictly increasing"):
        PrometheusExporter(MonitoringPipeline(), buckets=(0.5, 0.1, math.inf))
    ex = PrometheusExporter(MonitoringPipeline(), namespace="my app")
    assert "my_app_requests_total 0" in ex.exposition()


def test_promtool_lints_the_exposition(lesson_export):
    promtool = _promtool()
    _, _, ex = lesson_export
    weird = PrometheusExporter(MonitoringPipeline([AlertRule(WEIRD_NAME, "error_rate", ">", 0.1)]))
    for text in (ex.exposition(), weird.exposition()):
        res = _run([promtool, "check", "metrics"], stdin=text)
        assert res.returncode == 0, res.stdout + res.stderr
    bad = _run([promtool, "check", "metrics"], stdin="# TYPE x_milliseconds counter\nx_milliseconds 1\n")
    assert bad.returncode != 0  # the linter does speak up


# --------------------------------------------------------------------------------------------------
# Rules export
# --------------------------------------------------------------------------------------------------
def test_rule_file_structure():
    rules = standard_time_rules()
    doc = yaml.safe_load(rules_yaml(rules, interval="5s"))
    (group,) = doc["groups"]
    assert group["name"] == "prodai" and group["interval"] == "5s"
    got = {r["alert"]: r for r in group["rules"]}
    assert list(got) == [r.name for r in rules]
    p95 = got["high p95 latency"]
    assert p95["for"] == "10s" and p95["labels"] == {"severity": "P2", "category": "latency"}
    assert p95["expr"] == rule_expr(rules[1])
    assert "> 0.6" in p95["expr"] and "> 0.45" in p95["expr"] and ">= 20" in p95["expr"]
    assert 'ALERTS{alertname="high p95 latency", alertstate="firing"}' in p95["expr"]
    assert "for" not in got["error budget burn"]
    assert got["cost per request"]["for"] == "1m"


def test_expressions_read_as_documented():
    fire = "histogram_quantile(0.95, sum by (le) (increase(prodai_request_latency_seconds_bucket[1m])))"
    rule = AlertRule("p95", "latency_p95", ">", 600.0, window="1m", clear_threshold=450.0)
    assert rule_expr(rule) == hysteresis_expr(f"{fire} > 0.6", f"{fire} > 0.45", "p95")
    burn = BurnRateRule("burn", SLO(0.99), 14.4, long_window="1h", short_window="5m", clear_burn_rate=None)
    assert rule_expr(burn) == (
        "sum(increase(prodai_request_errors_total[1h])) / sum(increase(prodai_requests_total[1h])) / (1 - 0.99) > 14.4"
        "\nand on()\n"
        "sum(increase(prodai_request_errors_total[5m])) / sum(increase(prodai_requests_total[5m])) / (1 - 0.99) > 14.4")
    assert promql_metric("throughput", 90) == "sum(rate(prodai_requests_total[90s]))"
    assert promql_metric("cost_in_window", "1h", namespace="svc") == "sum(increase(svc_request_cost_usd_total[1h]))"
    assert rule_expr(AlertRule("x", "error_rate", ">", 0.1), default_window="250ms").count("[250ms]") == 2
    assert rule_expr(AlertRule("x", "throughput", "<", 1.0, window="1m")) == \
        "sum(rate(prodai_requests_total[1m])) < 1.0"
    assert rule_expr(AlertRule("x", "throughput", "<", 1.0, window="1m", min_count=1)).endswith(
        "and on() sum(increase(prodai_requests_total[1m])) >= 1")


def test_rule_names_with_quotes_and_newlines_survive(tmp_path):
    promtool = _promtool()
    rule = AlertRule(WEIRD_NAME, "error_rate", ">", 0.1, window="1m", clear_threshold=0.05, description="see {{ x }}")
    text = rules_yaml([rule])
    (loaded,) = yaml.safe_load(text)["groups"][0]["rules"]
    assert loaded["alert"] == WEIRD_NAME
    assert f"ALERTS{{alertname={promql_string(WEIRD_NAME)}" in loaded["expr"]
    path = tmp_path / "rules.yml"
    path.write_text(text, encoding="utf-8")
    res = _run([promtool, "check", "rules", str(path)])
    assert res.returncode == 0 and "SUCCESS: 1 rules found" in res.stdout, res.stdout + res.stderr


def test_promtool_loads_every_exported_rule(tmp_path):
    promtool = _promtool()
    (tmp_path / "a.yml").write_text(rules_yaml(standard_time_rules(), interval="5s"), encoding="utf-8")
    (tmp_path / "b.yml").write_text(rules_yaml(_synthetic_rules(), group="synthetic"), encoding="utf-8")
    res = _run([promtool, "check", "rules", str(tmp_path / "a.yml"), str(tmp_path / "b.yml")])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS: 4 rules found" in res.stdout and f"SUCCESS: {len(_synthetic_rules())} rules found" in res.stdout


def test_count_windows_have_no_promql_form():
    with pytest.raises(ValueError, match=r"rule 'error budget burn': its long_window is a count, the last 50 requests.*"
                                         r"long_window='5m'"):
        rules_yaml(standard_rules())
    with pytest.raises(ValueError, match=r"rule 'high p95 latency': its window is a count, the last 50 requests, "
                                         r"and PromQL has no form for it.*time window instead, e\.g\. window='5m'"):
        rule_expr(standard_rules()[1])
    with pytest.raises(ValueError, match="rule 'x' has no window of its own"):
        rule_expr(AlertRule("x", "error_rate", ">", 0.1))
    with pytest.raises(ValueError, match="rule 'x': its window is a count"):
        rule_expr(AlertRule("x", "error_rate", ">", 0.1), default_window=200)


def test_rules_that_prometheus_cannot_express_raise_naming_the_rule():
    with pytest.raises(ValueError, match=r"rule 'quick': for_ of 0.0005 s has no Prometheus form"):
        rules_yaml([AlertRule("quick", "error_rate", ">", 0.1, for_=0.0005, window="1m")])
    with pytest.raises(ValueError, match=r"rule 'odd': window of 1.0005 s has no Prometheus form"):
        rule_expr(AlertRule("odd", "error_rate", ">", 0.1), default_window="1.0005s")
    with pytest.raises(ValueError, match="'twice' appears twice"):
        rules_yaml([AlertRule("twice", "error_rate", ">", 0.1, window="1m")] * 2)
    with pytest.raises(TypeError, match=r"rules\[1\] must be an AlertRule or a BurnRateRule"):
        rules_yaml([AlertRule("a", "error_rate", ">", 0.1, window="1m"), "b"])
    with pytest.raises(TypeError, match="rules must be a sequence"):
        rules_yaml(AlertRule("a", "error_rate", ">", 0.1, window="1m"))
    with pytest.raises(ValueError, match="metric must be one of"):
        promql_metric("p95", "1m")


def test_standard_time_rules_meet_the_lessons_figures_on_fresh_seeds():
    """The lesson's two figures for the time rules, on the seeds test_monitoring.py uses for the count rules
    (the time rules' windows and floors were set on scenario seeds 0-999 and normal seeds 1,000-3,999):
    some alert within 25 requests of the incident's start in 808 of 1,000 scenarios (95 % Wilson interval
    78.2 % to 83.1 %, target at least 75 %); a page on 13 of 5,000 stretches of 1,000 normal requests
    (0.15 % to 0.44 %, goal at most 1 %), all from the latency rule. The price: the error-budget rule, on
    90 seconds with a floor of 45 requests, fires before the 50-request incident ends in under a fifth of
    the scenarios."""
    rules = standard_time_rules()
    d = first_firing_delays(rules, range(100_000, 101_000))
    hit = int(np.count_nonzero(d["any rule"] <= 25))
    assert wilson_interval(hit, 1000)[0] >= 0.75                      # achieved: 808 of 1,000, from 0.782
    assert (d["any rule"] <= 50).all()
    assert np.mean(d["error budget burn"] <= 50) < 0.25               # achieved: 0.185
    pages = false_pages(rules, range(200_000, 205_000))
    paged = int(np.count_nonzero(pages["any rule"]))
    assert wilson_interval(paged, 5000)[1] < 0.01                     # achieved: 13 of 5,000, up to 0.0044
    assert pages["error budget burn"].sum() == 0 and pages["any rule"].max() == 1


def test_the_burn_rules_floor_stops_pages_at_the_start_of_the_traffic():
    """Without the floor the time rules page before the incident on 60 of the lesson's 300 scenario seeds,
    every time the error-budget rule in the first 20 seconds; with it, on none."""
    def paged_before(rules):
        out = []
        for seed in range(300):
            t = standard_scenario(seed)
            p = MonitoringPipeline(rules)
            p.log_requests(t.requests)
            out += [a for a in p.history if a.status == "firing" and a.at < t.incidents[0].start_s]
        return out

    rules = standard_time_rules()
    early = paged_before((replace(rules[0], min_count=None),) + rules[1:])
    assert len({a.at for a in early}) == len(early) == 60
    assert {a.rule for a in early} == {"error budget burn"} and max(a.at for a in early) < 20
    assert paged_before(rules) == []


def test_standard_time_rules_mirror_the_lessons_rules():
    for count, timed in zip(standard_rules(), standard_time_rules(), strict=True):
        if isinstance(count, BurnRateRule):
            assert replace(timed, long_window=50, short_window=10, min_count=None) == count
        else:
            assert replace(timed, window=count.window, min_count=None) == count


# --------------------------------------------------------------------------------------------------
# histogram_quantile
# --------------------------------------------------------------------------------------------------
_BOUNDS = st.lists(st.floats(-5, 20, allow_nan=False), min_size=1, max_size=8, unique=True).map(
    lambda b: sorted(b) + [math.inf])


@settings(max_examples=300, deadline=None)
@given(bounds=_BOUNDS, data=st.data(), q=st.floats(0, 1))
def test_core_equals_engine(bounds, data, q):
    per = data.draw(st.lists(st.integers(0, 30), min_size=len(bounds), max_size=len(bounds)))
    counts = np.cumsum(per).tolist()
    got = histogram_quantile(bounds, counts, q)
    if q == 0 and counts[0] == 0 and bounds[0] > 0:   # 0 / 0: NaN in Go; the core takes 0 < q only
        assert math.isnan(got)
    else:
        expected = bucket_quantile(q, bounds, counts)
        assert got == expected or (math.isnan(got) and math.isnan(expected))


def test_histogram_quantile_on_known_buckets():
    b = [0.1, 0.5, 1.0, math.inf]
    assert histogram_quantile(b, [0, 10, 10, 10], 0.5) == 0.1 + 0.4 * 0.5
    assert histogram_quantile(b, [0, 0, 0, 5], 0.5) == 1.0                 # in the +Inf bucket
    assert histogram_quantile(b, [4, 4, 4, 4], 1.0) == 0.1
    assert histogram_quantile(b, [4, 2, 4, 4], 0.5) == histogram_quantile(b, [4, 4, 4, 4], 0.5)  # monotonic envelope
    assert histogram_quantile([-1.0, 0.0, math.inf], [2, 4, 4], 0.25) == -1.0
    assert math.isnan(histogram_quantile(b, [0, 0, 0, 0], 0.5))
    rows = histogram_quantile(b, [[0, 10, 10, 10], [0, 0, 0, 0]], 0.5)
    assert rows.shape == (2,) and rows[0] == 0.30000000000000004 and math.isnan(rows[1])


def test_histogram_quantile_checks_its_input():
    b = [0.1, 0.5, math.inf]
    with pytest.raises(ValueError, match="q must be <= 1"):
        histogram_quantile(b, [1, 2, 3], 95)
    with pytest.raises(ValueError, match="end with inf"):
        histogram_quantile([0.1, 0.5], [1, 2], 0.5)
    with pytest.raises(ValueError, match="one value per bound"):
        histogram_quantile(b, [1, 2], 0.5)
    with pytest.raises(ValueError, match="non-negative"):
        histogram_quantile(b, [1, -2, 3], 0.5)
    with pytest.raises(ValueError, match="must not contain NaN"):
        histogram_quantile([0.1, math.nan, math.inf], [1, 2, 3], 0.5)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 3), max_size=60), _BOUNDS)
def test_cumulative_counts_count_values_at_or_below_each_bound(values, bounds):
    got = cumulative_counts(values, bounds)
    assert got.tolist() == [sum(v <= b for v in values) for b in bounds]
    assert cumulative_counts(np.array([values, values]), bounds).tolist() == [got.tolist()] * 2


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([0.1, 0.3, 0.45, 0.5, 0.6, 0.61, 0.9, 2.0]), min_size=1, max_size=80),
       st.sampled_from([0.5, 0.9, 0.95, 0.99]))
def test_a_bound_at_the_threshold_makes_the_verdict_a_count(values, q):
    """With 0.6 a bucket bound, "quantile > 0.6" holds exactly when fewer than q * n values are <= 0.6."""
    b = slo_buckets([0.45, 0.6])
    counts = cumulative_counts(values, b)
    assert (histogram_quantile(b, counts, q) > 0.6) == (counts[b.index(0.6)] < q * len(values))


def test_slo_buckets():
    b = slo_buckets([0.45, 0.6])
    assert 0.45 in b and 0.6 in b and b[-1] == math.inf and list(b) == sorted(set(b))
    assert set(DEFAULT_BUCKETS) <= set(b) and len(b) == 24
    assert slo_buckets([0.6], spread=0.0, base=[0.1]) == (0.1, 0.6, math.inf)
    with pytest.raises(ValueError, match="thresholds must be positive"):
        slo_buckets([0.0])
    with pytest.raises(ValueError, match="spread must be < 1"):
        slo_buckets([0.6], spread=1.0)


def test_histogram_quantile_equals_promql(tmp_path):
    """The same buckets through PromQL's histogram_quantile: equal to the last bit (== in PromQL)."""
    promtool = _promtool()
    cases = [
        ([0.1, 0.25, 0.5, 1.0, math.inf], [3, 10, 40, 47, 50]),
        ([0.1, 0.25, 0.5, 1.0, math.inf], [0, 0, 1, 1, 9]),            # rank in the +Inf bucket
        ([0.1, 0.25, 0.5, 1.0, math.inf], [7, 3, 9, 12, 12]),          # not monotonic: forced
        ([-0.5, 0.0, 0.5, math.inf], [2, 2, 5, 6]),                    # a bound at or below 0
        (list(slo_buckets([0.45, 0.6])), cumulative_counts(standard_scenario(2).requests.latency_ms[150:200] / 1000,
                                                           slo_buckets([0.45, 0.6])).tolist()),
    ]
    series, tests = [], []
    for i, (bounds, counts) in enumerate(cases):
        for b, c in zip(bounds, counts):
            le = "+Inf" if math.isinf(b) else repr(b)
            series.append({"series": f'h_bucket{{case="{i}",le="{le}"}}', "values": f"{c} {c}"})
        for q in (0.0, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0):
            v = histogram_quantile(bounds, counts, q)
            if math.isnan(v):
                continue
            tests.append({"expr": f'histogram_quantile({q!r}, h_bucket{{case="{i}"}}) == bool {v!r}',
                          "eval_time": "1m", "exp_samples": [{"labels": f'{{case="{i}"}}', "value": 1}]})
    assert len(tests) >= 30
    res = _promtool_test(promtool, tmp_path, [], series, tests, step=60)
    assert res.returncode == 0, res.stdout + res.stderr


# --------------------------------------------------------------------------------------------------
# The same traffic through the pipeline and through Prometheus
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Traffic:
    t: np.ndarray
    lat: np.ndarray
    err: np.ndarray
    conf: np.ndarray
    cost: np.ndarray


def _step_traffic(segments, rate: int = 2) -> Traffic:
    """``rate`` requests a second at ``s + (i + 0.5) / rate`` (never on an evaluation tick); each segment
    ``(seconds, latencies cycled, an error every k-th request or 0, confidence, cost)``; rate 0 if latencies is ()."""
    cols: list[list] = [[], [], [], [], []]
    t0 = 0
    for seconds, lats, err_every, conf, cost in segments:
        for i in range(seconds * rate if lats else 0):
            cols[0].append(t0 + (i + 0.5) / rate)
            cols[1].append(lats[i % len(lats)])
            cols[2].append(bool(err_every) and i % err_every == err_every - 1)
            cols[3].append(conf)
            cols[4].append(cost)
        t0 += seconds
    return Traffic(*(np.array(c, dtype=bool if j == 2 else float) for j, c in enumerate(cols)))


NORMAL = ((100.0,), 0, 0.9, 0.002)


def _synthetic_traffic() -> Traffic:
    """Every transition the rules know: a blip shorter than ``for_``, episodes that fire, values held
    between the two thresholds, recoveries, a gap in the traffic."""
    return _step_traffic([
        (60, *NORMAL),
        (10, (900.0,), 0, 0.9, 0.002),           # a blip: the 10 s mean is over 400 for less than for_
        (80, *NORMAL),
        (50, (900.0,), 0, 0.9, 0.002),           # slow: mean and p95 fire
        (40, (300.0, 500.0), 0, 0.9, 0.002),     # mean 400, p95 500: between the thresholds, still firing
        (60, *NORMAL),                           # resolved
        (60, (100.0,), 4, 0.9, 0.002),           # 25 % errors
        (40, (100.0,), 12, 0.9, 0.002),          # 8.3 %: between 5 % and 10 %, burn 2.1x > 1x: held
        (60, *NORMAL),
        (60, (100.0,), 0, 0.5, 0.002),           # low confidence
        (40, (100.0,), 0, 0.65, 0.002),          # between 0.6 and 0.7
        (60, *NORMAL),
        (80, (100.0,), 0, 0.9, 0.02),            # expensive
        (40, (100.0,), 0, 0.9, 0.009),           # between 0.008 and 0.01
        (60, *NORMAL),
        (60, (), 0, 0.9, 0.002),                 # no traffic at all
        (60, *NORMAL),
    ])


def _synthetic_rules() -> tuple:
    return (
        AlertRule("slow mean", "latency_mean", ">", 400.0, for_="15s", window="10s", clear_threshold=250.0),
        AlertRule("high p95", "latency_p95", ">", 600.0, for_="10s", window="1m", clear_threshold=450.0, min_count=20),
        AlertRule("p99 at least", "latency_p99", ">=", 800.0, window="30s", severity="P3"),
        AlertRule("p50 fast", "latency_p50", "<=", 150.0, for_="20s", window="25s", severity="P3"),
        AlertRule("low confidence", "mean_confidence", "<", 0.6, for_="10s", window="30s", clear_threshold=0.7),
        AlertRule("errors", "error_rate", ">", 0.1, for_="5s", window="30s", clear_threshold=0.05, severity="P1"),
        AlertRule("cost per request", "cost_per_request", ">", 0.01, for_="20s", window="1m", clear_threshold=0.008),
        AlertRule("budget spent", "cost_in_window", ">=", 0.5, window="1m", severity="P3"),
        AlertRule("traffic drop", "throughput", "<", 1.0, for_="10s", window="30s", severity="P1"),
        AlertRule("traffic drop, floor", "throughput", "<=", 1.5, window="30s", min_count=5),
        AlertRule("mean at most", "latency_mean", "<=", 120.0, window="20s", clear_threshold=150.0, severity="P3"),
        BurnRateRule("burn", SLO(0.96), 3.0, long_window="1m", short_window="10s"),
        BurnRateRule("fast burn, no clear", SLO(0.99), 14.4, long_window="30s", short_window="10s",
                     clear_burn_rate=None, for_="10s", severity="P0"),
        AlertRule(WEIRD_NAME, "error_rate", ">", 0.2, window="20s", clear_threshold=0.1),
    )


def _lesson_traffic(seed: int) -> Traffic:
    r = simulate_phases([("normal", 300), ("degraded", 120), ("normal", 240)], seed=seed).requests
    return Traffic(r.timestamp, r.latency_ms, r.error, r.confidence, r.cost_usd)


def _series_key(sample) -> str:
    labels = ",".join(f"{k}={promql_string(v)}" for k, v in sorted(sample.labels.items()))
    return f"{sample.name}{{{labels}}}" if labels else sample.name


def _scrape(ex: PrometheusExporter) -> dict[str, float]:
    """The per-request series, as Prometheus would store one scrape."""
    return {_series_key(s): s.value for f in text_string_to_metric_families(ex.exposition())
            if f.type in ("counter", "histogram", "summary") for s in f.samples}


def _run_pipeline(rules, traffic: Traffic, step: int, buckets) -> tuple[dict, dict, list[dict]]:
    """The pipeline evaluating every ``step`` seconds, and a scrape of its exporter at every tick
    (Prometheus evaluates and scrapes at 0, step, 2 step, ...). Returns each rule's state and value at
    every tick, and the scrapes."""
    assert not np.any(np.isclose(traffic.t % step, 0.0)), "requests must not fall on a tick"
    n_steps = int(math.ceil(traffic.t[-1] / step)) + 12
    pipe = MonitoringPipeline(rules, evaluate_interval=float(step), keep_trace=True)
    ex = PrometheusExporter(pipe, buckets=buckets)
    scrapes, lo = [], 0
    for k in range(n_steps + 1):
        hi = int(np.searchsorted(traffic.t, k * step))
        if hi > lo:
            ex.log_batch(traffic.lat[lo:hi], traffic.err[lo:hi], traffic.conf[lo:hi], traffic.cost[lo:hi],
                         timestamp=traffic.t[lo:hi])
        lo = hi
        scrapes.append(_scrape(ex))
    pipe.evaluate(now=float(n_steps * step))
    tr = pipe.trace()
    ticks = {}
    for j, at in enumerate(tr["at"]):
        ticks.setdefault(int(round(at / step)), j)  # the tick's own evaluation (evaluate() adds one more)
    assert sorted(ticks) == list(range(1, n_steps + 1))
    states = {r.name: [0] + [int(tr[r.name + ":state"][ticks[k]]) for k in range(1, n_steps + 1)] for r in rules}
    values = {r.name: [math.nan] + [float(tr[r.name][ticks[k]]) for k in range(1, n_steps + 1)] for r in rules}
    return states, values, scrapes


def _promtool_test(promtool, tmp_path, rules, series, tests, step: int) -> subprocess.CompletedProcess:
    (tmp_path / "rules.yml").write_text(rules_yaml(rules, interval=f"{step}s") if rules else "groups: []\n",
                                        encoding="utf-8")
    doc = {"rule_files": ["rules.yml"], "evaluation_interval": f"{step}s",
           "tests": [{"interval": f"{step}s", "input_series": series, "promql_expr_test": tests}]}
    (tmp_path / "test.yml").write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10_000),
                                       encoding="utf-8")
    return _run([promtool, "test", "rules", str(tmp_path / "test.yml")])


def _alerts_tests(rules, states, step: int) -> list[dict]:
    """At every evaluation, the ALERTS series Prometheus must hold: one per pending or firing rule."""
    tests = []
    for k in range(len(next(iter(states.values())))):
        exp = []
        for r in rules:
            if states[r.name][k]:
                labels = {"alertname": r.name, "alertstate": ("pending", "firing")[states[r.name][k] - 1],
                          "severity": r.severity, "category": r.category}
                text = ",".join(f"{a}={promql_string(v)}" for a, v in sorted(labels.items()))
                exp.append({"labels": f"ALERTS{{{text}}}", "value": 1})
        tests.append({"expr": "ALERTS", "eval_time": f"{k * step}s", "exp_samples": exp})
    return tests


_PERCENTILES = ("latency_p50", "latency_p95", "latency_p99")


def _bucket_keys(buckets) -> list[str]:
    return [f'prodai_request_latency_seconds_bucket{{le="{"+Inf" if math.isinf(b) else repr(b)}"}}' for b in buckets]


def _window_diff(scrapes, key: str, k: int, steps: int) -> float:
    return scrapes[k][key] - scrapes[max(k - steps, 0)][key]


def _value_tests(rules, values, scrapes, step: int, buckets) -> list[dict]:
    """Each rule's window value through PromQL, at every evaluation where it is defined: ratios equal to the
    pipeline's value bit for bit; percentiles and the latency mean equal to the same formula on the scrapes."""
    tests = []
    le_keys = _bucket_keys(buckets)
    for r in rules:
        if not isinstance(r, AlertRule):
            continue
        w = int(prom._window_spec("window", r.window)[1])
        expr = promql_metric(r.metric, w)
        for k in range(1, len(scrapes)):
            if r.metric in _PERCENTILES:
                counts = [_window_diff(scrapes, key, k, w // step) for key in le_keys]
                v = histogram_quantile(buckets, counts, prom._QUANTILES[r.metric])
            elif r.metric == "latency_mean":
                n = _window_diff(scrapes, "prodai_request_latency_seconds_count", k, w // step)
                v = _window_diff(scrapes, "prodai_request_latency_seconds_sum", k, w // step) / n if n else math.nan
                assert v == pytest.approx(values[r.name][k] / 1000, rel=1e-12, nan_ok=True)
            else:
                v = values[r.name][k]
            if not math.isnan(v):
                tests.append({"expr": f"{expr} == bool {v!r}", "eval_time": f"{k * step}s",
                              "exp_samples": [{"labels": "{}", "value": 1}]})
    return tests


def _histogram_states(rule: AlertRule, scrapes, step: int, buckets) -> list[int]:
    """The rule's states when its value is the one Prometheus computes (histogram_quantile over the scraped
    buckets): the pipeline's state machine, alert_step, fed with Prometheus' value series."""
    w = int(prom._window_spec("window", rule.window)[1]) // step
    need = rule._min_count(("time", w * step))
    cmp = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__}[rule.op]
    clear = rule.threshold if rule.clear_threshold is None else rule.clear_threshold
    state, since, out = "inactive", 0.0, [0]
    for k in range(1, len(scrapes)):
        counts = [_window_diff(scrapes, key, k, w) for key in _bucket_keys(buckets)]
        v = histogram_quantile(buckets, counts, prom._QUANTILES[rule.metric])
        ok = _window_diff(scrapes, "prodai_requests_total", k, w) >= need and not math.isnan(v)
        state, since = alert_step(state, since, float(k * step), ok and cmp(v, rule.threshold / 1000),
                                  not ok or not cmp(v, clear / 1000), rule.for_)
        out.append({"inactive": 0, "pending": 1, "firing": 2}[state])
    return out


def _compare(promtool, tmp_path, rules, traffic, step, buckets, percentiles: str) -> tuple[dict, dict, dict, int]:
    """Run ``traffic`` through the pipeline and through promtool; assert the same ALERTS at every evaluation
    and the same window values. ``percentiles="pipeline"``: percentile rules are held to the pipeline's
    states too (traffic whose percentile verdicts are unambiguous); ``"histogram"``: to the pipeline's state
    machine fed with Prometheus' percentile (the value series differs, see the percentile tests)."""
    states, values, scrapes = _run_pipeline(rules, traffic, step, buckets)
    hist_states = {r.name: _histogram_states(r, scrapes, step, buckets) for r in rules
                   if isinstance(r, AlertRule) and r.metric in _PERCENTILES}
    expected = {**states, **hist_states} if percentiles == "histogram" else states
    series = [{"series": key, "values": " ".join(prom._num(s[key]) for s in scrapes)} for key in scrapes[0]]
    tests = _alerts_tests(rules, expected, step) + _value_tests(rules, values, scrapes, step, buckets)
    res = _promtool_test(promtool, tmp_path, rules, series, tests, step)
    assert res.returncode == 0, res.stdout + res.stderr[-20_000:]
    return states, hist_states, values, len(tests)


def _transitions(states: list[int]) -> set[tuple[int, int]]:
    return {(a, b) for a, b in zip(states, states[1:]) if a != b}


def test_burn_rule_traffic_floor_same_states_as_prometheus(tmp_path):
    """The error-budget rule's traffic floor (``min_count`` on the long window) against Prometheus: errors from
    the first request, so the rule without a floor pages at once and the floored one waits for 40 requests;
    then 20 s without traffic, which the floored rule resolves on (its hold branch has the floor too) while
    the other holds on the long window's burn; then errors again."""
    promtool = _promtool()
    traffic = _step_traffic([(30, (100.0,), 4, 0.9, 0.002), (20, (), 0, 0.9, 0.002), (30, (100.0,), 3, 0.9, 0.002),
                             (60, *NORMAL)])
    rules = (BurnRateRule("burn", SLO(0.96), 3.0, long_window="30s", short_window="10s"),
             BurnRateRule("burn, floor", SLO(0.96), 3.0, long_window="30s", short_window="10s", min_count=40),
             BurnRateRule("burn, floor, no clear", SLO(0.96), 3.0, long_window="30s", short_window="10s",
                          min_count=40, clear_burn_rate=None, for_="5s"))
    assert "sum(increase(prodai_requests_total[30s])) >= 40" in rule_expr(rules[1])
    assert rule_expr(rules[1]).count(">= 40") == 2 and rule_expr(rules[2]).count(">= 40") == 1
    states, _, _, _ = _compare(promtool, tmp_path, rules, traffic, 5, DEFAULT_BUCKETS, percentiles="pipeline")
    plain, floor = states["burn"], states["burn, floor"]
    assert plain[1] == 2 and floor[1] == 0                      # 5 s in: 10 requests, 3 errors
    first = floor.index(2)
    assert first * 5 >= 20 and all(s == 2 for s in plain[1:first + 1])   # 40 requests take 20 s
    gap = [k for k in range(len(floor)) if 40 <= k * 5 <= 50]
    assert any(floor[k] == 0 for k in gap) and all(plain[k] == 2 for k in gap)
    assert _transitions(floor) >= {(0, 2), (2, 0)} and 2 in states["burn, floor, no clear"]


def test_synthetic_traffic_same_states_and_values_as_prometheus(tmp_path):
    """Every rule kind, every transition, the pipeline itself against Prometheus. The traffic is built in
    5-second blocks of one latency class, so a window's share of slow requests moves in steps that never
    sit at a percentile's rank (where the two percentile definitions can disagree, see
    test_percentile_definitions_can_disagree_at_the_rank) and no latency mean lands exactly on a
    threshold (see test_latency_thresholds_compare_in_seconds)."""
    promtool = _promtool()
    rules = _synthetic_rules()
    buckets = slo_buckets([0.15, 0.45, 0.6, 0.8])
    states, hist_states, values, n_tests = _compare(promtool, tmp_path, rules, _synthetic_traffic(), 5, buckets,
                                                    percentiles="pipeline")
    assert len(states["burn"]) > 190 and n_tests > 1500
    assert all(hist_states[name] == states[name] for name in hist_states)
    # the comparison is not vacuous: every rule fires, and each kind of move happens
    assert all(2 in s for s in states.values()), [n for n, s in states.items() if 2 not in s]
    moves = set().union(*(_transitions(s) for s in states.values()))
    assert moves == {(0, 1), (1, 0), (1, 2), (2, 0), (0, 2)}
    assert (1, 0) in _transitions(states["slow mean"])          # the blip: pending, then back, never sent
    for name, low, high in [("slow mean", 250, 400), ("high p95", 450, 600), ("low confidence", 0.6, 0.7),
                            ("errors", 0.05, 0.1), ("cost per request", 0.008, 0.01)]:
        held = [v for v, s in zip(values[name], states[name]) if s == 2 and (low <= v <= high)]
        assert held, f"{name} is never held firing between its thresholds"


@pytest.mark.parametrize("seed", [2, 11])
def test_lesson_traffic_same_states_and_values_as_prometheus(tmp_path, seed):
    """The lesson's rules on simulated traffic (300 normal, 120 degraded, 240 normal requests). Burn rate,
    confidence and cost: the pipeline's states. p95: the pipeline's state machine on Prometheus' p95."""
    promtool = _promtool()
    rules = standard_time_rules()
    states, hist_states, _, _ = _compare(promtool, tmp_path, rules, _lesson_traffic(seed), 5,
                                         slo_buckets([0.45, 0.6]), percentiles="histogram")
    assert all(2 in states[name] for name in ("error budget burn", "high p95 latency", "low confidence"))
    differ = sum(a != b for a, b in zip(states["high p95 latency"], hist_states["high p95 latency"]))
    assert differ == {2: 1, 11: 6}[seed]   # exact p95 against the histogram's: the rank convention


def test_percentile_definitions_can_disagree_at_the_rank():
    """numpy's p50 of 30 fast and 30 slow requests interpolates between them; Prometheus' rank 30 is the
    last fast one. The same window, two verdicts on "p50 <= 150 ms", even with 0.15 a bucket bound."""
    window = np.r_[np.full(30, 100.0), np.full(30, 900.0)]
    b = slo_buckets([0.15])
    assert np.percentile(window, 50) == 500.0
    assert histogram_quantile(b, cumulative_counts(window / 1000, b), 0.5) <= 0.15


def test_latency_thresholds_compare_in_seconds():
    """Prometheus sums seconds: a mean of requests of exactly 100 ms need not be exactly 0.1 s."""
    sums = np.add.accumulate(np.full(50, 0.1))
    means = sums / np.arange(1, 51)
    assert (means > 0.1).any() and (means < 0.1).any() and np.all(np.full(50, 100.0).cumsum() / np.arange(1, 51) == 100)


# --------------------------------------------------------------------------------------------------
# The lesson's figures: exact window percentile against histogram_quantile
# --------------------------------------------------------------------------------------------------
def _percentile_gap(bounds) -> tuple[float, float, int, int]:
    """Over every 50-request window of the lesson's scenario (300 seeds): the median and 90th percentile of
    |histogram p95 - exact p95| in ms, the windows where the 600 ms verdicts differ, and the windows."""
    lat = np.array([standard_scenario(s).requests.latency_ms for s in range(300)])
    windows = sliding_window_view(lat, 50, axis=1).reshape(-1, 50)
    exact = np.percentile(windows, 95, axis=1)
    hist = histogram_quantile(bounds, cumulative_counts(windows / 1000.0, bounds), 0.95) * 1000.0
    gap = np.abs(hist - exact)
    return (round(float(np.median(gap)), 1), round(float(np.percentile(gap, 90)), 1),
            int(np.count_nonzero((exact > 600) != (hist > 600))), len(windows))


def test_percentile_gap_on_the_lessons_traffic():
    assert _percentile_gap(DEFAULT_BUCKETS) == (97.3, 399.6, 748, 45300)         # 1.65 % of the verdicts flip
    assert _percentile_gap(slo_buckets([0.45, 0.6])) == (30.1, 399.6, 326, 45300)  # 0.72 %: the rank convention
