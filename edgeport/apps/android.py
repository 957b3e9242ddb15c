"""Android demo assets and golden vectors.

``edgeport android RUN_DIR`` writes what ``android-demo/`` loads from its assets folder:

- ``model.tflite``: the run's quantized TFLite artifact (``tflite-int8``, or ``tflite-w4``: 4-bit blockwise weights,
  which LiteRT runs on XNNPACK; the quantize stage's ``artifacts``), only if
  it may ship (``edgeport.apps.shipping``): the bytes the manifest records and validate judged, with a ``pass`` verdict
  (``inconclusive`` with ``--accept-inconclusive``); anything else is refused (exit 2) before the folder is touched;
- the tokenizer's files, by family (read from the artifact's own tokenizer): WordPiece ``vocab.txt``; byte-level
  BPE ``vocab.txt`` + ``merges.txt``; Unigram ``unigram.tsv`` (piece, score) and, for a SentencePiece
  ``Precompiled`` normalizer (XLM-R), ``charsmap.b64``;
- ``labels.json``: label names, ``seq_len``, the model's input names, each signature's own output (name, float32 or
  int8 with its scale and zero point: ``edgeport.apps.android_model``), the shipped file's sha256 and verdict, and a
  ``tokenizer`` section (family,
  files, normalizer / pre-tokenizer / model settings mirroring tokenizer.json, the post-processing template, added
  tokens, pad id, whether token_type_ids are returned). See ``tokenizer_spec``;
- ``golden.json``: texts -> ``input_ids``/``attention_mask``/``token_type_ids`` from the Python tokenizer ->
  ``logits`` from the TFLite runtime: the output of the case's bucket, flat, as the app reads it (and, for an int8
  output, the ``raw_output`` values before dequantization), plus what the task makes of them (``APP_TASKS``): a
  sentence embedding's ``embedding``; a token classifier's ``words``, ``spans``, ``word_ids``, ``word_tags`` and
  ``entities`` (``edgeport.tasks.ner``); a question-answering model's cases are a question (``text``) and a
  paragraph (``text_pair``) as the app's one window of them (the first of ``squad.windows``), with the window's
  ``offsets`` and the ``answer`` ``squad.best_span`` reads from the case's start then end ``logits``. The app's
  start-up self-check replays them.

labels.json carries the task's sidecar keys from the artifact's artifact.json (``task``, ``output``,
``output_shape``; ``pooling``/``normalize`` or ``labels_on``/``scheme``: ``edgeport.tasks.models.MODELS``), from
which the app picks its screen (``ModelInfo.MODES``, keyed by the same task names), plus what a task's screen needs
beyond them (question answering: ``outputs``, ``n_best``, ``max_answer_len`` and the ``doc_stride`` of the windows
the model was trained on, ``runtimes.qa_text.window_settings``). A task the app cannot show is refused before the
assets folder is touched.

The same golden format without logits is what the JVM tests of the Kotlin tokenizers compare against
(``python tests/android_golden.py OUT_DIR SST2_DIR``, run by ``android-demo/run-jvm-tests.sh``).
"""

from __future__ import annotations

import base64
import csv
import json
import os
import random
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .android_model import KEYS, model_io, raw_outputs
from ..errors import ArtifactError, DataError, EdgeportError
from .shipping import ACCEPT_HELP, TFLITE_HELP, check_bytes, quantized_tflite, ship_artifact

GOLDEN_FORMAT = "edgeport-golden/1"  # must match GoldenSet.FORMAT in the Kotlin text package
INFO_FORMAT = "edgeport-android/1"  # must match ModelInfo.FORMAT
DEFAULT_OUT = Path("android-demo/app/src/main/assets")
# On-device INT8 kernels (ARM) are not bit-identical to this host's: logits may drift by a few hundredths.
DEFAULT_ATOL, DEFAULT_RTOL = 0.05, 0.02


# ------------------------------------------------------------------------------------------ golden texts


