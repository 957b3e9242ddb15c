"""Latency: ``host`` (measured here), ``device`` (measured on a phone over adb) and ``estimate`` (roofline from
counted operations and a profile's published hardware figures). Every number carries its ``kind``. Peak memory
is measured in a fresh process that loads and runs only the artifact (``memory``).

The names below load on first use: ``edgeport.cli`` imports ``bench.commands`` to build its parser, and
``edgeport --help`` must not pay for NumPy."""

from __future__ import annotations

import importlib

_EXPORTS = {"bench_artifact": ".api", "latency_feed": ".host", "measure_latency": ".host",
            "measure_peak_memory": ".memory", "tokenizer_feed": ".host"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
