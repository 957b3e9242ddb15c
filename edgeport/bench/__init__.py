"""Latency: ``host`` (measured here), ``device`` (measured on a phone over adb) and ``estimate`` (roofline from
counted operations and a profile's published hardware figures). Every number carries its ``kind``."""

from .api import bench_artifact, bench_targets, budget_failures
from .host import measure_latency

__all__ = ["bench_artifact", "bench_targets", "budget_failures", "measure_latency"]
