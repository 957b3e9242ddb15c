"""The training recipes: selection split vs evaluation split, the useless-model gate, adaptive epochs, precision
and device placement."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch
import yaml

from conftest import make_tiny_bert, run_cli
from edgeport.config import TrainConfig
from edgeport.stats import binomial_tail
from edgeport.training import distillation, recipe
from edgeport.training.loop import planned_epochs, resolve_precision

FILL = "the a film movie plot story acting was is quite rather very truly and but so".split()


def learnable_tsv(n: int, seed: int) -> str:
    """Sentences whose label is one sentiment word among filler: a hidden-32 BERT learns it in ~100 steps, so a
    model that does not is really useless (the gate's job), not merely small."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        positive = rng.random() < 0.6
        words = rng.sample(FILL, 5) + [rng.choice(["wonderful", "great", "superb"] if positive
                                                  else ["awful", "dull", "boring"])]
        rng.shuffle(words)
        lines.append(f"{' '.join(words)}\t{int(positive)}")
    return "sentence\tlabel\n" + "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def learnable(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("learnable")
    data = base / "data"
    data.mkdir()
    (data / "train.tsv").write_text(learnable_tsv(400, 1))
    (data / "validation.tsv").write_text(learnable_tsv(100, 2))
    return {"base": base, "data": data, "teacher": make_tiny_bert(base / "teacher")}


def _config(ws: dict, name: str, lr: float) -> Path:
    train = {"epochs": 5, "lr": lr, "batch_size": 16}
    cfg = {"run": {"name": name, "runs_dir": str(ws["base"] / "runs"), "seed": 0, "threads": 1},
           "data": {"local": str(ws["data"]), "label_names": ["negative", "positive"], "max_seq_len": 32},
           "teacher": {"model": str(ws["teacher"]), "train": train},
           "distill": {"student": {"layers": [1]}, "train": train},
           **{s: {"enabled": False} for s in ("export", "quantize", "validate", "report")}}
    path = ws["base"] / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


# ------------------------------------------------------------------------------ the useless-model gate


def test_binomial_tail_is_exact():
    brute = sum(math.comb(20, i) * 0.3 ** i * 0.7 ** (20 - i) for i in range(9, 21))
    assert binomial_tail(9, 20, 0.3) == pytest.approx(brute, rel=1e-12)
    assert binomial_tail(0, 20, 0.3) == 1.0


def test_gate_compares_with_the_majority_class_on_selection_rows():
    train = [1] * 68 + [0] * 32
    select = [1] * 136 + [0] * 64  # 68% majority, 200 rows
    assert "no better than always answering 'pos'" in recipe.useless_model_failure(
        "teacher", 0.69, select, train, ["neg", "pos"])  # the small-task teacher of the issue: 68.9 vs 68.4
    assert recipe.useless_model_failure("teacher", 0.80, select, train, ["neg", "pos"]) is None


def test_useless_teacher_fails_its_gate_and_stops_the_run(learnable):
    bad = run_cli("run", _config(learnable, "useless", 1e-7))
    assert bad.returncode == 1, bad.stderr[-2000:]
    assert "teacher: selection-split accuracy" in bad.stderr and "teacher.train.lr" in bad.stderr
    assert "Traceback" not in bad.stderr
    manifest = json.loads((learnable["base"] / "runs" / "useless" / "manifest.json").read_text())
    assert "distill" not in manifest["stages"]  # stopped after the teacher's gate: nothing distilled from it
    assert "stopped" in bad.stdout


def test_teacher_that_learns_passes_the_gate(learnable):
    good = run_cli("run", _config(learnable, "learns", 3e-3), "--until", "teacher")
    assert good.returncode == 0, good.stderr[-2000:]
    metrics = json.loads((learnable["base"] / "runs" / "learns" / "manifest.json").read_text())["stages"]["teacher"]["metrics"]
    assert metrics["select_accuracy"] > metrics["select_majority_rate"] + 0.2
    assert metrics["gate_failures"] == [] and metrics["eval_split"] == "validation"


def test_teacher_logit_cache_key_covers_what_the_logits_depend_on(monkeypatch):
    rows = [{"input_ids": [101, 7, 102], "attention_mask": [1, 1, 1]}]
    key = distillation.logits_key("teacher-digest", "fp32", rows)
    assert distillation.logits_key("other-teacher", "fp32", rows) != key
    assert distillation.logits_key("teacher-digest", "bf16", rows) != key
    assert distillation.logits_key("teacher-digest", "fp32", [{"input_ids": [101, 8, 102], "attention_mask": [1, 1, 1]}]) != key
    monkeypatch.setattr(distillation, "_library_versions", lambda: "torch=9.9,transformers=9.9")
    assert distillation.logits_key("teacher-digest", "fp32", rows) != key


# ------------------------------------------------------------------------------ splits


def test_eval_rows_never_reach_training_and_selection_is_disjoint(tiny_bert, sst2_slice, tmp_path, monkeypatch):
    """Every fit (teacher, distill, prune recovery) records the rows it trains and chooses on; none is an
    evaluation row, and the selection rows are never trained on."""
    from conftest import write_config
    from edgeport.config import load_config
    from edgeport.data import encode, load_task
    from edgeport.models import load_tokenizer
    from edgeport.pipeline.runner import execute
    from edgeport.stages import STAGES

    seen = []
    real_fit = recipe.fit

    def spy(model, train_rows, select_rows, *args, **kwargs):
        seen.append(({tuple(r["input_ids"]) for r in train_rows}, {tuple(r["input_ids"]) for r in select_rows}))
        return real_fit(model, train_rows, select_rows, *args, **kwargs)

    monkeypatch.setattr(recipe, "fit", spy)
    monkeypatch.setattr(distillation, "fit", spy)
    path = write_config(tmp_path / "cfg.yaml", tiny_bert, sst2_slice, tmp_path / "runs",
                        prune={"enabled": True, "ffn_fraction": 0.5, "score_batches": 1, "latency_seconds": 0,
                               "train": {"epochs": 1, "lr": 1e-3, "batch_size": 16, "useful_gate": False}},
                        export={"enabled": False}, quantize={"enabled": False})
    cfg = load_config(str(path))
    execute(STAGES, cfg, echo=lambda *a: None)
    task = load_task(cfg.data, seed=cfg.run.seed)
    tok = load_tokenizer(tiny_bert)
    ids = lambda split: {tuple(r["input_ids"]) for r in encode(split, tok, 32)}  # noqa: E731
    eval_ids, select_ids = ids(task.eval), ids(task.select)
    assert len(seen) == 3  # teacher, distill, prune recovery
    assert not set(task.select.texts) & set(task.eval.texts)
    for train_ids, chosen_on in seen:
        assert not train_ids & eval_ids, "an evaluation row reached training"
        assert not train_ids & select_ids, "a selection row was trained on"
        assert chosen_on == select_ids, "choices must be judged on the selection split"


# ------------------------------------------------------------------------------ epochs, precision, devices


def test_epochs_adapt_to_small_datasets_unless_set():
    assert planned_epochs(TrainConfig(), steps_per_epoch=2000) == 1.0  # SST-2-sized: one epoch
    assert planned_epochs(TrainConfig(), steps_per_epoch=115) == pytest.approx(600 / 115)  # 3.7k rows
    assert planned_epochs(TrainConfig(), steps_per_epoch=10) == 10.0  # capped by max_epochs
    assert planned_epochs(TrainConfig(epochs=2), steps_per_epoch=10) == 2.0  # the user's choice stands


def test_precision_auto_rule(monkeypatch):
    import edgeport.training.loop as loop

    monkeypatch.setattr(loop, "_cpu_bf16_is_faster", lambda: False)
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    monkeypatch.setattr(loop, "_cpu_bf16_is_faster", lambda: True)
    assert resolve_precision("auto", torch.device("cpu")) == "bf16"
    assert resolve_precision("fp32", torch.device("cpu")) == "fp32"


@pytest.fixture
def probe(monkeypatch, tmp_path):
    """cpu_bf16 with its host cache under tmp_path, a fixed host key and a scripted measurement."""
    from edgeport.training import cpu_bf16

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(cpu_bf16, "host_key", lambda: "Some CPU | avx512_bf16 | torch x")
    cpu_bf16.bf16_is_faster.cache_clear()
    yield cpu_bf16
    cpu_bf16.bf16_is_faster.cache_clear()


@pytest.mark.parametrize("fp32_s, bf16_s, faster", [(1.0, 0.7, True), (1.0, 1.0, False), (1.0, 1.9, False)])
def test_cpu_bf16_is_chosen_only_where_it_measured_clearly_faster(probe, monkeypatch, fp32_s, bf16_s, faster):
    monkeypatch.setattr(probe, "measure", lambda: (fp32_s, bf16_s))
    assert probe.bf16_is_faster() is faster


def test_cpu_bf16_probe_is_measured_once_per_host_and_kept(probe, monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(probe, "measure", lambda: calls.append(1) or (1.0, 0.5))
    assert probe.bf16_is_faster() and calls == [1]
    saved = json.loads((tmp_path / "edgeport" / "cpu_bf16.json").read_text())
    assert saved["Some CPU | avx512_bf16 | torch x"]["speedup"] == 2.0
    probe.bf16_is_faster.cache_clear()  # a new process on the same host: the file answers, the probe stays idle
    monkeypatch.setattr(probe, "measure", lambda: (1.0, 9.0))
    assert probe.bf16_is_faster()
    monkeypatch.setattr(probe, "host_key", lambda: "Another CPU | avx512_bf16 | torch x")  # another host measures
    probe.bf16_is_faster.cache_clear()
    assert not probe.bf16_is_faster()


def test_cpu_bf16_probe_answers_with_an_unwritable_cache(probe, monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # edgeport/ cannot be made under a file
    monkeypatch.setattr(probe, "measure", lambda: (1.0, 0.5))
    assert probe.bf16_is_faster()


def test_cpu_without_a_bf16_instruction_is_never_timed(probe, monkeypatch):
    monkeypatch.setattr(probe, "host_key", lambda: None)
    monkeypatch.setattr(probe, "measure", lambda: pytest.fail("timed a CPU without bf16 instructions"))
    assert probe.bf16_is_faster() is False


def test_cpu_bf16_host_key_reads_the_cpu_not_only_its_name(monkeypatch, tmp_path, request):
    from edgeport import hostinfo
    from edgeport.training import cpu_bf16

    info = tmp_path / "cpuinfo"
    real_open = open
    monkeypatch.setattr(hostinfo, "open", lambda p, *a, **k: real_open(info if p == "/proc/cpuinfo" else p, *a, **k),
                        raising=False)
    request.addfinalizer(hostinfo.host_identity.cache_clear)  # later tests read the real host again
    hostinfo.host_identity.cache_clear()
    line = "model name\t: Intel(R) Xeon(R) Processor\ncpu family\t: 6\nmodel\t\t: {}\nstepping\t: 2\nflags\t\t: {}\n"
    info.write_text(line.format(207, "fpu avx512f avx512_bf16 avx512_vnni"))
    emerald = cpu_bf16.host_key()
    info.write_text(line.format(85, "fpu avx512f avx512_bf16 avx512_vnni"))
    hostinfo.host_identity.cache_clear()
    assert cpu_bf16.host_key() != emerald and "model 85" in cpu_bf16.host_key() and "avx512_bf16" in emerald
    info.write_text(line.format(85, "fpu avx2 fma"))
    hostinfo.host_identity.cache_clear()
    assert cpu_bf16.host_key() is None


def _tiny_rows(tok, n=48):
    texts = [f"a {'good' if i % 2 else 'bad'} film number {i}" for i in range(n)]
    enc = tok(texts, truncation=True, max_length=16)
    return [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
             "token_type_ids": enc["token_type_ids"][i], "labels": i % 2} for i in range(n)]


def test_bf16_training_returns_a_plain_fp32_model_on_cpu(tiny_bert):
    from edgeport.models import load_classifier, load_tokenizer

    tok = load_tokenizer(tiny_bert)
    model = load_classifier(tiny_bert, label_names=["neg", "pos"])
    rows = _tiny_rows(tok)
    result = recipe.finetune(model, rows[:32], rows[32:], TrainConfig(epochs=1, batch_size=16, precision="bf16"),
                             recipe.collate_for(tok), 0)
    assert result.precision == "bf16"
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in model.parameters())
    batch = recipe.collate_for(tok)(rows[:4])
    model.eval()  # no dropout: the comparison below is exact
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert logits.dtype == torch.float32  # no autocast wrapper left on forward
    plain = load_classifier(tiny_bert, label_names=["neg", "pos"]).eval()
    plain.load_state_dict(model.state_dict())
    with torch.no_grad():
        reference = plain(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    # a forward still under bf16 autocast (outputs cast back to fp32) differs: 5.7e-5 on this tiny model
    assert torch.allclose(logits, reference, atol=1e-6), (logits - reference).abs().max()


def test_training_in_a_log_writes_lines_not_bars(tiny_bert, capfd):
    """stderr is no terminal here (a log, CI): no carriage-return bar debris, one line per selection evaluation."""
    from edgeport.models import load_classifier, load_tokenizer

    tok = load_tokenizer(tiny_bert)
    rows, model = _tiny_rows(tok), load_classifier(tiny_bert, label_names=["neg", "pos"])
    capfd.readouterr()  # transformers' own loading bar (a run silences it: environment.quiet_library_bars)
    recipe.finetune(model, rows[:32], rows[32:], TrainConfig(epochs=2, batch_size=16, eval_every=2),
                    recipe.collate_for(tok), 0)
    out, err = capfd.readouterr()
    assert "\r" not in out + err
    assert len([ln for ln in (out + err).splitlines() if "selection split: accuracy" in ln]) == 2, out + err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_finetune_and_distill_on_cuda(tiny_bert, tmp_path):
    from edgeport.config import StudentConfig
    from edgeport.models import build_student, load_classifier, load_tokenizer, save_model

    tok = load_tokenizer(tiny_bert)
    collate = recipe.collate_for(tok)
    rows = _tiny_rows(tok)
    teacher = load_classifier(tiny_bert, label_names=["neg", "pos"])
    recipe.finetune(teacher, rows[:32], rows[32:], TrainConfig(epochs=1, batch_size=16), collate, 0)
    logits = recipe.predict_logits(teacher.to("cuda"), rows[:32], collate)  # batches follow the model
    teacher.to("cpu")
    for row, values in zip(rows, logits.tolist()):
        row["teacher_logits"] = values
    student = build_student(teacher, StudentConfig(layers=[0]))
    distillation.distill(student, rows[:32], rows[32:], TrainConfig(epochs=1, batch_size=16), distillation.KD(0.5, 2.0),
                   collate, 0)
    assert next(student.parameters()).device.type == "cpu"
    save_model(student, tok, tmp_path / "student")
