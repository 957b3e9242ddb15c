"""Cross-tokenizer distillation: ``distill.student.model`` names a student with a tokenizer of its own.

Logit KD needs only the same texts: the student trains on its own token ids while the teacher's logits come from
the teacher's own tokenisation of the same rows. Pairs used here (all tiny, random, offline):

* teacher ``make_tiny_bert`` (MiniLM WordPiece, 30,522 entries) -> student ``family.make_tiny("bert")`` (WordPiece
  trained on SST-2, 2,000 entries): two BERTs whose ids mean different tokens. The student's ids are all valid
  teacher ids, so a pipeline that fed the teacher the student's ids would run without error and be silently
  wrong: the logit comparison below is what catches it.
* teacher ``family.make_tiny("roberta")`` (byte-level BPE) -> the same student: another tokenizer family and
  architecture (an XLM-R/RoBERTa teacher into a BERT-vocabulary student).
"""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from conftest import TINY_TRAIN, make_tiny_bert, run_cli, write_config
from edgeport.errors import ConfigError, ModelError
from edgeport.pipeline.runner import preflight


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from family import make_tiny

    base = tmp_path_factory.mktemp("xtok-models")
    return {"base": base, "student": make_tiny("bert", base / "student-bert"),
            "minilm-teacher": make_tiny_bert(base / "teacher-minilm"),
            "roberta-teacher": make_tiny("roberta", base / "teacher-roberta")}


def _config(models, sst2_slice, tmp_path, teacher: str, full: bool, **distill):
    train = dict(TINY_TRAIN, precision="fp32")  # the direct teacher forward below is fp32 too
    sections = {"distill": {"student": {"model": str(models["student"])}, "train": train, **distill},
                "teacher": {"train": train}, "run": {"threads": 1}}
    if full:
        sections |= {"export": {"formats": ["torchscript"]},
                     "bench": {"enabled": False},
                     "report": {"plots": False, "budget_gate": "off"}}
    else:
        sections |= {s: {"enabled": False} for s in ("export", "quantize", "validate")}
    return write_config(tmp_path / "xtok.yaml", models[teacher], sst2_slice, tmp_path / "runs", **sections)


def _run_and_spy(path, monkeypatch):
    """Run the pipeline in this process; returns (summary, cfg, what the distill fit trained on)."""
    from edgeport.config import load_config
    from edgeport.pipeline.runner import execute
    from edgeport.stages import STAGES
    from edgeport.training import distillation, recipe

    seen = {}
    real_fit = recipe.fit

    def spy(model, train_rows, select_rows, *args, **kwargs):
        if args[-1] == "distill":  # desc
            seen["rows"] = [{"input_ids": list(r["input_ids"]), "teacher_logits": list(r["teacher_logits"])}
                            for r in train_rows]
        return real_fit(model, train_rows, select_rows, *args, **kwargs)

    monkeypatch.setattr(recipe, "fit", spy)
    monkeypatch.setattr(distillation, "fit", spy)
    cfg = load_config(str(path))
    summary = execute(STAGES, cfg, echo=lambda *a: None)
    return summary, cfg, seen["rows"]