def hard_cases() -> list[tuple[str, str, str | None]]:
    """(name, text, pair) cases where hand-written tokenizers usually disagree with Hugging Face."""
    long_word = "pneumonoultramicroscopicsilicovolcanoconiosis" * 3  # 135 chars: over the 100-char limit
    cases = [
        ("empty", "", None),
        ("whitespace-only", " \t\n\r  \u3000\u00a0", None),
        ("accents", "Café naïve résumé Ångström façade São Paulo Dvořák", None),
        ("accents-combining", "Cafe\u0301 nai\u0308ve Zoe\u0308 n\u0303", None),
        ("uppercase", "THE MOVIE WAS GREAT!!! İstanbul ǅemal ΣΊΣΥΦΟΣ", None),
        ("cjk", "这部电影很好看。日本語のテキスト、한국어 영화 최고", None),
        ("cjk-mixed", "I loved 电影 and アニメ so much", None),
        ("emoji", "I loved it 😀😂👍🏽 ❤️ 🥺 🫠 👨‍👩‍👧 🇫🇷", None),
        ("zero-width", "zero\u200bwidth\u200cjoin\u200dmark\ufeffbom\u2060end", None),
        ("control-chars", "tab\there\x00nul\x07bell\x1besc\x7fdel\x85nel\ufffdrepl\x0bvt\x0cff", None),
        ("bidi-marks", "\u202ehello\u202c \u200eworld\u200f", None),
        ("private-use", "a\ue000b\U000f0000c", None),
        ("long-word", f"a {long_word} b", None),
        ("word-100", "x" * 100, None),
        ("word-101", "x" * 101, None),
        ("long-unknown-piece", "supercalifragilistic" + "\u2603" + "expialidocious", None),
        ("literal-cls", "[CLS] hello [SEP] world [MASK] [PAD] [UNK]", None),
        ("literal-cls-glued", "hello[CLS]world[SEP][SEP]x[MASK]", None),
        ("literal-lowercase-cls", "[cls] [Cls] [ CLS ] [CLS", None),
        ("punctuation", "Hello, world! (It's) \"quoted\" — en–dash… ¿qué? «guillemets» a/b\\c_d", None),
        ("numbers", "1,234.56 $99 3.14e-10 50% #1 @user", None),
        ("fullwidth", "ＦＵＬＬＷＩＤＴＨ　ｔｅｘｔ！", None),
        ("ligatures", "ﬁne ﬂow ß Straße ĳ", None),
        ("hangul-jamo", "한글 텍스트 ㄱㄴㄷ", None),
        ("arabic-hebrew", "مرحبا بالعالم שלום עולם", None),
        ("devanagari", "नमस्ते दुनिया", None),
        ("many-spaces", "  lots    of     spaces  ", None),
        ("newlines", "line one\nline two\r\nline three", None),
        ("repeated", "good " * 200, None),
        ("pair-simple", "The movie was great.", "I enjoyed every minute."),
        ("pair-empty-b", "only the first", ""),
        ("pair-empty-a", "", "only the second"),
        ("pair-long-a", "very long first sentence " * 40, "short second"),
        ("pair-long-b", "short first", "very long second sentence " * 40),
        ("pair-both-long", "first sentence goes on " * 30, "second sentence goes on " * 31),
        ("pair-equal-long", "same length words here " * 30, "same length words here " * 30),
        ("pair-special", "[CLS] a [SEP]", "[SEP] b [CLS]"),
        # Traps of the byte-level BPE and SentencePiece (Unigram) tokenizers.
        ("only-punctuation", "!!! ... ?!? --- ((( ))) ,,, ;; :: '' \"\" `` ~~", None),
        ("apostrophes", "don't won't I'm you're we've they'll she'd it's DON'T I'M rock'n'roll 'quoted' \u2019curly\u2019", None),
        ("leading-trailing-spaces", "   padded text   ", None),
        ("tabs-newlines", "\ttab\tseparated\nnew\nlines\r\nand\r\rcarriage\n\n", None),
        ("non-bmp", ("\U0001d401\U0001d428\U0001d425\U0001d41d \U0001d509\U0001d52f \U00020000\U00020001 \U00010348 "
                     "\U0001f004 \U0001f9d1\u200d\U0001f4bb"), None),
        ("numbers-unicode", "\u0663\u0664 \u06f5 \u00b2 \u00bd \u216b \u2460\u2461 \uff13\uff14 10\u207b\u00b3 1st 2nd", None),
        ("combining-clusters", ("\uff21\u0301 \ufb01\u0301 \u0600a \r\n x\u0301\u0323 \u1100\u1161\u11a8 e\u0323\u0302 "
                                "\u212b \u2126 \u0958 k\u0301 \u00a0\u0301"), None),
        ("literal-specials-angle", "<s> hello </s> <mask> <pad> <unk> </s></s>", None),
        ("literal-specials-glued", "hello<s>world</s><mask>x <mask>y", None),
        ("spaces-around-mask", "fill   <mask>   here [MASK]  there", None),
        ("metaspace-char", "already\u2581has\u2581metaspace \u2581 \u2581\u2581x", None),
        ("bytelevel-lookalikes", "\u0120\u010a \u0120x \u00c3\u0124", None),
        ("nbsp-runs", "a\u00a0\u00a0b\u2003c\u3000\u3000d", None),
        ("long-number", "1234567890123456789012345678901234567890", None),
        ("pair-specials-angle", "a </s> b", "<s> c"),
        ("pair-whitespace-a", "   ", "text"),
    ]
    return cases


def read_sst2_sentences(data_dir: Path, limit: int | None = None) -> list[str]:
    """SST-2 validation sentences, read at generation time: the dataset is never copied into the repo."""
    path = Path(data_dir) / "validation.tsv"
    if not path.is_file():
        raise DataError(f"{path} not found; set EDGEPORT_DATA_DIR to the folder holding sst2/validation.tsv")
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [r["sentence"] for r in rows[:limit]]


def golden_cases(sentences: list[str], with_pairs: bool = True) -> list[tuple[str, str, str | None]]:
    """Hard cases first, then SST-2 sentences, then SST-2 sentence pairs (neighbours) for token types."""
    cases = hard_cases() + [(f"sst2-{i}", s, None) for i, s in enumerate(sentences)]
    if with_pairs:
        cases += [(f"sst2-pair-{i}", sentences[i], sentences[i + 1]) for i in range(0, min(len(sentences) - 1, 100), 2)]
    return cases


# ------------------------------------------------------------------------------------------ golden vectors


def encode_case(tokenizer, text: str, pair: str | None, seq_len: int) -> dict[str, list[int]]:
    """Exactly how edgeport tokenizes for training and validation (longest_first), padded to seq_len."""
    enc = tokenizer(text, pair, truncation=True, max_length=seq_len, padding="max_length")
    return {k: list(enc[k]) if k in enc else [0] * seq_len for k in KEYS}


def golden_vectors(tokenizer, cases, seq_len: int, runner=None, atol: float = DEFAULT_ATOL,
                   rtol: float = DEFAULT_RTOL, source: dict | None = None, expect=None) -> dict:
    """The golden file: each case's ids from the Python tokenizer and, given a runner, its output as ``logits``:
    flat, as the app reads the tensor (a token classifier's ``[bucket, tags]`` row after row), rounded to 6
    decimals. ``expect(row, output)`` then adds what the task makes of that rounded output (``AppTask.expect``)."""
    import numpy as np

    out = []
    for name, text, pair in cases:
        row = {"name": name, "text": text, "text_pair": pair} | encode_case(tokenizer, text, pair, seq_len)
        if runner is not None:
            arrays = {k: np.asarray([row[k]], dtype=np.int64) for k in KEYS}
            output = np.asarray(runner(**arrays))[0]
            row["logits"] = [round(float(x), 6) for x in output.reshape(-1)]
            if expect is not None:  # from the values written, so the app recomputes exactly what is expected
                expect(row, np.asarray(row["logits"]).reshape(output.shape))
        out.append(row)
    return {"format": GOLDEN_FORMAT, "seq_len": seq_len, "tolerance": {"atol": atol, "rtol": rtol},
            "source": source or {}, "cases": out}


def write_json(path: Path, obj) -> None:
    # ASCII with \u escapes: control characters and emoji survive any editor, adb push or asset packer.
    path.write_text(json.dumps(obj, ensure_ascii=True, separators=(",", ":")) + "\n", encoding="ascii")


def write_vocab(tokenizer, path: Path) -> None:
    """vocab.txt rebuilt from the tokenizer's own vocabulary, so ids match it even if a vocab.txt was edited."""
    ordered = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    write_lines(path, [t for t, _ in ordered], ids=[i for _, i in ordered])


