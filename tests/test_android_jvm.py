"""Runs android-demo/run-jvm-tests.sh (kotlinc + JUnit on the JVM): Kotlin token ids == Python's for every case, the
app logic's tests, and the app layer's kotlinc type-check against the LiteRT/Android API stubs (plus its negative
control, which must fail to compile).

Slow (first run installs kotlin-compiler from npm and compiles, ~2-3 minutes): pass --runslow, or run the script."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_kotlin_text_pipeline_on_the_jvm():
    if not (shutil.which("java") and shutil.which("npm")):
        pytest.skip("needs a JDK and npm")
    proc = subprocess.run(["bash", str(ROOT / "android-demo/run-jvm-tests.sh")], capture_output=True, text=True,
                          timeout=1200)
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0 and last.endswith("0 failed"), proc.stdout[-3000:] + proc.stderr[-2000:]
