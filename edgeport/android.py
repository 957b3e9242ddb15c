"""Android demo assets and golden vectors.

``edgeport android RUN_DIR`` writes what ``android-demo/`` loads from its assets folder:

- ``model.tflite``: the run's INT8 TFLite artifact (``tflite-int8`` in the quantize stage's ``artifacts``);
- ``vocab.txt``: the artifact tokenizer's WordPiece vocabulary, one token per id;
- ``labels.json``: label names, ``seq_len``, the tokenizer flags and the model's input/output names;
- ``golden.json``: texts -> ``input_ids``/``attention_mask``/``token_type_ids`` from the Python tokenizer ->
  ``logits`` from the TFLite runtime. The app's start-up self-check replays them.

The same golden format without logits is what the JVM tests of the Kotlin tokenizer compare against
(``python -m edgeport.android tokenizer-golden OUT_DIR``, run by ``android-demo/run-jvm-tests.sh``).
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

from .errors import ArtifactError, DataError, EdgeportError

GOLDEN_FORMAT = "edgeport-golden/1"  # must match GoldenSet.FORMAT in the Kotlin text package
INFO_FORMAT = "edgeport-android/1"  # must match ModelInfo.FORMAT
DEFAULT_OUT = Path("android-demo/app/src/main/assets")
# On-device INT8 kernels (ARM) are not bit-identical to this host's: logits may drift by a few hundredths.
DEFAULT_ATOL, DEFAULT_RTOL = 0.05, 0.02
KEYS = ("input_ids", "attention_mask", "token_type_ids")


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
                   rtol: float = DEFAULT_RTOL, source: dict | None = None) -> dict:
    """The golden file: each case's ids from the Python tokenizer and, given a runner, its logits."""
    import numpy as np

    out = []
    for name, text, pair in cases:
        row = {"name": name, "text": text, "text_pair": pair} | encode_case(tokenizer, text, pair, seq_len)
        if runner is not None:
            arrays = {k: np.asarray([row[k]], dtype=np.int64) for k in KEYS}
            row["logits"] = [round(float(x), 6) for x in np.asarray(runner(**arrays))[0]]
        out.append(row)
    return {"format": GOLDEN_FORMAT, "seq_len": seq_len, "tolerance": {"atol": atol, "rtol": rtol},
            "source": source or {}, "cases": out}


def write_json(path: Path, obj) -> None:
    # ASCII with \u escapes: control characters and emoji survive any editor, adb push or asset packer.
    path.write_text(json.dumps(obj, ensure_ascii=True, separators=(",", ":")) + "\n", encoding="ascii")


