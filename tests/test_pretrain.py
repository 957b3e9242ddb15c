"""Domain-adaptive pre-training: the masking rule, whole-word masking, sentence-order pairs, the masked-LM model,
the pretrain stage's fingerprint and an end-to-end run, ``edgeport fill-mask``, and KD on unlabelled texts
(``distill.extra_texts``)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

import tinyrun
from conftest import make_tiny_bert, minilm_dir
from test_fingerprints import config as _config  # noqa: E402  (the fingerprint tests' helpers, same workspace shape)
from test_fingerprints import plan as _plan  # noqa: E402
from edgeport.mlm.examples import IN_ORDER, NO_SOP, SWAPPED, Doc, build_examples, encode_examples, split_sentences
from edgeport.mlm.masking import NO_WORD, MaskingCollate, random_candidates

MASK_SENTENCE = "The quick brown fox jumps over the [MASK] dog."


@pytest.fixture(scope="module")
def minilm_tok():
    from edgeport.models import load_tokenizer

    return load_tokenizer(minilm_dir())


def sst2_docs(n: int, offset: int = 0) -> list[Doc]:
    from family import sst2_texts

    return [Doc(t) for t in sst2_texts(limit=offset + n)[offset:]]


def collate_for(tok, *, whole_word=False, prob=0.15, seed=0, vocab_size=None):
    return MaskingCollate(tok.pad_token_id, tok.mask_token_id, random_candidates(tok, vocab_size or len(tok)), prob,
                          whole_word, seed)


def masked_batches(tok, rows, *, whole_word=False, prob=0.15, seed=0, passes=1, batch=64):
    """(original padded batch, masked batch) pairs: ``passes`` epochs of dynamic masking over ``rows``."""
    collate = collate_for(tok, whole_word=whole_word, prob=prob, seed=seed)
    out = []
    for _ in range(passes):
        for i in range(0, len(rows), batch):
            chunk = rows[i:i + batch]
            plain = collate.pad(chunk)
            out.append((plain, collate(chunk)))
    return out


# ------------------------------------------------------------------------------ masking rule


def test_masking_rule_shares_and_specials(minilm_tok):
    """15% of the tokens are chosen; of those 80% become [MASK], 10% a random token, 10% stay; special tokens and
    padding are never chosen or changed, and a random replacement is never a special token."""
    tok = minilm_tok
    rows = encode_examples(build_examples(sst2_docs(3000), tok, 64, False, 0), tok, 64)
    chosen = real = masked = randomised = kept = 0
    special = set(tok.all_special_ids)
    for plain, batch in masked_batches(tok, rows, passes=3):
        orig, ids, labels = plain["input_ids"], batch["input_ids"], batch["labels"]
        maskable = plain["word_ids"] != NO_WORD
        sel = labels != -100
        assert not (sel & ~maskable).any(), "a special token or padding was chosen"
        assert torch.equal(ids[~maskable], orig[~maskable]), "a special token or padding was changed"
        assert torch.equal(labels[sel], orig[sel]) and torch.equal(ids[~sel], orig[~sel])
        real += int(maskable.sum())
        chosen += int(sel.sum())
        masked += int((ids[sel] == tok.mask_token_id).sum())
        changed = sel & (ids != orig) & (ids != tok.mask_token_id)
        randomised += int(changed.sum())
        kept += int((sel & (ids == orig)).sum())
        assert not any(int(t) in special for t in ids[changed])
    assert chosen > 15_000
    assert chosen / real == pytest.approx(0.15, abs=0.006)
    assert masked / chosen == pytest.approx(0.80, abs=0.015)
    # a random draw equal to the original token counts as kept (1 in ~30k here)
    assert randomised / chosen == pytest.approx(0.10, abs=0.012)
    assert kept / chosen == pytest.approx(0.10, abs=0.012)


def test_masks_are_dynamic_and_seeded(minilm_tok):
    tok = minilm_tok
    rows = encode_examples(build_examples(sst2_docs(64), tok, 64, False, 0), tok, 64)
    a, b, c = collate_for(tok, seed=1), collate_for(tok, seed=1), collate_for(tok, seed=2)
    first_a, first_b, first_c = a(rows), b(rows), c(rows)
    assert torch.equal(first_a["labels"], first_b["labels"])  # same seed, same masks
    assert not torch.equal(first_a["labels"], first_c["labels"])
    assert not torch.equal(first_a["labels"], a(rows)["labels"])  # the next epoch gets new masks
    fixed = collate_for(tok, seed=1)
    assert all(torch.equal(x["labels"], y["labels"]) for x, y in
               zip(fixed.fixed_batches(rows, 16, seed=7), fixed.fixed_batches(rows, 16, seed=7)))


# ------------------------------------------------------------------------------ whole-word masking


def _family_tokenizer(family: str, tmp_path_factory):
    if family == "wordpiece":
        from edgeport.models import load_tokenizer

        return load_tokenizer(minilm_dir())
    from family import cached_tokenizer

    arch = {"bpe": "roberta", "unigram": "xlm-roberta"}[family]
    return cached_tokenizer(family, arch, tmp_path_factory.getbasetemp() / "pretrain-tokenizers")


@pytest.mark.parametrize("family", ["wordpiece", "bpe", "unigram"])
def test_whole_word_masking_never_splits_a_word(family, tmp_path_factory):
    """Every token of a chosen word is chosen, and the word gets one treatment (all mask tokens, all random, or all
    kept); words are the tokenizer's own (WordPiece ##, byte-level BPE, SentencePiece), in both segments of a pair.
    Token-level masking on the same rows does split words (so the check has teeth)."""
    tok = _family_tokenizer(family, tmp_path_factory)
    docs = sst2_docs(600) + [Doc("unbelievably overwrought melodrama", "a misanthropically self-indulgent mess")] * 20
    rows = encode_examples(build_examples(docs, tok, 64, False, 0), tok, 64)
    multi = [r for r in rows if len({w for w in r["word_ids"] if w != NO_WORD}) < sum(w != NO_WORD for w in r["word_ids"])]
    assert len(multi) > 100, "too few multi-token words to test"

    def split_words(whole_word: bool) -> int:
        splits = 0
        for plain, batch in masked_batches(tok, rows, whole_word=whole_word, prob=0.3, seed=3, passes=2):
            words, sel, ids = plain["word_ids"], batch["labels"] != -100, batch["input_ids"]
            for r in range(words.shape[0]):
                groups: dict[int, list[int]] = {}
                for pos, w in enumerate(words[r].tolist()):
                    if w != NO_WORD:
                        groups.setdefault(w, []).append(pos)
                for positions in groups.values():
                    states = {bool(sel[r, p]) for p in positions}
                    treatments = {("mask" if int(ids[r, p]) == tok.mask_token_id else "other") for p in positions
                                  if sel[r, p]}
                    if len(states) > 1 or len(treatments) > 1:
                        splits += 1
                    assert positions == list(range(positions[0], positions[-1] + 1)), "a word's tokens must be contiguous"
            if family == "wordpiece" and whole_word:  # the WordPiece reading of a word: '##' continues it
                for r in range(words.shape[0]):
                    pieces = tok.convert_ids_to_tokens(plain["input_ids"][r].tolist())
                    for p in range(1, len(pieces)):
                        if pieces[p].startswith("##"):
                            assert bool(sel[r, p]) == bool(sel[r, p - 1]), f"'{pieces[p - 1]} {pieces[p]}' split"
        return splits

    assert split_words(whole_word=True) == 0
    assert split_words(whole_word=False) > 0


# ------------------------------------------------------------------------------ sentence-order prediction


def test_sop_pairs_are_consecutive_segments_with_the_right_label(minilm_tok):
    tok = minilm_tok
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]

    def sentence(d: int, i: int) -> str:
        return f"doc {words[d]} sentence {words[i]} ."

    docs = [Doc(" ".join(sentence(d, i) for i in range(2 + d % 5))) for d in range(10) for _ in range(30)]
    docs += [Doc("a single sentence without a partner ."), Doc("first of a pair", "second of a pair")]
    examples = build_examples(docs, tok, 64, sop=True, seed=0)  # every document fits: one pair each
    assert len(examples) == len(docs)
    index = {sentence(d, i): (d, i) for d in range(10) for i in range(10)}
    labels = []
    for ex in examples[:-2]:
        assert ex.b is not None and ex.sop_label in (IN_ORDER, SWAPPED)
        first, second = (ex.a, ex.b) if ex.sop_label == IN_ORDER else (ex.b, ex.a)
        s1, s2 = split_sentences(first), split_sentences(second)
        a_ids, b_ids = [index[s] for s in s1], [index[s] for s in s2]
        seq = a_ids + b_ids
        assert len({d for d, _ in seq}) == 1, "segments from different documents"
        assert [i for _, i in seq] == list(range(seq[0][1], seq[0][1] + len(seq))), "segments not consecutive"
        labels.append(ex.sop_label)
    assert 0.4 < sum(labels) / len(labels) < 0.6  # swapped with probability 1/2
    assert examples[-2].sop_label == NO_SOP and examples[-2].b is None  # one sentence: MLM only
    assert examples[-1].sop_label in (IN_ORDER, SWAPPED)  # a task's sentence pair
    assert {examples[-1].a, examples[-1].b} == {"first of a pair", "second of a pair"}
    assert (examples[-1].a == "first of a pair") == (examples[-1].sop_label == IN_ORDER)
    rows = encode_examples(examples, tok, 64)
    for ex, row in zip(examples, rows):  # the two segments are the token types 0 and 1, within the length
        assert len(row["input_ids"]) <= 64 and row["sop_label"] == ex.sop_label
        assert set(row["token_type_ids"]) == ({0, 1} if ex.b is not None else {0})
    # without SOP every multi-sentence chunk is one segment
    assert all(e.sop_label == NO_SOP for e in build_examples(docs[:-1], tok, 32, sop=False, seed=0))


def test_long_documents_are_chunked_within_the_length(minilm_tok):
    doc = Doc(" ".join(f"sentence number {i} is here ." for i in range(40)))
    examples = build_examples([doc], minilm_tok, 24, sop=True, seed=0)
    assert len(examples) > 5
    rows = encode_examples(examples, minilm_tok, 24)
    assert all(len(r["input_ids"]) <= 24 for r in rows)
    in_order = [[e.a] if e.b is None else [e.a, e.b] if e.sop_label == IN_ORDER else [e.b, e.a] for e in examples]
    joined = " ".join(" ".join(parts) for parts in in_order)
    assert joined == doc.text  # every sentence once, in order


# ------------------------------------------------------------------------------ the masked-LM model


@pytest.mark.parametrize("arch", ["bert", "roberta", "distilbert"])
def test_fresh_head_is_tied_and_the_chosen_positions_match_the_full_forward(arch, tmp_path_factory):
    """A checkpoint without an MLM head gets a fresh one tied to the input embeddings; the pre-training wrapper
    (head on the chosen positions only, where the architecture allows it) gives the full forward's logits."""
    from edgeport.mlm.model import FRESH_HEAD, PretrainingModel, load_mlm

    base = tmp_path_factory.getbasetemp() / "pretrain-models"
    if arch == "bert":
        path = make_tiny_bert(base / "bert") if not (base / "bert").is_dir() else base / "bert"
    else:
        from family import make_tiny

        path = make_tiny(arch, base / arch)
    model, head, missing = load_mlm(path)
    assert head == FRESH_HEAD and missing
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    wrapper = PretrainingModel(model, sop=True).eval()
    from edgeport.models import load_tokenizer

    tok = load_tokenizer(path)
    rows = encode_examples(build_examples(sst2_docs(16), tok, 32, True, 0), tok, 32)
    batch = collate_for(tok, prob=0.3, vocab_size=model.config.vocab_size)(rows)
    inputs = {k: batch[k] for k in ("input_ids", "token_type_ids", "attention_mask") if k in batch}
    with torch.no_grad():
        out = wrapper(**inputs, labels=batch["labels"], sop_labels=batch["sop_labels"])
        full = model(**inputs).logits[batch["labels"] != -100]
    assert torch.allclose(out["chosen_logits"], full, atol=1e-5)
    assert out["sop_logits"].shape == (len(rows), 2) and torch.isfinite(out["loss"])


