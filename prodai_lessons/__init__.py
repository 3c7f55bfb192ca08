"""prodai_lessons: the code the Production AI Systems course teaches.

One module per course section (``deployment``, ``drift``, ``monitoring``, ``abtest``,
``guardrails``, ``cost``, ``incidents``, ``dashboard``), plus ``stats`` (distributions
from scratch), ``simulate`` (seeded traffic shared by several notebooks) and
``exercises``/``grading`` (checks and the instructor grader).

The package depends on numpy and matplotlib only. It never prints; notebooks do.
"""

from prodai_lessons._show import show

__version__ = "0.1.0"

__all__ = ["show", "__version__"]
