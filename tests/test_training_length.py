"""The training length adapts to the data in every training stage (teacher, distill, prune recovery, QAT) unless the
user sets epochs: at least ``train.min_steps`` optimizer steps, at least ``train.min_epochs`` passes, at most
``train.max_epochs`` (``training/loop.py: planned_epochs``; each stage's defaults in ``config.py``)."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from conftest import make_tiny_bert
from edgeport.config import (PipelineConfig, QatTrainConfig, RecoveryTrainConfig, TrainConfig, load_config,
                             shipped_configs)
from edgeport.errors import ConfigError
from edgeport.training import augment
from edgeport.training.loop import planned_epochs


def _sections(cfg: PipelineConfig) -> dict[str, TrainConfig]:
    """Every stage's training section."""
    return {"teacher": cfg.teacher.train, "distill": cfg.distill.train, "prune": cfg.prune.train,
            "qat": cfg.quantize.qat.train, "pretrain": cfg.pretrain.train}


def test_planned_epochs_rule():
    assert planned_epochs(TrainConfig(), 2000) == 1.0  # SST-2-sized: one pass (min_epochs 1)
    assert planned_epochs(TrainConfig(), 115) == pytest.approx(600 / 115)  # a 3.7k-row task: 600 steps
    assert planned_epochs(TrainConfig(), 10) == 10.0  # capped by max_epochs
    assert planned_epochs(TrainConfig(epochs=2), 10) == 2.0  # the user's choice stands
    # recovery has no pass floor: 450 steps of the 1,000 a pass over distill's 32,000 SST-2 rows would take
    assert planned_epochs(RecoveryTrainConfig(), 1000) == pytest.approx(0.45)
    assert planned_epochs(RecoveryTrainConfig(), 115) == pytest.approx(450 / 115)
    assert planned_epochs(QatTrainConfig(), 63) == 1.0  # 2,000 rows: one pass, as QAT always ran
    assert planned_epochs(QatTrainConfig(), 13) == pytest.approx(60 / 13)  # 400 rows: 60 steps, not 13
    assert planned_epochs(TrainConfig(min_epochs=3, min_steps=2000), 1750) == 3.0  # full.yaml on SST-2


def test_partial_train_sections_keep_their_stage_defaults():
    """A ``prune.train`` or ``quantize.qat.train`` section that sets one key keeps the stage's other defaults (they
    are classes, not instance defaults that a partial section would replace with TrainConfig's)."""
    cfg = PipelineConfig.model_validate({"prune": {"train": {"batch_size": 16}},
                                         "quantize": {"qat": {"train": {"batch_size": 16}}}})
    assert (cfg.prune.train.min_steps, cfg.prune.train.min_epochs, cfg.prune.train.lr) == (450, 0.0, 5e-5)
    qat = cfg.quantize.qat.train
    assert (qat.min_steps, qat.precision, qat.lr, qat.warmup_ratio) == (60, "fp32", 2e-5, 0.0)


def test_min_epochs_above_max_epochs_is_a_config_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"distill": {"train": {"min_epochs": 12}}}))
    with pytest.raises(ConfigError, match="distill.train: train.min_epochs 12.0 exceeds train.max_epochs 10.0"):
        load_config(str(path))


@pytest.mark.parametrize("name", sorted(shipped_configs()))
def test_shipped_configs_fix_no_epochs(name):
    """A length in epochs is a length for one dataset: the shipped configs say steps and passes instead."""
    fixed = {stage: t.epochs for stage, t in _sections(load_config(name)).items() if t.epochs is not None}
    assert fixed == {}


def _planned_steps(tcfg: TrainConfig, rows: int) -> int:
    from edgeport.tune.study import planned_total_steps

    return planned_total_steps(tcfg, rows)


