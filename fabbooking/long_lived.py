"""What the process made to start with is kept out of the garbage collector's full passes.

A serving process holds some 300,000 objects from its start (modules, routes, Piccolo's
tables, templates, Babel's locale data) that live as long as it does. CPython's full
collection (generation 2) walks every one of them, each time: 60–150 ms during which no
request moves, a few times a minute under load — most of the bookings' p99 on PostgreSQL
(see docs/performance.md, « Pauses of the garbage collector »). Once started, the process
collects what startup left, then moves the rest to the permanent generation
(``gc.freeze``): a full pass then walks only what was made since.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect what starting up left behind, and freeze the rest (run once started)."""
    gc.collect()
    gc.freeze()
