"""The rollback exercise's scenarios (private to :mod:`prodai_lessons.exercises.ex3`): the simulated versions,
their true online quality and degradations, and the controller that follows the contract, which the judges
compare learner runs with. Learner code never gets these objects: it gets the setup and, step by step, the
traffic (see ``ex3._Serving``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from prodai_lessons.exercises._helpers import rng


def _names(r: np.random.Generator, n: int) -> list[str]:
    """Version names with a random model prefix, so no answer can be written down in advance."""
    prefix = str(r.choice(["ranker", "intent", "summarizer", "router", "triage", "tagger"]))
    return [f"{prefix}-v{k}" for k in range(1, n + 1)]


SCENARIOS = ("degrade", "target", "incident", "noisy", "dry_run", "relapse")


@dataclass(frozen=True)
class _Scenario:
    kind: str
    names: tuple[str, ...]
    scores: tuple[float, ...]
    promoted: tuple[str, ...]  # promoted before the controller starts (history)
    flagged: tuple[str, ...]  # marked unhealthy beforehand
    deployed: str  # deployed by the controller at t=0
    target: str | None  # the best healthy earlier version (None if there is none)
    online: dict  # version -> true online quality (probability a request is good)
    degrade_at: int | None  # step from which the deployed version drops to `bad`
    bad: float
    incident: tuple[int, int] | None  # steps [a, b) where every version is at `bad`
    threshold: float
    window: int
    min_samples: int
    failure_limit: int
    batch: int
    cooldown: int
    dry_run: bool
    steps: int
    u: np.ndarray  # uniforms (steps + 1, batch): request k at step t is good iff u[t, k] < quality
    relapse: tuple[str, int] | None = None  # (version, step): that version too drops to `bad` from then on

    def quality(self, version: str, t: int) -> float:
        if self.incident and self.incident[0] <= t < self.incident[1]:
            return self.bad
        if version == self.deployed and self.degrade_at is not None and t >= self.degrade_at:
            return self.bad
        if self.relapse and version == self.relapse[0] and t >= self.relapse[1]:
            return self.bad
        return self.online[version]

    def scores_at(self, version: str, t: int) -> list[float]:
        return [1.0 if x else 0.0 for x in (self.u[t] < self.quality(version, t))]


def _best_earlier(names, scores, flagged, current) -> str | None:
    earlier = [(s, v) for v, s in zip(names, scores) if names.index(v) < names.index(current) and v not in flagged]
    return max(earlier)[1] if earlier else None


@lru_cache(maxsize=32)
def _make_scenario(kind: str, seed: int) -> _Scenario:
    """The scenario ``kind`` for ``seed``; regenerated (deterministically) until it tells right from wrong.

    Each kind is kept only when the specified behaviour (:func:`_reference_run`) and the mistake the check
    targets differ on it: ``degrade``/``target``: one rollback, in time (``degrade``: before the cooldown
    has passed since the deploy, so a cooldown that starts at the deploy delays it); ``incident``: one
    rollback, but two or more without the cooldown; ``noisy``: noise fails some evaluations (at most
    failure_limit - 1 in a row), so rolling back at the first failure is caught; ``dry_run``: at least two
    dry-run entries; ``relapse``: one rollback, then the version rolled back to degrades too, out of the
    cooldown, with no healthy earlier version left to roll back to.
    """
    if kind not in SCENARIOS:
        raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}; got {kind!r}")
    r = rng(seed, 3, SCENARIOS.index(kind) + 10)
    for _attempt in range(200):
        window = int(r.choice([60, 80, 100]))
        threshold = round(float(r.uniform(0.78, 0.84)), 2) + 0.0037  # never k/n for n <= 100: no ties
        failure_limit = int(r.integers(2, 4)) if kind == "noisy" else int(r.integers(1, 4))
        if kind == "target":
            n = int(r.integers(5, 8))
            dep = int(r.integers(3, n - 1))
        elif kind == "relapse":
            n = int(r.integers(5, 7))
            dep = n - 2
        else:
            n = int(r.integers(4, 7))
            dep = n - 2
        names = _names(r, n)
        scores = [float(s) for s in r.permutation(np.round(np.linspace(0.80, 0.95, n) + r.uniform(0, 0.004, n), 3))]
        earlier = names[:dep]
        flagged: list[str] = []
        promoted = list(earlier)
        if kind == "target":
            # traps: the best-scoring earlier version is marked unhealthy, 'previous' is a worse healthy one,
            # and a version registered after the failing one scores higher than all of them
            ranked = sorted(earlier, key=lambda v: scores[names.index(v)])
            flagged = [ranked[-1]]
            previous = str(r.choice(ranked[:-2]))
            promoted = [str(v) for v in r.permutation([v for v in earlier if v != previous])] + [previous]
            scores[dep + 1] = round(max(scores) + 0.01, 3)
        elif kind == "relapse":  # one healthy earlier version, and none before it
            keep = int(r.integers(1, dep))
            flagged = [v for k, v in enumerate(earlier) if k != keep]
            promoted = [str(v) for v in r.permutation(earlier)]
        target = _best_earlier(names, scores, flagged, names[dep])
        online = {v: float(r.uniform(0.90, 0.96)) for v in names}
        if kind == "noisy":
            online[names[dep]] = threshold + float(r.uniform(0.03, 0.05))
        degrade_at = None if kind == "noisy" else int(r.integers(3, 10))
        cooldown = int(r.integers(20, 30)) if kind == "incident" else int(r.integers(8, 14))
        relapse_at = (degrade_at or 0) + DEADLINE // 2 + cooldown + int(r.integers(1, 5))
        steps = {"noisy": 60, "incident": 48, "dry_run": (degrade_at or 0) + 3 * cooldown + 4,
                 "relapse": relapse_at + 16}.get(kind, 40)
        sc = _Scenario(kind=kind, names=tuple(names), scores=tuple(scores), promoted=tuple(promoted),
                       flagged=tuple(flagged), deployed=names[dep], target=target, online=online,
                       degrade_at=degrade_at, bad=float(r.uniform(0.45, 0.62)),
                       incident=(1, (degrade_at or 0) + int(r.integers(8, 12))) if kind == "incident" else None,
                       threshold=threshold, window=window, min_samples=window // 2, failure_limit=failure_limit,
                       batch=window // 4, cooldown=cooldown, dry_run=(kind == "dry_run"), steps=steps,
                       u=r.random((steps + 1, window // 4)),
                       relapse=(target, relapse_at) if kind == "relapse" else None)
        sc.u.setflags(write=False)
        idle: list[int] = []
        actions = _reference_run(sc, idle=idle)
        if kind in ("degrade", "target", "relapse"):
            ok = len(actions) == 1 and sc.degrade_at <= actions[0][0] <= sc.degrade_at + DEADLINE // 2
            if kind == "degrade":
                ok = ok and actions[0][0] < sc.cooldown
            if kind == "relapse":
                ok = ok and any(t >= relapse_at for t in idle)
        elif kind == "incident":
            ok = len(actions) == 1 and len(_reference_run(sc, cooldown=0)) >= 2
        elif kind == "noisy":
            runs = _failure_runs(sc)
            ok = not actions and 1 <= max(runs) <= failure_limit - 1
        else:
            ok = len(actions) >= 2 and actions[0][0] >= sc.degrade_at
        if ok:
            return sc
    raise RuntimeError(f"could not generate scenario {kind!r} for seed {seed}")  # pragma: no cover


def _reference_run(sc: _Scenario, *, cooldown: int | None = None,
                   idle: list[int] | None = None) -> list[tuple[int, str, str, str]]:
    """The actions (t, action, from, to) of a controller that follows the contract (judge side only);
    ``idle`` gets the steps at which it would act but has no healthy earlier version to go to."""
    cooldown = sc.cooldown if cooldown is None else cooldown
    champion, flagged = sc.deployed, set(sc.flagged)
    win: list[float] = []
    run, last = 0, None
    actions = []
    for t in range(1, sc.steps + 1):
        win = (win + sc.scores_at(champion, t))[-sc.window:]
        if len(win) >= sc.min_samples:
            run = run + 1 if sum(win) / len(win) < sc.threshold else 0
        if run > sc.failure_limit and (last is None or t - last >= cooldown):
            target = _best_earlier(sc.names, sc.scores, flagged, champion)
            if target is None:
                if idle is not None:
                    idle.append(t)
                continue
            last = t
            if sc.dry_run:
                actions.append((t, "dry-run", champion, target))
                continue
            actions.append((t, "rollback", champion, target))
            flagged.add(champion)
            champion, win, run = target, [], 0
    return actions


def _failure_runs(sc: _Scenario) -> list[int]:
    """Lengths of the runs of failed evaluations of the deployed version under the specified monitor."""
    win: list[float] = []
    runs, run = [0], 0
    for t in range(1, sc.steps + 1):
        win = (win + sc.scores_at(sc.deployed, t))[-sc.window:]
        if len(win) < sc.min_samples:
            continue
        if sum(win) / len(win) >= sc.threshold:
            run = 0
        else:
            run += 1
            runs.append(run)
    return runs


DEADLINE = 12  # steps after the degradation starts by which a rollback must have happened
