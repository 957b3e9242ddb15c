"""Golden files for the JVM tests of the app's Kotlin tokenizers (run by android-demo/run-jvm-tests.sh).

    python tests/android_golden.py OUT_DIR SST2_DIR

writes, all from the Python (Hugging Face) tokenizers, nothing committed:

- ``OUT_DIR/``: the MiniLM WordPiece goldens as before (``vocab.txt``, ``tokenizer-flags.json``, ``golden-128.json``,
  ``golden-16.json``; ``edgeport.apps.android.write_tokenizer_golden``);
- ``OUT_DIR/families/<family>-<arch>/``: for each tokenizer family, a tokenizer trained by ``tests/family.py`` on
  SST-2 in the class its architecture ships with, written exactly as ``edgeport android`` writes app assets
  (``labels.json`` with the ``tokenizer`` section + its files), plus ``golden-128.json``/``golden-16.json`` (hard
  cases, SST-2 validation sentences, sentence pairs) and ``stages.json`` (normalizer and pre-tokenizer outputs of
  random strings drawn from awkward characters, checked stage by stage on the JVM);
- ``OUT_DIR/unicode-forms.json``: NFC/NFD/NFKC/NFKD/Lowercase of random mark/base sequences (the Kotlin
  normalization forms against the Rust ones, beyond single code points);
- ``OUT_DIR/ner-entities.json``: word tags and entities of CoNLL-2003 sentences (``SST2_DIR/../conll2003``, when
  there) and raw texts under seeded logits, from ``edgeport.tasks.ner`` (``tests/ner_golden.py``).
- ``OUT_DIR/squad-spans.json``: question + context windows (SQuAD v1.1 dev questions from ``SST2_DIR/../squad``,
  when there, and hand texts with emoji) with seeded start/end logits and the best answer span
  ``edgeport.tasks.squad.best_span`` finds in each (``tests/squad_golden.py``); ``OUT_DIR/squad-windows.json`` (and
  one in each WordPiece family's directory): the app's one window of a question + paragraph, as the first window of
  ``squad.windows`` gives it (ids, token types, character offsets), for the questions, the hard texts and more.
- ``OUT_DIR/vectors.json``: seeded random hidden states + attention masks with their mean-pooled and L2-normalised
  vectors, and vector pairs with their cosine, all computed by ``edgeport.tasks.vectors`` (the sentence-embedding
  reference the app's ``text/Vectors.kt`` is checked against).
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# family-arch -> (tests/family.py family, architecture)
FAMILIES = {
    "bpe-roberta": ("bpe", "roberta"),
    "unigram-xlm-roberta": ("unigram", "xlm-roberta"),
    "unigram-deberta-v2": ("unigram", "deberta-v2"),
    "wordpiece-bert": ("wordpiece", "bert"),
    "wordpiece-distilbert": ("wordpiece", "distilbert"),
}
LABELS = ["negative", "positive"]

# Characters the stage probes draw from: ASCII, Latin-1, combining marks, Hangul jamo and syllables, compatibility
# and fullwidth forms, controls, Prepend, ZWJ/ZWSP, emoji and regional indicators, Devanagari, Thai, math letters,
# Arabic, whitespace of all kinds, the Metaspace and byte-level look-alike characters.
POOL = (list(range(0x20, 0x7F)) * 3 + list(range(0xA0, 0x180)) + list(range(0x300, 0x370)) +
        [0x600, 0x601, 0x6DD, 0x70F, 0xD4E, 0x110BD] + list(range(0x1100, 0x1200, 3)) + list(range(0xAC00, 0xAC40)) +
        list(range(0x3130, 0x3190)) + list(range(0xFF00, 0xFF70)) + list(range(0x2460, 0x2480)) +
        list(range(0x3300, 0x3320)) + [0x200B, 0x200C, 0x200D, 0xFE0F, 0x1F3FB, 0x1F600, 0x1F1EB, 0x1F1F7, 0x2764] +
        [0x9, 0xA, 0xD, 0x1, 0x7F, 0x85, 0x2028, 0x3000, 0x2003, 0x1680, 0x0B, 0x0C] * 2 + list(range(0x900, 0x980)) +
        list(range(0xE00, 0xE60)) + list(range(0x1D400, 0x1D420)) + list(range(0x620, 0x660)) +
        [0x2581, 0x120, 0x10A, 0xC3, 0x124, 0xE000, 0xFFFD, 0x3A3, 0x1E9E, 0x130, 0x212B, 0x2126, 0xFB01])
WORDS = ["the", "movie", "Don't", "it's", "   ", "\t", "\n", "<s>", "</s>", "<mask>", "[CLS]", "[MASK]", "!!", "1,234",
         "café", "naïve", "日本語", "한국어", "😀", "e\u0301", "ＡＢＣ", "İ", "ß", "▁", "Ġ"]


def random_texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 6)):
            if rng.random() < 0.3:
                parts.append(rng.choice(WORDS))
            else:
                parts.append("".join(chr(rng.choice(POOL)) for _ in range(rng.randint(1, 6))))
        out.append(("" if rng.random() < 0.5 else " ").join(parts))
    return out


def stage_probe(tokenizer, texts: list[str]) -> dict:
    """What the tokenizer's normalizer and pre-tokenizer make of each text (the pre-tokenizer fed the normalized
    text, as in the pipeline; empty strings never reach it there, so they are skipped)."""
    backend = tokenizer.backend_tokenizer
    norm, pre = backend.normalizer, backend.pre_tokenizer
    cases = []
    for text in texts:
        normalized = norm.normalize_str(text) if norm is not None else text
        row = {"text": text, "normalized": normalized}
        if pre is not None and normalized:
            row["pre_tokenized"] = [p for p, _ in pre.pre_tokenize_str(normalized)]
        cases.append(row)
    return {"format": "edgeport-stages/1", "cases": cases}


def unicode_forms(seed: int = 7, n: int = 6000) -> dict:
    from tokenizers import normalizers as N

    rng = random.Random(seed)
    marks = list(range(0x300, 0x370)) + [0x5B0, 0x5B7, 0x64B, 0x651, 0x93C, 0x94D, 0x3099, 0x309A, 0x1DC0, 0x20D0,
                                         0x302A, 0x0E38, 0x0E48, 0x0F71, 0x0F72, 0x0F80, 0x1B34, 0x1B35] * 3
    bases = (list(range(0x41, 0x7B)) + [0x1100, 0x1161, 0x11A8, 0xAC00, 0xAC01, 0x3B1, 0x3C9, 0x435, 0x928, 0x915,
                                        0x627, 0x3A3, 0x130, 0x1E9E, 0xFB01, 0x2126, 0x212B, 0x958, 0x1B05, 0x304B,
                                        0x30AB, 0xFF76, 0x3300, 0x2460, 0xC5, 0xE9, 0x1EA6, 0x1F80, 0x20, 0x0A])
    forms = {name: getattr(N, name)() for name in ("NFC", "NFD", "NFKC", "NFKD", "Lowercase")}
    cases = []
    for _ in range(n):
        text = "".join(chr(rng.choice(marks if rng.random() < 0.45 else bases)) for _ in range(rng.randint(1, 8)))
        cases.append({"text": text} | {k.lower(): f.normalize_str(text) for k, f in forms.items()})
    return {"format": "edgeport-unicode-forms/1", "cases": cases}


def vector_goldens(seed: int = 11) -> dict:
    """Pooling / normalisation / cosine cases for VectorsTest.kt. Inputs are float32 (as a model gives them; JSON
    holds each exactly), expectations float64 from edgeport.tasks.vectors. ``hidden`` is flat, row-major [seq, d]:
    the layout LiteRT reads a [1, seq, d] output in."""
    import numpy as np

    from edgeport.tasks import vectors as V

    rng = np.random.default_rng(seed)

    def floats(a) -> list[float]:
        return [float(x) for x in np.asarray(a, dtype=np.float32).ravel()]

    def mask_of(kind: str, seq: int) -> np.ndarray:
        if kind == "all":
            return np.ones(seq, dtype=np.int64)
        if kind == "first":
            return (np.arange(seq) == 0).astype(np.int64)
        if kind == "none":
            return np.zeros(seq, dtype=np.int64)
        if kind == "scattered":
            return rng.integers(0, 2, size=seq)
        return (np.arange(seq) < rng.integers(1, seq + 1)).astype(np.int64)  # right-padded, as the tokenizer pads

    pool_cases = []
    shapes = [(1, 1), (1, 8), (5, 3), (16, 32), (32, 384)] + [
        (int(rng.integers(1, 25)), int(rng.integers(1, 49))) for _ in range(40)]
    kinds = ["padded", "all", "first", "none", "scattered"]
    scales = [("normal", 1.0), ("large", 100.0), ("tiny", 1e-14), ("zero", 0.0)]
    for i, (seq, d) in enumerate(shapes):
        kind = kinds[i % len(kinds)] if i >= 5 else ("padded" if seq > 1 else "all")
        scale_name, scale = scales[0] if i < 5 or i % 7 else scales[1 + (i // 7) % 3]
        hidden = (rng.normal(size=(seq, d)) * scale).astype(np.float32)
        mask = mask_of(kind, seq)
        hidden[mask == 0] += np.float32(1000.0)  # padding far away: pooling it in would move the mean
        pooled = V.mean_pool(hidden, mask)
        pool_cases.append({"name": f"pool-{i}-{seq}x{d}-{kind}-{scale_name}", "seq": seq, "d": d,
                           "hidden": floats(hidden), "mask": [int(m) for m in mask],
                           "pooled": [float(x) for x in pooled],
                           "normalized": [float(x) for x in V.l2_normalize(pooled)]})

    cosine_cases = []
    for i in range(30):
        d = int(rng.integers(1, 65))
        a = rng.normal(size=d).astype(np.float32)
        kind = ["random", "same", "opposite", "scaled", "zero", "tiny"][i % 6]
        b = {"random": rng.normal(size=d), "same": a, "opposite": -2.5 * a, "scaled": 0.01 * a,
             "zero": np.zeros(d), "tiny": rng.normal(size=d) * 1e-15}[kind].astype(np.float32)
        cosine_cases.append({"name": f"cos-{i}-{kind}-d{d}", "a": floats(a), "b": floats(b),
                             "cosine": V.cosine(a, b)})
    # sentence pairs end to end: cosine of two pooled + normalised cases of one width
    pairs = []
    by_d: dict[int, list[int]] = {}
    for i, c in enumerate(pool_cases):
        by_d.setdefault(c["d"], []).append(i)
    for idx in by_d.values():
        for x, y in zip(idx, idx[1:]):
            a, b = pool_cases[x], pool_cases[y]
            pairs.append({"a": x, "b": y, "cosine": V.cosine(a["normalized"], b["normalized"])})
    return {"format": "edgeport-vectors/1", "source": "edgeport.tasks.vectors", "seed": seed,
            "pool_cases": pool_cases, "cosine_cases": cosine_cases, "pairs": pairs}


def write_family(name: str, family: str, arch: str, out: Path, cases, cache: Path, squad_dir: Path) -> int:
    from family import cached_tokenizer
    from squad_golden import window_examples, write_windows

    from edgeport.apps import android

    tokenizer = cached_tokenizer(family, arch, cache)
    out.mkdir(parents=True, exist_ok=True)
    info = android.tokenizer_info(tokenizer, LABELS, 128, out) | {
        "inputs": {k: k for k in android.KEYS if k != "token_type_ids" or k in tokenizer.model_input_names},
        "output": "logits", "signature": None, "source": f"tests/family.py train_tokenizer({family!r}, {arch!r})"}
    (out / "labels.json").write_text(json.dumps(info, indent=2, ensure_ascii=True) + "\n")
    android.write_golden_files(tokenizer, out, cases, source={"tokenizer": name})
    texts = [t for _, t, _ in cases] + [p for _, _, p in cases if p] + random_texts(zlib.crc32(name.encode()), 2000)
    android.write_json(out / "stages.json", stage_probe(tokenizer, texts))
    if family == "wordpiece":  # the app's question-answering window (QaWindows.kt) reads WordPiece offsets only
        write_windows(out, tokenizer, window_examples(squad_dir), {"tokenizer": name})
    return len(cases)


def main(out_dir: Path, data_dir: Path) -> None:
    import ner_golden
    import squad_golden

    from edgeport.apps import android

    for written in android.write_tokenizer_golden(out_dir, data_dir):
        print(f"wrote {written}")
    android.write_json(out_dir / "unicode-forms.json", unicode_forms())
    ner_golden.write(out_dir, data_dir.parent / "conll2003")
    squad_golden.write(out_dir, data_dir.parent / "squad")
    vectors = vector_goldens()
    android.write_json(out_dir / "vectors.json", vectors)
    print(f"wrote {out_dir / 'vectors.json'}: {len(vectors['pool_cases'])} pooling, "
          f"{len(vectors['cosine_cases'])} cosine and {len(vectors['pairs'])} pair cases")
    cases = android.golden_cases(android.read_sst2_sentences(data_dir))
    families = out_dir / "families"
    cache = out_dir / "family-tokenizers"  # trained afresh on every run (seconds): the oracle is never stale
    shutil.rmtree(families, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    for name, (family, arch) in FAMILIES.items():
        n = write_family(name, family, arch, families / name, cases, cache, data_dir.parent / "squad")
        print(f"wrote {families / name}: {family} tokenizer of {arch}, {n} cases x 2 sequence lengths")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python tests/android_golden.py OUT_DIR SST2_DIR")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
