"""Tiny random-weight models of every supported architecture, each with a tokenizer of its own family trained here.

No hub is reachable in tests or CI, so the BERT-like family is built offline:

* three tokenizers trained with the ``tokenizers`` library on SST-2 training text: WordPiece (BERT, DistilBERT,
  ELECTRA), byte-level BPE (RoBERTa) and Unigram with a Metaspace pre-tokenizer (XLM-R, DeBERTa-v3). Each is
  wrapped in the transformers class its architecture ships with, so special tokens, the post-processor and the
  saved files look like the real checkpoints';
* a tiny model per ``model_type`` from transformers' own config class, saved as a Hugging Face directory
  (safetensors + tokenizer). Without ``labels`` the base model is saved (the teacher stage adds a head and
  fine-tunes); with ``labels`` a sequence classifier.

Used by the tests, ``benchmarks/support_matrix.py`` and the Android golden generator. Built files are cached
under the directory the caller gives; nothing is written into the repository.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SST2 = Path(os.environ.get("EDGEPORT_DATA_DIR", REPO.parent / "shared" / "data")) / "sst2"

ARCHITECTURES = ("bert", "distilbert", "roberta", "xlm-roberta", "electra", "deberta-v2")
TOKENIZER_FAMILY = {"bert": "wordpiece", "distilbert": "wordpiece", "electra": "wordpiece",
                    "roberta": "bpe", "xlm-roberta": "unigram", "deberta-v2": "unigram"}
VOCAB_SIZE = 2000
TRAIN_ROWS = 20000


def sst2_texts(split: str = "train", limit: int | None = TRAIN_ROWS) -> list[str]:
    lines = (SST2 / f"{split}.tsv").read_text(encoding="utf-8").splitlines()[1:]
    texts = [line.rsplit("\t", 1)[0] for line in lines]
    return texts[:limit] if limit else texts


def _train(model, trainer, normalizer, pre_tokenizer, texts):
    from tokenizers import Tokenizer

    tok = Tokenizer(model)
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


# The tokenizers trainers are not reproducible across processes: WordPiece numbers equally frequent tokens in
# hash-map order, and Unigram's EM sums in that order too (scores move by ~2e-4, enough to renumber pieces and change
# some tokenizations). A tiny model's random embedding rows then meet other ids from run to run, so every measured
# noise in the tests would drift. The two helpers below keep the trainer's (stable) set of tokens and make the rest
# a function of it.


def _stable_wordpiece(vocab: dict[str, int], specials: list[str]) -> dict[str, int]:
    """Specials first, then the other tokens in string order (WordPiece's greedy matching reads only the set)."""
    rest = sorted(t for t in vocab if t not in specials)
    return {t: i for i, t in enumerate(specials + rest)}


def _stable_unigram(pieces: list[tuple[str, float]], specials: list[str], texts: list[str]) -> list[tuple[str, float]]:
    """The trainer's pieces with log-frequency scores counted here in the Metaspace-marked corpus (deterministic),
    specials first with score 0, the rest by score then string."""
    corpus = "\n".join("".join("▁" + w for w in t.split()) for t in texts)
    counts = {p: corpus.count(p) + 1 for p, _ in pieces if p not in specials}
    total = sum(counts.values())
    rest = sorted(((p, math.log(c / total)) for p, c in counts.items()), key=lambda x: (-x[1], x[0]))
    return [(s, 0.0) for s in specials] + rest


def train_tokenizer(family: str, arch: str | None = None, texts: list[str] | None = None,
                    vocab_size: int = VOCAB_SIZE):
    """A transformers tokenizer of ``family`` (wordpiece | bpe | unigram) trained on SST-2 text, in the class
    ``arch`` ships with (default: the family's first architecture)."""
    from tokenizers import models, normalizers, pre_tokenizers, trainers

    texts = texts if texts is not None else sst2_texts()
    arch = arch or next(a for a, f in TOKENIZER_FAMILY.items() if f == family)
    if family == "wordpiece":
        from transformers import BertTokenizer

        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        tok = _train(models.WordPiece(unk_token="[UNK]"),
                     trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials),
                     normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer(), texts)
        vocab = _stable_wordpiece(tok.get_vocab(), specials)
        if arch == "electra":
            from transformers import ElectraTokenizer as cls
        elif arch == "distilbert":
            from transformers import DistilBertTokenizer as cls
        else:
            cls = BertTokenizer
        return cls(vocab=vocab, do_lower_case=True)
    if family == "bpe":
        from transformers import RobertaTokenizer

        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        tok = _train(models.BPE(), trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
                     None, pre_tokenizers.ByteLevel(add_prefix_space=False), texts)
        spec = json.loads(tok.to_str())["model"]
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in spec["merges"]]
        return RobertaTokenizer(vocab=spec["vocab"], merges=merges)
    if family == "unigram":
        specials = (["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"] if arch == "deberta-v2"
                    else ["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
        unk = "[UNK]" if arch == "deberta-v2" else "<unk>"
        tok = _train(models.Unigram(), trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials,
                                                               unk_token=unk),
                     normalizers.Precompiled(nmt_nfkc_charsmap()) if arch != "deberta-v2" else None,
                     pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                              pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]),
                     texts)
        vocab = _stable_unigram([tuple(v) for v in json.loads(tok.to_str())["model"]["vocab"]], specials, texts)
        if arch == "deberta-v2":
            from transformers import DebertaV2Tokenizer

            return DebertaV2Tokenizer(vocab=vocab)  # its own normaliser: whitespace runs -> " ", NFC, strip right
        from transformers import XLMRobertaTokenizer

        # Real XLM-R checkpoints are converted SentencePiece models whose normaliser is SentencePiece's precompiled
        # nmt_nfkc map (NFKC + whitespace/control clean-up); the same map is taken from SentencePiece here.
        return XLMRobertaTokenizer(vocab=vocab, _spm_precompiled_charsmap=nmt_nfkc_charsmap())
    raise ValueError(f"unknown tokenizer family {family!r}; one of wordpiece, bpe, unigram")


