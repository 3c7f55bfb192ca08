"""Benchmark of prodai_lessons.guardrails: texts/s through the input pipeline, and 1 MB adversarial inputs.

Prints

1. short texts per second through the full input pipeline (prompt injection, length, invisible text,
   rate limit) on three workloads drawn from the shipped corpus: every text, benign texts only, and a
   95 % benign / 5 % attack mix; the reference measured in the same run is the original lesson's
   approach (substring injection check + length check, nothing else). Goal: >= 20,000 texts/s.
2. per guard, the time to check 1 MB adversarial inputs (long runs of near-matches for each pattern
   family). Goal: <= 0.5 s each. Linear-time matching is what makes this hold; catastrophic
   backtracking would take minutes.

Both wall-clock and process CPU time are printed: on a shared machine the wall clock also counts the
time spent waiting for a core. Run:

    .venv/bin/python benchmarks/bench_guardrails.py
"""

from __future__ import annotations

import time

import numpy as np

from prodai_lessons.guardrails import (
    GuardrailPipeline,
    InvisibleTextGuard,
    LengthGuard,
    PIIGuard,
    PromptInjectionGuard,
    RateLimitGuard,
    ToxicityGuard,
    load_corpus,
)

N_TEXTS = 50_000
GOAL_TEXTS = 20_000
MB = 1_000_000
GOAL_MB_SECONDS = 0.5
ORIGINAL_WORDS = ["ignore previous", "ignore all", "you are now", "new instructions", "system:", "[system]",
                  "forget everything", "disregard"]


def naive_check_input(text: str) -> bool:
    """The original lesson's input guards, re-typed for timing: substrings, then a length limit."""
    low = text.lower()
    for w in ORIGINAL_WORDS:
        if w in low:
            return False
    return len(text) <= 2000


def input_pipeline() -> GuardrailPipeline:
    # A rate limit generous enough never to refuse: we time the checks, not the refusals.
    return GuardrailPipeline([PromptInjectionGuard(), LengthGuard(), InvisibleTextGuard(),
                              RateLimitGuard(capacity=1e12, rate=1e9, clock=time.monotonic)], [])


def timed(fn, texts):
    w0, c0 = time.perf_counter(), time.process_time()
    for t in texts:
        fn(t)
    return time.perf_counter() - w0, time.process_time() - c0


def workloads(seed: int = 0) -> dict[str, list[str]]:
    corpus = load_corpus()
    rng = np.random.default_rng(seed)
    every = [r["text"] for r in corpus]
    benign = [r["text"] for r in corpus if r["label"] == 0]
    attacks = [r["text"] for r in corpus if r["label"] == 1]
    mix = [attacks[i] if rng.random() < 0.05 else benign[i % len(benign)]
           for i in rng.integers(0, 1 << 30, N_TEXTS) for i in [int(i) % len(attacks)]]
    pick = lambda pool: [pool[int(i) % len(pool)] for i in rng.integers(0, 1 << 30, N_TEXTS)]
    return {"whole corpus": pick(every), "benign only": pick(benign), "95/5 mix": mix}


def adversarial() -> dict[str, str]:
    rep = lambda s: (s * (MB // len(s) + 1))[:MB]
    return {
        "override near-misses": rep("ignore all previous "),
        "one letter": "a" * MB,
        "card-like digit groups": rep("4111 "),
        "e-mail near-misses": rep("a.b@c"),
        "local parts without domain": rep("x" * 63 + "@"),
        "zero-width every other char": rep("a\u200b"),
        "letter-spaced": rep("a "),
        "leet tokens": rep("1g"),
        "base64 run": rep("QUJD"),
        "dotted numbers": rep("1.1.1."),
        "dotted numbers + ' at '": " at " + rep("1.1.1."),
        "spoken e-mail near-misses": rep("a dot b at c dot "),
        "e-mail label chains": rep("x@" + "a-" * 30 + "."),
        "plus signs": rep("+1 "),
        "valid E.164 numbers": rep("+1 2 3 4 5 6 7 8 9 "),
        "Cyrillic": "\u043e" * MB,
        "insult near-misses": rep("you you you stupid "),
        "allow-listed phrases": rep("a stupid question "),
    }


def main() -> None:
    print(f"1. Input pipeline (injection + length + invisible text + rate limit), {N_TEXTS:,} short texts")
    print(f"   {'workload':<14} {'texts/s (wall)':>15} {'texts/s (CPU)':>14} {'original (CPU)':>15} {'original faster':>16}")
    for name, texts in workloads().items():
        pipe = input_pipeline()
        wall, cpu = timed(pipe.check_input, texts)
        _, cpu_naive = timed(naive_check_input, texts)
        rate, rate_naive = N_TEXTS / cpu, N_TEXTS / cpu_naive
        print(f"   {name:<14} {N_TEXTS / wall:>15,.0f} {rate:>14,.0f} {rate_naive:>15,.0f} {rate_naive / rate:>15.0f}x"
              f"   goal >= {GOAL_TEXTS:,}: {'met' if rate >= GOAL_TEXTS else 'NOT met'} (CPU)")
    print("   (the original does far less work: no normalization, no scoring, no invisible-text or rate check)")

    print("\n2. 1 MB adversarial inputs, seconds per check (CPU), worst input per guard")
    guards = [PromptInjectionGuard(), PIIGuard(), ToxicityGuard(), InvisibleTextGuard(), LengthGuard()]
    inputs = adversarial()
    print(f"   {'guard':<17} {'worst (s)':>9}  {'input':<28} {'wall (s)':>8}")
    for g in guards:
        worst = (0.0, 0.0, "")
        for name, text in inputs.items():
            wall, cpu = timed(g.check, [text])
            worst = max(worst, (cpu, wall, name))
        cpu, wall, name = worst
        print(f"   {g.name:<17} {cpu:>9.3f}  {name:<28} {wall:>8.3f}   goal <= {GOAL_MB_SECONDS}: "
              f"{'met' if cpu <= GOAL_MB_SECONDS else 'NOT met'}")
    pipe = GuardrailPipeline([PromptInjectionGuard(), LengthGuard(), InvisibleTextGuard()],
                             [PIIGuard(), ToxicityGuard()])
    worst = max((timed(pipe.check_input, [t])[1] + timed(pipe.check_output, [t])[1], n) for n, t in inputs.items())
    print(f"   all five guards on one 1 MB text (input + output stage): worst {worst[0]:.3f} s ({worst[1]})")


if __name__ == "__main__":
    main()
