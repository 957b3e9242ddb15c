"""Question answering's distill and prune stages: the per-position KD loss (masked to each window's real tokens),
the student built from chosen teacher layers with the teacher's span head, and one tiny teacher -> distill -> prune
run through the CLI (a random hidden-32 BERT, the tiny SQuAD files of ``test_qa_task``): the figures recorded, heads
and FFN physically smaller, the saved directory reloading to the same logits, the vocabulary cut keeping every token
of the training windows and answering the same spans; bad settings exit 2."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from conftest import make_tiny_bert, run_cli
from test_qa_task import TEACHER_ONLY, qa_config, qa_data, squad_dir

FAST = {"epochs": 2, "lr": 1e-3, "batch_size": 8, "eval_every": 10, "precision": "fp32"}
STAGES = {"distill": {"enabled": True, "student": {"layers": [1]}, "train": FAST},
          # half the heads and FFN neurons, the vocabulary cut to the training questions' and contexts' tokens
          "prune": {"enabled": True, "heads_fraction": 0.5, "ffn_fraction": 0.5, "vocab": True,
                    "vocab_max_drop": None, "score_batches": 2,
                    "latency_seconds": 0.02, "latency_seq_len": 32, "train": FAST | {"epochs": 1}}}


def tiny_qa(layers: int = 3, seed: int = 0):
    from transformers import BertConfig, BertForQuestionAnswering

    torch.manual_seed(seed)
    return BertForQuestionAnswering(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=layers,
                                               num_attention_heads=2, intermediate_size=32)).eval()


def windows(lengths: list[int], seed: int = 0) -> list[dict]:
    """Training rows as ``qa_distill.training_rows`` gives them: ids cut to their real tokens, a gold span, and the
    teacher's start and end logits over those tokens."""
    rng = np.random.default_rng(seed)
    return [{"input_ids": rng.integers(1, 50, n).tolist(), "attention_mask": [1] * n, "token_type_ids": [0] * n,
             "start_positions": 1, "end_positions": n - 2,
             "teacher_start": rng.normal(size=n).astype(np.float32),
             "teacher_end": rng.normal(size=n).astype(np.float32)} for n in lengths]


# ------------------------------------------------------------------------------------------------ the loss


def test_kd_reads_each_windows_real_tokens_only():
    """A padded batch's loss is the mean of its windows' losses alone; the teacher's scores on padding change
    nothing, a real token's do; with the student's own logits as targets the KD term is 0."""
    from edgeport.tasks.qa_distill import collate_for, kd_loss

    model, rows = tiny_qa(), windows([9, 4, 6])
    collate, loss = collate_for(SimpleNamespace(pad_token_id=0)), kd_loss(0.5, 2.0)
    with torch.no_grad():
        batch = collate(rows)
        padded = loss(model, batch)
        alone = sum(loss(model, collate([r])) for r in rows) / len(rows)
        assert abs(float(padded - alone)) < 1e-5
        batch["teacher_start"][1, 4:], batch["teacher_end"][1, 4:] = 40.0, -40.0  # window 1 has 4 real tokens
        assert torch.equal(loss(model, batch), padded)
        batch["teacher_end"][1, 2] += 3.0
        assert abs(float(loss(model, batch) - padded)) > 1e-4
        own = model(**{k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")})
        batch["teacher_start"], batch["teacher_end"] = own.start_logits, own.end_logits
        assert abs(float(kd_loss(0.0, 2.0)(model, batch))) < 1e-6


def test_the_student_starts_from_the_chosen_layers_and_the_teachers_span_head():
    from edgeport.config.models import StudentConfig
    from edgeport.models.student import build_student
    from edgeport.tasks.qa_model import new_qa

    teacher = tiny_qa(layers=3)
    student = build_student(teacher, StudentConfig(layers=[0, 2]), make=new_qa)
    assert type(student).__name__ == "BertForQuestionAnswering" and student.config.num_hidden_layers == 2
    assert torch.equal(student.qa_outputs.weight, teacher.qa_outputs.weight)
    for dst, src in enumerate([0, 2]):
        ours, theirs = student.bert.encoder.layer[dst].state_dict(), teacher.bert.encoder.layer[src].state_dict()
        assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


@pytest.mark.parametrize("distill,key", [({"extra_texts": "texts.txt"}, "distill.extra_texts"),
                                         ({"student": {"model": "any"}}, "distill.student.model"),
                                         ({"hidden_loss_weight": 1.0}, "distill.hidden_loss_weight"),
                                         ({"student": {"hidden_size": 16}}, "distill.student.hidden_size")])
def test_distill_settings_not_built_for_the_task_are_refused(tmp_path, distill, key):
    import yaml

    from edgeport.config import ConfigError, load_config
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"data": qa_data(tmp_path), "distill": distill}
                                                    | {k: v for k, v in TEACHER_ONLY.items() if k != "distill"}))
    with pytest.raises(ConfigError, match=f"{key}: .*not built for question-answering yet"):
        load_config(tmp_path / "c.yaml")


