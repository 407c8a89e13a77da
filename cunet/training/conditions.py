"""Condition vectors: which instruments a C-U-Net is asked to separate.

A condition is a vector over `config.instruments`; the training target for condition c is
the magnitude of `sum_i c_i * stem_i`. The families of `config.data.conditions`:

- "one_hot": one instrument (1 at its index);
- "sums": two or more instruments (every subset of size >= 2);
- "all": the all-ones vector (target = the mixture);
- "zero": the zero vector (target = silence).

Training draws a family uniformly among the configured ones, then a member uniformly
within it; validation uses every distinct vector once.
"""

from __future__ import annotations

import itertools

import numpy as np


def family_vectors(family: str, n: int) -> list[tuple]:
    """The condition vectors of one family over `n` instruments."""
    if family == "one_hot":
        return [tuple(float(i == k) for i in range(n)) for k in range(n)]
    if family == "sums":
        return [
            tuple(float(i in subset) for i in range(n))
            for size in range(2, n + 1)
            for subset in itertools.combinations(range(n), size)
        ]
    if family == "all":
        return [tuple(1.0 for _ in range(n))]
    if family == "zero":
        return [tuple(0.0 for _ in range(n))]
    raise ValueError(f"unknown condition family {family!r}")


def condition_table(families, n: int) -> tuple[np.ndarray, np.ndarray]:
    """All condition vectors of `families` and their training probabilities.

    Returns (vectors (K, n) float32, probabilities (K,) float64 summing to 1), each distinct
    vector once (e.g. "all" and the 4-instrument sum coincide).
    """
    weights: dict = {}
    for family in families:
        members = family_vectors(family, n)
        for vector in members:
            weights[vector] = weights.get(vector, 0.0) + 1.0 / (len(families) * len(members))
    vectors = np.array(list(weights), dtype=np.float32).reshape(-1, n)
    probabilities = np.array(list(weights.values()), dtype=np.float64)
    return vectors, probabilities / probabilities.sum()
