"""Wall-clock durations, one clock for all of edgeport: ``time.perf_counter`` (monotonic, the finest the OS gives).

- ``Stopwatch``: ``with`` blocks add their seconds to ``.seconds`` (a stage's run, an evaluation summed over a
  training run); ``start()`` starts it outside a block, for a region that spans a long function; reading
  ``.seconds`` while it runs includes the running lap.
- ``timed(call, kwargs)``: one call's result and seconds; only ``call(**kwargs)`` lies between the two clock
  reads (the arguments are built beforehand, no ``with`` machinery inside a sub-millisecond region).
- ``repeat(call, kwargs, runs, min_seconds)``: the bench loop, ``timed`` calls until there are at least ``runs``
  of them *and* at least ``min_seconds`` have passed.

Hand-written because no library gives these semantics. The standard library's ``timeit.Timer`` switches the
garbage collector off while it times (a collection that a real caller pays would be left out), returns no result
(the workload keeps each row's logits), and counts loops (``repeat(repeat, number)``, ``autorange`` to 0.2 s), not
"at least N calls and at least S seconds". ``codetiming`` (not installed) would be a new dependency for a
context manager of a few lines, and prints every lap unless given ``logger=None``. Imports nothing from edgeport.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class Stopwatch:
    """Seconds summed over the ``with`` blocks (or ``start()``/``stop()`` laps) it has timed."""

    def __init__(self) -> None:
        self._done = 0.0
        self._since: float | None = None

    def start(self) -> Stopwatch:
        self._since = time.perf_counter()
        return self

    def stop(self) -> float:
        self._done += time.perf_counter() - self._since
        self._since = None
        return self._done

    def __enter__(self) -> Stopwatch:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def seconds(self) -> float:
        """Seconds timed so far, the running lap included."""
        return self._done + (time.perf_counter() - self._since if self._since is not None else 0.0)


def timed(call: Callable[..., Any], kwargs: dict[str, Any]) -> tuple[Any, float]:
    """``call(**kwargs)`` and the seconds it took: nothing else between the two clock reads."""
    t0 = time.perf_counter()
    out = call(**kwargs)
    return out, time.perf_counter() - t0


def repeat(call: Callable[..., Any], kwargs: dict[str, Any], runs: int, min_seconds: float) -> list[float]:
    """Seconds of each ``call(**kwargs)``, called until there are at least ``runs`` calls and at least
    ``min_seconds`` have passed since the first began (a 1 ms model gets thousands, a 200 ms one its ``runs``)."""
    times: list[float] = []
    clock = Stopwatch().start()
    while len(times) < runs or clock.seconds < min_seconds:
        times.append(timed(call, kwargs)[1])
    return times
