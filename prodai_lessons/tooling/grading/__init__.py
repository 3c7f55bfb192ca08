"""The instructor grader behind ``prodai grade``: safe, parallel, with partial credit and feedback.

- :mod:`~prodai_lessons.tooling.grading.notebook`: which cells run (the learner's own; instructor-owned cells come
  from the exercise's source, as nbgrader restores locked cells);
- :mod:`~prodai_lessons.tooling.grading.runner`: one sandboxed worker process per submission runs the learner's
  code and each check's *collect* under a per-check timeout; the *judge* runs here, in the grader;
- :mod:`~prodai_lessons.tooling.grading._worker`: the worker itself (limits, Landlock, the framed results pipe);
- :mod:`~prodai_lessons.tooling.grading.gradebook`: CSV + JSON gradebook (atomic, resumable, mergeable from
  shards), feedback files, the summary;
- :mod:`~prodai_lessons.tooling.grading.cli`: the command line (``prodai grade``, ``prodai grade merge``).

From Python::

    from prodai_lessons.tooling.grading import Limits, Task, find_submissions, grade_submission, load_exercise_source
"""

from prodai_lessons.tooling.grading.notebook import NotebookError, load_exercise_source
from prodai_lessons.tooling.grading.runner import (
    LearnerGrade,
    Limits,
    Submission,
    SubmissionsError,
    Task,
    find_submissions,
    grade_submission,
)

__all__ = ["NotebookError", "load_exercise_source", "LearnerGrade", "Limits", "Submission", "SubmissionsError",
           "Task", "find_submissions", "grade_submission"]
