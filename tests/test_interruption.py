"""SIGKILL a real `edgeport run` at named moments - inside the atomic publish, inside the manifest update - and at
a random one, then re-run it: the re-run completes and its results equal an uninterrupted run's exactly (metrics
without timings, and the sha256 of every output but metrics.json; CPU training with a fixed seed and thread count
is bit-deterministic, see tests/tinyrun.py). benchmarks/fault_injection.py does 20 such kills.
"""

from __future__ import annotations

import random

import pytest

import tinyrun


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    return tinyrun.reference(tmp_path_factory.mktemp("reference"))


def _check(row: dict) -> None:
    from pathlib import Path

    assert row["killed"], f"the fault did not fire: {row}"
    assert row["rerun_rc"] == 0, row.get("error")
    assert row["stale_lock_recovered"], "the killed run's lock was not reported as recovered"
    assert row["metrics_equal"], row
    run_dir = Path(row["run_dir"])
    leftovers = [p.name for p in run_dir.iterdir() if p.name.startswith((".tmp-", ".old-")) or p.suffix == ".tmp"]
    assert not leftovers, leftovers
    _assert_up_to_date(row["config"])


def _assert_up_to_date(config: str) -> None:
    """After the resume, nothing is left to do: every enabled stage plans as 'skip'."""
    from edgeport.config import load_config
    from edgeport.pipeline import Manifest, make_plan, run_dir_for
    from edgeport.stages import STAGES

    cfg = load_config(config)
    plan = make_plan(STAGES, cfg, Manifest.load(run_dir_for(cfg)))
    assert {i.stage.name: i.action for i in plan if i.action != "disabled"} == {"teacher": "skip", "distill": "skip"}


def test_fault_points_are_known():
    from edgeport.pipeline.faults import POINTS

    for scenario, fault in FAST + SLOW:
        assert fault.partition(":")[0] in POINTS


FAST = [("force", "publish.moved-aside:1"),  # inside the atomic publish: old version aside, new one not in place
        ("fresh", "manifest.tmp-written:4")]  # inside the manifest update: distill's "done" written, not renamed
SLOW = [("fresh", "stage.published:2"), ("fresh", "manifest.tmp-partial:2"), ("fresh", "stage.running-marked:1"),
        ("force", "publish.renamed:1")]


@pytest.mark.parametrize("scenario,fault", FAST + [pytest.param(*c, marks=pytest.mark.slow) for c in SLOW])
def test_kill_at_fault_point_then_resume(ref, tmp_path, scenario, fault):
    _check(tinyrun.kill_and_resume(ref, tmp_path, scenario, fault))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_kill_at_random_moment_then_resume(ref, tmp_path, seed):
    delay = random.Random(seed).uniform(2.0, 10.0)
    row = tinyrun.kill_and_resume(ref, tmp_path, "fresh", delay=delay)
    if not row["killed"]:
        pytest.skip(f"the run finished within {delay:.1f}s, before the kill")
    _check(row)