def test_default_config_on_a_paraphrase_sized_task_gives_every_stage_its_minimum():
    """The issue's user: the default config with its data section swapped for a 3,668-row task (MRPC-sized; 200 rows
    held out for selection). Before, distillation (2 epochs, fixed for SST-2) got 184 steps and recovery (0.3 epoch)
    28 (the issue's run); now every stage trains at least its min_steps."""
    cfg = load_config("default", ["data={local: mrpc, text_column: sentence1, text_pair_column: sentence2}"])
    rows = 3668 - 200
    assert cfg.data.train_limit is None
    used = {"teacher": rows, "distill": min(cfg.distill.train_limit or rows, rows), "prune": rows,
            "qat": min(cfg.quantize.qat.train_limit, rows)}
    steps = {stage: _planned_steps(_sections(cfg)[stage], n) for stage, n in used.items()}
    for stage, n in steps.items():
        assert n >= _sections(cfg)[stage].min_steps, (stage, n)
    assert steps["distill"] >= 450 and steps["prune"] >= 450, steps


# ------------------------------------------------------------------------------ a real run on tiny data


# Each stage's min_steps, small so the run is quick, each more than one pass over its 320 rows (batch 16: 20 steps);
# everything else about the length (epochs unset, min_epochs, max_epochs) is the stage's default.
MIN_STEPS = {"teacher": 60, "distill": 50, "prune": 45, "qat": 30}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, sst2_slice):
    """teacher -> distill -> prune (recovery) -> export (ONNX) -> quantize (QAT) on 400 SST-2 rows (320 after the
    selection split), a hidden-32 BERT."""
    from edgeport.pipeline.runner import execute
    from edgeport.stages import STAGES

    base = tmp_path_factory.mktemp("length")
    teacher = make_tiny_bert(base / "teacher")

    def train(stage: str) -> dict:
        return {"min_steps": MIN_STEPS[stage], "lr": 1e-3, "batch_size": 16, "useful_gate": False}

    raw = {"run": {"name": "len", "runs_dir": str(base / "runs"), "seed": 0, "threads": 1},
           "data": {"local": str(sst2_slice), "label_names": ["negative", "positive"], "max_seq_len": 32},
           "teacher": {"model": str(teacher), "train": train("teacher")},
           "distill": {"student": {"layers": [1]}, "train": train("distill")},
           "prune": {"enabled": True, "ffn_fraction": 0.5, "score_batches": 1, "latency_seconds": 0,
                     "train": train("prune")},
           "export": {"formats": ["onnx"]},
           "quantize": {"qat": {"enabled": True, "train": train("qat")}},
           **{s: {"enabled": False} for s in ("validate", "bench", "report")}}
    cfg = PipelineConfig.model_validate(raw)
    spied, real = [], augment.augment

    def spy(train, held, *args, **kwargs):  # what each stage's augmentation drew from and made
        out, info = real(train, held, *args, **kwargs)
        spied.append((train, out))
        return out, info

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(augment, "augment", spy)
        summary = execute(STAGES, cfg, echo=lambda *a: None)
    assert not summary.gate_failures
    stages = json.loads((base / "runs" / "len" / "manifest.json").read_text())["stages"]
    return cfg, stages, spied


def test_every_stage_of_a_tiny_run_trains_its_minimum_steps(tiny_run):
    """Red when a stage's length does not come from its own section's rule, e.g. ``epochs=1`` back as a stage
    default: that stage stops after one pass (20 steps)."""
    cfg, stages, _ = tiny_run
    recorded = {"teacher": stages["teacher"]["metrics"], "distill": stages["distill"]["metrics"],
                "prune": stages["prune"]["metrics"] | stages["prune"]["metrics"]["recovery"],
                "qat": stages["quantize"]["metrics"]["qat"]}
    for stage, m in recorded.items():
        tcfg = _sections(cfg)[stage]
        one_pass = math.ceil(m["train_rows"] / tcfg.batch_size)
        assert m["steps"] == MIN_STEPS[stage], (stage, m["steps"])
        assert m["steps"] > one_pass, (stage, "a single pass would have been as long: the rule was not tested")


