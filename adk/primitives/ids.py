"""UUIDv6 ids for what the runtime generates (contexts, dispatches, media).

``uuid6.uuid6()`` builds each id through several Python-level integer steps; this module
produces the same RFC 9562 version-6 layout from one ``time.time_ns()`` read and 62 bits
from a per-process generator seeded by ``os.urandom`` (reseeded after ``fork``), several
times faster. Ids are unique and sortable by creation time within a process (a strictly
increasing 100-ns timestamp is enforced). They are identifiers, not secrets.
"""

from __future__ import annotations

import os
import random
import time

__all__ = ["new_id"]

_GREGORIAN_OFFSET = 0x01B21DD213814000  # 100-ns intervals between 1582-10-15 and 1970-01-01
_last = 0
_rng = random.Random(os.urandom(16))
os.register_at_fork(after_in_child=lambda: _rng.seed(os.urandom(16)))


def new_id() -> str:
    """A new UUIDv6 string (``xxxxxxxx-xxxx-6xxx-yxxx-xxxxxxxxxxxx``).

    Layout (RFC 9562 §5.6): 60-bit Gregorian timestamp in 100-ns units, most significant
    bits first; version 6; variant ``10``; 14 random clock-sequence bits; 48 random node
    bits.
    """
    global _last
    ts = time.time_ns() // 100 + _GREGORIAN_OFFSET
    if ts <= _last:
        ts = _last + 1
    _last = ts
    rnd = _rng.getrandbits(62)
    return "%08x-%04x-%04x-%04x-%012x" % (  # noqa: UP031 (one formatting op is fastest)
        ts >> 28,
        (ts >> 12) & 0xFFFF,
        0x6000 | (ts & 0x0FFF),
        0x8000 | (rnd >> 48),
        rnd & 0xFFFFFFFFFFFF,
    )
