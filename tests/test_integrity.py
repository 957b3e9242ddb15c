"""Integrity: a stage is done only while its outputs hash to what the manifest recorded. A corrupted, missing or
extra file makes the producing stage re-run instead of being used; a consumer re-checks its inputs right before it
reads them; a failed attempt never costs what an earlier one produced."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import tinyrun
from edgeport.config import PipelineConfig
from edgeport.errors import ArtifactError, DataError
from edgeport.pipeline import Manifest, execute, make_plan
from edgeport.pipeline.manifest import hash_tree


@dataclass(frozen=True)
class NoSettings:
    pass


class Stub:
    """A tiny stage: writes ``<name>.txt`` (its input's text + its own name); optional hook to misbehave."""

    uses_data, distributed, key_metric = False, False, None

    def __init__(self, name, upstream=None, hook=None):
        self.name, self.upstream, self.hook = name, upstream, hook

    def enabled(self, cfg):
        return True

    def configure(self, cfg):
        return NoSettings()

    def inputs(self, cfg):
        return {"src": self.upstream} if self.upstream else {}

    def run(self, ctx):
        if self.hook:
            self.hook(ctx)
        text = (ctx.inputs["src"] / f"{self.upstream}.txt").read_text() if self.upstream else ""
        (ctx.out / f"{self.name}.txt").write_text(text + self.name)
        return {"ok": True}


@pytest.fixture()
def cfg(tmp_path):
    data = tinyrun.make_data(tmp_path / "data", 8, 8)
    return PipelineConfig.model_validate({"run": {"name": "stub", "runs_dir": str(tmp_path / "runs")},
                                          "data": {"local": str(data)}})


def _run(stages, cfg, **kw):
    summary = execute(stages, cfg, echo=lambda *_: None, **kw)
    return {r["stage"]: r["status"] for r in summary.rows}


def test_verify_names_each_problem(cfg, tmp_path):
    a = Stub("a")
    _run([a], cfg)
    run_dir = tmp_path / "runs" / "stub"
    m = Manifest.load(run_dir)
    assert m.verify("a") is None
    (run_dir / "a" / "a.txt").write_text("tampered")
    assert "does not match its recorded sha256" in Manifest.load(run_dir).verify("a")
    (run_dir / "a" / "a.txt").unlink()
    assert "output a/a.txt is missing" in Manifest.load(run_dir).verify("a")
    (run_dir / "a" / "a.txt").write_text("a")  # original bytes back: fine again
    assert Manifest.load(run_dir).verify("a") is None
    (run_dir / "a" / "pytorch_model.bin").write_bytes(b"dropped in")
    assert "unexpected file a/pytorch_model.bin" in Manifest.load(run_dir).verify("a")


@pytest.mark.parametrize("damage", ["corrupt", "delete", "extra"])
def test_damaged_output_reruns_its_producer(cfg, tmp_path, damage):
    stages = [Stub("a"), Stub("b", "a")]
    assert _run(stages, cfg) == {"a": "ran", "b": "ran"}
    target = tmp_path / "runs" / "stub" / "a" / "a.txt"
    {"corrupt": lambda: target.write_text("garbage"), "delete": target.unlink,
     "extra": lambda: (target.parent / "x.bin").write_bytes(b"x")}[damage]()
    plan = make_plan(stages, cfg, Manifest.load(tmp_path / "runs" / "stub"))
    assert [(i.stage.name, i.action) for i in plan] == [("a", "run"), ("b", "run")]
    # a re-runs and republishes identical bytes, so b (whose input digest is unchanged) is not redone.
    assert _run(stages, cfg) == {"a": "ran", "b": "skip"}
    m = Manifest.load(tmp_path / "runs" / "stub")
    assert m.verify("a") is None and m.verify("b") is None
    assert target.read_text() == "a"


def test_consumer_rechecks_inputs_before_reading(cfg, tmp_path):
    """An input changed after planning (here by a stage in between) is refused, not consumed."""
    def tamper(ctx):
        (ctx.run_dir / "a" / "a.txt").write_text("changed behind the runner's back")

    _run([Stub("a")], cfg)
    with pytest.raises(ArtifactError, match="would consume a/.*sha256"):
        _run([Stub("a"), Stub("t", hook=tamper), Stub("b", "a")], cfg)
    assert not (tmp_path / "runs" / "stub" / "b").exists()


def test_failed_attempt_keeps_earlier_outputs(cfg, tmp_path):
    def fail(ctx):
        raise DataError("bad rows")

    _run([Stub("a")], cfg)
    run_dir = tmp_path / "runs" / "stub"
    before = hash_tree(run_dir / "a", run_dir)
    with pytest.raises(DataError):
        _run([Stub("a", hook=fail)], cfg, force=["a"])
    entry = Manifest.load(run_dir).entry("a")
    assert entry["status"] == "done" and entry["outputs"] == before
    assert entry["last_failure"]["error"] == "DataError: bad rows"
    assert _run([Stub("a")], cfg) == {"a": "skip"}


def test_real_pipeline_rebuilds_corrupted_weights_and_cache(tmp_path_factory):
    """End to end: distill's weights flipped and the teacher-logits cache truncated -> distill alone re-runs,
    recomputes the cache instead of crashing on it, and reproduces the reference exactly."""
    ref = tinyrun.reference(tmp_path_factory.mktemp("reference"))
    ws = tinyrun.copy_run(ref["ws"], tmp_path_factory.mktemp("integrity"))
    weights = ws["run_dir"] / "distill" / "model.safetensors"
    blob = bytearray(weights.read_bytes())
    blob[-100] ^= 0xFF
    weights.write_bytes(bytes(blob))
    caches = list((ws["run_dir"] / "cache").glob("teacher-logits-*.safetensors"))
    assert caches, "expected a teacher-logits cache"
    for c in caches:
        c.write_bytes(c.read_bytes()[:40])
    proc = tinyrun.cli("run", ws["config"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "==> distill: output distill/model.safetensors does not match its recorded sha256" in proc.stdout
    assert "==> teacher" not in proc.stdout
    assert tinyrun.results(ws["run_dir"]) == ref["results"]
