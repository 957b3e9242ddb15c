"""Test-only fault injection: prove that a run killed at any moment resumes correctly.

``EDGEPORT_FAULT=<point>[:<n>]`` makes the process SIGKILL itself the n-th time (default: the first) it reaches the
named point. SIGKILL, not an exception: no ``finally``, no ``atexit``, no flush - exactly what a power cut, the OOM
killer or a cancelled CI job does. Used by tests/test_interruption.py and benchmarks/fault_injection.py; when the
variable is unset (always, in real use) a point costs one environment lookup.

Points (in the order a stage reaches them):
  stage.running-marked      the manifest says the stage is running; nothing is written yet
  stage.ran                 the stage returned; its outputs are complete in .tmp-<stage>/, not yet published
  publish.moved-aside       the previous version is renamed to .old-<stage>/, the new one not yet in place
  publish.renamed           the new version is in place, the previous one not yet deleted
  stage.published           published, the manifest not yet updated
  manifest.tmp-partial      half of the new manifest is written to its temp file
  manifest.tmp-written      the new manifest is complete in its temp file, not yet renamed over the old one
"""

from __future__ import annotations

import os
import signal

POINTS = ("stage.running-marked", "stage.ran", "publish.moved-aside", "publish.renamed", "stage.published",
          "manifest.tmp-partial", "manifest.tmp-written")
_hits: dict[str, int] = {}


def fault_point(name: str) -> None:
    spec = os.environ.get("EDGEPORT_FAULT")
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