@pytest.mark.parametrize("teacher,full", [("minilm-teacher", True), ("roberta-teacher", False)])
def test_student_with_its_own_tokenizer_learns_from_the_teachers_own_token_ids(models, sst2_slice, tmp_path,
                                                                               monkeypatch, teacher, full):
    from edgeport.data import encode, load_task
    from edgeport.models import load_classifier, load_tokenizer
    from edgeport.training import predict_logits, recipe

    summary, cfg, rows = _run_and_spy(_config(models, sst2_slice, tmp_path, teacher, full), monkeypatch)
    assert summary.gate_failures == [], summary.gate_failures
    run = tmp_path / "runs" / "tiny"
    task = load_task(cfg.data, seed=cfg.run.seed)
    train = task.train.head(cfg.distill.train_limit or cfg.data.train_limit)
    student_tok, teacher_tok = load_tokenizer(models["student"]), load_tokenizer(run / "teacher")
    student_ids = [r["input_ids"] for r in encode(train, student_tok, cfg.data.max_seq_len)]
    teacher_rows = encode(train, teacher_tok, cfg.data.max_seq_len)
    # the student trained on its own tokenisation, which is not the teacher's
    assert [r["input_ids"] for r in rows] == student_ids
    differ = sum(s != r["input_ids"] for s, r in zip(student_ids, teacher_rows))
    assert differ > 0.9 * len(rows), differ
    # the teacher logits it learned from are the published teacher's forward on *its own* ids, row by row
    model = load_classifier(run / "teacher").eval()
    direct = predict_logits(model, teacher_rows, recipe.collate_for(teacher_tok))
    used = torch.tensor([r["teacher_logits"] for r in rows])
    assert torch.allclose(used, direct, atol=1e-5), (used - direct).abs().max()
    # ... and not its forward on the student's ids (the test tells the two apart: ids < 2000 are valid for both)
    assert max(max(ids) for ids in student_ids) < len(teacher_tok)
    wrong_rows = [{"input_ids": ids, "attention_mask": [1] * len(ids), "labels": 0} for ids in student_ids]
    wrong = predict_logits(model, wrong_rows, recipe.collate_for(teacher_tok))
    assert (used - wrong).abs().max() > 1e-3
    # the student's directory holds its own tokenizer (prune/export read it), with the task's labels
    m = json.loads((run / "manifest.json").read_text())["stages"]["distill"]["metrics"]
    assert m["student_tokenizer"] == "own" and m["student_vocab_size"] == len(student_tok)
    assert m["layers"] == 2 and m["student_layers_kept"] == [0, 1]  # layers unset: all of its own
    assert load_tokenizer(run / "distill").get_vocab() == student_tok.get_vocab()
    assert json.loads((run / "distill" / "config.json").read_text())["id2label"] == {"0": "negative", "1": "positive"}
    if full:  # exported, quantized and validated with the student's tokenizer, gates passing
        for art in ("export/torchscript-fp32", "quantize/torchscript-int8"):
            assert load_tokenizer(run / art).get_vocab() == student_tok.get_vocab()
        results = json.loads((run / "validate" / "results.json").read_text())
        assert results["gates"] == "pass" and results["teacher"] is not None  # the e2e gate ran on the teacher


def test_student_model_is_fingerprinted_and_its_layers_chosen(models, sst2_slice, tmp_path):
    """distill's fingerprint covers the student's files and which of its layers are kept."""
    from edgeport.config import load_config
    from edgeport.pipeline import Manifest
    from edgeport.pipeline.runner import fingerprint_parts
    from edgeport.stages.distill import DistillStage

    student = models["base"] / "student-copy"
    student.mkdir(exist_ok=True)
    for f in models["student"].iterdir():
        (student / f.name).write_bytes(f.read_bytes())
    path = _config(models, sst2_slice, tmp_path, "minilm-teacher", False)
    raw = yaml.safe_load(path.read_text())
    raw["distill"]["student"]["model"] = str(student)
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(str(path))
    manifest = Manifest(tmp_path / "none")
    parts = fingerprint_parts(DistillStage(), cfg, manifest)
    # layers unset (all of the student's) and layers [0, 2, 4] (the field's default value, set explicitly) differ
    explicit = load_config(str(path), ["distill.student.layers=[0, 2, 4]"])
    changed = {k for k, v in fingerprint_parts(DistillStage(), explicit, manifest).items() if parts[k] != v}
    assert changed == {"config.student_layers"}
    # one byte of one of the student's files
    (student / "tokenizer_config.json").write_text((student / "tokenizer_config.json").read_text() + "\n")
    after = fingerprint_parts(DistillStage(), cfg, manifest)
    assert {k for k in parts if parts[k] != after[k]} == {"student_weights"}


