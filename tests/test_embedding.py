"""The sentence-embedding task: config, data, the model (pooling as sentence-transformers does it), the gates, and
a tiny run through every stage it supports (teacher -> distill -> export -> quantize -> validate -> bench ->
report) on STS-B pairs from ../shared/data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import REPO, SHARED_DATA, make_tiny_bert, run_cli

STSB = SHARED_DATA / "stsb"


def stsb_slice(out: Path, train: int = 300, validation: int = 120) -> Path:
    if not STSB.is_dir():
        pytest.fail(f"STS-B not found at {STSB}; set EDGEPORT_DATA_DIR to the folder that holds stsb/")
    out.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", train), ("validation", validation)):
        lines = (STSB / f"{split}.tsv").read_text(encoding="utf-8").splitlines()[: n + 1]
        (out / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def embed_data(local) -> dict:
    return {"task": "sentence-embedding", "local": str(local), "text_column": "sentence1",
            "text_pair_column": "sentence2", "label_column": "score", "max_seq_len": 32,
            "selection_min_rows": 40}


# ------------------------------------------------------------------------------------------------ config


def test_shipped_config_is_an_embedding_task():
    from edgeport.config import load_config

    cfg = load_config(REPO / "edgeport" / "configs" / "embed.yaml")
    assert cfg.data.task == "sentence-embedding" and cfg.data.metric == "spearman"


@pytest.mark.parametrize("section,values,key", [
    ("explain", {"enabled": True}, "explain.enabled"),
    ("teacher", {"finetune": "always"}, "teacher.finetune"),
    ("distill", {"hidden_loss_weight": 1.0}, "distill.hidden_loss_weight"),
])
def test_what_the_task_does_not_do_is_refused_at_config_load(tmp_path, section, values, key):
    from edgeport.config import ConfigError, load_config

    raw = {"data": embed_data(tmp_path), section: values}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "c.yaml")
    assert key in str(err.value) and "sentence-embedding" in str(err.value)


def test_metric_must_belong_to_the_task(tmp_path):
    from edgeport.config import ConfigError, load_config

    for data in (embed_data(tmp_path) | {"metric": "accuracy"}, {"metric": "spearman"}):
        (tmp_path / "c.yaml").write_text(yaml.safe_dump({"data": data}))
        with pytest.raises(ConfigError, match="not a .* metric"):
            load_config(tmp_path / "c.yaml")


# ------------------------------------------------------------------------------------------------ data


def test_scored_pairs_load_and_distillation_never_sees_a_scored_sentence(tmp_path):
    from edgeport.config.data import DataConfig
    from edgeport.data import load_task, sides
    from edgeport.tasks.embedding_distill import training_sentences

    task = load_task(DataConfig(**embed_data(stsb_slice(tmp_path))), seed=0)
    assert task.label_names == [] and all(isinstance(v, float) for v in task.train.labels)
    assert 0.0 <= min(task.eval.labels) and max(task.eval.labels) <= 5.0
    both = sides(task.eval)
    assert both.texts == task.eval.texts + task.eval.pairs and both.labels is None
    extra = tmp_path / "extra.txt"  # a corpus holding an evaluation sentence (in other case) and a new one
    extra.write_text(f"{task.eval.pairs[0].upper()}\nan unseen sentence about rivers .\n")
    texts, counts = training_sentences(task, None, str(extra))
    held = set(sides(task.select).texts) | set(sides(task.eval).texts)
    assert texts and not held & set(texts) and "an unseen sentence about rivers ." in texts
    assert task.eval.pairs[0].upper() not in texts and counts["extra_texts"] == 2
    # STS-B repeats sentences across pairs: the held-out ones do occur among the training pairs' sentences
    assert held & set(sides(task.train).texts)


def test_a_bad_score_names_the_row(tmp_path):
    from edgeport.config.data import DataConfig
    from edgeport.data import load_task
    from edgeport.errors import DataError

    data = stsb_slice(tmp_path)
    lines = (data / "train.tsv").read_text().splitlines()
    lines[5] = "\t".join(lines[5].split("\t")[:2] + ["high"])
    (data / "train.tsv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"train.tsv:6: score 'high'"):
        load_task(DataConfig(**embed_data(data)), seed=0)


# ------------------------------------------------------------------------------------------------ model


def test_saved_student_is_a_sentence_transformer_with_the_same_vectors(tmp_path):
    """``SentenceTransformer(dir)`` (the ecosystem's loader) gives edgeport's fp32 vector."""
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    from edgeport.tasks.embedding import vectors
    from edgeport.tasks.embedding_model import load_embedder, save_embedder

    src = make_tiny_bert(tmp_path / "bert")
    model, tok = load_embedder(src), AutoTokenizer.from_pretrained(str(src))
    save_embedder(model, tok, tmp_path / "saved", max_seq_len=32)
    texts = ["a man is playing a guitar .", "two dogs run", "the cat sleeps on a warm red blanket today"]
    ours = vectors(load_embedder(tmp_path / "saved"), texts, tok, 32)
    theirs = SentenceTransformer(str(tmp_path / "saved"), device="cpu").encode(texts)
    np.testing.assert_allclose(ours, theirs, atol=2e-6)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=-1), 1.0, atol=1e-6)


def test_padding_does_not_move_the_vector(tmp_path):
    import torch

    from edgeport.tasks.embedding_model import load_embedder

    model = load_embedder(make_tiny_bert(tmp_path / "bert"))
    ids = torch.tensor([[101, 2000, 2001, 102]])
    alone = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    padded = torch.cat([ids, torch.zeros(1, 5, dtype=torch.long)], 1)
    mask = torch.cat([torch.ones_like(ids), torch.zeros(1, 5, dtype=torch.long)], 1)
    torch.testing.assert_close(model(input_ids=padded, attention_mask=mask).logits, alone, atol=1e-6, rtol=0)


def test_a_cls_pooling_model_is_refused(tmp_path):
    from edgeport.errors import ModelError
    from edgeport.tasks.embedding_model import POOLING_DIR, load_embedder

    src = make_tiny_bert(tmp_path / "bert")
    (src / POOLING_DIR).mkdir()
    (src / POOLING_DIR / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True,
                                                               "pooling_mode_mean_tokens": False}))
    with pytest.raises(ModelError, match="pooling_mode_cls_token"):
        load_embedder(src)


# ------------------------------------------------------------------------------------------------ gates


def _evidence(vecs, ref, scores, precision="int8", teacher=None, yardstick=0.999):
    from edgeport.validation_gates import Evidence

    tol = {"max_abs": 1.0, "mean_abs": 1.0, "budget": {"max_factor": 1.5, "mean_factor": 1.5},
           "yardstick": {"max_abs": 0.5, "mean_abs": 0.5}, "format": "onnx", "mode": "dynamic"}
    return Evidence("onnx-int8", "onnx", precision, vecs, ref, None, tol, teacher=teacher, output="embedding",
                    scores=np.asarray(scores), yardstick_cosine=yardstick)


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _pairs(n=300, d=16, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, d))
    scores = rng.uniform(0, 5, n)
    b = a * scores[:, None] + rng.normal(size=(n, d)) * 3  # similarity grows with the score
    return _unit(np.concatenate([a, b])).astype(np.float32), scores


def test_embedding_gates_pass_a_faithful_artifact_and_fail_a_broken_one():
    from edgeport.config import ValidateConfig
    from edgeport.validation_gates import judge

    vcfg = ValidateConfig()
    ref, scores = _pairs()
    noise = _unit(ref + np.random.default_rng(1).normal(size=ref.shape) * 1e-3).astype(np.float32)
    gates = {g.name: g for g in judge(_evidence(noise, ref, scores), vcfg)}
    assert {"cosine_vs_fp32", "drop_vs_fp32", "max_abs_diff"} <= set(gates)
    assert "agreement_vs_fp32" not in gates and "fp32_parity" not in gates  # argmax means nothing for a vector
    assert all(g.state.value == "pass" for g in gates.values()), [g.message for g in gates.values()]
    # one sentence's vector replaced: the cosine gate fails on that row, whatever the rest does
    broken = noise.copy()
    broken[7] = _unit(np.ones_like(broken[7]))
    gate = {g.name: g for g in judge(_evidence(broken, ref, scores), vcfg)}["cosine_vs_fp32"]
    assert gate.state.value == "fail" and gate.evidence["worst_row"] == 7
    # the second sentences shuffled: the pairs' cosines lose their order, the Spearman drop fails
    n = len(ref) // 2
    shuffled = np.concatenate([ref[:n], ref[n:][np.random.default_rng(2).permutation(n)]])
    drop = {g.name: g for g in judge(_evidence(shuffled, ref, scores), vcfg)}["drop_vs_fp32"]
    assert drop.state.value == "fail" and drop.value > 10


def test_int8_cosine_limit_follows_the_models_own_noise():
    from edgeport.config import ValidateConfig
    from edgeport.validation_gates import min_cosine_limit

    ref, scores = _pairs()
    limit, source = min_cosine_limit(_evidence(ref, ref, scores, yardstick=0.99), ValidateConfig())
    assert limit == pytest.approx(1 - 1.5 * 0.01) and "noise budget" in source
    assert min_cosine_limit(_evidence(ref, ref, scores, precision="fp32"), ValidateConfig())[0] == 0.9999
    assert min_cosine_limit(_evidence(ref, ref, scores), ValidateConfig(min_cosine=0.5))[0] == 0.5


# ------------------------------------------------------------------------------------------------ the chain


def test_tiny_embedding_run_through_every_stage(tmp_path):
    """teacher (as it is) -> distill -> export (onnx, tflite) -> INT8 -> validate -> bench -> report, on 300 STS-B
    training pairs with a random hidden-32 BERT: the mechanics, not the quality (useful gates off)."""
    teacher = make_tiny_bert(tmp_path / "teacher")
    cfg = {"run": {"name": "embed", "runs_dir": str(tmp_path / "runs"), "seed": 0, "threads": 1},
           "data": embed_data(stsb_slice(tmp_path / "data")),
           "teacher": {"model": str(teacher), "train": {"useful_gate": False}},
           "distill": {"student": {"layers": [1]},
                       "train": {"epochs": 1, "lr": 1e-3, "batch_size": 16, "useful_gate": False}},
           # half the heads and FFN neurons, the vocabulary to the training text's tokens, recovery on the task's loss
           "prune": {"enabled": True, "heads_fraction": 0.5, "ffn_fraction": 0.5, "vocab": True,
                     "vocab_max_drop": None, "latency_seconds": 0,
                     "train": {"epochs": 1, "lr": 1e-3, "batch_size": 16, "useful_gate": False}},
           "export": {"formats": ["onnx", "tflite"], "seq_buckets": [16, 32]},
           # a random hidden-32 model: the toy limits the support matrix measured (benchmarks/support_matrix.py)
           "validate": {"max_drop_vs_teacher": None, "min_cosine": 0.999,
                        "tolerances": {f"{f}-int8": {"max_abs": 0.02, "mean_abs": 0.005} for f in ("onnx", "tflite")}},
           "bench": {"targets": ["host"], "min_seconds": 0.05, "runs": 3, "workload_rows": 20,
                     "workload_passes": 1, "memory": False}}
    (tmp_path / "embed.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_cli("run", tmp_path / "embed.yaml", timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = tmp_path / "runs" / "embed"
    stages = json.loads((run / "manifest.json").read_text())["stages"]
    distill = stages["distill"]["metrics"]
    assert distill["select_metric"] == "spearman" and -1 <= distill["eval_spearman"] <= 1
    check_pruned(run, stages["prune"]["metrics"], "spearman", "sentence-embedding")
    results = json.loads((run / "validate" / "results.json").read_text())
    names = {a["name"] for a in results["artifacts"]}
    assert names == {"onnx-fp32", "tflite-fp32", "onnx-int8", "tflite-int8"}
    for art in results["artifacts"]:
        gates = {g["name"] for g in art["verdict"]["gates"]}
        assert "cosine_vs_fp32" in gates and "agreement_vs_fp32" not in gates
        assert art["cosine_min"] > 0.9 and "spearman" in art
        meta = json.loads((run / Path(art["path"]).parent / "artifact.json").read_text())
        assert meta["task"] == "sentence-embedding" and meta["output"] == "embedding" and meta["label_names"] == []
    fp32 = next(a for a in results["artifacts"] if a["name"] == "onnx-fp32")
    assert fp32["cosine_min"] > 0.9999
    assert all(a["verdict"]["state"] == "pass" for a in results["artifacts"])
    assert (run / "report" / "report.html").is_file()
    check_cards(run, "sentence-similarity", "sentence embedder", unit_vector)


def unit_vector(variables: dict, printed: str) -> None:
    """A card's snippet gave a sentence's vector of unit length (pooling and norm in the graph or the snippet)."""
    vector = np.asarray(variables["vector"], dtype=np.float64).reshape(-1)
    assert vector.size > 1 and abs(np.linalg.norm(vector) - 1) < 1e-3, np.linalg.norm(vector)


def check_cards(run: Path, pipeline_tag: str, noun: str, answer=None) -> None:
    """Every model and artifact card names the task's Hugging Face pipeline tag and what the model is, and the
    code it tells its reader to run runs where the card sits; ``answer(variables, printed)`` checks what it gave."""
    from card_snippets import run_load_snippet

    cards = [run / stage / "README.md" for stage in ("teacher", "distill", "prune")]
    cards += sorted((run / "export").glob("*/README.md")) + sorted((run / "quantize").glob("*/README.md"))
    assert len(cards) == 7, cards
    for card in cards:
        text = card.read_text()
        assert f"pipeline_tag: {pipeline_tag}\n" in text, card
        if answer is not None:
            answer(*run_load_snippet(card))
    assert noun in (run / "quantize" / "tflite-int8" / "README.md").read_text()


def check_pruned(run: Path, m: dict, metric: str, task: str) -> None:
    """The prune stage of a tiny run (2 heads, FFN 64, MiniLM vocabulary): every step measured, half the units
    gone, the vocabulary cut to the training text's tokens, the saved directory loading to the same outputs, and
    every artifact exported from it."""
    assert [v["step"] for v in m["variants"]] == ["unpruned", "heads-pruned", "ffn-pruned", "recovered",
                                                   "vocab-pruned"]
    assert all(f"select_{metric}" in v and f"eval_{metric}" in v for v in m["variants"])
    assert m["heads_per_layer_before"] == 2 and m["heads_per_layer"] == 1
    assert m["ffn_width_before"] == 64 and m["ffn_width"] == 32
    assert m["vocab"]["vocab_after"] < m["vocab"]["vocab_before"] == 30522 == m["variants"][0]["vocab_size"]
    assert m["params"] < m["variants"][0]["params"] and m["reload_max_abs_diff"] < 1e-4
    assert m["kept_heads"] and m["select_metric"] == metric and f"eval_{metric}" in m
    from edgeport.tasks.models import load

    model = load(task, run / "prune")
    assert model.config.vocab_size == m["vocab_size"]
    assert all(layer.attention.self.num_attention_heads == 1 for layer in model.base_model.encoder.layer)
    for fmt in ("onnx", "tflite"):
        meta = json.loads((run / "export" / f"{fmt}-fp32" / "artifact.json").read_text())
        assert meta["source_stage"] == "prune"


def test_a_table_under_the_data_dir_is_a_corpus(tmp_path, monkeypatch):
    """``distill.extra_texts: sst2/train.tsv``: found under $EDGEPORT_DATA_DIR, its text column read (not the label),
    and its bytes in the fingerprint."""
    from edgeport.corpus import CorpusFiles, read_corpus
    from edgeport.errors import DataError

    (tmp_path / "d").mkdir()
    table = tmp_path / "d" / "train.tsv"
    table.write_text("sentence\tlabel\na fine film\t1\na dull one\t0\n")
    monkeypatch.setenv("EDGEPORT_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path / "d")  # the relative path does not exist here: only under the data dir
    texts, _ = read_corpus("d/train.tsv", fields=("text", "sentence"))
    assert texts == ["a fine film", "a dull one"]
    before = CorpusFiles("d/train.tsv").digest()
    table.write_text("sentence\tlabel\na fine film\t1\na dull two\t0\n")
    assert CorpusFiles("d/train.tsv").digest() not in (before, "missing")
    with pytest.raises(DataError, match="no column 'text', 'sentence2'"):
        read_corpus("d/train.tsv", fields=("text", "sentence2"))


def test_the_shipped_config_reads_the_hub_copy_of_stsb(monkeypatch, tmp_path):
    """No local copy: the embed config falls back to GLUE STS-B on the hub, whose score column is named "label";
    ``data.hub_columns`` renames it, so the same ``label_column: score`` reads both copies."""
    datasets = pytest.importorskip("datasets")
    from edgeport.config import load_config
    from edgeport.data import load_task

    def fake_hub(hub_id, config, split):
        assert (hub_id, config) == ("glue", "stsb")
        n = 300 if split == "train" else 40
        return datasets.Dataset.from_dict({"sentence1": [f"a cat sat on mat {i}" for i in range(n)],
                                           "sentence2": [f"a dog lay on rug {i}" for i in range(n)],
                                           "label": [float(i % 6) * 0.9 for i in range(n)],
                                           "idx": list(range(n))})

    monkeypatch.setattr(datasets, "load_dataset", fake_hub)
    monkeypatch.setattr("edgeport.data.hub_reachable", lambda: True)
    monkeypatch.setenv("EDGEPORT_DATA_DIR", str(tmp_path))  # no stsb/ there
    cfg = load_config(REPO / "edgeport" / "configs" / "embed.yaml")
    task = load_task(cfg.data)
    assert len(task.eval) == 40 and sorted(set(task.eval.labels))[-1] == pytest.approx(4.5)