# ------------------------------------------------------------------------------ end to end


EVAL_LINE_IN_CORPUS = 0  # index of the evaluation row copied into the corpus (it must be dropped)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """One real run with pretrain on (corpus directory of two files, one of them JSONL, plus an evaluation sentence
    that must be kept out), SOP and whole-word masking, then teacher and distill with unlabelled extra texts."""
    base = tmp_path_factory.mktemp("pretrain")
    teacher = make_tiny_bert(base / "teacher")
    data = tinyrun.make_data(base / "data", train_rows=200, eval_rows=32)
    eval_text = (data / "validation.tsv").read_text().splitlines()[1 + EVAL_LINE_IN_CORPUS].rsplit("\t", 1)[0]
    corpus = base / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("".join(f"the film number {i} is good . it was long . the cast is fine !\n"
                                          for i in range(40)) + eval_text.upper() + "\n")
    (corpus / "b.jsonl").write_text("".join(json.dumps({"text": f"a story {i} . then another one ."}) + "\n"
                                            for i in range(20)))
    extra = base / "extra.txt"
    from family import sst2_texts

    extra.write_text("\n".join(sst2_texts(limit=400)[300:360] + [eval_text]) + "\n")
    raw = tinyrun.base_config(teacher, data, base / "runs", "pt")
    raw["pretrain"] = {"enabled": True, "corpus": str(corpus), "sop": True, "whole_word_mask": True,
                       "train": {"epochs": 1, "batch_size": 16, "lr": 1e-3, "eval_every": 4}}
    raw["distill"]["extra_texts"] = str(extra)
    path = base / "pt.yaml"
    path.write_text(yaml.safe_dump(raw))
    proc = tinyrun.cli("run", path)
    return {"base": base, "raw": raw, "proc": proc, "run_dir": base / "runs" / "pt", "corpus": corpus,
            "extra": extra, "teacher": teacher, "eval_text": eval_text, "config": path}


def _manifest(ws) -> dict:
    return tinyrun.manifest(ws["run_dir"])["stages"]


def test_run_with_pretrain_on_completes(ws):
    assert ws["proc"].returncode == 0, ws["proc"].stderr[-3000:]
    stages = _manifest(ws)
    assert [s for s in ("pretrain", "teacher", "distill") if stages[s]["status"] == "done"] == \
        ["pretrain", "teacher", "distill"]
    m = stages["pretrain"]["metrics"]
    assert m["mlm_head"] == "fresh (tied to input embeddings)" and m["architecture"] == "BertForMaskedLM"
    assert m["corpus_documents"] == 61 and m["task_texts"] == 160  # 200 rows - 40 selection rows
    assert m["dropped_eval_or_selection_text"] >= 1  # the evaluation sentence put into the corpus
    assert m["sop_train_pairs"] > 0 and m["whole_word_mask"] is True
    for key in ("held_out_masked_accuracy_before", "held_out_masked_accuracy", "held_out_perplexity_before",
                "held_out_perplexity"):
        assert key in m
    assert m["held_out_perplexity"] < m["held_out_perplexity_before"]  # trained on in-domain text
    assert m["history"] and all("held_out_masked_accuracy" in h for h in m["history"])
    assert stages["teacher"]["metrics"]["pretrained"] is True
    assert "pretrain" in ws["proc"].stdout


def test_pretrain_output_is_a_masked_lm_the_teacher_fine_tunes(ws):
    from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification

    out = ws["run_dir"] / "pretrain"
    _, info = AutoModelForMaskedLM.from_pretrained(out, output_loading_info=True)
    assert not info["missing_keys"]
    _, info = AutoModelForSequenceClassification.from_pretrained(out, output_loading_info=True)
    assert set(info["missing_keys"]) == {"classifier.weight", "classifier.bias"}  # the pooler came along


def test_pretraining_text_never_holds_evaluation_or_selection_text(ws):
    from edgeport.config import PipelineConfig
    from edgeport.corpus import normalize
    from edgeport.data import load_task
    from edgeport.stages.pretrain import PretrainStage, pretraining_documents

    cfg = PipelineConfig.model_validate(ws["raw"])
    task = load_task(cfg.data, seed=cfg.run.seed)
    train_docs, held_docs, info = pretraining_documents(PretrainStage().configure(cfg), task)
    held = {normalize(t) for t in task.eval.texts + task.select.texts}
    for d in train_docs + held_docs:
        assert normalize(d.text) not in held and not any(normalize(s) in held for s in split_sentences(d.text))
    assert not {d.text for d in train_docs} & {d.text for d in held_docs}
    assert info["held_out_documents"] == len(held_docs) >= 10


def test_fill_mask_cli(ws, capsys):
    from edgeport.cli import main

    out = ws["run_dir"] / "pretrain"
    assert main(["fill-mask", str(out), MASK_SENTENCE, "--top-k", "3"]) == 0
    shown = capsys.readouterr().out
    assert "mask token [MASK]" in shown and shown.count("over the") == 3
    assert main(["fill-mask", str(out), MASK_SENTENCE, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    preds = result["masks"][0]["predictions"]
    assert len(preds) == 5 and preds[0]["score"] >= preds[-1]["score"] > 0
    assert preds[0]["sequence"].startswith("the quick brown fox jumps over the ")
    assert main(["fill-mask", str(out), "The quick brown fox jumps over the <mask> dog."]) == 2
    assert "mask token is '[MASK]'" in capsys.readouterr().err
    assert main(["fill-mask", str(ws["run_dir"] / "teacher"), MASK_SENTENCE]) == 2  # a classifier: no MLM head
    assert "no masked-language-model head" in capsys.readouterr().err


def test_extra_texts_reach_distill_as_unlabelled_rows(ws):
    m = _manifest(ws)["distill"]["metrics"]
    assert m["unlabelled_rows"] == 60 and m["unlabelled_dropped_eval_or_selection_text"] == 1
    assert m["train_rows"] == 160  # the labelled rows, as before
    caches = list((ws["run_dir"] / "cache").glob("teacher-logits-*.safetensors"))
    assert len(caches) == 2  # labelled rows and unlabelled texts, each labelled by the teacher once


# ------------------------------------------------------------------------------ fingerprints


@pytest.fixture
def restore():
    saved = []

    def keep(path: Path):
        saved.append((path, path.read_bytes() if path.exists() else None))

    yield keep
    for path, data in reversed(saved):
        if data is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(data)


def test_pretrain_fingerprint_covers_the_corpus(ws, restore):
    """One byte of a corpus file, or a new file in the corpus directory, re-runs pretrain (and so teacher and
    distill); a pretrain setting re-runs it too; turning it off re-runs the teacher on the plain checkpoint."""
    assert ws["proc"].returncode == 0
    cfg = _config(ws)
    assert _plan(ws, cfg) == {}
    a = ws["corpus"] / "a.txt"
    restore(a)
    original = a.read_bytes()
    a.write_bytes(original[:5] + (b"F" if original[5:6] != b"F" else b"G") + original[6:])
    assert _plan(ws, cfg) == {"pretrain": "changed: corpus", "teacher": "upstream pretrain re-runs",
                              "distill": "upstream teacher re-runs"}
    a.write_bytes(original)
    assert _plan(ws, cfg) == {}
    new = ws["corpus"] / "c.txt"
    restore(new)
    new.write_text("one more document .\n")
    assert _plan(ws, cfg)["pretrain"] == "changed: corpus"
    new.unlink()
    assert _plan(ws, _config(ws, pretrain__mlm_probability=0.2))["pretrain"] == \
        "changed: config.pretrain.mlm_probability"
    assert _plan(ws, _config(ws, teacher__train__lr=2e-3)) == {"teacher": "changed: config.teacher.train",
                                                              "distill": "upstream teacher re-runs"}
    off = _plan(ws, _config(ws, pretrain__enabled=False))
    assert off == {"teacher": "changed: input.pretrain", "distill": "upstream teacher re-runs"}


def test_extra_texts_are_in_distills_fingerprint(ws, restore):
    cfg = _config(ws)
    assert _plan(ws, cfg) == {}
    restore(ws["extra"])
    ws["extra"].write_text(ws["extra"].read_text() + "one more unlabelled text\n")
    assert _plan(ws, cfg) == {"distill": "changed: extra_texts"}
    assert _plan(ws, _config(ws, distill__extra_texts=None)) == \
        {"distill": "changed: config.distill.extra_texts, extra_texts"}


# ------------------------------------------------------------------------------ KD on unlabelled rows


def test_kd_loss_skips_the_hard_label_on_unlabelled_rows():
    import torch.nn.functional as F

    from edgeport.training.kd import kd_loss

    torch.manual_seed(0)
    s, t = torch.randn(6, 3), torch.randn(6, 3)
    labels = torch.tensor([0, 2, 1, 0, 1, 2])
    alpha, temp = 0.3, 2.0
    ce = F.cross_entropy(s, labels, reduction="none")
    kl = (F.softmax(t / temp, -1) * (F.log_softmax(t / temp, -1) - F.log_softmax(s / temp, -1))).sum(-1)
    full = alpha * ce + (1 - alpha) * temp ** 2 * kl
    assert kd_loss(s, t, labels, alpha, temp) == pytest.approx(float(full.mean()), abs=1e-5)
    part = labels.clone()
    part[[1, 4]] = -100
    expected = torch.where(part == -100, temp ** 2 * kl, full)
    assert kd_loss(s, t, part, alpha, temp) == pytest.approx(float(expected.mean()), abs=1e-5)
    none = torch.full_like(labels, -100)
    assert kd_loss(s, t, none, alpha, temp) == pytest.approx(float((temp ** 2 * kl).mean()), abs=1e-5)


# ------------------------------------------------------------------------------ config


def test_config_checks():
    from edgeport.config import PipelineConfig

    with pytest.raises(Exception, match="pretrain needs text"):
        PipelineConfig.model_validate({"pretrain": {"enabled": True, "use_task_text": False}})
    with pytest.raises(Exception, match="teacher.finetune cannot be 'never'"):
        PipelineConfig.model_validate({"pretrain": {"enabled": True}, "teacher": {"model": "x", "finetune": "never"}})
    assert PipelineConfig().pretrain.enabled is False


def test_the_teacher_fine_tunes_the_pretrain_output(ws, tmp_path, monkeypatch):
    """With pretrain on, the teacher stage loads its classifier (and tokenizer) from the pretrain stage's output."""
    from edgeport import models
    from edgeport.pipeline import execute
    from edgeport.stages import STAGES

    run_dir = tmp_path / "runs" / "pt"
    shutil.copytree(ws["run_dir"], run_dir)
    loaded = []
    real = models.load_classifier

    def spy(spec, *args, **kwargs):
        loaded.append(Path(spec))
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(models, "load_classifier", spy)
    raw = copy.deepcopy(ws["raw"])
    raw["run"]["runs_dir"] = str(tmp_path / "runs")
    from edgeport.config import PipelineConfig

    execute(STAGES, PipelineConfig.model_validate(raw), until="teacher", force=["teacher"], echo=lambda *a: None)
    assert loaded and loaded[0] == run_dir / "pretrain"
