"""The make-style runner on fake stages (no torch): skip, force, fingerprints, integrity, lock, atomic publish."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import pytest

from edgeport.config import PipelineConfig
from edgeport.errors import ConfigError, LockError
from edgeport.pipeline import Manifest, execute, make_plan
from edgeport.pipeline.lock import RunLock


@dataclass(frozen=True)
class FakeSettings:
    section: dict  # the one config section this fake stage reads, as JSON
    data: object
    seed: int


class FakeStage:
    uses_data = True
    distributed = False
    key_metric = "value"

    def __init__(self, name, sections, upstream=None, fail=False):
        self.name, self.sections, self.upstream, self.fail, self.calls = name, sections, upstream, fail, 0

    def enabled(self, cfg):
        return True

    def inputs(self, cfg):
        return {"up": self.upstream} if self.upstream else {}

    def configure(self, cfg):
        return FakeSettings(cfg.section(self.sections[-1]), cfg.data.spec(), cfg.run.seed)

    def run(self, ctx):
        self.calls += 1
        if self.fail:
            raise RuntimeError("boom")
        value = json.dumps(ctx.cfg.section, sort_keys=True)
        if self.upstream:
            value += (ctx.inputs["up"] / "out.txt").read_text()
        (ctx.out / "out.txt").write_text(value)
        return {"value": len(value)}


@pytest.fixture
def setup(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    # at least 10 rows: the data loader carves a selection split from train
    (data / "train.tsv").write_text("sentence\tlabel\n" + "".join(f"s{i}\t{i % 2}\n" for i in range(40)))
    (data / "validation.tsv").write_text("sentence\tlabel\nc\t0\n")

    def cfg(**distill):
        return PipelineConfig.model_validate({
            "run": {"name": "r", "runs_dir": str(tmp_path / "runs")},
            "data": {"local": str(data)}, "distill": distill})

    stages = [FakeStage("teacher", ("teacher",)), FakeStage("distill", ("distill",), upstream="teacher")]
    return cfg, stages, tmp_path / "runs" / "r"


def actions(plan):
    return {i.stage.name: i.action for i in plan}


def test_second_run_skips_everything(setup):
    cfg, stages, run_dir = setup
    execute(stages, cfg(), echo=lambda *_: None)
    summary = execute(stages, cfg(), echo=lambda *_: None)
    assert [r["status"] for r in summary.rows] == ["skip", "skip"]
    assert [s.calls for s in stages] == [1, 1]
    entry = Manifest.load(run_dir).entry("distill")
    assert entry["status"] == "done" and set(entry["outputs"]) == {"distill/out.txt", "distill/metrics.json"}


def test_changing_a_section_reruns_that_stage_and_later_only(setup):
    cfg, stages, run_dir = setup
    execute(stages, cfg(temperature=2.0), echo=lambda *_: None)
    plan = make_plan(stages, cfg(temperature=3.0), Manifest.load(run_dir))
    assert actions(plan) == {"teacher": "skip", "distill": "run"}
    assert "config.section" in plan[1].reason  # the fake stage's settings field
    execute(stages, cfg(temperature=3.0), echo=lambda *_: None)
    assert [s.calls for s in stages] == [1, 2]


def test_force_reruns_stage_and_downstream(setup):
    cfg, stages, run_dir = setup
    execute(stages, cfg(), echo=lambda *_: None)
    plan = make_plan(stages, cfg(), Manifest.load(run_dir), force=["teacher"])
    assert actions(plan) == {"teacher": "run", "distill": "run"}
    # Same bytes from the forced teacher: distill is checked again at execution time and skipped.
    summary = execute(stages, cfg(), force=["teacher"], echo=lambda *_: None)
    assert [r["status"] for r in summary.rows] == ["ran", "skip"]


def test_until_stops_and_unknown_stage_is_an_error(setup):
    cfg, stages, run_dir = setup
    summary = execute(stages, cfg(), until="teacher", echo=lambda *_: None)
    assert [r["status"] for r in summary.rows] == ["ran", "not-requested"]
    with pytest.raises(ConfigError, match="unknown stage 'distil'"):
        execute(stages, cfg(), until="distil")


def test_corrupted_output_reruns_its_producer(setup):
    cfg, stages, run_dir = setup
    execute(stages, cfg(), echo=lambda *_: None)
    (run_dir / "teacher" / "out.txt").write_text("tampered")
    plan = make_plan(stages, cfg(), Manifest.load(run_dir))
    assert actions(plan) == {"teacher": "run", "distill": "run"}
    assert "does not match its recorded sha256" in plan[0].reason
    (run_dir / "teacher" / "out.txt").unlink()
    assert "missing" in make_plan(stages, cfg(), Manifest.load(run_dir))[0].reason


def test_failed_stage_keeps_previous_outputs_and_is_not_done(setup):
    cfg, stages, run_dir = setup
    execute(stages, cfg(temperature=2.0), echo=lambda *_: None)
    before = (run_dir / "distill" / "out.txt").read_text()
    stages[1].fail = True
    with pytest.raises(RuntimeError):
        execute(stages, cfg(temperature=5.0), echo=lambda *_: None)
    entry = Manifest.load(run_dir).entry("distill")
    # The failed attempt is recorded beside the earlier result, which stays vouched for (reverting the config
    # skips instead of retraining) but is not done for the new config: the plan still runs distill.
    assert entry["last_failure"]["status"] == "failed" and "boom" in entry["last_failure"]["error"]
    assert actions(make_plan(stages, cfg(temperature=5.0), Manifest.load(run_dir)))["distill"] == "run"
    assert actions(make_plan(stages, cfg(temperature=2.0), Manifest.load(run_dir)))["distill"] == "skip"
    assert (run_dir / "distill" / "out.txt").read_text() == before
    assert not list(run_dir.glob(".tmp-*"))
    assert (run_dir / ".lock").read_text() == ""  # released: no holder recorded (filelock keeps the file)


def test_leftovers_of_a_killed_publish_are_cleaned(setup):
    cfg, stages, run_dir = setup
    execute(stages, cfg(), echo=lambda *_: None)
    (run_dir / ".tmp-distill").mkdir()
    (run_dir / "distill").rename(run_dir / ".old-distill")  # killed between the two renames
    summary = execute(stages, cfg(), echo=lambda *_: None)
    assert [r["status"] for r in summary.rows] == ["skip", "skip"]  # old version restored, checksums match
    assert not (run_dir / ".tmp-distill").exists()


def test_lock_refuses_live_holder_and_recovers_stale(setup, tmp_path):
    cfg, stages, run_dir = setup
    run_dir.mkdir(parents=True)
    held = RunLock(run_dir).acquire()  # this very process: alive
    with pytest.raises(LockError, match="is in use by edgeport pid"):
        execute(stages, cfg(), echo=lambda *_: None)
    held.release()
    import socket
    (run_dir / ".lock").write_text(json.dumps({"pid": 2 ** 22 + 17, "host": socket.gethostname(), "started": "x"}))
    messages = []
    execute(stages, cfg(), echo=messages.append)
    assert any("recovered a stale lock" in m for m in messages)
    assert (run_dir / ".lock").read_text() == ""


def test_manifest_written_atomically(setup):
    cfg, stages, run_dir = setup
    execute(stages, cfg(), echo=lambda *_: None)
    assert json.loads((run_dir / "manifest.json").read_text())["stages"]["teacher"]["status"] == "done"
    assert not [p for p in os.listdir(run_dir) if p.endswith(".tmp")]


def test_consumers_ignore_upstream_metrics_json(setup):
    """A forced producer that writes the same artifacts but different metrics (timings) leaves its consumers
    up to date: fingerprints cover what a consumer reads, not <stage>/metrics.json."""
    cfg, stages, run_dir = setup
    base_run = stages[0].run

    def run_with_changing_metrics(ctx):
        metrics = base_run(ctx)
        return metrics | {"seconds": stages[0].calls}  # differs on every run, like a wall-clock timing

    stages[0].run = run_with_changing_metrics
    execute(stages, cfg(), echo=lambda *_: None)
    summary = execute(stages, cfg(), force=["teacher"], echo=lambda *_: None)
    assert [r["status"] for r in summary.rows] == ["ran", "skip"]
    assert [s.calls for s in stages] == [2, 1]
