"""Tests of chapter 01's exercise checkers: right answers pass, wrong ones raise, None reminds."""

from __future__ import annotations

import math

import pytest

from course_vae import exercises as ex


def _mixture_moments():
    w, mu, sd = ex.CH01_MIX_WEIGHTS, ex.CH01_MIX_MEANS, ex.CH01_MIX_STDS
    mean = sum(wk * mk for wk, mk in zip(w, mu, strict=True))
    second = sum(wk * (sk**2 + mk**2) for wk, mk, sk in zip(w, mu, sd, strict=True))
    return mean, math.sqrt(second - mean**2)


def _right_answers():
    kl_bits = sum(q * math.log2(q / p) for q, p in zip(ex.CH01_Q, ex.CH01_P, strict=True))
    # dyadic: Huffman lengths are -log2 p, so the extra bits are sum_i q_i (log2 q_i - log2 p_i)
    extra = sum(
        q * (math.log2(q) - math.log2(p))
        for q, p in zip(ex.CH01_CODE_Q, ex.CH01_CODE_P, strict=True)
    )
    return {
        ex.check_ch01_kl_bits: kl_bits,
        ex.check_ch01_extra_bits: extra,
        ex.check_ch01_forward_fit_std: _mixture_moments()[1],
    }


@pytest.mark.parametrize("checker", list(_right_answers()), ids=lambda f: f.__name__)
def test_right_passes_wrong_raises_none_reminds(checker, checker_contract):
    right = _right_answers()[checker]
    checker_contract(checker, right, [right + 0.1, right * math.log(2)])


def test_kl_bits_in_nats_is_wrong():
    """The classic slip: answering in nats instead of bits."""
    nats = sum(q * math.log(q / p) for q, p in zip(ex.CH01_Q, ex.CH01_P, strict=True))
    with pytest.raises(AssertionError):
        ex.check_ch01_kl_bits(nats)


def test_extra_bits_reversed_direction_is_wrong():
    """KL(P||Q) instead of KL(Q||P) is a different number for this pair."""
    reverse = sum(
        p * math.log2(p / q) for q, p in zip(ex.CH01_CODE_Q, ex.CH01_CODE_P, strict=True)
    )
    with pytest.raises(AssertionError):
        ex.check_ch01_extra_bits(reverse)


def test_non_numeric_answer_raises_type_error():
    with pytest.raises(TypeError):
        ex.check_ch01_kl_bits("0.5 bits")
