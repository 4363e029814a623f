"""Tests of course_vae.coding: Huffman codes, encode/decode, and the KL = extra bits identity."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_vae import coding
from course_vae.kl import kl_discrete

# ---------------------------------------------------------------- strategies


@st.composite
def prob_vectors(draw, min_size: int = 1, max_size: int = 12) -> list[float]:
    """Positive probability vectors (normalised positive weights)."""
    w = draw(
        st.lists(
            st.floats(min_value=1e-3, max_value=1.0, allow_nan=False),
            min_size=min_size,
            max_size=max_size,
        )
    )
    total = math.fsum(w)
    p = [x / total for x in w]
    p[-1] = 1.0 - math.fsum(p[:-1])  # exact sum 1 up to rounding
    return p


@st.composite
def dyadic_vectors(draw, max_splits: int = 10) -> list[float]:
    """Dyadic distributions (every p_i = 2^-k_i), built by splitting leaves of a binary tree."""
    depths = [0]
    for _ in range(draw(st.integers(min_value=0, max_value=max_splits))):
        i = draw(st.integers(min_value=0, max_value=len(depths) - 1))
        d = depths.pop(i)
        depths[i:i] = [d + 1, d + 1]
    probs = [2.0**-d for d in depths]
    return draw(st.permutations(probs))


# ---------------------------------------------------------------- huffman_code


def test_huffman_known_dyadic_code():
    assert coding.huffman_code([0.5, 0.25, 0.125, 0.125]) == ["0", "10", "110", "111"]


def test_huffman_uniform_four_symbols_is_two_bits_each():
    assert coding.code_lengths(coding.huffman_code([0.25] * 4)) == [2, 2, 2, 2]


def test_huffman_single_symbol():
    assert coding.huffman_code([1.0]) == ["0"]


def test_huffman_tie_breaking_is_deterministic_and_order_dependent():
    p = [0.25, 0.25, 0.25, 0.25]
    assert coding.huffman_code(p) == coding.huffman_code(list(p))
    # ties are broken by symbol order, so symbol 0 gets the first (all-zero) codeword
    assert coding.huffman_code(p)[0] == "00"


@settings(max_examples=200, deadline=None)
@given(prob_vectors())
def test_huffman_is_prefix_free_and_satisfies_kraft(p):
    code = coding.huffman_code(p)
    assert len(code) == len(p)
    assert coding.is_prefix_free(code)
    assert coding.kraft_sum(code) <= 1.0 + 1e-12
    if len(p) > 1:  # Huffman codes are complete: Kraft sum exactly 1
        assert coding.kraft_sum(code) == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(dyadic_vectors())
def test_huffman_lengths_equal_minus_log2_p_for_dyadic(p):
    code = coding.huffman_code(p)
    if len(p) == 1:
        assert code == ["0"]
        return
    ideal = coding.ideal_code_lengths(p)
    assert coding.code_lengths(code) == [int(round(x)) for x in ideal.tolist()]
    assert torch.allclose(torch.tensor(coding.code_lengths(code), dtype=torch.float64), ideal)


@settings(max_examples=200, deadline=None)
@given(prob_vectors(min_size=2))
def test_huffman_average_length_within_one_bit_of_entropy(p):
    entropy = float(-(torch.tensor(p, dtype=torch.float64) * torch.log2(torch.tensor(p))).sum())
    length = coding.expected_length(p, coding.huffman_code(p))
    assert entropy - 1e-9 <= length < entropy + 1.0


@settings(max_examples=100, deadline=None)
@given(prob_vectors(min_size=2, max_size=6))
def test_huffman_beats_or_ties_a_fixed_length_code(p):
    fixed = math.ceil(math.log2(len(p)))
    assert coding.expected_length(p, coding.huffman_code(p)) <= fixed + 1e-12


# ---------------------------------------------------------------- encode / decode


@settings(max_examples=100, deadline=None)
@given(prob_vectors(min_size=1, max_size=8), st.data())
def test_decode_inverts_encode(p, data):
    code = coding.huffman_code(p)
    msg = data.draw(st.lists(st.integers(min_value=0, max_value=len(p) - 1), max_size=50))
    bits = coding.encode(msg, code)
    assert len(bits) == sum(len(code[x]) for x in msg)
    assert coding.decode(bits, code) == msg


def test_encode_accepts_integer_tensor():
    code = coding.huffman_code([0.5, 0.25, 0.25])
    msg = torch.tensor([2, 0, 1, 0])
    assert coding.encode(msg, code) == code[2] + code[0] + code[1] + code[0]


def test_decode_rejects_incomplete_tail_and_non_prefix_code():
    code = ["0", "10", "11"]
    with pytest.raises(ValueError, match="no complete codeword"):
        coding.decode("01", code)
    with pytest.raises(ValueError, match="prefix-free"):
        coding.decode("0", ["0", "01"])


def test_is_prefix_free_detects_prefix():
    assert coding.is_prefix_free(["0", "10", "11"])
    assert not coding.is_prefix_free(["1", "10", "0"])
    assert not coding.is_prefix_free(["01", "0"])


def test_kraft_sum_of_known_code():
    assert coding.kraft_sum(["0", "10", "110"]) == pytest.approx(0.5 + 0.25 + 0.125)


# ---------------------------------------------------------------- extra bits = KL


@settings(max_examples=100, deadline=None)
@given(dyadic_vectors(max_splits=6), st.data())
def test_extra_expected_bits_equal_kl_in_bits_for_dyadic(p, data):
    q = data.draw(st.permutations(p))  # another dyadic distribution on the same alphabet
    extra = coding.expected_length(q, coding.huffman_code(p)) - coding.expected_length(
        q, coding.huffman_code(q)
    )
    if len(p) > 1:
        assert extra == pytest.approx(float(kl_discrete(q, p, base=2)), abs=1e-12)
    else:
        assert extra == 0.0


def test_measured_extra_bits_on_a_long_message_match_kl():
    q = [0.5, 0.25, 0.125, 0.125]
    p = [0.125, 0.125, 0.25, 0.5]
    msg = coding.sample_message(q, 20_000, seed=1)
    extra = (
        len(coding.encode(msg, coding.huffman_code(p)))
        - len(coding.encode(msg, coding.huffman_code(q)))
    ) / len(msg)
    lengths_diff = torch.tensor(coding.code_lengths(coding.huffman_code(p))) - torch.tensor(
        coding.code_lengths(coding.huffman_code(q))
    )
    per_symbol = lengths_diff[msg].double()
    se = float(per_symbol.std() / math.sqrt(len(msg)))
    assert abs(extra - float(kl_discrete(q, p, base=2))) < 4 * se


def test_ideal_code_lengths():
    assert torch.allclose(
        coding.ideal_code_lengths([0.5, 0.25, 0.25]),
        torch.tensor([1.0, 2.0, 2.0], dtype=torch.float64),
    )


# ---------------------------------------------------------------- sample_message


def test_sample_message_is_seeded_and_follows_probs():
    p = [0.7, 0.2, 0.1]
    a = coding.sample_message(p, 30_000, seed=3)
    b = coding.sample_message(p, 30_000, seed=3)
    assert torch.equal(a, b)
    assert not torch.equal(a, coding.sample_message(p, 30_000, seed=4))
    freq = torch.bincount(a, minlength=3).double() / len(a)
    assert torch.allclose(freq, torch.tensor(p, dtype=torch.float64), atol=0.015)


def test_sample_message_leaves_global_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    coding.sample_message([0.5, 0.5], 100, seed=9)
    assert torch.equal(torch.rand(3), expected)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "bad, match",
    [
        ([0.5, 0.6], "sum to 1"),
        ([1.0, 0.0], "> 0"),
        ([[0.5, 0.5]], "1-D"),
        ([], "1-D"),
        ([float("nan"), 1.0], "NaN"),
    ],
)
def test_huffman_rejects_bad_probs_naming_the_argument(bad, match):
    with pytest.raises(ValueError, match=match) as info:
        coding.huffman_code(bad)
    assert "probs" in str(info.value)


def test_bad_code_and_message_raise_clear_errors():
    with pytest.raises(ValueError, match=r"code\[1\]"):
        coding.kraft_sum(["0", "12"])
    with pytest.raises(TypeError, match="code"):
        coding.kraft_sum("0101")
    with pytest.raises(ValueError, match="symbols must be ints"):
        coding.encode([0, 3], ["0", "1"])
    with pytest.raises(ValueError, match="n must be a positive integer"):
        coding.sample_message([1.0], 0)
    with pytest.raises(ValueError, match="symbols"):
        coding.expected_length([0.5, 0.5], ["0", "10", "11"])


def test_extreme_probabilities_stay_finite():
    p = [1 - 1e-12, 1e-12]
    code = coding.huffman_code(p)
    assert coding.code_lengths(code) == [1, 1]
    assert torch.isfinite(coding.ideal_code_lengths(p)).all()


# ---------------------------------------------------------------- block_distribution


def test_block_distribution_is_the_product_distribution():
    p = [0.6, 0.3, 0.1]
    b = coding.block_distribution(p, 3)
    assert b.numel() == 27
    assert float(b.sum()) == pytest.approx(1.0, abs=1e-12)
    # block index 1*9 + 2*3 + 0 stands for symbols (1, 2, 0)
    assert float(b[1 * 9 + 2 * 3 + 0]) == pytest.approx(0.3 * 0.1 * 0.6, rel=1e-12)
    assert torch.equal(coding.block_distribution(p, 1), torch.tensor(p, dtype=torch.float64))


@pytest.mark.parametrize("k", [1, 2, 4, 6])
def test_block_huffman_overhead_below_one_over_k(k):
    p = [0.6, 0.3, 0.1]
    pk = coding.block_distribution(p, k)
    entropy = -sum(x * math.log2(x) for x in p)
    per_symbol = coding.expected_length(pk, coding.huffman_code(pk)) / k
    assert entropy - 1e-9 <= per_symbol < entropy + 1.0 / k


def test_block_distribution_rejects_huge_blocks():
    with pytest.raises(ValueError, match="k=20"):
        coding.block_distribution([0.5, 0.5], 20)
    with pytest.raises(ValueError, match="k must be"):
        coding.block_distribution([0.5, 0.5], 0)


def test_shannon_code_lengths_and_the_wrong_code_theorem():
    import math

    from course_vae.coding import block_distribution, code_lengths, is_prefix_free, shannon_code

    q, p = [0.6, 0.3, 0.1], [0.2, 0.3, 0.5]
    kl = sum(a * math.log2(a / b) for a, b in zip(q, p, strict=True))
    h = -sum(a * math.log2(a) for a in q)
    for k in (1, 2, 3):
        qk, pk = block_distribution(q, k), block_distribution(p, k)
        code = shannon_code(pk)
        assert is_prefix_free(code)
        lengths = code_lengths(code)
        assert lengths == [math.ceil(-math.log2(float(x)) - 1e-12) for x in pk]
        excess = sum(float(a) * n for a, n in zip(qk, lengths, strict=True)) / k - h
        assert kl - 1e-12 <= excess < kl + 1 / k
    assert shannon_code([0.5, 0.25, 0.25]) == ["0", "10", "11"]  # dyadic: exact -log2 p