def test_own_layers_are_kept_by_choice(models, tmp_path):
    from edgeport.models import load_classifier
    from edgeport.stages.distill import keep_layers

    model = load_classifier(models["student"], label_names=["a", "b"])
    second = model.bert.encoder.layer[1].attention.self.query.weight.clone()
    keep_layers(model, [1])
    assert model.config.num_hidden_layers == 1 and len(model.bert.encoder.layer) == 1
    assert torch.equal(model.bert.encoder.layer[0].attention.self.query.weight, second)
    out = model(input_ids=torch.tensor([[2, 7, 3]])).logits
    assert out.shape == (1, 2)


# ------------------------------------------------------------------------------------ preflight


def _cfg(models, tmp_path, hidden: float = 0.0, **student):
    from edgeport.config import PipelineConfig

    return PipelineConfig.model_validate({
        "data": {"local": str(tmp_path), "max_seq_len": 32},
        "teacher": {"model": str(models["minilm-teacher"])},
        "distill": {"student": student, "hidden_loss_weight": hidden}})


def test_preflight_checks_the_student_model(models, tmp_path):
    from edgeport.stages.distill import DistillStage

    stage = DistillStage()
    preflight(stage, _cfg(models, tmp_path, model=str(models["student"])))  # fine
    with pytest.raises(ModelError, match="distill.student.model: .*does not exist"):
        preflight(stage, _cfg(models, tmp_path, model=str(tmp_path / "missing")))
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    for f in models["student"].iterdir():
        if f.suffix != ".safetensors":
            (pickled / f.name).write_bytes(f.read_bytes())
    (pickled / "pytorch_model.bin").write_bytes(b"not really")
    with pytest.raises(ModelError, match="no safetensors weights"):
        preflight(stage, _cfg(models, tmp_path, model=str(pickled)))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    for f in models["student"].iterdir():
        (foreign / f.name).write_bytes(f.read_bytes())
    config = json.loads((foreign / "config.json").read_text())
    (foreign / "config.json").write_text(json.dumps(config | {"model_type": "gpt2"}))
    with pytest.raises(ModelError, match="distill.student.model: .*'gpt2'"):
        preflight(stage, _cfg(models, tmp_path, model=str(foreign)))
    with pytest.raises(ConfigError, match=r"distill.student.layers: \[5\] out of range.*0..1"):
        preflight(stage, _cfg(models, tmp_path, model=str(models["student"]), layers=[0, 5]))


def test_hidden_state_kd_across_tokenizers_is_refused(models, tmp_path):
    from edgeport.stages.distill import DistillStage

    with pytest.raises(ConfigError, match="same token ids.*logit KD works across tokenizers"):
        preflight(DistillStage(), _cfg(models, tmp_path, model=str(models["student"]), hidden=1.0))
    # the same tokenizer and width pass (a student saved with the teacher's tokenizer)
    same = make_tiny_bert(tmp_path / "same-vocab", layers=1, seed=3)
    preflight(DistillStage(), _cfg(models, tmp_path, model=str(same), hidden=1.0))


def test_width_settings_conflict_with_a_student_model(tmp_path):
    from edgeport.config import load_config

    p = tmp_path / "c.yaml"
    p.write_text("distill:\n  student:\n    model: ./somewhere\n    hidden_size: 64\n")
    with pytest.raises(ConfigError, match="with student.model the student has its own shape"):
        load_config(str(p))


def test_cli_refuses_hidden_kd_across_tokenizers_before_anything_runs(models, sst2_slice, tmp_path):
    path = _config(models, sst2_slice, tmp_path, "minilm-teacher", False, hidden_loss_weight=1.0)
    proc = run_cli("run", path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "distill.hidden_loss_weight > 0" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs" / "tiny" / "teacher").exists()  # preflight: nothing was trained
