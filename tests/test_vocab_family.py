"""Vocabulary pruning for the three tokenizer families (WordPiece, byte-level BPE, Unigram) in the classes BERT,
RoBERTa, XLM-R and DeBERTa-v2 ship with: pruned on SST-2 training text, saved, reloaded with AutoTokenizer, the
reloaded tokenizer must tokenise every training text identically (token strings; ids through the kept-id map,
special tokens and pairs included), the pruned tiny model must give identical logits, special-token ids must be
right. `pytest -s tests/test_vocab_family.py` prints the size/identity report per family."""

from __future__ import annotations

import json

import pytest
import torch
from family import make_tiny, sst2_texts, train_tokenizer

from edgeport.pruning import prune_vocab, save_pruned, token_change
from edgeport.pruning import vocab as V

CASES = [("wordpiece", "bert"), ("bpe", "roberta"), ("unigram", "xlm-roberta"), ("unigram", "deberta-v2")]
WORDPIECE_KIN = [("wordpiece", "distilbert"), ("wordpiece", "electra")]  # other classes, factorised embeddings
N_TRAIN = 2000
VOCAB = 8000  # family.py's default 2000 is nearly all used by 2000 SST-2 rows; 8000 leaves something to prune
SPECIAL_ATTRS = ("cls_token", "sep_token", "pad_token", "mask_token", "unk_token", "bos_token", "eos_token")
STALE = ("vocab.json", "merges.txt", "sentencepiece.bpe.model", "spm.model", "tokenizer.model", "added_tokens.json")


@pytest.fixture(scope="module")
def texts():
    train = sst2_texts("train", N_TRAIN)
    return train, train[1:] + train[:1]  # pairs made of training text too


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """One tiny sequence classifier + tokenizer directory per class, built once for the module."""
    root = tmp_path_factory.mktemp("vocab_family")
    built = {}

    def get(family, arch):
        if arch not in built:
            from transformers import AutoTokenizer

            tok_dir = root / f"tok-{arch}"
            train_tokenizer(family, arch, vocab_size=VOCAB).save_pretrained(tok_dir)
            built[arch] = make_tiny(arch, root / f"model-{arch}", tokenizer=AutoTokenizer.from_pretrained(str(tok_dir)),
                                    labels=["negative", "positive"])
        return built[arch]

    return get