# ------------------------------------------------------------------------------------------------ the run


@pytest.fixture(scope="module")
def qa_run(tmp_path_factory):
    """``edgeport run``: teacher (3 epochs) -> distill (layer 1 of 2, 2 epochs) -> prune (half the heads and FFN,
    1 epoch of recovery, vocabulary) on 90 training questions; export and later stages off."""
    tmp = tmp_path_factory.mktemp("qa-distill")
    config = qa_config(tmp, make_tiny_bert(tmp / "bert"), squad_dir(tmp / "data"), **STAGES)
    proc = run_cli("run", config, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = tmp / "runs" / "qa"
    return config, run, json.loads((run / "manifest.json").read_text())["stages"]


def task_of(config):
    from edgeport.config import load_config
    from edgeport.data import load_task

    cfg = load_config(config)
    return cfg, load_task(cfg.data, seed=cfg.run.seed)


def test_distill_records_em_and_f1_beside_the_teachers(qa_run):
    from edgeport.tasks.qa import reader, task_tokenizer
    from edgeport.tasks.qa_model import has_qa_head, load_qa

    config, run, stages = qa_run
    m, t = stages["distill"]["metrics"], stages["teacher"]["metrics"]
    assert set(stages) == {"teacher", "distill", "prune"}
    assert m["select_metric"] == m["metric"] == "squad_f1" and m["eval_split"] == "dev" and "select_accuracy" not in m
    for key in ("select_squad_f1", "select_squad_em", "eval_squad_f1", "eval_squad_em", "select_teacher_agreement"):
        assert 0.0 <= m[key] <= 1.0, key
    assert m["select_squad_em"] <= m["select_squad_f1"] and m["eval_squad_em"] <= m["eval_squad_f1"]
    assert {k: m[f"teacher_{k}"] for k in ("select_squad_f1", "eval_squad_f1", "eval_squad_em")} == \
        {k: t[k] for k in ("select_squad_f1", "eval_squad_f1", "eval_squad_em")}
    assert m["train_windows"] == t["train_windows"] and "real tokens" in m["loss"]
    f1s = [h["select_squad_f1"] for h in m["history"]]
    assert m["best_step"] == m["history"][f1s.index(max(f1s))]["step"] and m["select_squad_f1"] == max(f1s)
    # the student: the chosen teacher layer, a span head, saved as a question-answering model
    assert m["layers"] == 1 and m["student_layers"] == [1] and has_qa_head(run / "distill")
    student, teacher = load_qa(run / "distill"), load_qa(run / "teacher")
    assert student.config.num_hidden_layers == 1 and m["params"] < sum(p.numel() for p in teacher.parameters())
    # agreement: the share of selection questions both answer with the same text
    cfg, task = task_of(config)
    select = reader(task.select, task_tokenizer(run / "distill"), cfg.data.max_seq_len, cfg.data.stride(), 64)
    ours, theirs = select.answers(student, "student"), select.answers(teacher, "teacher")
    same = [ours.get(e.id) == theirs.get(e.id) for e in task.select.examples]
    assert m["select_teacher_agreement"] == round(float(np.mean(same)), 6)


def test_prune_makes_heads_and_ffn_smaller_and_the_saved_model_reloads_to_the_same_logits(qa_run):
    from transformers import AutoModelForQuestionAnswering

    from edgeport.tasks.qa import task_tokenizer
    from edgeport.tasks.qa_model import load_qa

    _, run, stages = qa_run
    m = stages["prune"]["metrics"]
    assert [v["step"] for v in m["variants"]] == ["unpruned", "heads-pruned", "ffn-pruned", "recovered",
                                                   "vocab-pruned"]
    assert all("select_squad_f1" in v and "eval_squad_f1" in v and v["p50_ms"] > 0 for v in m["variants"])
    assert (m["heads_per_layer_before"], m["heads_per_layer"], m["ffn_width_before"], m["ffn_width"]) == (2, 1, 64, 32)
    assert m["params"] < m["variants"][0]["params"] and m["reload_max_abs_diff"] < 1e-4
    assert m["select_metric"] == "squad_f1" and 0 <= m["eval_squad_f1"] <= 1 and m["kept_heads"]
    ours = load_qa(run / "prune").eval()  # the zero-padded heads sliced out again
    layer = ours.bert.encoder.layer[0]
    assert layer.attention.self.num_attention_heads == 1 and layer.intermediate.dense.out_features == 32
    plain = AutoModelForQuestionAnswering.from_pretrained(str(run / "prune")).eval()
    batch = task_tokenizer(run / "prune")(["What color is the car?"], ["The car of Town1 is red."],
                                          return_tensors="pt")
    with torch.no_grad():
        a, b = ours(**batch), plain(**batch)
    for name in ("start_logits", "end_logits"):
        assert torch.allclose(getattr(a, name), getattr(b, name), atol=1e-4), name


def test_the_vocabulary_cut_keeps_every_training_token_and_answers_the_same_spans(qa_run):
    """The training windows are the same tokens with the cut tokenizer, and the saved model answers every training
    question as the same weights with the full vocabulary do (its embedding rows put back at the old ids)."""
    import copy

    from edgeport.tasks.qa import reader, split_windows, task_tokenizer
    from edgeport.tasks.qa_model import load_qa

    config, run, stages = qa_run
    vocab = stages["prune"]["metrics"]["vocab"]
    cfg, task = task_of(config)
    old, new = task_tokenizer(run / "distill"), task_tokenizer(run / "prune")
    assert vocab["vocab_after"] == len(new) < vocab["vocab_before"] == len(old)
    length, stride = cfg.data.max_seq_len, cfg.data.stride()
    tokens = lambda tok: [tok.convert_ids_to_tokens(r["input_ids"])  # noqa: E731
                          for r in split_windows(task.train, tok, length, stride).rows]
    assert tokens(new) == tokens(old)
    cut = load_qa(run / "prune").eval()
    full = copy.deepcopy(cut)
    rows = torch.zeros(len(old), cut.config.hidden_size)
    rows[[old.convert_tokens_to_ids(t) for t in new.convert_ids_to_tokens(list(range(len(new))))]] = \
        cut.get_input_embeddings().weight.detach()
    full.set_input_embeddings(torch.nn.Embedding.from_pretrained(rows))
    answers = lambda model, tok: reader(task.train, tok, length, stride, 64).answers(model, "train")  # noqa: E731
    assert answers(cut, new) == answers(full, old)


@pytest.mark.parametrize("override,words", [
    ("distill.student.layers=[0,5]", "distill.student.layers: [5] out of range"),
    ("distill.hidden_loss_weight=1.0", "distill.hidden_loss_weight: hidden-state KD"),
    ("explain.enabled=true", "explain.enabled: attribution"),
])
def test_bad_settings_exit_2_before_anything_runs(tmp_path, override, words):
    config = qa_config(tmp_path, make_tiny_bert(tmp_path / "bert"), squad_dir(tmp_path / "data"), **STAGES)
    proc = run_cli("run", config, "-o", override, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert words in proc.stderr
    assert not (tmp_path / "runs" / "qa" / "teacher").exists()
