"""Instructor and build tooling, apart from the lessons: the ``prodai`` command (:mod:`.cli`), the grader
(:mod:`.grading`), the exercise builder (:mod:`.build_exercises`) and the notebook builder
(:mod:`.build_notebooks`). :mod:`.cells` holds the cell-level text rules both builders and the grader share.

Nothing here is imported by a lesson; imports run one way, from here to the lessons' package.
"""