def write_lines(path: Path, tokens: list[str], ids: list[int] | None = None) -> None:
    """One token per line, the line number being its id (ids must be 0..n-1; no token may hold a line break)."""
    if ids is not None and ids != list(range(len(ids))):
        raise ArtifactError(f"the tokenizer's vocabulary ids are not contiguous; cannot write {path.name}")
    if any("\n" in t or "\r" in t for t in tokens):
        raise ArtifactError(f"a vocabulary token contains a line break; it cannot be written as {path.name}")
    path.write_text("".join(t + "\n" for t in tokens), encoding="utf-8")


def tokenizer_flags(tokenizer) -> dict:
    """The BERT normalizer settings of a WordPiece tokenizer (labels.json's top-level fields, kept for older apps)."""
    state = _state(tokenizer)
    norm, model = state.get("normalizer") or {}, state.get("model") or {}
    if norm.get("type") != "BertNormalizer" or model.get("type") != "WordPiece":
        raise EdgeportError(f"not a BERT WordPiece tokenizer: normalizer {norm.get('type')}, model {model.get('type')}")
    specials = [t["content"] for t in state.get("added_tokens", []) if t.get("special")]
    return {"do_lower_case": bool(norm.get("lowercase", True)), "strip_accents": norm.get("strip_accents"),
            "special_tokens": specials}


# ------------------------------------------------------------------------------------------ tokenizer spec

# The byte-level pre-tokenizer's split, hard-coded in tokenizers' pre_tokenizers/byte_level.rs (not in
# tokenizer.json): written into labels.json so that the app runs the very same pattern.
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
TOKENIZER_FILES = ("vocab.txt", "merges.txt", "unigram.tsv", "charsmap.b64")
NORMALIZERS = ("Sequence", "NFC", "NFD", "NFKC", "NFKD", "Lowercase", "Strip", "Replace", "Precompiled")
PRE_TOKENIZERS = ("Sequence", "ByteLevel", "Metaspace", "WhitespaceSplit", "BertPreTokenizer")
# Regex constructs the app cannot run with measured Unicode classes (see OnigRegex.kt).
_REGEX_REFUSED = ("\\w", "\\W", "\\d", "\\D", "\\b", "\\B", "\\h", "\\H", "\\X", "\\R", "(?i", "(?m", "(?x", "(?s")


def _state(tokenizer) -> dict:
    return json.loads(tokenizer.backend_tokenizer.to_str())


def _unsupported(what: str) -> EdgeportError:
    return EdgeportError(f"the Android app's tokenizer does not implement {what}")


def _check_regex(pattern: str) -> str:
    import re

    bad = [c for c in _REGEX_REFUSED if c in pattern]
    classes = set(re.findall(r"\\[pP]\{(\w+)\}", pattern)) - {"L", "N"}
    if bad or classes:
        raise _unsupported(f"the regex {pattern!r} (constructs {bad + sorted(classes)}; supported classes: \\s \\p{{L}} "
                           f"\\p{{N}} and their negations)")
    return pattern


def _normalizer_spec(n: dict | None, files: dict[str, str]) -> dict | None:
    if n is None:
        return None
    kind = n.get("type")
    if kind == "Sequence":
        return {"type": "Sequence", "normalizers": [_normalizer_spec(x, files) for x in n["normalizers"]]}
    if kind == "Precompiled":
        # The SentencePiece charsmap (a double-array trie + replacements) goes as is, base64 like tokenizer.json.
        raw = n["precompiled_charsmap"]
        data = bytes(raw) if isinstance(raw, list) else base64.b64decode(raw)
        files["charsmap.b64"] = base64.encodebytes(data).decode("ascii")
        return {"type": "Precompiled", "charsmap": "charsmap.b64"}
    if kind == "Replace":
        pattern = n["pattern"]
        if "Regex" in pattern:
            _check_regex(pattern["Regex"])
        return {"type": "Replace", "pattern": pattern, "content": n["content"]}
    if kind == "Strip":
        return {"type": "Strip", "strip_left": bool(n.get("strip_left")), "strip_right": bool(n.get("strip_right"))}
    if kind == "BertNormalizer":
        return {"type": "BertNormalizer", "lowercase": bool(n.get("lowercase", True)),
                "strip_accents": n.get("strip_accents"), "clean_text": bool(n.get("clean_text", True)),
                "handle_chinese_chars": bool(n.get("handle_chinese_chars", True))}
    if kind in NORMALIZERS:
        return {"type": kind}
    raise _unsupported(f"the {kind} normalizer (supported: {', '.join(NORMALIZERS)}, BertNormalizer)")


def _pre_tokenizer_spec(p: dict | None) -> dict | None:
    if p is None:
        return None
    kind = p.get("type")
    if kind == "Sequence":
        return {"type": "Sequence", "pretokenizers": [_pre_tokenizer_spec(x) for x in p["pretokenizers"]]}
    if kind == "ByteLevel":
        use_regex = p.get("use_regex", True)
        return {"type": "ByteLevel", "add_prefix_space": bool(p.get("add_prefix_space")), "use_regex": use_regex,
                "regex": GPT2_PATTERN if use_regex else None}
    if kind == "Metaspace":
        scheme = p.get("prepend_scheme", "always")
        if scheme not in ("always", "never"):
            raise _unsupported(f"Metaspace prepend_scheme {scheme!r} (its 'first' depends on original offsets)")
        return {"type": "Metaspace", "replacement": p.get("replacement", "\u2581"), "prepend_scheme": scheme,
                "split": p.get("split", True)}
    if kind in ("WhitespaceSplit", "BertPreTokenizer"):
        return {"type": kind}
    raise _unsupported(f"the {kind} pre-tokenizer (supported: {', '.join(PRE_TOKENIZERS)})")


