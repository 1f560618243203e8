"""Counter-based randomness: every draw is a pure function of (seed, labels), so any day, unit or request
can be recomputed alone, in any order, and a failing run replays exactly."""

from __future__ import annotations

import hashlib

import numpy as np

_SEP = "\x1f"


def h64(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(_SEP.join(map(str, parts)).encode(), digest_size=8).digest(), "big")


def h64_from(*prefix: object):
    """`h64(*prefix, *rest)` as a function of rest, the prefix hashed once (blake2b is sequential, so the digest
    is the same): for the per-row draws of a day, whose labels share (seed, purpose, system, day)."""
    base = hashlib.blake2b((_SEP.join(map(str, prefix)) + _SEP).encode(), digest_size=8)

    def h(*rest: object) -> int:
        x = base.copy()
        x.update(_SEP.join(map(str, rest)).encode())
        return int.from_bytes(x.digest(), "big")

    return h


def u01(*parts: object) -> float:
    """Uniform in [0, 1) from the labels."""
    return h64(*parts) / 2.0**64


def gen(*parts: object) -> np.random.Generator:
    """A numpy generator seeded by the labels (PCG64; stable for a pinned numpy)."""
    return np.random.default_rng(h64(*parts))


def pick(seq, *parts: object):
    return seq[h64(*parts) % len(seq)]
