"""Exercise 2's checks: wrong approaches lose points for the right reason, and the bars are where they say.

- a scorer that reads only the word count loses points on each signal check, on scorer_informative and on
  end_to_end; a scorer of yes/no flags loses points on scorer_questions (the count of questions matters);
- pick_setting returning a copy, a wrong quality, a percent for a fraction: each gets its own message;
- the pieces queries are made of carry one signal each, and the pair checks put the length on the easy side;
- ``MIN_SPEARMAN`` and ``MIN_SHARE_OF_ORACLE`` separate the reference scorer from the length-only one.

``python tests/test_ex2_checks.py`` measures both bars on seeds 0-199 (the figures quoted in ``ex2.py``).
"""

from __future__ import annotations

import os
import re
import sys

import numpy as np
import pytest

from prodai_lessons.exercises import ex2
from prodai_lessons.exercises._core import format_report, run_checks
from test_exercises import result, solution_ns

REASONING = ("why", "how", "explain", "compare", "prove", "step by step", "trade-off", "analy", "reason",
             "justify", "derive", "think", "root cause")
CODE = ("```", "def ", "sql", "regex", "function", "bug", "code", "script", "python", "select ", "import ")


def _has(text: str, markers) -> bool:
    lower = text.lower()
    return any(m in lower for m in markers)


def length_only(text: str) -> float:
    return min(len(text.split()) / 120, 1.0)


def four_flags(text: str) -> float:
    """Long?, reasoning?, code?, several questions?: four yes/no flags."""
    return 0.25 * ((len(text.split()) > 40) + _has(text, REASONING) + _has(text, CODE) + (text.count("?") >= 2))


def signal_flags(text: str) -> float:
    """The three signals as yes/no flags, no length: right on reasoning and code, blind to a further question."""
    return 0.4 * _has(text, REASONING) + 0.35 * _has(text, CODE) + 0.25 * (text.count("?") >= 2)


def _scorer(fn):
    def patch(ns):
        ns["difficulty_score"] = fn
    patch.__name__ = fn.__name__
    return patch


def pick_copy(ns):
    base = ns["pick_setting"]

    def pick_setting(points, baseline_quality, target=0.95):
        got = base(points, baseline_quality, target)
        return None if got is None else dict(got)
    ns["pick_setting"] = pick_setting


def _cost(kind):
    def patch(ns):
        base = ns["routing_cost"]

        def routing_cost(queries, tiers, pricing):
            out = dict(base(queries, tiers, pricing))
            if kind == "percent":
                out["savings_share"] = 100 * out["savings_share"]
            else:  # the quality of the medium tier whatever the routing
                out["quality"] = float(np.mean([q.quality["medium"] for q in queries]))
            return out
        ns["routing_cost"] = routing_cost
    patch.__name__ = f"cost_{kind}"
    return patch


LENGTH = r"\d+ scored lower: the score follows length"
MUTANTS = [
    (_scorer(length_only), {"scorer_reasoning": LENGTH, "scorer_code": LENGTH, "scorer_questions": LENGTH,
                            "scorer_informative": "barely follow the hidden difficulty",
                            "end_to_end": r"reach 60% of that"}),
    (_scorer(four_flags), {"scorer_reasoning": "did not score higher", "scorer_questions": "did not score higher"}),
    (_scorer(signal_flags), {"scorer_questions": "already asked several questions: count the questions"}),
    (pick_copy, {"pick_meets_target": "returned a new dict with the right values: return the point itself"}),
    (_cost("percent"), {"cost_exact": "savings_share is a percent: give it as a fraction"}),
    (_cost("quality"), {"cost_exact": r"quality is not the mean over the queries of q\.quality\[tier\]"}),
]


@pytest.mark.parametrize("mutant, expected", MUTANTS, ids=[m[0].__name__ for m in MUTANTS])
def test_wrong_approach_loses_points_for_the_right_reason(mutant, expected):
    for seed in (0, 1, 2):
        ns = solution_ns("ex2")
        mutant(ns)
        for check, reason in expected.items():
            r = result("ex2", ns, check, seed)
            assert not r.passed and r.points < r.max_points, (check, seed, r)
            assert r.status == "ok", r
            assert re.search(reason, r.message), (check, seed, r.message)


def test_flags_on_the_signals_lose_only_the_count_of_questions():
    ns = solution_ns("ex2")
    _scorer(signal_flags)(ns)
    report = run_checks(ex2.EXERCISE, ns, 0)
    assert {r.name for r in report.results if not r.passed} == {"scorer_questions"}, format_report(report)


def test_a_wrong_quality_does_not_blame_the_cost_tracker_and_right_money_is_not_reported():
    ns = solution_ns("ex2")
    _cost("quality")(ns)
    r = result("ex2", ns, "cost_exact")
    assert "CostTracker" not in r.message and "savings" not in r.message, r.message
    assert r.points == pytest.approx(2 * 0.5 * 5 / 6, abs=0.01)
    ns = solution_ns("ex2")
    _cost("percent")(ns)
    r = result("ex2", ns, "cost_exact")
    assert r.message == "savings_share is a percent: give it as a fraction (0.4 for 40%)"