def _template(post: dict | None, vocab: dict[str, int]) -> dict:
    """The post-processor as {single, pair} lists of {special: [ids]} / {sequence: A|B} items with type ids."""
    def special(token: str, type_id: int = 0) -> dict:
        return {"special": [vocab[token]], "type_id": type_id}

    def seq(name: str, type_id: int = 0) -> dict:
        return {"sequence": name, "type_id": type_id}

    kind = (post or {}).get("type")
    if kind == "Sequence":  # e.g. [ByteLevel (offsets only), TemplateProcessing]
        rest = [p for p in post["processors"] if p.get("type") != "ByteLevel"]
        if len(rest) > 1:
            raise _unsupported(f"a post-processor sequence of {[p.get('type') for p in rest]}")
        return _template(rest[0] if rest else None, vocab)
    if kind is None or kind == "ByteLevel":
        return {"single": [seq("A")], "pair": [seq("A"), seq("B")]}
    if kind == "RobertaProcessing":  # tokenizers' processors/roberta.rs: all type ids 0
        cls, sep = post["cls"][0], post["sep"][0]
        return {"single": [special(cls), seq("A"), special(sep)],
                "pair": [special(cls), seq("A"), special(sep), special(sep), seq("B"), special(sep)]}
    if kind == "BertProcessing":
        cls, sep = post["cls"][0], post["sep"][0]
        return {"single": [special(cls), seq("A"), special(sep)],
                "pair": [special(cls), seq("A"), special(sep), seq("B", 1), special(sep, 1)]}
    if kind == "TemplateProcessing":
        specials = post.get("special_tokens", {})

        def items(template):
            out = []
            for piece in template:
                if "SpecialToken" in piece:
                    tok = piece["SpecialToken"]
                    out.append({"special": list(specials[tok["id"]]["ids"]), "type_id": tok["type_id"]})
                else:
                    out.append(seq(piece["Sequence"]["id"], piece["Sequence"]["type_id"]))
            return out

        return {"single": items(post["single"]), "pair": items(post["pair"])}
    raise _unsupported(f"the {kind} post-processor")


def _added_tokens(state: dict) -> list[dict]:
    out = []
    for t in state.get("added_tokens", []):
        if t.get("single_word"):
            raise _unsupported(f"single_word added tokens ({t['content']!r})")
        out.append({"id": t["id"], "content": t["content"], "special": bool(t.get("special")),
                    "lstrip": bool(t.get("lstrip")), "rstrip": bool(t.get("rstrip")),
                    "normalized": bool(t.get("normalized"))})
    return out


def tokenizer_spec(tokenizer) -> tuple[dict, dict[str, str]]:
    """labels.json's ``tokenizer`` section and the asset files (name -> text) the app needs, for a WordPiece, BPE or
    Unigram tokenizer; anything the Kotlin pipeline does not implement is refused here with its name, not at
    start-up on the phone."""
    state = _state(tokenizer)
    model, norm, pre = state.get("model") or {}, state.get("normalizer"), state.get("pre_tokenizer")
    if getattr(tokenizer, "padding_side", "right") != "right" or getattr(tokenizer, "truncation_side", "right") != "right":
        raise _unsupported("left padding or truncation")
    if tokenizer.pad_token_id is None:
        raise ArtifactError("the tokenizer has no pad token; the app pads to the model's sequence length")
    vocab = tokenizer.get_vocab()
    common = {"added_tokens": _added_tokens(state), "pad_id": int(tokenizer.pad_token_id),
              "token_type_ids": "token_type_ids" in tokenizer.model_input_names,
              "post_processor": _template(state.get("post_processor"), vocab)}
    files: dict[str, str] = {}
    kind = model.get("type")
    if kind == "WordPiece":
        if (norm or {}).get("type") != "BertNormalizer" or (pre or {}).get("type") != "BertPreTokenizer":
            raise _unsupported(f"WordPiece with normalizer {(norm or {}).get('type')} and pre-tokenizer "
                               f"{(pre or {}).get('type')} (only BERT's)")
        if not norm.get("clean_text", True) or not norm.get("handle_chinese_chars", True):
            raise _unsupported("a BERT normalizer without clean_text or handle_chinese_chars")
        if (model.get("unk_token"), model.get("continuing_subword_prefix"), model.get("max_input_chars_per_word")) != \
                ("[UNK]", "##", 100):
            raise _unsupported("WordPiece other than [UNK], '##' and 100 characters per word")
        if any(t["lstrip"] or t["rstrip"] or t["normalized"] for t in common["added_tokens"]):
            raise _unsupported("WordPiece added tokens with lstrip/rstrip or normalized matching")
        bert = [common["post_processor"]["single"], common["post_processor"]["pair"]]
        cls, sep = vocab.get("[CLS]"), vocab.get("[SEP]")
        want = [[{"special": [cls], "type_id": 0}, {"sequence": "A", "type_id": 0}, {"special": [sep], "type_id": 0}],
                [{"special": [cls], "type_id": 0}, {"sequence": "A", "type_id": 0}, {"special": [sep], "type_id": 0},
                 {"sequence": "B", "type_id": 1}, {"special": [sep], "type_id": 1}]]
        if bert != want or tokenizer.pad_token != "[PAD]":
            raise _unsupported("WordPiece without BERT's [CLS] A [SEP] B [SEP] layout and [PAD]")
        ordered = sorted(vocab.items(), key=lambda kv: kv[1])
        files["vocab.txt"] = [t for t, _ in ordered], [i for _, i in ordered]
        return {"family": "wordpiece", "files": {"vocab": "vocab.txt"},
                "normalizer": {"type": "BertNormalizer", "lowercase": bool(norm.get("lowercase", True)),
                               "strip_accents": norm.get("strip_accents"), "clean_text": True,
                               "handle_chinese_chars": True},
                "pre_tokenizer": {"type": "BertPreTokenizer"}, "model": {"type": "WordPiece"}, **common}, files
    section = {"normalizer": _normalizer_spec(norm, files), "pre_tokenizer": _pre_tokenizer_spec(pre)}
    if kind == "BPE":
        if model.get("dropout"):
            raise _unsupported("BPE dropout")
        ordered = sorted(model["vocab"].items(), key=lambda kv: kv[1])
        merges = [m.split(" ") if isinstance(m, str) else list(m) for m in model["merges"]]
        if any(len(m) != 2 or any(" " in x or "\n" in x or "\r" in x for x in m) for m in merges):
            raise ArtifactError("a BPE merge holds a space or line break; it cannot be written as merges.txt")
        files["vocab.txt"] = [t for t, _ in ordered], [i for _, i in ordered]
        files["merges.txt"] = "".join(f"{a} {b}\n" for a, b in merges)
        return {"family": "bpe", "files": {"vocab": "vocab.txt", "merges": "merges.txt"},
                "model": {"type": "BPE", "unk_token": model.get("unk_token"), "fuse_unk": bool(model.get("fuse_unk")),
                          "byte_fallback": bool(model.get("byte_fallback")),
                          "continuing_subword_prefix": model.get("continuing_subword_prefix") or None,
                          "end_of_word_suffix": model.get("end_of_word_suffix") or None,
                          "ignore_merges": bool(model.get("ignore_merges"))},
                **section, **common}, files
    if kind == "Unigram":
        pieces = model["vocab"]
        if any("\n" in p or "\r" in p for p, _ in pieces):
            raise ArtifactError("a Unigram piece contains a line break; it cannot be written as unigram.tsv")
        if model.get("unk_id") is None:
            raise _unsupported("a Unigram model without unk_id")
        files["unigram.tsv"] = "".join(f"{p}\t{float(score)!r}\n" for p, score in pieces)
        return {"family": "unigram", "files": {"pieces": "unigram.tsv"},
                "model": {"type": "Unigram", "unk_id": int(model["unk_id"]),
                          "byte_fallback": bool(model.get("byte_fallback"))},
                **section, **common}, files
    raise _unsupported(f"the {kind} model (supported: WordPiece, BPE, Unigram)")


