"""Progress bars for a person at a terminal: a bar redraws itself with carriage returns, which in a log file or a
CI console are one growing line of noise, so with stderr not a terminal there is no bar at all."""

from __future__ import annotations

import sys


def terminal_progress(iterable=None, *, show: bool = True, **kw):
    """``tqdm(iterable, **kw)`` drawn only when stderr is a terminal (and ``show``: e.g. the main process only), and
    only once the work has taken a second (short work draws nothing); it is cleared when done. Lines for a log go
    through ``tqdm.write`` (``bar.write``), which prints whether or not the bar is drawn."""
    from tqdm.auto import tqdm

    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):  # no stderr, or a closed one
        tty = False
    return tqdm(iterable, **{"delay": 1.0, "leave": False, "dynamic_ncols": True} | kw, disable=not (tty and show))
