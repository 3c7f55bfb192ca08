"""Checks for the course exercises: ``ex1`` (concept drift), ``ex2`` (model routing), ``ex3`` (automated rollback).

In an exercise notebook::

    from prodai_lessons.exercises import ex1
    ex1.check(globals())   # one line per behaviour, then the score
    ex1.hint()             # a nudge; hint(2) a bigger one
    ex1.solution()         # where the reference solution lives

Each check is split in two (see ``_core``): *collect* runs the learner's code on a seeded scenario and
returns plain data; *judge* turns that data into points without running learner code. ``check`` does
both in the notebook; the instructor grader (``prodai grade``) runs *collect* in a sandboxed
subprocess and *judge* in its own process.
"""