def write_tokenizer_assets(tokenizer, out: Path) -> dict:
    """Write the tokenizer's asset files into ``out`` (removing other families' leftovers); returns the section."""
    section, files = tokenizer_spec(tokenizer)
    out.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if name not in files and (out / name).is_file():
            (out / name).unlink()
    for name, content in files.items():
        if isinstance(content, tuple):
            write_lines(out / name, *content)
        else:
            (out / name).write_text(content, encoding="utf-8", newline="\n")
    return section


def tokenizer_info(tokenizer, labels: list[str], seq_len: int, out: Path) -> dict:
    """labels.json's tokenizer-related fields (assets written into ``out``)."""
    section = write_tokenizer_assets(tokenizer, out)
    legacy = tokenizer_flags(tokenizer) if section["family"] == "wordpiece" else {}
    return {"format": INFO_FORMAT, "labels": labels, "seq_len": seq_len, **legacy, "tokenizer": section}


def write_tokenizer_golden(out_dir: Path, data_dir: Path, seq_lens=(128, 16)) -> list[Path]:
    """Tokenizer-only golden files from the built-in MiniLM tokenizer and SST-2 validation (used by JVM tests)."""
    from ..models import load_tokenizer, resolve_model_dir

    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = load_tokenizer(resolve_model_dir("builtin:minilm-l6"))
    write_vocab(tokenizer, out_dir / "vocab.txt")
    (out_dir / "tokenizer-flags.json").write_text(json.dumps(tokenizer_flags(tokenizer)) + "\n")
    return write_golden_files(tokenizer, out_dir, golden_cases(read_sst2_sentences(data_dir)), seq_lens,
                              {"tokenizer": "builtin:minilm-l6"})


def write_golden_files(tokenizer, out_dir: Path, cases, seq_lens=(128, 16), source: dict | None = None) -> list[Path]:
    paths = []
    for seq_len in seq_lens:
        path = out_dir / f"golden-{seq_len}.json"
        write_json(path, golden_vectors(tokenizer, cases, seq_len, source=source))
        paths.append(path)
    return paths


# ------------------------------------------------------------------------------------------ tasks the app shows

# Entities of every CoNLL type, double spaces, accents and punctuation inside names: in every entity model's
# golden.json, with or without CoNLL-2003 at hand.
ENTITY_TEXTS = [
    "Peter Blackburn went to  the European Union's office in Brussels.",
    "  Müller met José in São Paulo on Friday,  the U.S. embassy said.",
    "EU rejects German call to boycott British lamb.",
    "LONDON 1996-08-30: West Indian all-rounder Phil Simmons took four for 38 on Friday.",
    "(AL-AIN, United Arab Emirates)",
]
# The least cosine between an embedding the phone computes and its golden vector (ARM INT8 kernels are not
# bit-identical to this host's; the element-wise logit tolerance alone says little about a unit vector).
DEFAULT_MIN_COSINE = 0.99


def read_conll_sentences(data_dir: Path, limit: int | None = None) -> list[str]:
    """CoNLL-2003 validation sentences that hold an entity, as texts (the words joined by single spaces: how the
    pipeline reads a tagged row), read at generation time."""
    from ..tasks import ner

    path = Path(data_dir) / "validation.jsonl"
    if not path.is_file():
        raise DataError(f"{path} not found; set EDGEPORT_DATA_DIR to the folder holding conll2003/validation.jsonl")
    words, tags = ner.read_tagged(path)
    return [" ".join(w) for w, t in zip(words, tags) if any(x != ner.OUTSIDE for x in t)][:limit]


def one_text(text: str) -> tuple[str, str | None]:
    """A bucket filler case's (text, pair): the repeated words alone."""
    return text, None


@dataclass(frozen=True)
class AppTask:
    """What ``edgeport android`` writes for one task the app shows, keyed in ``APP_TASKS`` by the registry's task
    name (``edgeport.tasks``): the name labels.json's ``task`` carries and the app's ``ModelInfo.MODES`` maps to
    a screen."""

    data: str  # the folder under $EDGEPORT_DATA_DIR whose validation sentences join the golden cases
    sentences: Callable  # (that folder, how many) -> texts
    labels: Callable  # (artifact.json, tokenizer, artifact dir) -> labels.json's labels, checked
    cases: Callable  # (tokenizer, sentences) -> the golden (name, text, pair) cases
    expect: Callable | None = None  # (tokenizer, labels) -> golden_vectors' expect; None: the logits say it all
    tolerance: tuple = ()  # golden.json tolerance keys beyond atol/rtol: (key, value) pairs
    settings: Callable | None = None  # (artifact model file, artifact.json) -> labels.json keys beyond the sidecar's
    vectors: Callable | None = None  # (labels.json, model copy) -> what replaces golden_vectors (same arguments)
    fill: Callable = one_text  # bucket_cases' filler: repeated words -> (text, pair)


def _class_labels(meta: dict, tokenizer, where: Path) -> list[str]:
    labels = meta.get("label_names") or []
    if len(labels) < 2:
        raise ArtifactError(f"{where}: artifact.json lists no label names; re-export the artifact")
    return labels


