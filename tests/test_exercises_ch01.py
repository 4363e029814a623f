"""Tests of chapter 01's exercise checkers, as a learner would try them (issue 19): the exact
answer, the answer rounded to the asked precision, pencil routes with coarse logs, Monte
Carlo answers at the suggested size over many seeds (raw and rounded), every named slip
named after itself; NaN, wrong types and None get clear messages."""

from __future__ import annotations

import math

import pytest
import torch

from course_vae import coding
from course_vae import exercises as ex
from course_vae.exercises.verdict import reset_attempts


@pytest.fixture(autouse=True)
def _fresh_attempts():
    reset_attempts()


def _kl_bits(q, p):
    return sum(a * math.log2(a / b) for a, b in zip(q, p, strict=True))


def _entropy(q):
    return -sum(a * math.log2(a) for a in q)


def _mixture_std():
    w, mu, sd = ex.CH01_MIX_WEIGHTS, ex.CH01_MIX_MEANS, ex.CH01_MIX_STDS
    mean = sum(wk * mk for wk, mk in zip(w, mu, strict=True))
    second = sum(wk * (sk**2 + mk**2) for wk, mk, sk in zip(w, mu, sd, strict=True))
    return math.sqrt(second - mean**2)


def _extra_bits():
    # Shannon lengths for P = (0.2, 0.2, 0.6): ceil(2.32) = 3, 3, ceil(0.74) = 1
    lengths = [math.ceil(-math.log2(p)) for p in ex.CH01_CODE_P]
    assert lengths == [3, 3, 1]
    return sum(q * n for q, n in zip(ex.CH01_CODE_Q, lengths, strict=True)) - _entropy(
        ex.CH01_CODE_Q)


RIGHT = {
    "kl_bits": (ex.check_ch01_kl_bits, lambda: _kl_bits(ex.CH01_Q, ex.CH01_P)),
    "extra_bits": (ex.check_ch01_extra_bits, _extra_bits),
    "forward_fit": (ex.check_ch01_forward_fit_std, _mixture_std),
}


@pytest.mark.parametrize("key", list(RIGHT))
def test_contract_and_two_decimal_answers_pass(key, checker_contract):
    checker, right = RIGHT[key]
    checker_contract(checker, right(), [right() + 0.5, -right()])
    checker(round(right(), 2))  # the precision the exercise asks for
    checker(round(right(), 3))
    checker([round(right(), 2)])  # a one-element list, as a one-element tensor


def test_kl_bits_pencil_with_two_decimal_logs_passes():
    # log2 3 = 1.58, log2 1.5 = 0.58, log2 (1/6) = -2.58: 0.948 + 0.174 - 0.258 = 0.864
    pencil = 0.6 * 1.58 + 0.3 * 0.58 + 0.1 * -2.58
    for answer in (pencil, round(pencil, 2), 0.87):
        ex.check_ch01_kl_bits(answer)


def test_kl_bits_directions_differ_enough():
    """Issue 19: the old pair's directions differed by 0.012 bit, so a coarse right answer
    was named KL(P||Q) and (fwd + rev) / 2 was accepted."""
    fwd, rev = _kl_bits(ex.CH01_Q, ex.CH01_P), _kl_bits(ex.CH01_P, ex.CH01_Q)
    assert abs(fwd - rev) > 0.2
    with pytest.raises(AssertionError, match="average of both directions"):
        ex.check_ch01_kl_bits((fwd + rev) / 2)
    with pytest.raises(AssertionError, match="average of both directions"):
        ex.check_ch01_kl_bits(round((fwd + rev) / 2, 2))


def test_kl_bits_mistakes_are_named():
    kl = _kl_bits(ex.CH01_Q, ex.CH01_P)
    reverse = _kl_bits(ex.CH01_P, ex.CH01_Q)
    cross_entropy = -sum(q * math.log2(p) for q, p in zip(ex.CH01_Q, ex.CH01_P, strict=True))
    for wrong, name in [(kl * math.log(2), "nats, not bits"), (reverse, "KL\\(P\\|\\|Q\\)"),
                        (round(reverse, 2), "other direction"),
                        (reverse * math.log(2), "both the direction and the unit"),
                        (-kl, "the sign"), (round(-kl, 2), "the sign"),
                        (cross_entropy, "cross-entropy"), (round(cross_entropy, 2), "cross"),
                        (_entropy(ex.CH01_Q), "entropy H\\(Q\\) alone")]:
        with pytest.raises(AssertionError, match=name):
            ex.check_ch01_kl_bits(wrong)


def _measured_extra_bits(seed: int, n: int = ex.CH01_CODE_MESSAGE_LENGTH) -> float:
    """Encode a sampled message with P's Shannon code and count its bits per symbol."""
    code = coding.shannon_code(ex.CH01_CODE_P)
    message = coding.sample_message(ex.CH01_CODE_Q, n, seed=seed)
    return len(coding.encode(message, code)) / n - _entropy(ex.CH01_CODE_Q)


def test_extra_bits_measured_at_the_suggested_length_passes_for_every_seed():
    """40 seeds at the suggested 100,000 symbols, raw and rounded to 2 decimals: all pass
    (measured: 200 of 200 seeds both ways)."""
    for seed in range(40):
        measured = _measured_extra_bits(seed)
        ex.check_ch01_extra_bits(measured)
        ex.check_ch01_extra_bits(round(measured, 2))


