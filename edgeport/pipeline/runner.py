"""The make-style runner: plan, fingerprint, skip, atomic publish, lock, manifest.

A stage re-runs only when its fingerprint changed (what it reads: config values, data, model files, device profiles,
library versions, the outputs of the stages it consumes; see ``fingerprint.py``), when it was forced, or when its
recorded outputs are missing or corrupted.
Each stage writes into ``.tmp-<stage>/`` and is published by a rename; only then does the manifest mark it done.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config import PipelineConfig
from ..errors import ArtifactError, ConfigError, EdgeportError
from ..timing import Stopwatch
from . import dist
from .faults import fault_point
from .code import code_parts
from .fingerprint import part_digest, settings_parts
from .lock import RunLock
from .manifest import Manifest, fsync_dir, hash_tree
from .stage import Stage, StageContext


class GateError(EdgeportError):
    """A validation gate failed; every result was still written."""

    exit_code = 1


@dataclass
class PlanItem:
    stage: Stage
    action: str  # run | skip | disabled | not-requested
    reason: str


@dataclass
class RunSummary:
    run_dir: Path
    rows: list[dict] = field(default_factory=list)
    gate_failures: list[str] = field(default_factory=list)


def run_dir_for(cfg: PipelineConfig) -> Path:
    return Path(cfg.run.runs_dir) / cfg.run.name


# ------------------------------------------------------------------------------------------ fingerprints


def stage_inputs(stage: Stage, cfg: PipelineConfig, stages: list[Stage] | None = None) -> dict[str, str]:
    """Role -> upstream stage. A stage that renders the whole manifest (``reads_manifest``, the report) consumes
    every other enabled stage, found here so that its module need not import the stage registry (which would put
    every stage's code into its code fingerprint)."""
    if getattr(stage, "reads_manifest", False):
        if stages is None:
            from ..stages import STAGES as stages
        return {s.name: s.name for s in stages if s.name != stage.name and s.enabled(cfg)}
    return stage.inputs(cfg)


def fingerprint_parts(stage: Stage, cfg: PipelineConfig, manifest: Manifest, settings=None,
                      stages: list[Stage] | None = None) -> dict[str, str]:
    """One part per thing the stage's settings hold (``fingerprint.settings_parts``), per edgeport source file it
    runs (``code.py``), and a digest of each upstream stage's recorded outputs."""
    settings = stage.configure(cfg) if settings is None else settings
    parts = {key: part_digest(value) for key, value in sorted(settings_parts(settings).items())}
    parts |= code_parts(type(stage).__module__)
    for role, upstream in sorted(stage_inputs(stage, cfg, stages).items()):
        parts[f"input.{upstream}"] = manifest.outputs_digest(upstream)[:16]
    return parts


def fingerprint(parts: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _changed(old: dict, new: dict) -> str:
    """The parts that differ, by name. A section switched on or off (``config.data`` None on one side, its keys
    ``config.data.*`` on the other) is named once, as the section."""
    keys = sorted(k for k in set(old) | set(new) if (k in old) != (k in new) or old[k] != new[k])
    folded = {k for k in keys if (p := k.rpartition(".")[0]) in keys and (k in old) != (p in old)}
    return ", ".join(k for k in keys if k not in folded) or "fingerprint"


# ------------------------------------------------------------------------------------------ planning


def check_stage_names(stages: list[Stage], until: str | None, force: list[str]) -> None:
    names = [s.name for s in stages]
    bad = [n for n in ([until] if until else []) + list(force) if n not in names]
    if bad:
        raise ConfigError([f"unknown stage {b!r}; stages are: {', '.join(names)}" for b in bad], source="command line")


def make_plan(stages: list[Stage], cfg: PipelineConfig, manifest: Manifest, until: str | None = None,
              force: list[str] = ()) -> list[PlanItem]:
    check_stage_names(stages, until, force)
    plan, rerun, past_until = [], set(), False
    for stage in stages:
        if past_until:
            plan.append(PlanItem(stage, "not-requested", f"after --until {until}"))
            continue
        past_until = stage.name == until
        if not stage.enabled(cfg):
            plan.append(PlanItem(stage, "disabled", f"{stage.name}.enabled is false"))
            continue
        # one name per stage: two roles may read the same one (validate's model and teacher, when no student)
        upstream = list(dict.fromkeys(u for u in stage_inputs(stage, cfg, stages).values() if u in rerun))
        entry = manifest.entry(stage.name) or {}
        parts = fingerprint_parts(stage, cfg, manifest, stages=stages)
        if stage.name in force:
            reason = "forced (--force)"
        elif upstream:
            reason = f"upstream {', '.join(upstream)} re-runs"
        elif not entry:
            reason = "never ran"
        elif problem := manifest.verify(stage.name):
            reason = problem
        elif entry.get("fingerprint") != fingerprint(parts):
            reason = f"changed: {_changed(entry.get('fingerprint_parts', {}), parts)}"
        else:
            plan.append(PlanItem(stage, "skip", "up to date"))
            continue
        rerun.add(stage.name)
        plan.append(PlanItem(stage, "run", reason))
    return plan


# ------------------------------------------------------------------------------------------ execution


def execute(stages: list[Stage], cfg: PipelineConfig, until: str | None = None, force: list[str] = (),
            echo=print) -> RunSummary:
    run_dir = run_dir_for(cfg)
    check_stage_names(stages, until, force)
    if dist.is_main():
        run_dir.mkdir(parents=True, exist_ok=True)
    lock = RunLock(run_dir)
    dist.run_on_main(lock.acquire)
    try:
        if lock.recovered is not None and dist.is_main():
            echo(f"recovered a stale lock left by pid {lock.recovered.get('pid')} (that process is gone)")
        if dist.is_main():
            _clean_leftovers(run_dir)
        dist.barrier()
        manifest = Manifest.load(run_dir)
        plan = make_plan(stages, cfg, manifest, until, force)
        shared: dict = {}
        _preflight(plan, cfg, shared)
        dist.barrier()  # every process has planned before anything is written
        summary = RunSummary(run_dir)
        stopped = None
        for item in plan:
            if stopped and item.action == "run":
                summary.rows.append({"stage": item.stage.name, "status": "stopped", "seconds": 0.0,
                                     "metric": f"after {stopped}'s gate failed"})
                continue
            summary.rows.append(_do(item, cfg, run_dir, shared, echo, stages))
            if getattr(item.stage, "gate_stops_run", False) and _stage_gate_failures(run_dir, item.stage.name):
                stopped = item.stage.name  # a useless teacher/student: training on from it only wastes time
        manifest = Manifest.load(run_dir)
        summary.gate_failures = [f for e in manifest.stages.values() for f in e.get("metrics", {}).get("gate_failures", [])]
        return summary
    finally:
        if dist.is_main():
            lock.release()


def _stage_gate_failures(run_dir: Path, name: str) -> list[str]:
    return (Manifest.load(run_dir).entry(name) or {}).get("metrics", {}).get("gate_failures", [])


def _preflight(plan: list[PlanItem], cfg, shared: dict) -> None:
    """Read the data and check each stage's inputs before any stage writes: a bad data file or model directory
    fails here, and the run directory (manifest and published outputs) stays exactly as it was.

    A stage may define ``preflight(settings)``: cheap checks of what it will load (model dirs, shapes vs config)."""
    to_run = [item.stage for item in plan if item.action == "run"]
    if any(s.uses_data for s in to_run):
        from ..data import load_task

        shared["task"] = load_task(cfg.data.spec(), seed=cfg.run.seed)  # StageContext.task() reuses it
    for stage in to_run:
        preflight(stage, cfg)


def preflight(stage: Stage, cfg: PipelineConfig) -> None:
    """The stage's ``preflight`` (if it has one) on its own settings."""
    check = getattr(stage, "preflight", None)
    if check is not None:
        check(stage.configure(cfg))


def _check_inputs(inputs: dict[str, str], stage: str, manifest: Manifest) -> None:
    """A stage consumes only upstream outputs that still hash to what the manifest recorded."""
    for upstream in inputs.values():
        if problem := manifest.verify(upstream):
            raise ArtifactError(f"{stage} would consume {upstream}/, but {problem} (changed during this run?). "
                                f"Run again: {upstream} is rebuilt first")


def _do(item: PlanItem, cfg, run_dir: Path, shared: dict, echo, stages: list[Stage]) -> dict:
    stage = item.stage
    manifest = Manifest.load(run_dir)  # upstream stages may have just been published
    entry = manifest.entry(stage.name) or {}
    row = {"stage": stage.name, "status": item.action, "seconds": 0.0, "metric": None}
    if item.action != "run":
        if item.action == "skip":
            row["metric"] = _key_metric(stage, entry)
        return row
    settings = stage.configure(cfg)
    parts = fingerprint_parts(stage, cfg, manifest, settings, stages)
    fp = fingerprint(parts)
    if item.reason.startswith("upstream") and entry.get("fingerprint") == fp and manifest.verify(stage.name) is None:
        row.update(status="skip", metric=_key_metric(stage, entry))
        return row  # the upstream re-ran but produced the same bytes
    if dist.is_main():
        echo(f"==> {stage.name}: {item.reason}")
    with Stopwatch() as clock:
        inputs = stage_inputs(stage, cfg, stages)
        metrics = _run_stage(stage, settings, inputs, cfg, run_dir, manifest, fp, parts, shared)
    row.update(status="ran", seconds=round(clock.seconds, 1),
               metric=_format_metric(stage.key_metric, metrics))
    return row


def _run_stage(stage: Stage, settings, inputs: dict[str, str], cfg, run_dir: Path, manifest: Manifest, fp: str,
               parts: dict, shared: dict) -> dict:
    """Run one stage with its own settings: ``cfg`` (the whole config) is only recorded in the manifest, for
    the report and the model cards, never handed to ``stage.run``."""
    tmp = run_dir / f".tmp-{stage.name}"
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    _check_inputs(inputs, stage.name, manifest)
    previous = manifest.stages.get(stage.name)
    if dist.is_main():
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        # Mark the stage as running first: if we are killed, the manifest cannot say "done" for it.
        manifest.stages[stage.name] = {"status": "running", "fingerprint": fp, "started_at": started}
        # The config this run uses, recorded before the stage runs: the report and the model cards render it
        # (the report's settings cover it whole, so it re-runs when any of it changes).
        manifest.data["config"] = json.loads(cfg.model_dump_json())
        manifest.save()
        fault_point("stage.running-marked")
    dist.barrier()
    ctx = StageContext(settings, run_dir, tmp, {role: run_dir / up for role, up in inputs.items()}, manifest, shared)
    clock = Stopwatch().start()
    _seed_everything(cfg.run.seed)
    try:
        metrics = stage.run(ctx) if (stage.distributed or dist.is_main()) else {}
    except BaseException as exc:
        if dist.is_main():
            _record_failure(manifest, stage.name, fp, started, exc, previous)
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    dist.barrier()
    if dist.is_main():
        seconds = round(clock.seconds, 2)
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        fault_point("stage.ran")
        _publish(tmp, run_dir / stage.name)
        fault_point("stage.published")
        manifest.stages[stage.name] = {
            "status": "done", "fingerprint": fp, "fingerprint_parts": parts,
            "outputs": hash_tree(run_dir / stage.name, run_dir), "metrics": metrics,
            "started_at": started, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seconds": seconds,
        }
        manifest.data["config"] = json.loads(cfg.model_dump_json())
        manifest.save()
    dist.barrier()
    return metrics


def _seed_everything(seed: int) -> None:
    """Every stage starts from the run's seed, so a re-run (or a resumed run) repeats it exactly - head
    initialisation included, which happens before any training loop seeds itself."""
    from accelerate.utils import set_seed

    set_seed(seed)


def _publish(tmp: Path, final: Path) -> None:
    """Swap the finished temp dir in: the old version moves aside first and is deleted last."""
    old = final.with_name(f".old-{final.name}")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        final.rename(old)
        fault_point("publish.moved-aside")
    tmp.rename(final)
    fsync_dir(final.parent)
    fault_point("publish.renamed")
    if old.exists():
        shutil.rmtree(old)


def _record_failure(manifest: Manifest, name: str, fp: str, started: str, exc: BaseException,
                    previous: dict | None) -> None:
    status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
    failure = {"status": status, "fingerprint": fp, "started_at": started,
               "error": f"{type(exc).__name__}: {exc}"[:2000]}
    manifest.stages[name] = failure
    if previous and previous.get("status") == "done":
        # The attempt wrote only into .tmp-<stage>/, so what an earlier attempt published is intact: keep
        # vouching for it (downstream fingerprints still match it) and note the failure beside it.
        manifest.stages[name] = previous  # verify() reads the entry from the manifest
        intact = manifest.verify(name) is None
        manifest.stages[name] = {**previous, "last_failure": failure} if intact else failure
    manifest.save()


def _clean_leftovers(run_dir: Path) -> None:
    """Temp dirs from a killed run are never trusted; they are removed before planning."""
    for path in run_dir.glob(".tmp-*"):
        shutil.rmtree(path, ignore_errors=True)
    for path in run_dir.glob(".old-*"):
        final = run_dir / path.name[len(".old-"):]
        if final.exists():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.rename(final)  # killed mid-swap: put the old version back; its checksums decide if it is used
    for path in run_dir.glob(".*.tmp"):
        path.unlink(missing_ok=True)


def _key_metric(stage: Stage, entry: dict):
    return _format_metric(stage.key_metric, entry.get("metrics", {}))


def _format_metric(key: str | None, metrics: dict):
    if not key or key not in metrics:
        return None
    value = metrics[key]
    return f"{key}={value:.4f}" if isinstance(value, float) else f"{key}={value}"