def _tag_labels(meta: dict, tokenizer, where: Path) -> list[str]:
    """IOB2 tag names, and a WordPiece tokenizer: the app's entity mode splits a text into words with BERT's
    pre-tokenizer (``BertTokenizer.words``) and tokenizes each word, which matches Python only for WordPiece."""
    from ..tasks import ner

    labels = _class_labels(meta, tokenizer, where)
    try:
        ner.tag_names(labels)
    except DataError as exc:
        raise ArtifactError(f"{where}: {exc}") from None
    model = (_state(tokenizer).get("model") or {}).get("type")
    if model != "WordPiece":
        raise ArtifactError(f"{where}: the app's entity mode splits words the way BERT's WordPiece tokenizer does; "
                            f"this token classifier's tokenizer is {model}")
    return labels


def _single_texts(tokenizer, sentences: list[str]) -> list:
    """The hard cases and sentences, one text each: an embedding model reads every sentence alone."""
    return [c for c in golden_cases(sentences, with_pairs=False) if c[2] is None]


def _words_give_text_ids(tokenizer, text: str) -> bool:
    """Whether the app's entity path (the text's words, each tokenized) gives the ids of the running text, which
    ``edgeport predict`` and validate feed. Not so for literal special tokens ("[CLS]" is three words) or control
    characters: those cases stay out of an entity model's golden.json."""
    from ..tasks import ner

    words, _ = ner.text_words(tokenizer, text)
    return tokenizer(words, is_split_into_words=True)["input_ids"] == tokenizer(text)["input_ids"]


def _entity_cases(tokenizer, sentences: list[str]) -> list:
    cases = ([(f"entities-{i}", t, None) for i, t in enumerate(ENTITY_TEXTS)]
             + [c for c in hard_cases() if c[2] is None]
             + [(f"conll-{i}", s, None) for i, s in enumerate(sentences)])
    return [c for c in cases if _words_give_text_ids(tokenizer, c[1])]


def _embedding_expect(tokenizer, labels):
    def expect(row: dict, output) -> None:
        # pooled and L2-normalised in the graph (sidecar output "embedding"): the output is the vector predict gives
        row["embedding"] = [float(x) for x in output]
    return expect


def _entity_expect(tokenizer, labels: list[str]):
    from ..tasks import ner

    def expect(row: dict, output) -> None:
        """The text's words (the tokenizer's pre-tokenizer, with character spans), each word's tag read at its
        first sub-token of ``output`` ([bucket, tags]) and the strict IOB2 entities, as ``edgeport predict``
        answers them."""
        words, spans = ner.text_words(tokenizer, row["text"])
        enc = ner.align(tokenizer, words, None, len(row["input_ids"]))
        tags = ner.word_predictions(output, enc["word_ids"], labels, num_words=len(words))
        row.update(words=words, spans=[list(s) for s in spans],
                   word_ids=[-1 if w is None else w for w in enc["word_ids"]], dropped_words=enc["dropped_words"],
                   word_tags=tags, entities=ner.entities(row["text"], spans, tags))
    return expect


# Questions and paragraphs in every question-answering model's golden.json, with or without SQuAD at hand: accents
# and emoji (Python's characters and the app's UTF-16 indices differ), leading spaces in a question (stripped, as
# squad.windows does), a special token typed in the paragraph, CJK, and a paragraph longer than any window (the app
# reads its first window only).
QA_TEXTS = [
    ("Where was the party held?", "The \U0001f389 party of the year was held in Z\u00fcrich, at the Caf\u00e9 "
                                  "M\u00fcller, on 3 May 2019. Nobody \U0001f600 left early."),
    ("   Who wrote the song?", "\u00abCa plane pour moi\u00bb was written by Yvan Lacomblez and sung by Plastic "
                              "Bertrand \U0001f3b8\U0001f3b8."),
    ("What does [SEP] do?", "The token [SEP] separates the question from the paragraph; \u8fd9\u90e8\u7535\u5f71 "
                            "means this film."),
    ("What did the committee decide?", " ".join(f"Item {i} was discussed at length." for i in range(40))
     + " In the end the committee decided to postpone the vote until spring."),
]


def read_squad_questions(data_dir: Path, limit: int | None = None, seed: int = 0) -> list[tuple[str, str]]:
    """(question, paragraph) of a seeded sample of SQuAD v1.1 dev questions (all of them without ``limit``), read
    at generation time."""
    from ..tasks import squad

    path = Path(data_dir) / "dev-v1.1.json"
    if not path.is_file():
        raise DataError(f"{path} not found; set EDGEPORT_DATA_DIR to the folder holding squad/dev-v1.1.json")
    examples = squad.read_squad(path)
    if limit is not None:
        examples = random.Random(seed).sample(examples, min(limit, len(examples)))
    return [(e.question, e.context) for e in examples]


def _qa_labels(meta: dict, tokenizer, where: Path) -> list[str]:
    """No labels; a WordPiece tokenizer: the app computes each token's characters in the paragraph the way BERT's
    fast tokenizer gives its offsets (``QaWindows.kt``), for WordPiece only."""
    model = (_state(tokenizer).get("model") or {}).get("type")
    if model != "WordPiece":
        raise ArtifactError(f"{where}: the app's question-answering mode reads each token's characters the way "
                            f"BERT's WordPiece tokenizer gives them; this model's tokenizer is {model}")
    return []


def _qa_cases(tokenizer, pairs: list[tuple[str, str]]) -> list:
    return ([(f"qa-{i}", q, c) for i, (q, c) in enumerate(QA_TEXTS)]
            + [(f"squad-{i}", q, c) for i, (q, c) in enumerate(pairs)])


def _qa_settings(model: Path, meta: dict) -> dict:
    """What the app's answer screen needs beyond the sidecar: the output names in the order the app reads them, the
    span search's settings (``squad.best_span``'s defaults, as the pipeline measures the model) and the stride of the
    windows the model was trained on (the app refuses a question that leaves the paragraph no more, as Python does)."""
    import inspect

    from ..runtimes.qa_text import window_settings
    from ..tasks import squad

    if list(meta.get("outputs") or []) != ["start_logits", "end_logits"]:
        raise ArtifactError(f"{model.parent}: artifact.json's outputs are {meta.get('outputs')}, not start_logits "
                            f"and end_logits; re-export the question-answering artifact")
    search = inspect.signature(squad.best_span).parameters
    window = window_settings(model, meta)
    return {"outputs": ["start_logits", "end_logits"], "n_best": search["n_best"].default,
            "max_answer_len": search["max_answer_len"].default, "doc_stride": window.stride,
            "doc_stride_source": window.source}


def _qa_fill(text: str) -> tuple[str, str]:
    return "What is good?", text


