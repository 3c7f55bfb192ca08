"""The ``prodai`` command line.

Each course section that has something to run from a terminal adds a subcommand here, in a
``_add_<name>`` function registered in ``_SUBCOMMANDS``. Handlers return the process exit status.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from prodai_lessons import __version__
from prodai_lessons.dashboard import write_report
from prodai_lessons.tooling import build_exercises
from prodai_lessons.tooling.grading import cli as grading_cli

#: Lessons in course order: (notebook stem, module that carries its code, title).
LESSONS: tuple[tuple[str, str, str], ...] = (
    ("00_index", "", "Course index"),
    ("01_deployment_patterns", "deployment", "Deployment patterns"),
    ("02_data_drift", "drift", "Data drift detection"),
    ("03_monitoring", "monitoring", "Monitoring and alerting"),
    ("04_ab_testing", "abtest", "A/B testing"),
    ("05_guardrails", "guardrails", "Guardrails"),
    ("06_cost", "cost", "Cost control"),
    ("07_incident_response", "incidents", "Incident response"),
    ("08_observability_dashboard", "dashboard", "Observability dashboard"),
    ("09_summary", "", "Course summary"),
)


def _cmd_lessons(args: argparse.Namespace) -> int:
    for stem, module, title in LESSONS:
        where = f"prodai_lessons.{module}" if module else ""
        print(f"{stem:<28} {title:<26} {where}")
    return 0


def _add_lessons(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lessons", help="list the course notebooks and the module each one teaches")
    p.set_defaults(handler=_cmd_lessons)


def _cmd_build_exercises(args: argparse.Namespace) -> int:
    return build_exercises.run(args)


def _add_build_exercises(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-exercises",
                       help="write exercises/ (stubs, executed) from the solution notebooks in solutions/")
    build_exercises.add_arguments(p)
    p.set_defaults(handler=_cmd_build_exercises)


def _cmd_grade(args: argparse.Namespace) -> int:
    return grading_cli.run(args)


def _add_grade(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("grade", help="grade learners' exercise notebooks in sandboxed workers (instructors)",
                       description="Grade exercise submissions: each runs in its own sandboxed process with a "
                                   "timeout per check; the checks' judges run in the grader. Writes a CSV + "
                                   "JSON gradebook and one markdown feedback file per learner.",
                       epilog="`prodai grade merge OUT PART...` combines the gradebooks of shards graded with "
                              "--shard K/N into one (see `prodai grade merge --help`); a class folder named "
                              "merge is given as ./merge.")
    grading_cli.add_arguments(p)
    p.set_defaults(handler=_cmd_grade)


def _merge_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="prodai grade merge",
        description="Combine the gradebooks of shards (`prodai grade --shard K/N --seed S`) into one gradebook, "
                    "as one run over the whole class would have written it, with every learner's feedback. "
                    "Parts graded with another exercise version, seed or limits, a shard given twice and a "
                    "learner in two parts are refused.")
    grading_cli.add_merge_arguments(p)
    return p


def _non_negative_int(text: str) -> int:
    """argparse ``type`` of a seed: an integer >= 0 (argparse names the option in its error, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer; got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer; got {value}")
    return value


def _cmd_dashboard(args: argparse.Namespace) -> int:
    try:
        path = write_report(args.out, seed=args.seed)
    except (OSError, ValueError, TypeError) as exc:
        print(f"prodai dashboard: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


def _add_dashboard(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboard", help="simulate a day and write the observability dashboard as standalone HTML",
                       description="Run a simulated day (daily cycle, a 14:00-17:00 traffic spike with "
                                   "degradation) through monitoring and cost tracking, and write the 24-hour "
                                   "dashboard with its summary to one HTML file (the figure is embedded).")
    p.add_argument("--out", default="report.html", help="output file, .html (default: report.html)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="seed of the simulated day (default: 0)")
    p.set_defaults(handler=_cmd_dashboard)


#: Subcommand registrars, in the order ``--help`` lists them. Later sections append theirs.
_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_lessons,
    _add_build_exercises,
    _add_grade,
    _add_dashboard,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prodai",
        description="Production AI Systems course: tools for learners and instructors.",
    )
    parser.add_argument("--version", action="version", version=f"prodai {__version__}")
    sub = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    for register in _SUBCOMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``prodai`` console script; returns the exit status.

    No command prints the help and exits 2 (a usage error), as an unknown command does.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["grade", "merge"]:
        return int(grading_cli.run_merge(_merge_parser().parse_args(argv[2:])))
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return 2
    return int(args.handler(args))


if __name__ == "__main__":  # pragma: no cover - exercised via the console script
    sys.exit(main())