def write_vocab(tokenizer, path: Path) -> None:
    """vocab.txt rebuilt from the tokenizer's own vocabulary, so ids match it even if a vocab.txt was edited."""
    vocab = tokenizer.get_vocab()
    by_id = sorted(vocab.items(), key=lambda kv: kv[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        raise ArtifactError("the tokenizer's vocabulary ids are not contiguous; cannot write vocab.txt")
    if any("\n" in t or "\r" in t for t, _ in by_id):
        raise ArtifactError("a vocabulary token contains a newline; it cannot be written as vocab.txt")
    path.write_text("".join(t + "\n" for t, _ in by_id), encoding="utf-8")


def tokenizer_flags(tokenizer) -> dict:
    """The BERT normalizer settings the Kotlin tokenizer must reproduce; refuse what it does not implement."""
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    norm, model = state.get("normalizer") or {}, state.get("model") or {}
    if norm.get("type") != "BertNormalizer" or model.get("type") != "WordPiece":
        raise EdgeportError(f"the Android tokenizer implements BERT WordPiece only; this tokenizer has normalizer "
                            f"{norm.get('type')} and model {model.get('type')}")
    if not norm.get("clean_text", True) or not norm.get("handle_chinese_chars", True):
        raise EdgeportError("the Android tokenizer assumes clean_text and handle_chinese_chars are on (BERT default)")
    specials = [t["content"] for t in state.get("added_tokens", []) if t.get("special")]
    return {"do_lower_case": bool(norm.get("lowercase", True)), "strip_accents": norm.get("strip_accents"),
            "special_tokens": specials}


def write_tokenizer_golden(out_dir: Path, data_dir: Path, seq_lens=(128, 16)) -> list[Path]:
    """Tokenizer-only golden files from the built-in MiniLM tokenizer and SST-2 validation (used by JVM tests)."""
    from .models import load_tokenizer, resolve_model_dir

    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = load_tokenizer(resolve_model_dir("builtin:minilm-l6"))
    write_vocab(tokenizer, out_dir / "vocab.txt")
    (out_dir / "tokenizer-flags.json").write_text(json.dumps(tokenizer_flags(tokenizer)) + "\n")
    cases = golden_cases(read_sst2_sentences(data_dir))
    paths = []
    for seq_len in seq_lens:
        path = out_dir / f"golden-{seq_len}.json"
        write_json(path, golden_vectors(tokenizer, cases, seq_len, source={"tokenizer": "builtin:minilm-l6"}))
        paths.append(path)
    return paths


# ------------------------------------------------------------------------------------------ app assets


def find_artifact(run_dir: Path, name: str = "tflite-int8") -> Path:
    """The model file of artifact ``name`` as recorded in the run's manifest (quantize, else export)."""
    from .pipeline.manifest import Manifest

    manifest = Manifest.load(run_dir)
    for stage in ("quantize", "export"):
        entry = manifest.entry(stage) or {}
        for art in (entry.get("metrics") or {}).get("artifacts", []):
            if art.get("name") == name:
                if entry.get("status") != "done":
                    raise ArtifactError(f"{run_dir}: stage {stage} is '{entry.get('status')}'; finish the run first")
                path = run_dir / art["path"]
                if not path.is_file():
                    raise ArtifactError(f"{path} is recorded in the manifest but missing; re-run the pipeline")
                return path
    known = [a.get("name") for s in ("quantize", "export")
             for a in ((manifest.entry(s) or {}).get("metrics") or {}).get("artifacts", [])]
    raise ArtifactError(f"{run_dir}: no '{name}' artifact in the manifest (found: {', '.join(known) or 'none'}). "
                        f"Add tflite to export.formats and run the pipeline through quantize")


def model_io(model_path: Path) -> dict:
    """Signature, input names by role and output name, as the app's CompiledModel must address them."""
    from .runtimes.tflite import SIGNATURE, _interpreter_class

    runner = _interpreter_class()(model_path=str(model_path)).get_signature_runner(SIGNATURE)
    inputs = runner.get_input_details()
    missing = [k for k in ("input_ids", "attention_mask") if k not in inputs]
    if missing:
        raise ArtifactError(f"{model_path}: signature '{SIGNATURE}' has no input {missing}; found {list(inputs)}")
    seq_len = int(inputs["input_ids"]["shape"][1])
    return {"signature": SIGNATURE, "inputs": {k: (k if k in inputs else None) for k in KEYS},
            "output": next(iter(runner.get_output_details())), "seq_len": seq_len}


def write_assets(run_dir: Path, out: Path = DEFAULT_OUT, artifact: str = "tflite-int8", golden_limit: int = 64,
                 data_dir: Path | None = None, atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL) -> dict:
    """Copy the model and write vocab, labels and golden vectors (logits from the TFLite runtime) into ``out``."""
    from .runtimes import artifact_meta, load
    from .runtimes.text import artifact_tokenizer

    model = find_artifact(Path(run_dir), artifact)
    meta, tokenizer, io = artifact_meta(model), artifact_tokenizer(model), model_io(model)
    labels = meta.get("label_names") or []
    if len(labels) < 2:
        raise ArtifactError(f"{model.parent}: artifact.json lists no label names; re-export the artifact")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model, out / "model.tflite")
    write_vocab(tokenizer, out / "vocab.txt")
    info = {"format": INFO_FORMAT, "labels": labels, "seq_len": io["seq_len"], **tokenizer_flags(tokenizer),
            "signature": io["signature"], "inputs": io["inputs"], "output": io["output"],
            "artifact": artifact, "run": str(run_dir)}
    (out / "labels.json").write_text(json.dumps(info, indent=2, ensure_ascii=True) + "\n")
    sentences = read_sst2_sentences(data_dir, golden_limit) if data_dir else []
    cases = golden_cases(sentences, with_pairs=False)
    golden = golden_vectors(tokenizer, cases, io["seq_len"], runner=load(model, threads=1), atol=atol, rtol=rtol,
                            source={"run": str(run_dir), "artifact": artifact})
    write_json(out / "golden.json", golden)
    return {"out": str(out), "model_bytes": (out / "model.tflite").stat().st_size, "cases": len(cases),
            "labels": labels, "seq_len": io["seq_len"]}


def default_data_dir() -> Path | None:
    from .config import data_root

    root = data_root()
    return root / "sst2" if root is not None and (root / "sst2").is_dir() else None


# ------------------------------------------------------------------------------------------ CLI


def cmd_android(args) -> int:
    if args.golden_count < 0:
        raise EdgeportError(f"--golden-count must be 0 or more, got {args.golden_count}")
    data_dir = Path(args.data) if args.data else default_data_dir()
    result = write_assets(Path(args.run_dir), Path(args.out), args.artifact, args.golden_count, data_dir,
                          args.atol, args.rtol)
    print(f"wrote {result['out']}: model.tflite ({result['model_bytes'] / 1e6:.1f} MB), vocab.txt, labels.json "
          f"({', '.join(result['labels'])}; seq_len {result['seq_len']}), golden.json ({result['cases']} cases)")
    print("next: cd android-demo && ./gradlew installDebug")
    return 0


def register(sub) -> None:
    p = sub.add_parser("android", help="write the Android demo's assets (model, vocab, labels, golden vectors)")
    p.add_argument("run_dir", help="a run directory whose quantize stage produced a tflite-int8 artifact")
    p.add_argument("--out", default=str(DEFAULT_OUT), help=f"assets folder (default: {DEFAULT_OUT})")
    p.add_argument("--artifact", default="tflite-int8", help="artifact name in the manifest (default: tflite-int8)")
    p.add_argument("--golden-count", type=int, default=64, help="SST-2 sentences added to the hard golden cases")
    p.add_argument("--data", help="SST-2 folder with validation.tsv (default: $EDGEPORT_DATA_DIR/sst2)")
    p.add_argument("--atol", type=float, default=DEFAULT_ATOL, help="self-check absolute logit tolerance")
    p.add_argument("--rtol", type=float, default=DEFAULT_RTOL, help="self-check relative logit tolerance")
    p.set_defaults(fn=cmd_android)


if __name__ == "__main__":
    # Developer entry used by android-demo/run-jvm-tests.sh: python -m edgeport.android tokenizer-golden OUT DATA
    if len(sys.argv) == 4 and sys.argv[1] == "tokenizer-golden":
        for written in write_tokenizer_golden(Path(sys.argv[2]), Path(sys.argv[3])):
            print(f"wrote {written}")
    else:
        sys.exit("usage: python -m edgeport.android tokenizer-golden OUT_DIR SST2_DIR")