def _qa_vectors(info: dict, model: Path) -> Callable:
    """golden_vectors for a question-answering model: each case's window as the app builds it (the first of
    ``squad.windows`` at the model's length and ``info``'s stride: a question too long for it is left out, as the app
    refuses it), its ``offsets`` (code points), its ``logits`` = the start logits of the bucket the case runs on
    followed by its end logits (what the app's classifier returns: ``model``'s signature of that bucket run on the
    window cut to it, its two outputs in order, as the app runs it), and the ``answer`` ``squad.best_span`` reads
    from them (null: no valid span)."""
    import numpy as np

    from ..runtimes.tflite import choose_bucket
    from ..tasks import squad
    from .android_model import signature_caller

    call = signature_caller(model)

    def vectors(tokenizer, cases, seq_len: int, runner=None, atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL,
                source: dict | None = None, expect=None) -> dict:
        out = []
        for name, question, context in cases:
            try:
                w = squad.windows(tokenizer, [squad.Example(name, "", context, question, (), ())], seq_len,
                                  info["doc_stride"], labels=False)
            except DataError:
                continue  # a question that leaves the paragraph no room in this window: the app refuses it too
            row = {"name": name, "text": question, "text_pair": context,
                   **{k: list(w[k][0]) if k in w else [0] * seq_len for k in KEYS},
                   "offsets": [None if o is None else list(o) for o in w["offsets"][0]]}
            n = choose_bucket(info["seq_buckets"], sum(row["attention_mask"]))
            starts, ends = (o[0] for o in call(info["bucket_signatures"][str(n)], {k: [row[k][:n]] for k in KEYS}))
            row["logits"] = [round(float(x), 6) for x in np.concatenate([starts, ends])]
            flat = np.asarray(row["logits"], dtype=np.float32)  # the values written: the app recomputes exactly this
            best = squad.best_span(flat[:n], flat[n:], w["offsets"][0][:n], context, n_best=info["n_best"],
                                   max_answer_len=info["max_answer_len"])
            row["answer"] = None if best is None else {k: best[k] for k in (
                "text", "start", "end", "score", "start_token", "end_token")}
            out.append(row)
        return {"format": GOLDEN_FORMAT, "seq_len": seq_len, "tolerance": {"atol": atol, "rtol": rtol},
                "source": (source or {}) | {"doc_stride": info["doc_stride"]}, "cases": out}
    return vectors


APP_TASKS: dict[str, AppTask] = {
    "sequence-classification": AppTask("sst2", read_sst2_sentences, _class_labels,
                                       lambda tokenizer, sentences: golden_cases(sentences, with_pairs=False)),
    "sentence-embedding": AppTask("sst2", read_sst2_sentences, lambda meta, tokenizer, where: [], _single_texts,
                                  _embedding_expect, (("min_cosine", DEFAULT_MIN_COSINE),)),
    "token-classification": AppTask("conll2003", read_conll_sentences, _tag_labels, _entity_cases,
                                    _entity_expect),
    "question-answering": AppTask("squad", read_squad_questions, _qa_labels, _qa_cases, settings=_qa_settings,
                                  vectors=_qa_vectors, fill=_qa_fill),
}


def app_task(meta: dict, where: Path) -> tuple[str, AppTask]:
    """The artifact's task (artifact.json's ``task``; none: a classifier's, made before the registry) and what the
    app needs for it; a task the app cannot show is refused."""
    from ..tasks import SEQUENCE_CLASSIFICATION

    task = meta.get("task") or SEQUENCE_CLASSIFICATION.name
    if task not in APP_TASKS:
        raise ArtifactError(f"{where}: a {task} model; the Android app shows {', '.join(APP_TASKS)} models")
    return task, APP_TASKS[task]


def task_keys(task: str, meta: dict, where: Path) -> dict:
    """labels.json's task keys: ``task`` and the sidecar keys the registry gives every artifact.json of the task
    (``tasks.models.MODELS``), with this artifact's values."""
    from ..tasks.models import MODELS

    missing = [k for k in MODELS[task].sidecar if k not in meta]
    if missing:
        raise ArtifactError(f"{where}: artifact.json has no {', '.join(missing)}, which every {task} artifact "
                            f"carries; re-export the artifact")
    return {"task": task} | {k: meta[k] for k in MODELS[task].sidecar}


# ------------------------------------------------------------------------------------------ app assets


