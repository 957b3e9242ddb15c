"""edgeport.timing: the one clock every duration is measured with."""

from __future__ import annotations

import time

from edgeport.timing import Stopwatch, repeat, timed


def test_stopwatch_sums_its_blocks_and_reads_a_running_lap():
    watch = Stopwatch()
    assert watch.seconds == 0.0
    for _ in range(2):
        with watch:
            time.sleep(0.02)
    time.sleep(0.05)  # outside every block: not counted
    assert 0.04 <= watch.seconds < 0.09
    running = Stopwatch().start()
    time.sleep(0.02)
    assert running.seconds >= 0.02 and running.seconds <= running.stop()


def test_timed_returns_the_result_and_times_only_the_call():
    out, seconds = timed(lambda x: (time.sleep(0.01), x + 1)[1], {"x": 1})
    assert out == 2 and 0.01 <= seconds < 0.1


def test_repeat_runs_at_least_runs_calls_and_at_least_min_seconds():
    calls = []

    def call(ms):
        calls.append(ms)
        time.sleep(ms / 1e3)

    start = time.perf_counter()
    times = repeat(call, {"ms": 1}, runs=5, min_seconds=0.05)
    assert time.perf_counter() - start >= 0.05 and len(times) == len(calls) > 5  # the seconds decided
    assert all(t >= 1e-3 for t in times)
    assert len(repeat(call, {"ms": 0}, runs=30, min_seconds=0)) == 30  # the count decided