def test_the_pieces_of_a_query_carry_one_signal_each():
    for piece in ex2._REASONING:
        assert _has(piece, REASONING[2:]) and not _has(piece, CODE) and "?" not in piece, piece
    for piece in ex2._CODE:
        assert _has(piece, CODE) and not _has(piece, REASONING) and "?" not in piece, piece
    for piece in ex2._EXTRA:
        assert piece.count("?") == 1 and not _has(piece, REASONING + CODE), piece
    for piece in ex2._PASTE + ex2._PASTE_INTRO + ex2._CONTEXT + ex2._TOPICS:
        assert "?" not in piece and not _has(piece, REASONING + CODE), piece
    for piece in ex2._EASY + ex2._PASTE_TASK:
        assert not _has(piece, REASONING + CODE), piece


@pytest.mark.parametrize("kind", ex2.SIGNALS)
def test_the_pairs_put_the_length_on_the_easier_side(kind):
    for seed in range(10):
        cases = ex2._signal_cases(kind, seed)
        assert len(cases) == ex2.N_PAIRS
        assert len({first for *_, first in cases}) == 2  # the harder text comes first in some pairs only
        for easier, harder, n_q, _ in cases:
            assert len(easier.split()) >= len(harder.split()) and len(easier) >= len(harder)
            common = os.path.commonprefix([easier, harder])
            cut = max(common.rfind("? "), common.rfind(". ")) + 1  # the shared query ends with a sentence
            assert cut > 0
            added = harder[cut:]
            assert easier.count("?") == n_q
            if kind == "questions":
                assert 1 <= n_q <= 3 and n_q < harder.count("?") <= 4
                assert not _has(added, REASONING + CODE)
            else:
                assert harder.count("?") == n_q
                assert _has(added, REASONING if kind == "reasoning" else CODE)
        if kind == "questions":  # bases asking several questions: a flag for "several" ties on those
            assert sum(n_q > 1 for *_, n_q, _ in cases) >= ex2.N_PAIRS // 2


def _e2e_share(scorer, seed: int) -> float:
    """The end-to-end check's share of the oracle's savings (its grid and target, float prices)."""
    from prodai_lessons.cost import load_pricing

    pricing = load_pricing()
    qs, _ = ex2._e2e_queries(seed)
    scores = [scorer(q.text) for q in qs]
    costs = {t: np.array([pricing.cost(pricing.model_for_tier(t), q.input_tokens, q.output_tokens) for q in qs])
             for t in ex2.TIERS}
    quality = {t: np.array([q.quality[t] for q in qs]) for t in ex2.TIERS}
    best = 0.0
    for lo, hi in ex2._GRID_PAIRS:
        c, q = ex2._fast_outcome(qs, scores, lo, hi, costs, quality)
        if q >= 0.95 * quality["large"].mean():
            best = max(best, 1 - c / costs["large"].sum())
    return best / ex2._oracle(seed)


def measure(seeds, *, with_random: bool = False) -> dict:
    """Spearman and share of the oracle of the reference scorer and of the word count (and of uniform random
    scores), per seed."""
    scorers = {"reference": solution_ns("ex2")["difficulty_score"], "length": length_only}
    if with_random:
        rnd = np.random.default_rng(0)
        scorers["random"] = lambda text: float(rnd.random())
    out = {name: {"rho": [], "share": []} for name in scorers}
    for seed in seeds:
        qs, d = ex2._informative_queries(seed)
        for name, fn in scorers.items():
            out[name]["rho"].append(ex2.spearman([fn(q.text) for q in qs], d))
            out[name]["share"].append(_e2e_share(fn, seed))
    return {name: {k: np.array(v) for k, v in m.items()} for name, m in out.items()}


def test_the_bars_sit_between_the_reference_and_the_length_only_scorer():
    """On 30 seeds (200 in the figures of ex2.py): the reference clears both bars with margin, the word count
    stays below them."""
    m = measure(range(30))
    assert m["reference"]["rho"].min() >= ex2.MIN_SPEARMAN + 0.15
    assert m["length"]["rho"].max() <= ex2.MIN_SPEARMAN - 0.15
    assert m["reference"]["share"].min() >= ex2.MIN_SHARE_OF_ORACLE + 0.05
    assert m["length"]["share"].max() < ex2.MIN_SHARE_OF_ORACLE


if __name__ == "__main__":  # the distributions quoted next to MIN_SPEARMAN and MIN_SHARE_OF_ORACLE
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    for name, stats in measure(range(n), with_random=True).items():
        for key, v in stats.items():
            print(f"{name:>9} {key:>5}: min {v.min():.2f}  1% {np.percentile(v, 1):.2f}  median {np.median(v):.2f}"
                  f"  99% {np.percentile(v, 99):.2f}  max {v.max():.2f}")