def bucket_cases(tokenizer, cases, buckets: list[int], fill: Callable = one_text) -> list:
    """``cases`` plus, for every length bucket no case falls in, one case of a length inside it (a sentence of
    repeated words, made a case by ``fill``: a question-answering case's paragraph), so the golden vectors exercise
    every signature the app may call."""
    def length(text, pair):
        return len(tokenizer(text, pair, truncation=True, max_length=buckets[-1])["input_ids"])

    have = {next(b for b in buckets if b >= length(t, p)) for _, t, p in cases}
    out, lower = list(cases), 0
    for b in buckets:
        if b not in have:
            words = max(1, (lower + b) // 2 - 2)  # roughly mid-bucket: 1 token per word + [CLS]/[SEP]
            text = " ".join(["good"] * words)
            while length(*fill(text)) > b and words > 1:
                words -= 1
                text = " ".join(["good"] * words)
            out.append((f"bucket-{b}", *fill(text)))
        lower = b
    return out


def write_assets(run_dir: Path, out: Path = DEFAULT_OUT, artifact: str | None = None, golden_limit: int = 64,
                 data_dir: Path | None = None, atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL,
                 accept_inconclusive: bool = False) -> dict:
    """Copy the model and write vocab, labels and golden vectors (outputs from the TFLite runtime) into ``out``.

    Only an artifact that may ship (``edgeport.apps.shipping``: the bytes validate judged, with a pass verdict) is
    taken, and only of a task the app shows (``APP_TASKS``); anything else is refused before ``out`` is touched.
    The copy is hashed before it replaces ``model.tflite``, and the golden outputs are computed from that verified
    copy. ``data_dir``: the golden sentences' folder (SST-2; CoNLL-2003 for a token classifier; SQuAD for a
    question-answering model); None: the task's folder under $EDGEPORT_DATA_DIR, when there."""
    from ..runtimes import artifact_meta, load
    from ..runtimes.text import artifact_tokenizer

    artifact = artifact or quantized_tflite(Path(run_dir))  # tflite-int8, or tflite-w4 (LiteRT's blockwise int4)
    shipment = ship_artifact(Path(run_dir), artifact, accept_inconclusive)
    model = shipment.path
    meta, tokenizer = artifact_meta(model), artifact_tokenizer(model)
    task, app = app_task(meta, model.parent)
    keys = task_keys(task, meta, model.parent)
    labels = app.labels(meta, tokenizer, model.parent)
    keys |= app.settings(model, meta) if app.settings else {}  # read beside the artifact in its run directory
    out.mkdir(parents=True, exist_ok=True)
    copy = out / ".model.tflite.partial"
    shutil.copyfile(model, copy)
    try:
        check_bytes(shipment, copy)
        # refuses an output or input the app cannot read, before anything else is written
        io = model_io(copy, outputs=len(meta.get("outputs") or ["logits"]))
        info = tokenizer_info(tokenizer, labels, io["seq_len"], out)  # refuses an unsupported tokenizer first
    except BaseException:
        copy.unlink(missing_ok=True)
        raise
    os.replace(copy, out / "model.tflite")
    model = out / "model.tflite"
    io.setdefault("seq_buckets", [io["seq_len"]])  # a single-signature model: one bucket
    io.setdefault("bucket_signatures", {str(io["seq_len"]): io["signature"]})
    io.setdefault("signature_outputs", {io["signature"]: {"name": io["output"], "dtype": "float32"}})
    info |= {k: io[k] for k in ("signature", "inputs", "output", "seq_buckets", "bucket_signatures",
                                "signature_outputs")}
    # The task's keys after the model's: their ``output`` says what the output is ("embedding", "logits"); the
    # tensor the app addresses is each signature's own (``signature_outputs``).
    info |= keys
    info |= {"artifact": artifact, "run": str(run_dir), "sha256": shipment.verdict.sha256,
             "verdict": shipment.verdict.state.value}
    (out / "labels.json").write_text(json.dumps(info, indent=2, ensure_ascii=True) + "\n")
    data_dir = data_dir if data_dir is not None else default_data_dir(app.data)
    sentences = app.sentences(data_dir, golden_limit) if data_dir else []
    cases = bucket_cases(tokenizer, app.cases(tokenizer, sentences), io["seq_buckets"], app.fill)
    # Outputs from the bucketed runner: each case's expected output comes from the bucket the app runs it on.
    vectors = app.vectors(info, model) if app.vectors else golden_vectors
    golden = vectors(tokenizer, cases, io["seq_len"], runner=load(model, threads=1), atol=atol, rtol=rtol,
                     source={"run": str(run_dir), "artifact": artifact, "sha256": shipment.verdict.sha256},
                     expect=app.expect(tokenizer, labels) if app.expect else None)
    golden["tolerance"] |= dict(app.tolerance)
    for case in golden["cases"]:
        case["bucket"] = next(b for b in io["seq_buckets"] if b >= sum(case["attention_mask"]))
    raw_outputs(model, golden["cases"], io)
    golden["seq_buckets"] = io["seq_buckets"]
    write_json(out / "golden.json", golden)
    return {"out": str(out), "model_bytes": model.stat().st_size, "cases": len(cases), "task": task,
            "labels": labels, "seq_len": io["seq_len"], "family": info["tokenizer"]["family"],
            "files": [f for f in TOKENIZER_FILES if (out / f).is_file()], "shipment": shipment,
            "outputs": sorted({o["dtype"] for v in io["signature_outputs"].values()
                               for o in (v if isinstance(v, list) else [v])})}


def default_data_dir(folder: str = "sst2") -> Path | None:
    from ..config import data_root

    root = data_root()
    return root / folder if root is not None and (root / folder).is_dir() else None


# ------------------------------------------------------------------------------------------ CLI


def cmd_android(args) -> int:
    if args.golden_count < 0:
        raise EdgeportError(f"--golden-count must be 0 or more, got {args.golden_count}")
    result = write_assets(Path(args.run_dir), Path(args.out), args.artifact, args.golden_count,
                          Path(args.data) if args.data else None, args.atol, args.rtol,
                          accept_inconclusive=args.accept_inconclusive)
    print(result["shipment"].summary())
    print(f"wrote {result['out']}: model.tflite ({result['model_bytes'] / 1e6:.1f} MB, {'/'.join(result['outputs'])} "
          f"output), {', '.join(result['files'])} ({result['family']} tokenizer), labels.json "
          f"({result['task']}: {', '.join(result['labels']) or 'no labels'}; seq_len {result['seq_len']}), "
          f"golden.json ({result['cases']} cases)")
    print("next: cd android-demo && ./gradlew installDebug")
    return 0


def register(sub) -> None:
    p = sub.add_parser("android", help="write the Android demo's assets (model, tokenizer files, labels, golden vectors)")
    p.add_argument("run_dir", help="a run directory whose validate stage passed the artifact")
    p.add_argument("--out", default=str(DEFAULT_OUT), help=f"assets folder (default: {DEFAULT_OUT})")
    p.add_argument("--artifact", help=TFLITE_HELP)
    p.add_argument("--accept-inconclusive", action="store_true", help=ACCEPT_HELP)
    p.add_argument("--golden-count", type=int, default=64,
                   help="validation sentences (SQuAD dev questions for a question-answering model) added to the hard "
                        "golden cases")
    p.add_argument("--data", help="the golden sentences' folder: SST-2 with validation.tsv, CoNLL-2003 with "
                                  "validation.jsonl for a token classifier, or SQuAD with dev-v1.1.json for a "
                                  "question-answering model (default: $EDGEPORT_DATA_DIR/sst2, /conll2003 or /squad)")
    p.add_argument("--atol", type=float, default=DEFAULT_ATOL, help="self-check absolute logit tolerance")
    p.add_argument("--rtol", type=float, default=DEFAULT_RTOL, help="self-check relative logit tolerance")
    p.set_defaults(fn=cmd_android)


if __name__ == "__main__":
    # Developer entry used by android-demo/run-jvm-tests.sh: python -m edgeport.apps.android tokenizer-golden OUT DATA
    if len(sys.argv) == 4 and sys.argv[1] == "tokenizer-golden":
        for written in write_tokenizer_golden(Path(sys.argv[2]), Path(sys.argv[3])):
            print(f"wrote {written}")
    else:
        sys.exit("usage: python -m edgeport.apps.android tokenizer-golden OUT_DIR SST2_DIR")
