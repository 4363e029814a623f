"""Checkers for the chapters' exercises, one module per chapter (``ch01`` ... ``ch06``).

Each ``check_*`` function computes the right answer with the package and prints one of
three verdicts (see :mod:`course_vae.exercises.verdict`): **correct**; **close** - within
twice the tolerance, with what to refine (written per exercise); or **not right** - naming
the known mistake nearest the answer (nats for bits, sigma for sigma^2, the missing 1/2,
KL(P||Q) for KL(Q||P), a mean for a sum over dimensions, the sign of the KL in the loss, a
per-example for a batch-mean free-bits floor, ...) or giving a hint. Hints escalate over
the wrong tries of an exercise: a nudge first, the method later, never the value.
Each module's ``TOLERANCE`` follows from the precision its exercises ask for (and, where an
exercise offers sampling, four standard errors at the sample size it suggests), so a right
answer rounded as asked, or sampled as suggested, passes.
Close and wrong answers raise ``AssertionError``, so a solution cell that calls the checker
fails loudly; ``None`` (not answered) prints a reminder; a non-number raises ``TypeError``
and a NaN an ``AssertionError`` saying so. The ``CH0n_*`` constants are the exercises' data.
"""

from course_vae.exercises import ch01, ch02, ch03, ch04, ch05, ch06
from course_vae.exercises.ch01 import *  # noqa: F403
from course_vae.exercises.ch02 import *  # noqa: F403
from course_vae.exercises.ch03 import *  # noqa: F403
from course_vae.exercises.ch04 import *  # noqa: F403
from course_vae.exercises.ch05 import *  # noqa: F403
from course_vae.exercises.ch06 import *  # noqa: F403

__all__ = sorted({*ch01.__all__, *ch02.__all__, *ch03.__all__, *ch04.__all__, *ch05.__all__,
                  *ch06.__all__})