def nmt_nfkc_charsmap() -> bytes:
    """SentencePiece's built-in ``nmt_nfkc`` normalisation map (what XLM-R's tokenizer normalises with), read from
    a throwaway SentencePiece model: the map is the same whatever the model was trained on."""
    import io

    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(sst2_texts(limit=500)), model_writer=buf, vocab_size=200,
                                   model_type="unigram", normalization_rule_name="nmt_nfkc", minloglevel=2)
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(buf.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def tiny_config(arch: str, tok, *, hidden=32, layers=2, heads=2, intermediate=64, labels=None):
    """transformers' own config class for ``arch``, sized tiny, ids taken from the tokenizer."""
    from transformers import AutoConfig

    common = dict(vocab_size=len(tok), pad_token_id=tok.pad_token_id)
    if arch == "distilbert":
        kwargs = dict(dim=hidden, n_layers=layers, n_heads=heads, hidden_dim=intermediate,
                      max_position_embeddings=512)
    else:
        kwargs = dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                      intermediate_size=intermediate)
        if arch in ("roberta", "xlm-roberta"):
            # RoBERTa numbers positions from pad_token_id + 1, hence 512 + 2 position embeddings.
            kwargs |= dict(max_position_embeddings=514, type_vocab_size=1, bos_token_id=tok.bos_token_id,
                           eos_token_id=tok.eos_token_id)
        elif arch == "electra":
            kwargs |= dict(embedding_size=hidden // 2, max_position_embeddings=512)  # ELECTRA's factorised embeddings
        elif arch == "deberta-v2":
            # DeBERTa-v3 style: relative attention only, shared keys, log buckets, no token types.
            kwargs |= dict(relative_attention=True, pos_att_type=["p2c", "c2p"], position_biased_input=False,
                           max_relative_positions=-1, position_buckets=64, norm_rel_ebd="layer_norm",
                           share_att_key=True, type_vocab_size=0, max_position_embeddings=512)
        else:
            kwargs |= dict(max_position_embeddings=512)
    config = AutoConfig.for_model(arch, **common, **kwargs)
    if labels:
        config.num_labels = len(labels)
        config.id2label = dict(enumerate(labels))
        config.label2id = {n: i for i, n in enumerate(labels)}
    return config


def make_tiny(arch: str, out: Path, *, tokenizer=None, labels=None, seed: int = 0, **sizes) -> Path:
    """A tiny random ``arch`` model with its family's tokenizer, saved to ``out`` (reused when already there)."""
    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification

    out = Path(out)
    if (out / "config.json").is_file():
        return out
    tok = tokenizer if tokenizer is not None else cached_tokenizer(TOKENIZER_FAMILY[arch], arch, out.parent)
    config = tiny_config(arch, tok, labels=labels, **sizes)
    torch.manual_seed(seed)
    model = (AutoModelForSequenceClassification if labels else AutoModel).from_config(config)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


def cached_tokenizer(family: str, arch: str, cache: Path):
    """``train_tokenizer`` once per (family, class) under ``cache``; later calls load the saved files."""
    from transformers import AutoTokenizer

    path = Path(cache) / f"tokenizer-{arch}"
    if not (path / "tokenizer_config.json").is_file():
        train_tokenizer(family, arch).save_pretrained(path)
    return AutoTokenizer.from_pretrained(str(path))