def load(path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(str(path)).eval()
    return model, AutoTokenizer.from_pretrained(str(path))


@torch.no_grad()
def logits(model, tok, texts, batch=500):
    return torch.cat([model(**tok(texts[i:i + batch], padding=True, return_tensors="pt")).logits
                      for i in range(0, len(texts), batch)])


def pipeline_parts(tok) -> dict:
    spec = json.loads(tok.backend_tokenizer.to_str())
    return {k: spec.get(k) for k in ("normalizer", "pre_tokenizer", "decoder")}


@pytest.mark.parametrize("family,arch", CASES + WORDPIECE_KIN, ids=[a for _, a in CASES + WORDPIECE_KIN])
def test_pruned_vocab_reloads_and_tokenises_training_text_identically(family, arch, originals, texts, tmp_path):
    from transformers import AutoTokenizer

    train, pairs = texts
    model, tok = load(originals(family, arch))
    assert V.tokenizer_family(tok) == family
    assert model.get_output_embeddings() is None  # a sequence classifier: no (tied) output embedding to prune
    expected = logits(model, tok, train)

    new_tok, kept = prune_vocab(model, tok, train, tmp_path / "pruned")
    direct = AutoTokenizer.from_pretrained(str(tmp_path / "pruned"))  # what prune_vocab wrote
    save_pruned(model, new_tok, tmp_path / "pruned")  # the prune stage's path: model + returned tokenizer, same dir
    plain, reloaded = load(tmp_path / "pruned")
    new_tok.save_pretrained(tmp_path / "fresh")  # and the returned tokenizer saved anywhere else
    fresh = AutoTokenizer.from_pretrained(str(tmp_path / "fresh"))

    # smaller, and the sizes agree everywhere
    assert len(kept) < len(tok)
    assert len(reloaded) == len(direct) == len(fresh) == len(new_tok) == len(kept) == plain.config.vocab_size
    assert plain.get_input_embeddings().weight.shape[0] == len(kept)

    # the class is kept when its rebuild is faithful, and the non-model parts of the pipeline are the original's
    assert type(reloaded) is type(tok)
    assert pipeline_parts(reloaded) == pipeline_parts(tok)

    # identical token strings on every training text, alone and as pairs
    for candidate in (reloaded, direct, fresh):
        report = V.vocab_report(tok, candidate, train)
        assert report["identical_rows"] == N_TRAIN, report["line"]
        assert V.vocab_report(tok, candidate, train, pairs)["identical_rows"] == N_TRAIN

    # with special tokens through the post-processor: new ids map back to the original ids
    old_enc, new_enc = tok(train, pairs), reloaded(train, pairs)
    assert [[kept[i] for i in row] for row in new_enc["input_ids"]] == old_enc["input_ids"]
    assert new_enc.get("token_type_ids") == old_enc.get("token_type_ids")
    old_single, new_single = tok(train[:200]), reloaded(train[:200])
    assert [[kept[i] for i in row] for row in new_single["input_ids"]] == old_single["input_ids"]

    # special tokens: same strings, ids remapped, in the tokenizer and in the model config
    for attr in SPECIAL_ATTRS:
        if getattr(tok, attr, None) is None:
            continue
        assert getattr(reloaded, attr) == getattr(tok, attr)
        assert kept[getattr(reloaded, attr + "_id")] == getattr(tok, attr + "_id"), attr
    assert plain.config.pad_token_id == reloaded.pad_token_id

    # identical logits on the training texts (the reloaded model fed by the reloaded tokenizer)
    torch.testing.assert_close(logits(plain, reloaded, train), expected, atol=1e-5, rtol=0)

    # no stale slow-tokenizer vocabulary beside the pruned tokenizer.json
    for directory in (tmp_path / "pruned", tmp_path / "fresh"):
        assert not [n for n in STALE if (directory / n).exists()], sorted(p.name for p in directory.iterdir())
    vocab_txt = tmp_path / "pruned" / "vocab.txt"
    if family == "wordpiece":  # ARCHITECTURE: the pruned WordPiece vocabulary is also written as vocab.txt
        assert vocab_txt.read_text(encoding="utf-8").splitlines() == reloaded.convert_ids_to_tokens(
            list(range(len(kept))))
    else:
        assert not vocab_txt.exists()

    # unseen text: reported, never worse than a change (no crash), unk only where the original had one
    val = sst2_texts("validation", None)
    change = token_change(tok, reloaded, val)
    assert 0 <= change["changed_row_share"] <= 1 and change["tokens"] > 0
    unk_old = sum(row.count(tok.unk_token_id) for row in tok(val, add_special_tokens=False)["input_ids"])
    unk_new = sum(row.count(reloaded.unk_token_id) for row in reloaded(val, add_special_tokens=False)["input_ids"])
    assert unk_new == unk_old
    print(f"\n[vocab-family] {report['line']}; validation ({len(val)} rows): "
          f"{change['changed_row_share']:.1%} rows, {change['changed_token_share']:.2%} tokens change")


@pytest.mark.parametrize("family,arch", CASES, ids=[a for _, a in CASES])
def test_top_k_keeps_more_and_stays_identical(family, arch, originals, texts, tmp_path):
    train, _ = texts
    model, tok = load(originals(family, arch))
    base = V.tokens_to_keep(tok, train)
    new_tok, kept = prune_vocab(model, tok, train, tmp_path / "pruned", top_k=3000)
    assert len(base) < len(kept) < len(tok)
    if family == "unigram":  # the K highest-scoring pieces
        pieces = json.loads(tok.backend_tokenizer.to_str())["model"]["vocab"]
        normal = [i for i in range(len(pieces)) if i not in tok.all_special_ids]
        assert set(sorted(normal, key=lambda i: -pieces[i][1])[:3000]) <= set(kept)
    else:  # the first K ids (BPE: plus the merge closure of everything kept)
        assert set(range(3000)) <= set(kept)
    assert V.vocab_report(tok, new_tok, train)["identical_rows"] == N_TRAIN


def test_bpe_closure_is_needed(originals, texts, tmp_path, monkeypatch):
    """Negative control: without the merge closure the pruned BPE tokenizer no longer reproduces training text."""
    train, _ = texts
    _, tok = load(originals("bpe", "roberta"))
    monkeypatch.setattr(V, "_bpe_closure", lambda model, vocab, keep: keep)
    broken = V.write_tokenizer(tok, V.tokens_to_keep(tok, train), tmp_path / "broken")
    assert V.vocab_report(tok, broken, train)["identical_rows"] < N_TRAIN


def _prefix_space(tok):
    from tokenizers import pre_tokenizers

    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)


def _lowercase_too(tok):
    from tokenizers import normalizers

    tok.backend_tokenizer.normalizer = normalizers.Sequence([tok.backend_tokenizer.normalizer, normalizers.Lowercase()])


CUSTOM = [("bpe", "roberta", _prefix_space), ("unigram", "xlm-roberta", _lowercase_too)]