def test_a_small_task_distils_and_recovers_on_copies_of_training_texts_only(tiny_run):
    """320 labelled rows < distill's budget of 50 steps x 16: auto adds 480 word-replaced copies (one pass = the 50
    steps), and recovery 400 (45 x 16), drawn from training texts only, none of them a selection or evaluation
    text. Red when distill, or prune, draws its copies from the selection split."""
    from edgeport.corpus import normalize
    from edgeport.data import load_task

    cfg, stages, spied = tiny_run
    m, p = stages["distill"]["metrics"], stages["prune"]["metrics"]
    assert m["augment"].startswith("auto: 320 labelled rows") and m["augmented_rows"] == 50 * 16 - 320
    assert p["recovery_augmented_rows"] == 45 * 16 - 320
    task = load_task(cfg.data, cfg.run.seed)
    held = {normalize(t) for t in task.select.texts + task.eval.texts}
    training = {normalize(t) for t in task.train.texts}
    assert [len(out) for _, out in spied] == [480, 400]
    for train, out in spied:
        drawn = {normalize(t) for t in train.texts}
        assert drawn <= training and not drawn & held
        assert not {normalize(t) for t in out.texts} & held


# ------------------------------------------------------------------------------ the search knob


def test_searched_min_steps_sets_one_pass_of_rows():
    """``tune.space.min_steps`` sets the stage's rows to min_steps x batch_size, so on SST-2 the searched length
    is one pass over fresh rows (with min_epochs 1, more rows than that would lengthen training)."""
    from optuna.trial import FixedTrial

    from edgeport.tune.space import derived_values, suggest_training

    cfg = load_config("default", ["tune.space.epochs=null", "tune.space.min_steps={low: 400, high: 800, step: 200}",
                                  "tune.space.batch_size=null"])
    trial = FixedTrial({"teacher.train.lr": 1e-4, "teacher.train.warmup_ratio": 0.1,
                        "teacher.train.weight_decay": 0.0, "teacher.train.min_steps": 600})
    values = suggest_training(trial, cfg, "teacher")
    assert values["teacher.train.min_steps"] == 600
    assert derived_values(cfg, "teacher", values) == {"data.train_limit": 600 * 32}
    trial = FixedTrial({"distill.train.lr": 1e-4, "distill.train.warmup_ratio": 0.1, "distill.train.weight_decay": 0.0,
                        "distill.train.min_steps": 800, "distill.temperature": 2.0, "distill.alpha": 0.5})
    assert derived_values(cfg, "distill", suggest_training(trial, cfg, "distill")) == {"distill.train_limit": 800 * 32}
    with pytest.raises(ConfigError, match="tune.space.epochs: null"):
        load_config("default", ["tune.space.min_steps={low: 400, high: 800}"])


def test_trials_share_one_teacher_logit_cache(tmp_path):
    """Each trial's RUN_DIR/cache is a link to the study's cache; cleaning a trial removes the link, not the logits."""
    from types import SimpleNamespace

    from edgeport.tune.study import _cleanup, share_cache

    ctx = SimpleNamespace(out_dir=tmp_path / "study", cfg=load_config("default"))
    for n in ("0000", "0001"):
        share_cache(ctx, ctx.out_dir / "trials" / n)
    (ctx.out_dir / "trials" / "0000" / "cache" / "teacher-logits-x.safetensors").write_bytes(b"logits")
    assert (ctx.out_dir / "trials" / "0001" / "cache" / "teacher-logits-x.safetensors").read_bytes() == b"logits"
    _cleanup(ctx, ctx.out_dir / "trials" / "0000")
    assert not (ctx.out_dir / "trials" / "0000" / "cache").exists()
    assert (ctx.out_dir / "cache" / "teacher-logits-x.safetensors").read_bytes() == b"logits"
