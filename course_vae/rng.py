"""Random-number generators: one helper so every sampling function takes the same ``generator``."""

from __future__ import annotations

import torch


def as_generator(
    generator: torch.Generator | int | None, device: torch.device | str = "cpu"
) -> torch.Generator | None:
    """``None`` (use the global RNG), a given generator, or a fresh one seeded with an int."""
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, bool) or not isinstance(generator, int):
        raise TypeError(
            "generator must be a torch.Generator, an int seed or None, "
            f"got {type(generator).__name__}"
        )
    return torch.Generator(device=device).manual_seed(generator)
