"""Structured and vocabulary pruning on tiny random BERTs: shapes shrink, saved dirs reload with plain
transformers and identical logits, importance finds a dead head, vocabulary pruning keeps training tokenization."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import make_tiny_bert, run_cli, write_config

from edgeport.config import load_config
from edgeport.errors import ConfigError
from edgeport.pruning import (VocabTrial, heads_to_keep, load_pruned, prune_ffn, prune_heads, prune_vocab,
                              save_pruned, token_change, unit_importance)

TEXTS = ["a gripping , funny movie !", "the acting was dreadful and the plot thin", "Café au lait, s'il vous plaît"]
ATOL = 1e-5


@pytest.fixture()
def tiny(tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = make_tiny_bert(tmp_path / "tiny", hidden=32, layers=2, heads=4, intermediate=64, classifier_labels=["n", "p"])
    return AutoModelForSequenceClassification.from_pretrained(str(path)).eval(), AutoTokenizer.from_pretrained(str(path))


def logits(model, tok, texts=TEXTS):
    with torch.no_grad():
        return model(**tok(texts, padding=True, return_tensors="pt")).logits


def test_physical_pruning_shrinks_and_reloads_identically(tiny, tmp_path):
    from transformers import AutoModelForSequenceClassification

    model, tok = tiny
    prune_heads(model, [[0, 2], [1, 3]])
    prune_ffn(model, [list(range(0, 64, 2)), list(range(1, 64, 4))[:16] + list(range(2, 64, 4))[:16]])
    layer = model.bert.encoder.layer[0]
    assert layer.attention.self.query.weight.shape == (16, 32)  # 2 heads x 8 dims
    assert layer.attention.output.dense.weight.shape == (32, 16)
    assert layer.intermediate.dense.weight.shape == (32, 32) and layer.output.dense.weight.shape == (32, 32)
    expected = logits(model, tok)
    save_pruned(model, tok, tmp_path / "out")
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["intermediate_size"] == 32 and config["edgeport_kept_heads"] == [[0, 2], [1, 3]]
    plain = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "out")).eval()
    torch.testing.assert_close(logits(plain, tok), expected, atol=ATOL, rtol=0)
    physical = load_pruned(tmp_path / "out")
    assert physical.bert.encoder.layer[1].attention.self.value.weight.shape == (16, 32)
    torch.testing.assert_close(logits(physical, tok), expected, atol=ATOL, rtol=0)


def test_pruning_twice_composes_head_indices(tiny, tmp_path):
    model, tok = tiny
    prune_heads(model, [[0, 1, 3], [0, 2, 3]])
    prune_heads(model, [[0, 2], [1, 2]])
    assert model.config.edgeport_kept_heads == [[0, 3], [2, 3]]
    expected = logits(model, tok)
    save_pruned(model, tok, tmp_path / "out")
    torch.testing.assert_close(logits(load_pruned(tmp_path / "out"), tok), expected, atol=ATOL, rtol=0)


def test_head_importance_ranks_a_dead_head_lowest(tiny):
    model, tok = tiny
    with torch.no_grad():  # head 1 of layer 0 outputs exactly zero: its value rows are zero
        model.bert.encoder.layer[0].attention.self.value.weight[8:16] = 0
        model.bert.encoder.layer[0].attention.self.value.bias[8:16] = 0
    enc = tok(TEXTS * 4, padding=True, return_tensors="pt")
    batches = [dict(enc, labels=torch.tensor([0, 1, 0] * 4))]

    def loss_fn(m, batch):
        out = m(**{k: batch[k] for k in ("input_ids", "token_type_ids", "attention_mask")}).logits
        return torch.nn.functional.cross_entropy(out, batch["labels"])

    heads, ffn = unit_importance(model, batches, loss_fn, max_batches=1)
    assert heads.shape == (2, 4) and ffn.shape == (2, 64)
    assert heads[0].argmin().item() == 1 and heads[0, 1].item() == 0.0
    assert all(heads[0, h] > 0 for h in (0, 2, 3))
    assert all(p.requires_grad for p in model.parameters())  # scoring leaves the model trainable


def test_vocab_pruning_keeps_training_tokenization_and_logits(tiny, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model, tok = tiny
    expected = logits(model, tok)
    new_tok, kept = prune_vocab(model, tok, TEXTS, tmp_path / "out")
    assert model.config.vocab_size == len(kept) == model.get_input_embeddings().weight.shape[0] < 5000
    assert (tmp_path / "out" / "vocab.txt").read_text().splitlines()[0] == "[PAD]"
    for text in TEXTS:
        assert new_tok.tokenize(text) == tok.tokenize(text)
    torch.testing.assert_close(logits(model, new_tok), expected, atol=ATOL, rtol=0)
    save_pruned(model, new_tok, tmp_path / "out")
    plain = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "out")).eval()
    reloaded_tok = AutoTokenizer.from_pretrained(str(tmp_path / "out"))
    torch.testing.assert_close(logits(plain, reloaded_tok), expected, atol=ATOL, rtol=0)
    # an unseen word can only be spelled with shorter pieces, never become [UNK]
    unseen = "extraordinarily"
    assert "[UNK]" not in new_tok.tokenize(unseen) and "".join(new_tok.tokenize(unseen)).replace("##", "") == unseen
    change = token_change(tok, new_tok, TEXTS + [unseen])
    assert change["changed_row_share"] == pytest.approx(1 / 4)


@pytest.mark.parametrize("after,limit,kept", [(0.83, 1.0, "full"), (0.863, 1.0, "pruned"), (0.83, None, "pruned"),
                                              (0.855, 1.0, "pruned")])
def test_the_vocabulary_cut_is_kept_only_within_its_selection_limit(after, limit, kept):
    """2,000 SST-2 rows: the cut took the selection split from 86.5% to 83.0% (3.5 points): the full vocabulary
    stays; a 0.2-point cost (the full task's) or exactly the limit keeps the cut; no limit always keeps it."""
    assert VocabTrial.judge(0.865, after, limit)["kept"] == kept


def test_an_undone_vocabulary_cut_gives_back_the_model_and_removes_its_files(tiny, tmp_path):
    model, tok = tiny
    expected, size = logits(model, tok), model.config.vocab_size
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier.txt").write_text("written before the cut")
    trial = VocabTrial(model, out)
    prune_vocab(model, tok, TEXTS[:1], out)
    assert model.config.vocab_size < size and (out / "vocab.txt").is_file()
    back = trial.undo()
    assert sorted(p.name for p in out.iterdir()) == ["earlier.txt"]
    assert back.config.vocab_size == size
    torch.testing.assert_close(logits(back, tok), expected, atol=0, rtol=0)


def test_the_prune_stage_keeps_the_full_vocabulary_when_the_cut_costs_too_much(tmp_path, sst2_slice, monkeypatch):
    """The stage's wiring of the trial: a cut judged too costly leaves the saved model with the full vocabulary and
    tokenizer, a last table row "vocab-kept", and a reload that matches. Red when the stage ignores the verdict."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from edgeport.config import PipelineConfig
    from edgeport.pipeline.runner import execute
    from edgeport.stages import STAGES

    teacher = make_tiny_bert(tmp_path / "teacher", hidden=32, layers=2, heads=4, intermediate=64)
    size = len(AutoTokenizer.from_pretrained(str(teacher)))
    small = {"epochs": 1, "lr": 1e-3, "batch_size": 16, "useful_gate": False}
    monkeypatch.setattr(VocabTrial, "judge", staticmethod(lambda before, after, limit: {
        "kept": "full", "select_drop_points": 5.0, "max_drop_points": limit}))
    cfg = PipelineConfig.model_validate({
        "run": {"name": "tiny", "runs_dir": str(tmp_path / "runs"), "seed": 0, "threads": 1},
        "data": {"local": str(sst2_slice), "label_names": ["negative", "positive"], "max_seq_len": 32,
                 "train_limit": 64, "eval_limit": 64},
        "teacher": {"model": str(teacher), "train": small}, "distill": {"enabled": False},
        "prune": {"enabled": True, "ffn_fraction": 0.5, "vocab": True, "score_batches": 2, "latency_seconds": 0,
                  "train": small},
        **{s: {"enabled": False} for s in ("export", "quantize", "validate", "bench", "report")}})
    execute(STAGES, cfg, echo=lambda *a: None)
    metrics = json.loads((tmp_path / "runs" / "tiny" / "manifest.json").read_text())["stages"]["prune"]["metrics"]
    assert [r["step"] for r in metrics["variants"]][-2:] == ["vocab-pruned", "vocab-kept"]
    assert metrics["vocab"]["kept"] == "full" and metrics["vocab_size"] == size
    out = tmp_path / "runs" / "tiny" / "prune"
    assert len(AutoTokenizer.from_pretrained(str(out))) == size
    assert AutoModelForSequenceClassification.from_pretrained(str(out)).config.vocab_size == size
    assert metrics["reload_max_abs_diff"] <= ATOL


def test_heads_fraction_rounding_and_validation(tmp_path):
    assert heads_to_keep(12, 0.5) == 6 and heads_to_keep(12, 0.3) == 9 and heads_to_keep(4, 0.99) == 1
    cfg = tmp_path / "c.yaml"
    cfg.write_text("prune: {enabled: true}\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(cfg), ["prune.heads_fraction=1.0", "prune.ffn_fraction=-0.1", "prune.vocab_top_k=0"])
    text = str(err.value)
    assert "prune.heads_fraction" in text and "prune.ffn_fraction" in text and "prune.vocab_top_k" in text


def test_prune_stage_via_cli(tmp_path, sst2_slice):
    teacher = make_tiny_bert(tmp_path / "teacher", hidden=32, layers=2, heads=4, intermediate=64)
    small = {"epochs": 1, "lr": 1e-3, "batch_size": 16, "useful_gate": False}
    cfg = write_config(tmp_path / "cfg.yaml", teacher, sst2_slice, tmp_path / "runs",
                       data={"train_limit": 64, "eval_limit": 64}, teacher={"train": small},
                       distill={"enabled": False},
                       prune={"enabled": True, "heads_fraction": 0.5, "ffn_fraction": 0.5, "vocab": True,
                              "vocab_max_drop": None, "score_batches": 2, "latency_seconds": 0.05,
                              "latency_seq_len": 32, "train": small})
    result = run_cli("run", cfg, "--until", "prune")
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((tmp_path / "runs" / "tiny" / "manifest.json").read_text())
    metrics = manifest["stages"]["prune"]["metrics"]
    steps = [row["step"] for row in metrics["variants"]]
    assert steps == ["unpruned", "heads-pruned", "ffn-pruned", "recovered", "vocab-pruned"]
    assert metrics["heads_per_layer"] == 2 and metrics["ffn_width"] == 32
    assert metrics["vocab_size"] < 30522 and metrics["reload_max_abs_diff"] <= ATOL
    first, last = metrics["variants"][0], metrics["variants"][-1]
    assert last["params"] < first["params"] and last["file_mb"] < first["file_mb"] and "p50_ms" in last
    assert (tmp_path / "runs" / "tiny" / "prune" / "vocab.txt").is_file()


@pytest.mark.parametrize("recovered_score,kept", [(0.80, "recovered"), (0.60, "pruned"), (0.70, "pruned")])
def test_recovery_keeps_the_pruned_weights_unless_a_checkpoint_beats_them(recovered_score, kept):
    """The pruned weights (selection score 0.70) are a checkpoint too: recovery's best must score above them to
    replace them; a tie keeps the earlier, pruned weights, as fit keeps the first checkpoint reaching a score."""
    from types import SimpleNamespace

    import torch

    from edgeport.pruning.recovery import recover_or_keep

    model = torch.nn.Linear(3, 2)
    pruned = {k: v.clone() for k, v in model.state_dict().items()}

    def recover():
        with torch.no_grad():
            model.weight.add_(1.0)  # training moved the weights to its best checkpoint
        return SimpleNamespace(best_accuracy=recovered_score, best_score=None)

    result, info = recover_or_keep(model, 0.70, recover)
    assert info == {"kept": kept, "pruned_select_score": 0.7} and result.best_accuracy == recovered_score
    same = torch.equal(model.weight, pruned["weight"])
    assert same == (kept == "pruned")
