"""Tests of chapter 01's exercise checkers: answers at the stated precision and sampled
answers at the suggested size pass; every named mistake is recognised; NaN, wrong types and
None get clear messages."""

from __future__ import annotations

import math

import pytest
import torch

from course_vae import coding
from course_vae import exercises as ex


def _kl_bits(q, p):
    return sum(a * math.log2(a / b) for a, b in zip(q, p, strict=True))


def _mixture_moments():
    w, mu, sd = ex.CH01_MIX_WEIGHTS, ex.CH01_MIX_MEANS, ex.CH01_MIX_STDS
    mean = sum(wk * mk for wk, mk in zip(w, mu, strict=True))
    second = sum(wk * (sk**2 + mk**2) for wk, mk, sk in zip(w, mu, sd, strict=True))
    return mean, math.sqrt(second - mean**2)


def _extra_bits():
    # Shannon lengths for P = (0.4, 0.4, 0.2): ceil(1.32) = 2, 2, ceil(2.32) = 3
    lengths = [math.ceil(-math.log2(p)) for p in ex.CH01_CODE_P]
    assert lengths == [2, 2, 3]
    h = -sum(q * math.log2(q) for q in ex.CH01_CODE_Q)
    return sum(q * n for q, n in zip(ex.CH01_CODE_Q, lengths, strict=True)) - h


RIGHT = {
    "kl_bits": (ex.check_ch01_kl_bits, lambda: _kl_bits(ex.CH01_Q, ex.CH01_P)),
    "extra_bits": (ex.check_ch01_extra_bits, _extra_bits),
    "forward_fit": (ex.check_ch01_forward_fit_std, lambda: _mixture_moments()[1]),
}


@pytest.mark.parametrize("key", list(RIGHT))
def test_contract_and_two_decimal_answers_pass(key, checker_contract):
    checker, right = RIGHT[key]
    checker_contract(checker, right(), [right() + 0.5, -right()])
    checker(round(right(), 2))  # the precision the exercise asks for
    checker(round(right(), 3))


def test_the_rounded_answers_the_issue_quoted_pass():
    ex.check_ch01_kl_bits(0.27)


def test_kl_bits_mistakes_are_named():
    nats = _kl_bits(ex.CH01_Q, ex.CH01_P) * math.log(2)
    reverse = _kl_bits(ex.CH01_P, ex.CH01_Q)
    for wrong, name in [(nats, "nats"), (reverse, "KL\\(P\\|\\|Q\\)"),
                        (round(reverse, 2), "other direction")]:
        with pytest.raises(AssertionError, match=name):
            ex.check_ch01_kl_bits(wrong)


def test_extra_bits_measured_on_a_sampled_message_passes():
    """Encode 10,000 sampled symbols with P's Shannon code, count bits, subtract H(Q)."""
    code = coding.shannon_code(ex.CH01_CODE_P)
    h = -sum(q * math.log2(q) for q in ex.CH01_CODE_Q)
    for seed in range(5):
        message = coding.sample_message(ex.CH01_CODE_Q, 10_000, seed=seed)
        measured = len(coding.encode(message, code)) / 10_000 - h
        ex.check_ch01_extra_bits(measured)


def test_extra_bits_lies_in_the_wrong_code_theorem_range():
    kl = _kl_bits(ex.CH01_CODE_Q, ex.CH01_CODE_P)
    assert kl <= _extra_bits() < kl + 1


def test_extra_bits_mistakes_are_named():
    kl = _kl_bits(ex.CH01_CODE_Q, ex.CH01_CODE_P)
    h = -sum(q * math.log2(q) for q in ex.CH01_CODE_Q)
    own = sum(q * math.ceil(-math.log2(q)) for q in ex.CH01_CODE_Q)
    for wrong, name in [(kl, "without rounding up"), (_extra_bits() + h, "average length"),
                        (own - h, "Q's own"), (_extra_bits() + h - own, "over Q's Shannon"),
                        (_extra_bits() * math.log(2), "nats")]:
        with pytest.raises(AssertionError, match=name):
            ex.check_ch01_extra_bits(wrong)


def test_forward_fit_from_a_million_samples_passes():
    w, mu, sd = (torch.tensor(v, dtype=torch.float64) for v in
                 (ex.CH01_MIX_WEIGHTS, ex.CH01_MIX_MEANS, ex.CH01_MIX_STDS))
    for seed in range(3):
        gen = torch.Generator().manual_seed(seed)
        k = torch.multinomial(w, 1_000_000, replacement=True, generator=gen)
        x = mu[k] + sd[k] * torch.randn(1_000_000, generator=gen, dtype=torch.float64)
        ex.check_ch01_forward_fit_std(float(x.std()))


def test_forward_fit_mistakes_are_named():
    s = _mixture_moments()[1]
    for wrong, name in [(s**2, "variance"), (0.85, "averaging the components' stds"),
                        (math.sqrt(0.3 * 0.25 + 0.7), "within-component"), (1.0, "reverse")]:
        with pytest.raises(AssertionError, match=name):
            ex.check_ch01_forward_fit_std(wrong)


def test_shannon_code_is_a_prefix_code_with_ceil_lengths():
    for probs in (ex.CH01_CODE_P, ex.CH01_CODE_Q, (0.5, 0.25, 0.125, 0.125)):
        code = coding.shannon_code(probs)
        assert coding.is_prefix_free(code) and coding.kraft_sum(code) <= 1
        assert coding.code_lengths(code) == [math.ceil(-math.log2(p) - 1e-12) for p in probs]
