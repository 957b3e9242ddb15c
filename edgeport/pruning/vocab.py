"""Vocabulary pruning: drop the WordPiece entries a task never uses, shrinking the embedding table.

Kept: the special tokens, every single character and its ``##`` form (so any word can still be spelled), every
token the model's own tokenizer produces on the training texts, and optionally the first ``top_k`` entries of
the original ``vocab.txt`` (BERT vocabularies list whole words roughly by corpus frequency after the special
tokens and characters, so this keeps common words that the training data happens to lack).

Why tokenization of the training texts cannot change: WordPiece is greedy longest-match-first. For a word of the
training data, each piece it used is kept, and a smaller vocabulary offers no longer match, so the same pieces are
chosen again. Unseen words may split into more, shorter pieces; ``token_change`` measures how often on a split.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import torch
from torch import nn


def _normaliser_settings(tokenizer) -> dict:
    """The BertNormalizer / pre-tokenizer options of the original tokenizer, to rebuild an identical one."""
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    norm = spec.get("normalizer") or {}
    lower = norm.get("lowercase", getattr(tokenizer, "do_lower_case", True))
    strip = norm.get("strip_accents")
    return {"do_lower_case": lower, "strip_accents": strip,
            "tokenize_chinese_chars": norm.get("handle_chinese_chars", True)}


def tokens_to_keep(tokenizer, texts: list[str], top_k: int | None = None) -> list[int]:
    """Old ids to keep, ascending (so relative order, and [PAD] at 0, survive)."""
    vocab = tokenizer.get_vocab()
    keep = {vocab[t] for t in tokenizer.all_special_tokens if t in vocab}
    keep |= {i for t, i in vocab.items() if len(t) == 1 or (t.startswith("##") and len(t) == 3)}
    if top_k:
        keep |= set(range(min(top_k, len(vocab))))
    for start in range(0, len(texts), 4096):
        for ids in tokenizer(texts[start:start + 4096], add_special_tokens=False)["input_ids"]:
            keep.update(ids)
    return sorted(keep)


def write_vocab(tokenizer, old_ids: list[int], out_dir: Path):
    """A vocab.txt of the kept tokens and a fast tokenizer built from it with the original normalisation."""
    from transformers import BertTokenizerFast

    by_id = {i: t for t, i in tokenizer.get_vocab().items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    vocab_file = out_dir / "vocab.txt"
    vocab_file.write_text("".join(by_id[i] + "\n" for i in old_ids), encoding="utf-8")
    specials = {k: getattr(tokenizer, k) for k in ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
                if getattr(tokenizer, k, None) is not None}
    # transformers 5 takes the vocabulary as ``vocab`` (a dict or a vocab.txt path); the dict avoids re-reading.
    return BertTokenizerFast(vocab={by_id[i]: n for n, i in enumerate(old_ids)}, **_normaliser_settings(tokenizer),
                             **specials, model_max_length=tokenizer.model_max_length)


@torch.no_grad()
def prune_embeddings(model, old_ids: list[int]) -> None:
    """Keep the embedding rows ``old_ids`` (new id = position in the list); updates config.vocab_size/pad id."""
    old = model.get_input_embeddings()
    idx = torch.tensor(old_ids, dtype=torch.long, device=old.weight.device)
    pad = model.config.pad_token_id
    new_pad = old_ids.index(pad) if pad is not None and pad in old_ids else None
    new = nn.Embedding(len(old_ids), old.embedding_dim, padding_idx=new_pad,
                       device=old.weight.device, dtype=old.weight.dtype)
    new.weight.copy_(old.weight[idx])
    model.set_input_embeddings(new)
    model.config.vocab_size = len(old_ids)
    model.config.pad_token_id = new_pad


def token_change(old_tok, new_tok, texts: list[str], pairs: list[str] | None = None) -> dict:
    """How much the new tokenizer changes a split, compared as token strings (ids differ by construction)."""
    old = old_tok(texts, pairs, add_special_tokens=False)["input_ids"]
    new = new_tok(texts, pairs, add_special_tokens=False)["input_ids"]
    total = changed = rows = 0
    for a, b in zip(old, new):
        a, b = old_tok.convert_ids_to_tokens(a), new_tok.convert_ids_to_tokens(b)
        total += len(a)
        if a != b:
            rows += 1
            same = sum(m.size for m in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks())
            changed += len(a) - same
    return {"changed_token_share": round(changed / max(total, 1), 6), "changed_row_share": round(rows / max(len(old), 1), 6),
            "tokens": total}


def prune_vocab(model, tokenizer, texts: list[str], out_dir: Path, top_k: int | None = None):
    """Prune ``model``'s vocabulary in place; returns (new tokenizer, kept old ids). ``out_dir`` gets vocab.txt."""
    old_ids = tokens_to_keep(tokenizer, texts, top_k)
    new_tok = write_vocab(tokenizer, old_ids, out_dir)
    prune_embeddings(model, old_ids)
    return new_tok, old_ids
