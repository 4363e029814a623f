"""Prefix codes and their cost: Huffman codes, encoding, decoding, code lengths in bits.

The coding reading of KL: a message drawn from Q, written with an ideal code built for
P (codeword lengths -log2 P(x)), costs on average
E_Q[-log2 P(x)] - E_Q[-log2 Q(x)] = KL(Q || P) bits per symbol more than the
code built for Q.  The functions here let a chapter *measure* that.

A code is a list of bit strings: ``code[i]`` is the codeword of symbol ``i``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from typing import Any

import torch

from course_vae._validate import as_float_tensor, check_finite, check_positive_int, check_seed

__all__ = [
    "check_probs",
    "huffman_code",
    "code_lengths",
    "kraft_sum",
    "is_prefix_free",
    "encode",
    "decode",
    "expected_length",
    "ideal_code_lengths",
    "shannon_code",
    "sample_message",
    "block_distribution",
]


def check_probs(probs: Any, name: str = "probs") -> torch.Tensor:
    """Return ``probs`` as a 1-D float64 tensor of entries > 0 summing to 1, or raise naming it."""
    t = as_float_tensor(probs, name).to(torch.float64)
    if t.dim() != 1 or t.numel() == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D probability vector, got shape {tuple(t.shape)}"
        )
    check_finite(t, name)
    if (t <= 0).any():
        raise ValueError(
            f"{name} must be > 0 for every symbol (a code must be able to write every symbol)"
        )
    if abs(float(t.sum()) - 1.0) > 1e-9:
        raise ValueError(f"{name} must sum to 1, sums to {float(t.sum()):.6g}")
    return t


def _check_code(code: Any, name: str = "code") -> list[str]:
    if isinstance(code, (str, bytes)) or not isinstance(code, Sequence) or len(code) == 0:
        raise TypeError(f"{name} must be a non-empty list of bit strings (code[i] for symbol i)")
    for i, w in enumerate(code):
        if not isinstance(w, str) or w == "" or set(w) - {"0", "1"}:
            raise ValueError(f"{name}[{i}] must be a non-empty string of '0'/'1', got {w!r}")
    return list(code)


def huffman_code(probs: Any) -> list[str]:
    """Huffman's optimal prefix code for ``probs``: minimises sum_i p_i * len(code[i]).

    Ties are broken deterministically: among equal weights the node created first
    (leaves in symbol order, then merged nodes in creation order) is merged first
    and gets bit '0'.  A one-symbol alphabet gets the codeword '0'.
    """
    p = check_probs(probs)
    n = p.numel()
    if n == 1:
        return ["0"]
    # heap entries: (weight, creation order, symbols under this node)
    heap: list[tuple[float, int, list[int]]] = [(float(p[i]), i, [i]) for i in range(n)]
    heapq.heapify(heap)
    words = [""] * n
    order = n
    while len(heap) > 1:
        w0, _, s0 = heapq.heappop(heap)
        w1, _, s1 = heapq.heappop(heap)
        for s in s0:
            words[s] = "0" + words[s]
        for s in s1:
            words[s] = "1" + words[s]
        heapq.heappush(heap, (w0 + w1, order, s0 + s1))
        order += 1
    return words


def code_lengths(code: Any) -> list[int]:
    """The codeword lengths len(code[i]) in bits."""
    return [len(w) for w in _check_code(code)]


def kraft_sum(code: Any) -> float:
    """Kraft sum sum_i 2^{-len(code[i])}; a prefix code has Kraft sum <= 1."""
    return math.fsum(2.0 ** -len(w) for w in _check_code(code))


def is_prefix_free(code: Any) -> bool:
    """True if no codeword is a prefix of another (so a bit string decodes uniquely)."""
    words = sorted(_check_code(code))
    # after sorting, a word that is a prefix of another is immediately followed by one such word
    return all(not words[i + 1].startswith(words[i]) for i in range(len(words) - 1))


def _as_message(message: Any, n_symbols: int) -> list[int]:
    if isinstance(message, torch.Tensor):
        if message.dim() != 1 or message.is_floating_point() or message.is_complex():
            raise ValueError("message must be a 1-D integer tensor or a sequence of ints")
        message = message.tolist()
    if isinstance(message, (str, bytes)) or not isinstance(message, Sequence):
        raise TypeError("message must be a sequence of symbol indices (ints)")
    out = []
    for x in message:
        if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x < n_symbols:
            raise ValueError(f"message holds {x!r}; symbols must be ints in [0, {n_symbols})")
        out.append(x)
    return out


def encode(message: Any, code: Any) -> str:
    """Concatenate the codewords of the symbols of ``message``: code[x_1] code[x_2] ..."""
    code = _check_code(code)
    return "".join(code[x] for x in _as_message(message, len(code)))


def decode(bits: str, code: Any) -> list[int]:
    """Inverse of :func:`encode` for a prefix-free ``code``: read ``bits`` codeword by codeword."""
    code = _check_code(code)
    if not is_prefix_free(code):
        raise ValueError("code must be prefix-free to decode")
    if not isinstance(bits, str) or set(bits) - {"0", "1"}:
        raise ValueError("bits must be a string of '0'/'1'")
    lookup = {w: i for i, w in enumerate(code)}
    longest = max(len(w) for w in code)
    out: list[int] = []
    start = 0
    for end in range(1, len(bits) + 1):
        sym = lookup.get(bits[start:end])
        if sym is not None:
            out.append(sym)
            start = end
        elif end - start >= longest:
            raise ValueError(f"bits hold {bits[start:end]!r} at position {start}: no codeword")
    if start != len(bits):
        raise ValueError(f"bits end with {bits[start:]!r}, which is no complete codeword")
    return out


def expected_length(probs: Any, code: Any) -> float:
    """Average codeword length sum_i probs_i * len(code[i]) in bits per symbol."""
    p = check_probs(probs)
    lengths = code_lengths(code)
    if len(lengths) != p.numel():
        raise ValueError(f"probs has {p.numel()} symbols but code has {len(lengths)} codewords")
    return math.fsum(float(pi) * li for pi, li in zip(p, lengths, strict=True))


def ideal_code_lengths(probs: Any) -> torch.Tensor:
    """Ideal (Shannon) code lengths -log2 probs_i in bits, not rounded to integers."""
    return -torch.log2(check_probs(probs))


def shannon_code(probs: Any) -> list[str]:
    """A prefix code with Shannon's lengths l_i = ceil(-log2 probs_i) (canonical codewords).

    Kraft: sum_i 2^{-l_i} <= sum_i probs_i = 1, so such a code exists. Written for P and
    used on symbols from Q it costs E_Q[l] bits per symbol, and (Cover & Thomas, Thm 5.4.3)
    H(Q) + KL(Q || P) <= E_Q[l] < H(Q) + KL(Q || P) + 1.
    """
    p = check_probs(probs)
    # ceil with a guard so that an exact power of 2 is not pushed up by rounding
    lengths = [max(1, math.ceil(-math.log2(float(pi)) - 1e-12)) for pi in p]
    words = [""] * len(lengths)
    value, previous = 0, 0
    for i in sorted(range(len(lengths)), key=lambda j: (lengths[j], j)):
        value <<= lengths[i] - previous
        words[i] = format(value, f"0{lengths[i]}b")
        value, previous = value + 1, lengths[i]
    return words


def sample_message(probs: Any, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` i.i.d. symbols drawn from ``probs`` with a private generator seeded by ``seed``."""
    p = check_probs(probs)
    n = check_positive_int(n, "n")
    gen = torch.Generator().manual_seed(check_seed(seed))
    return torch.multinomial(p, n, replacement=True, generator=gen)


def block_distribution(probs: Any, k: int) -> torch.Tensor:
    """Distribution of a block of ``k`` i.i.d. symbols: P(x_1..x_k) = prod_j probs[x_j].

    Block b (0-based) stands for the symbols x_1..x_k of its base-n digits, x_1 most
    significant.  Coding blocks shrinks Huffman's overhead to < 1/k bit per symbol.
    """
    p = check_probs(probs)
    k = check_positive_int(k, "k")
    if p.numel() ** k > 100_000:
        raise ValueError(f"k={k} gives {p.numel()}**{k} blocks; keep it at most 100000")
    out = p
    for _ in range(k - 1):
        out = torch.outer(out, p).flatten()
    return out