@pytest.mark.parametrize("family,arch,customise", CUSTOM, ids=["roberta-prefix-space", "xlm-roberta-lowercase"])
def test_class_rebuild_that_loses_the_pipeline_falls_back_to_tokenizers_backend(family, arch, customise, originals,
                                                                                 texts, tmp_path):
    """A backend customised beyond what the class's ``__init__`` rebuilds on load (RoBERTa: a prefix space on the
    pre-tokenizer only; XLM-R: lower-casing after the precompiled map) is saved as TokenizersBackend and still
    reloads identically, special tokens included."""
    from transformers import AutoTokenizer

    train, pairs = texts
    _, tok = load(originals(family, arch))
    customise(tok)
    kept = V.tokens_to_keep(tok, train)
    new_tok = V.write_tokenizer(tok, kept, tmp_path / "pruned")
    config = json.loads((tmp_path / "pruned" / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "TokenizersBackend"
    new_tok.save_pretrained(tmp_path / "fresh")  # and saved again, as the prune stage does
    for reloaded in (AutoTokenizer.from_pretrained(str(tmp_path / "pruned")),
                     AutoTokenizer.from_pretrained(str(tmp_path / "fresh"))):
        assert pipeline_parts(reloaded) == pipeline_parts(tok)
        assert V.vocab_report(tok, reloaded, train, pairs)["identical_rows"] == N_TRAIN
        assert [[kept[i] for i in row] for row in reloaded(train, pairs)["input_ids"]] == tok(train, pairs)["input_ids"]
        for attr in ("cls_token", "sep_token", "pad_token", "mask_token", "unk_token"):
            assert kept[getattr(reloaded, attr + "_id")] == getattr(tok, attr + "_id"), attr


MOVED = [("wordpiece", "bert"), ("bpe", "roberta"), ("unigram", "deberta-v2")]


def specials_last(family, arch, tok):
    """The same tokenizer with its special tokens moved to the end of the vocabulary, so pruning renumbers them
    (post-processor, added tokens, unk id, model pad id). XLM-R's class fixes unk_id=3, so it is left out."""
    from transformers import BertTokenizer, DebertaV2Tokenizer, RobertaTokenizer

    model = json.loads(tok.backend_tokenizer.to_str())["model"]
    specials = set(tok.all_special_tokens)
    if family == "unigram":
        pieces = [tuple(p) for p in model["vocab"]]
        return DebertaV2Tokenizer(vocab=[p for p in pieces if p[0] not in specials]
                                  + [p for p in pieces if p[0] in specials])
    order = sorted(model["vocab"], key=lambda t: (t in specials, model["vocab"][t]))
    if family == "wordpiece":
        return BertTokenizer(vocab={t: i for i, t in enumerate(order)}, do_lower_case=True)
    # RoBERTa numbers positions from pad_token_id + 1 (at most 514 positions): <pad> goes after the 50 rarest
    # merges (some are pruned, so its id still moves), the other specials to the end.
    normal = order[:-len(specials)]
    order = normal[-50:] + [tok.pad_token] + normal[:-50] + [t for t in order[-len(specials):] if t != tok.pad_token]
    return RobertaTokenizer(vocab={t: i for i, t in enumerate(order)}, merges=[tuple(m) for m in model["merges"]])


@pytest.mark.parametrize("family,arch", MOVED, ids=[a for _, a in MOVED])
def test_special_tokens_that_move_are_remapped(family, arch, originals, texts, tmp_path):
    from transformers import AutoTokenizer

    train, pairs = texts
    _, base = load(originals(family, arch))
    specials_last(family, arch, base).save_pretrained(tmp_path / "tok")
    tok = AutoTokenizer.from_pretrained(str(tmp_path / "tok"))
    assert sorted(tok.all_special_ids)[1] > len(tok) - 10
    model, tok = load(make_tiny(arch, tmp_path / "orig", tokenizer=tok, labels=["negative", "positive"]))
    expected = logits(model, tok, train[:500])
    new_tok, kept = prune_vocab(model, tok, train, tmp_path / "pruned")
    assert all(kept[i] != i for i in new_tok.all_special_ids)  # every special token really moved
    torch.testing.assert_close(logits(model, new_tok, train[:500]), expected, atol=1e-5, rtol=0)  # in memory
    save_pruned(model, new_tok, tmp_path / "pruned")
    plain, reloaded = load(tmp_path / "pruned")
    torch.testing.assert_close(logits(plain, reloaded, train[:500]), expected, atol=1e-5, rtol=0)
    assert [[kept[i] for i in row] for row in reloaded(train, pairs)["input_ids"]] == tok(train, pairs)["input_ids"]
    for attr in SPECIAL_ATTRS:
        if getattr(tok, attr, None) is not None:
            assert kept[getattr(reloaded, attr + "_id")] == getattr(tok, attr + "_id"), attr
    assert plain.config.pad_token_id == reloaded.pad_token_id == kept.index(tok.pad_token_id)