def test_extra_bits_lies_in_the_wrong_code_theorem_range():
    kl = _kl_bits(ex.CH01_CODE_Q, ex.CH01_CODE_P)
    assert kl <= _extra_bits() < kl + 1


def test_extra_bits_mistakes_are_named():
    q = ex.CH01_CODE_Q
    kl = _kl_bits(q, ex.CH01_CODE_P)
    h = _entropy(q)
    own = sum(a * math.ceil(-math.log2(a)) for a in q)
    # Huffman for P = (0.2, 0.2, 0.6): lengths (2, 2, 1)
    huffman_p = sum(a * len(w) for a, w in zip(q, coding.huffman_code(ex.CH01_CODE_P),
                                              strict=True)) - h
    assert abs(huffman_p - (0.6 * 2 + 0.3 * 2 + 0.1 * 1 - h)) < 1e-12
    for wrong, name in [(kl, "without rounding up"), (_extra_bits() + h, "average length"),
                        (own - h, "Q's own Shannon"), (_extra_bits() + h - own, "over Q's Shannon"),
                        (_extra_bits() * math.log(2), "nats"), (kl + 1, "upper bound"),
                        (huffman_p, "Huffman code built for P"),
                        (round(huffman_p, 2), "Huffman code built for P")]:
        with pytest.raises(AssertionError, match=name):
            ex.check_ch01_extra_bits(wrong)


def test_extra_bits_a_short_message_is_told_to_grow():
    with pytest.raises(AssertionError, match="100,000 symbols"):
        ex.check_ch01_extra_bits(_extra_bits() + 1.5 * ex.ch01.TOLERANCE["extra_bits"])


def _sampled_std(seed: int) -> float:
    w, mu, sd = (torch.tensor(v, dtype=torch.float64) for v in
                 (ex.CH01_MIX_WEIGHTS, ex.CH01_MIX_MEANS, ex.CH01_MIX_STDS))
    gen = torch.Generator().manual_seed(seed)
    k = torch.multinomial(w, ex.CH01_MIX_SAMPLES, replacement=True, generator=gen)
    x = mu[k] + sd[k] * torch.randn(ex.CH01_MIX_SAMPLES, generator=gen, dtype=torch.float64)
    return float(x.std())


def test_forward_fit_from_a_million_samples_passes_for_every_seed():
    """20 seeds, raw and rounded to 2 decimals (measured: 200 of 200 seeds both ways)."""
    for seed in range(20):
        s = _sampled_std(seed)
        ex.check_ch01_forward_fit_std(s)
        ex.check_ch01_forward_fit_std(round(s, 2))


def test_forward_fit_mistakes_are_named():
    s = _mixture_std()
    for wrong, name in [(s**2, "variance"), (0.85, "averaging the components' stds"),
                        (math.sqrt(0.3 * 0.25 + 0.7), "within-component"),
                        (1.0, "one component's own std"), (1.8, "the mean m")]:
        with pytest.raises(AssertionError, match=name):
            ex.check_ch01_forward_fit_std(wrong)


def test_forward_fit_reverse_slip_is_the_real_reverse_fit():
    """Issue 19: the 'reverse' slip was 1.0, but the reverse-KL fit gives 1.085."""
    from course_vae.kl import fit_gaussian_1d

    d = torch.distributions
    f64 = torch.float64
    mixture = d.MixtureSameFamily(
        d.Categorical(torch.tensor(ex.CH01_MIX_WEIGHTS, dtype=f64)),
        d.Normal(torch.tensor(ex.CH01_MIX_MEANS, dtype=f64),
                 torch.tensor(ex.CH01_MIX_STDS, dtype=f64)))
    _, s_rev = fit_gaussian_1d(mixture.log_prob, "reverse", init=(0.0, 1.0))
    assert abs(s_rev - 1.085) < 1e-3
    for answer in (s_rev, 1.08, 1.09):
        with pytest.raises(AssertionError, match="reverse-KL fit \\(mode-seeking: it sits on"):
            ex.check_ch01_forward_fit_std(answer)
    with pytest.raises(AssertionError, match="lighter component"):
        ex.check_ch01_forward_fit_std(0.53)


def test_shannon_code_is_a_prefix_code_with_ceil_lengths():
    for probs in (ex.CH01_CODE_P, ex.CH01_CODE_Q, (0.5, 0.25, 0.125, 0.125)):
        code = coding.shannon_code(probs)
        assert coding.is_prefix_free(code) and coding.kraft_sum(code) <= 1
        assert coding.code_lengths(code) == [math.ceil(-math.log2(p) - 1e-12) for p in probs]


# ---------------------------------------------------------------- referee C


def test_referee_c_forward_fit_root_of_second_moment_is_named():
    """Finding 9: sqrt(E[x^2]) (forgot -m^2) gives 2.716."""
    with pytest.raises(AssertionError, match="square root of E_P\\[x\\^2\\]"):
        ex.check_ch01_forward_fit_std(2.716)


def test_referee_c_forward_fit_docstring_states_the_real_standard_error():
    """Finding 10: the docstring said 0.0013; the standard error is 0.000937."""
    mean, var, _, m4 = ex.ch01._mixture_moments()
    se = math.sqrt((m4 - var**2) / ex.CH01_MIX_SAMPLES) / (2 * math.sqrt(var))
    assert se == pytest.approx(0.000937, abs=5e-7)
    assert "0.00094" in ex.check_ch01_forward_fit_std.__doc__
    assert "0.0013" not in ex.check_ch01_forward_fit_std.__doc__
