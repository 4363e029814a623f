"""Checkers for the chapters' exercises, one module per chapter (``ch01`` ... ``ch05``).

Each ``check_*`` function computes the right answer with the package, compares the
learner's answer with a tolerance and prints a verdict (it returns nothing, so a
notebook cell shows only the verdict).  An unanswered exercise
(``None``) prints a reminder; a wrong answer raises ``AssertionError`` with a hint,
so a solution cell that calls the checker fails loudly if it is wrong.  The ``CH0n_*``
constants are the exercises' data.
"""

from course_vae.exercises.ch01 import (
    CH01_CODE_P,
    CH01_CODE_Q,
    CH01_MIX_MEANS,
    CH01_MIX_STDS,
    CH01_MIX_WEIGHTS,
    CH01_P,
    CH01_Q,
    check_ch01_extra_bits,
    check_ch01_forward_fit_std,
    check_ch01_kl_bits,
)
from course_vae.exercises.ch02 import (
    CH02_BEST_SIGMA_MU,
    CH02_GRAD_LOGVAR,
    CH02_GRAD_MU,
    CH02_KL_MU,
    CH02_KL_SIGMA,
    check_ch02_best_sigma,
    check_ch02_grad_logvar,
    check_ch02_kl_by_hand,
)
from course_vae.exercises.ch03 import (
    CH03_GRAD_MU,
    CH03_GRAD_SIGMA,
    CH03_LG_B,
    CH03_LG_NOISE_STD,
    CH03_LG_W,
    CH03_LG_X,
    ch03_linear_gaussian,
    check_ch03_mean_field_gap,
    check_ch03_prior_as_q,
    check_ch03_score_variance,
)
from course_vae.exercises.ch04 import (
    CH04_ACTIVE_MU,
    CH04_CYCLICAL,
    CH04_FREE_BITS_FLOOR,
    CH04_FREE_BITS_KL,
    check_ch04_active_units,
    check_ch04_cyclical_beta,
    check_ch04_free_bits,
)
from course_vae.exercises.ch05 import (
    CH05_CAPACITY,
    CH05_CAPACITY_KL,
    CH05_CAPACITY_RECON,
    CH05_CAPACITY_STEP,
    CH05_POINT_A,
    CH05_POINT_B,
    check_ch05_capacity_loss,
    check_ch05_indifferent_beta,
    check_ch05_mig_duplicate,
)

__all__ = [
    "CH01_CODE_P",
    "CH01_CODE_Q",
    "CH01_MIX_MEANS",
    "CH01_MIX_STDS",
    "CH01_MIX_WEIGHTS",
    "CH01_P",
    "CH01_Q",
    "CH02_BEST_SIGMA_MU",
    "CH02_GRAD_LOGVAR",
    "CH02_GRAD_MU",
    "CH02_KL_MU",
    "CH02_KL_SIGMA",
    "CH03_GRAD_MU",
    "CH03_GRAD_SIGMA",
    "CH03_LG_B",
    "CH03_LG_NOISE_STD",
    "CH03_LG_W",
    "CH03_LG_X",
    "CH04_ACTIVE_MU",
    "CH04_CYCLICAL",
    "CH04_FREE_BITS_FLOOR",
    "CH04_FREE_BITS_KL",
    "CH05_CAPACITY",
    "CH05_CAPACITY_KL",
    "CH05_CAPACITY_RECON",
    "CH05_CAPACITY_STEP",
    "CH05_POINT_A",
    "CH05_POINT_B",
    "ch03_linear_gaussian",
    "check_ch01_extra_bits",
    "check_ch01_forward_fit_std",
    "check_ch01_kl_bits",
    "check_ch02_best_sigma",
    "check_ch02_grad_logvar",
    "check_ch02_kl_by_hand",
    "check_ch03_mean_field_gap",
    "check_ch03_prior_as_q",
    "check_ch03_score_variance",
    "check_ch04_active_units",
    "check_ch04_cyclical_beta",
    "check_ch04_free_bits",
    "check_ch05_capacity_loss",
    "check_ch05_indifferent_beta",
    "check_ch05_mig_duplicate",
]
