"""edgeport.apps.android: golden vectors for the Kotlin tokenizers and the app's assets, for every tokenizer family (fast
parts; the JVM run is in test_android_jvm.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SST2

from edgeport.apps import android
from edgeport.errors import ArtifactError, DataError, EdgeportError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def minilm_tokenizer():
    from edgeport.models import load_tokenizer, resolve_model_dir

    return load_tokenizer(resolve_model_dir("builtin:minilm-l6"))


def test_hard_cases_cover_the_traps():
    names = {n for n, _, _ in android.hard_cases()}
    for must in ("empty", "whitespace-only", "accents", "cjk", "emoji", "zero-width", "control-chars",
                 "long-word", "literal-cls", "pair-both-long"):
        assert must in names
    assert len(android.golden_cases(android.read_sst2_sentences(SST2))) >= 300


def test_golden_vectors_shape_and_special_tokens(minilm_tokenizer):
    cases = [("cls", "hello[CLS]world", None), ("pair", "a", "b"), ("empty-pair", "a", "")]
    g = android.golden_vectors(minilm_tokenizer, cases, seq_len=16)
    assert g["format"] == android.GOLDEN_FORMAT and g["seq_len"] == 16
    by = {c["name"]: c for c in g["cases"]}
    assert all(len(c[k]) == 16 for c in g["cases"] for k in android.KEYS)
    assert by["cls"]["input_ids"][:5] == [101, 7592, 101, 2088, 102]  # the literal [CLS] stays one token
    assert by["pair"]["token_type_ids"][:5] == [0, 0, 0, 1, 1]
    assert by["empty-pair"]["input_ids"][:4] == [101, 1037, 102, 0]  # transformers: "" pair == no pair
    assert "logits" not in by["cls"]  # tokenizer-only goldens until a runner is given


def test_golden_file_is_ascii_json(tmp_path, minilm_tokenizer):
    path = tmp_path / "g.json"
    android.write_json(path, android.golden_vectors(minilm_tokenizer, [("e", "😀\x00é", None)], 8))
    path.read_bytes().decode("ascii")
    assert json.loads(path.read_text())["cases"][0]["text"] == "😀\x00é"


def test_vocab_round_trip(tmp_path, minilm_tokenizer):
    android.write_vocab(minilm_tokenizer, tmp_path / "vocab.txt")
    lines = (tmp_path / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert lines[101] == "[CLS]" and len(lines) == len(minilm_tokenizer.get_vocab())


def test_tokenizer_flags(minilm_tokenizer):
    flags = android.tokenizer_flags(minilm_tokenizer)
    assert flags["do_lower_case"] is True and "[CLS]" in flags["special_tokens"]


def test_missing_artifact_is_a_clear_error(tmp_path):
    from edgeport.apps.shipping import ship_artifact

    with pytest.raises(ArtifactError, match="no 'tflite-int8' artifact"):
        ship_artifact(tmp_path, "tflite-int8")


def test_missing_sst2_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="validation.tsv"):
        android.read_sst2_sentences(tmp_path)


def test_cli_reports_missing_run(tmp_path, capsys):
    from edgeport.cli import main

    assert main(["android", str(tmp_path / "nope"), "--out", str(tmp_path / "assets")]) == 2
    assert "tflite-int8" in capsys.readouterr().err


def test_unicode_tables_are_current():
    """The committed Kotlin tables equal what the installed tokenizers measures (the JVM test checks Kotlin)."""
    out = subprocess.run([sys.executable, str(ROOT / "android-demo/tools/unicode_tables.py"), "kotlin"],
                         capture_output=True, text=True, check=True).stdout
    committed = (ROOT / "android-demo/app/src/main/java/dev/edgeport/demo/text/UnicodeTables.kt").read_text()
    assert out == committed, "regenerate UnicodeTables.kt: see android-demo/README.md"


# ------------------------------------------------------------------------------------------ tokenizer families

FAMILIES = {"bpe-roberta": ("bpe", "roberta"), "unigram-xlm-roberta": ("unigram", "xlm-roberta"),
            "unigram-deberta-v2": ("unigram", "deberta-v2"), "wordpiece-distilbert": ("wordpiece", "distilbert")}


@pytest.fixture(scope="module")
def family_tokenizers(tmp_path_factory):
    from family import cached_tokenizer

    cache = tmp_path_factory.mktemp("family-tokenizers")
    return {name: cached_tokenizer(fam, arch, cache) for name, (fam, arch) in FAMILIES.items()}


def test_tokenizer_spec_per_family(tmp_path, family_tokenizers):
    expect = {"bpe-roberta": ("bpe", {"vocab.txt", "merges.txt"}, False),
              "unigram-xlm-roberta": ("unigram", {"unigram.tsv", "charsmap.b64"}, False),
              "unigram-deberta-v2": ("unigram", {"unigram.tsv"}, True),
              "wordpiece-distilbert": ("wordpiece", {"vocab.txt"}, False)}
    for name, tok in family_tokenizers.items():
        out = tmp_path / name
        info = android.tokenizer_info(tok, ["negative", "positive"], 16, out)
        family, files, type_ids = expect[name]
        section = info["tokenizer"]
        assert section["family"] == family and section["token_type_ids"] is type_ids, name
        assert {f.name for f in out.iterdir()} == files, name
        assert section["pad_id"] == tok.pad_token_id
        assert ("do_lower_case" in info) == (family == "wordpiece")  # legacy top-level flags: WordPiece only
        json.dumps(info, ensure_ascii=True)  # labels.json-ready
    roberta = android.tokenizer_spec(family_tokenizers["bpe-roberta"])[0]
    assert roberta["pre_tokenizer"]["regex"] == android.GPT2_PATTERN
    assert [i.get("special") for i in roberta["post_processor"]["pair"]] == [[0], None, [2], [2], None, [2]]
    xlmr = android.tokenizer_spec(family_tokenizers["unigram-xlm-roberta"])[0]
    assert xlmr["normalizer"] == {"type": "Precompiled", "charsmap": "charsmap.b64"}
    deberta = android.tokenizer_spec(family_tokenizers["unigram-deberta-v2"])[0]
    assert [n["type"] for n in deberta["normalizer"]["normalizers"]] == ["Replace", "NFC", "Strip"]
    assert deberta["post_processor"]["pair"][3] == {"sequence": "B", "type_id": 1}


def _rebuild(section: dict, directory: Path):
    """A `tokenizers.Tokenizer` built only from the written assets and labels.json's section (what the app reads)."""
    import base64

    from tokenizers import AddedToken, Regex, Tokenizer, models, normalizers, pre_tokenizers, processors

    lines = lambda name: (directory / name).read_text(encoding="utf-8").split("\n")[:-1]
    files, m = section["files"], section.get("model") or {}
    if section["family"] == "bpe":
        vocab = {t: i for i, t in enumerate(lines(files["vocab"]))}
        merges = [tuple(line.split(" ")) for line in lines(files["merges"])]
        optional = {k: m[k] for k in ("unk_token", "continuing_subword_prefix", "end_of_word_suffix") if m[k]}
        model = models.BPE(vocab, merges, fuse_unk=m["fuse_unk"], byte_fallback=m["byte_fallback"],
                           ignore_merges=m["ignore_merges"], **optional)
    elif section["family"] == "unigram":
        pieces = [(line.rsplit("\t", 1)[0], float(line.rsplit("\t", 1)[1])) for line in lines(files["pieces"])]
        model = models.Unigram(pieces, m["unk_id"], m["byte_fallback"])
    else:
        model = models.WordPiece({t: i for i, t in enumerate(lines(files["vocab"]))}, unk_token="[UNK]")
    tok = Tokenizer(model)

    def norm(n):
        kind = n["type"]
        if kind == "Sequence":
            return normalizers.Sequence([norm(x) for x in n["normalizers"]])
        if kind == "Precompiled":
            return normalizers.Precompiled(base64.b64decode((directory / n["charsmap"]).read_text()))
        if kind == "Replace":
            p = n["pattern"]
            return normalizers.Replace(Regex(p["Regex"]) if "Regex" in p else p["String"], n["content"])
        if kind == "Strip":
            return normalizers.Strip(left=n["strip_left"], right=n["strip_right"])
        if kind == "BertNormalizer":
            return normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                              strip_accents=n["strip_accents"], lowercase=n["lowercase"])
        return getattr(normalizers, kind)()

    def pre(p):
        kind = p["type"]
        if kind == "Sequence":
            return pre_tokenizers.Sequence([pre(x) for x in p["pretokenizers"]])
        if kind == "ByteLevel":
            assert p["regex"] in (None, android.GPT2_PATTERN)
            return pre_tokenizers.ByteLevel(add_prefix_space=p["add_prefix_space"], use_regex=p["use_regex"])
        if kind == "Metaspace":
            return pre_tokenizers.Metaspace(replacement=p["replacement"], prepend_scheme=p["prepend_scheme"],
                                            split=p["split"])
        return getattr(pre_tokenizers, kind)()

    if section.get("normalizer"):
        tok.normalizer = norm(section["normalizer"])
    if section.get("pre_tokenizer"):
        tok.pre_tokenizer = pre(section["pre_tokenizer"])
    tok.add_special_tokens([AddedToken(t["content"], lstrip=t["lstrip"], rstrip=t["rstrip"],
                                       normalized=t["normalized"], special=True)
                            for t in section["added_tokens"]])
    names = {i: t for t, i in tok.get_vocab().items()}

    def template(items):
        return ["$" + i["sequence"] + f":{i['type_id']}" if i.get("sequence") else
                " ".join(f"{names[x]}:{i['type_id']}" for x in i["special"]) for i in items]

    specials = sorted({(names[x], x) for i in section["post_processor"]["single"] + section["post_processor"]["pair"]
                       for x in i.get("special", [])})
    tok.post_processor = processors.TemplateProcessing(single=template(section["post_processor"]["single"]),
                                                       pair=template(section["post_processor"]["pair"]),
                                                       special_tokens=specials)
    return tok


@pytest.mark.parametrize("name", list(FAMILIES))
def test_assets_alone_rebuild_the_python_tokenizer(tmp_path, family_tokenizers, name):
    """The written files + labels.json section hold everything: a Rust tokenizer rebuilt from them alone gives the
    golden ids of the original on every hard case and 200 SST-2 sentences (+ pairs), at 128 and 16 tokens."""
    tok = family_tokenizers[name]
    section = android.tokenizer_info(tok, ["n", "p"], 128, tmp_path)["tokenizer"]
    rebuilt = _rebuild(section, tmp_path)
    cases = android.golden_cases(android.read_sst2_sentences(SST2, 200))
    assert len(cases) >= 300
    for seq_len in (128, 16):
        golden = android.golden_vectors(tok, cases, seq_len)
        rebuilt.enable_truncation(seq_len)
        rebuilt.enable_padding(length=seq_len, pad_id=section["pad_id"])
        for case in golden["cases"]:
            enc = rebuilt.encode(case["text"], case["text_pair"] or None)
            types = enc.type_ids if section["token_type_ids"] else [0] * seq_len
            assert (enc.ids, enc.attention_mask, types) == \
                (case["input_ids"], case["attention_mask"], case["token_type_ids"]), (name, case["name"])


def test_golden_ids_are_the_python_tokenizers(family_tokenizers):
    cases = [("a", "Don't stop <mask> now!", None), ("p", "café  naïve", "日本語 😀")]
    for name, tok in family_tokenizers.items():
        for case in android.golden_vectors(tok, cases, 32)["cases"]:
            enc = tok(case["text"], case["text_pair"], truncation=True, max_length=32, padding="max_length")
            assert case["input_ids"] == list(enc["input_ids"]), name
            assert case["token_type_ids"] == list(enc.get("token_type_ids", [0] * 32)), name


def test_write_assets_for_every_family(tmp_path, family_tokenizers, monkeypatch):
    """edgeport android with a fake TFLite artifact: the family's files, labels.json (model inputs: no
    token_type_ids for RoBERTa-like models), golden.json with logits; another family's leftovers are removed."""
    import numpy as np

    import edgeport.runtimes.text as rtext
    from edgeport import runtimes

    from edgeport.pipeline.manifest import sha256_file
    from edgeport.apps.shipping import Shipment
    from edgeport.verdict import ArtifactVerdict, Gate, State

    out = tmp_path / "assets"
    fake = tmp_path / "model.tflite"
    fake.write_bytes(b"TFL3")
    verdict = ArtifactVerdict("tflite-int8", "quantize/tflite-int8/model.tflite", sha256_file(fake),
                              (Gate("g", State.PASS),))
    shipment = Shipment("tflite-int8", fake, verdict, accepted_inconclusive=False)
    for name, tok in family_tokenizers.items():
        monkeypatch.setattr(android, "ship_artifact", lambda run_dir, artifact, accept=False: shipment)
        monkeypatch.setattr(runtimes, "artifact_meta", lambda path: {"label_names": ["negative", "positive"]})
        monkeypatch.setattr(rtext, "artifact_tokenizer", lambda path, tok=tok: tok)
        monkeypatch.setattr(android, "model_io", lambda path, outputs=1: {
            "signature": "serving_default", "output": "logits", "seq_len": 16,
            "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask", "token_type_ids": None}})
        monkeypatch.setattr(runtimes, "load", lambda path, threads=1: lambda **a: np.zeros((1, 2), np.float32))
        result = android.write_assets(tmp_path / "run", out, data_dir=SST2, golden_limit=8)
        info = json.loads((out / "labels.json").read_text())
        assert info["tokenizer"]["family"] == result["family"] == FAMILIES[name][0]
        assert info["inputs"]["token_type_ids"] is None and info["seq_len"] == 16
        assert set(result["files"]) == {f for f in android.TOKENIZER_FILES if (out / f).is_file()}
        assert set(info["tokenizer"]["files"].values()) <= set(result["files"])
        golden = json.loads((out / "golden.json").read_text())
        assert golden["cases"][0]["logits"] == [0.0, 0.0] and len(golden["cases"]) == len(android.hard_cases()) + 8
    assert set(result["files"]) == {"vocab.txt"}  # the unigram run's unigram.tsv/charsmap.b64 are gone


def test_unsupported_tokenizers_are_refused(family_tokenizers):
    import copy

    from tokenizers import Tokenizer

    base = family_tokenizers["unigram-deberta-v2"]
    state = json.loads(base.backend_tokenizer.to_str())
    variants = {
        "prepend_scheme": lambda s: s["pre_tokenizer"]["pretokenizers"][0].update(prepend_scheme="first"),
        "Whitespace pre-tokenizer": lambda s: s.update(pre_tokenizer={"type": "Whitespace"}),
        "single_word": lambda s: s["added_tokens"][0].update(single_word=True),
        "regex": lambda s: s["normalizer"]["normalizers"][0]["pattern"].update(Regex=r"\w+"),
    }
    for what, change in variants.items():
        st = copy.deepcopy(state)
        change(st)
        tok = copy.deepcopy(base)
        tok._tokenizer = Tokenizer.from_str(json.dumps(st))
        with pytest.raises(EdgeportError, match=what.split()[0]):
            android.tokenizer_spec(tok)


# ------------------------------------------------------------------------------------------ tasks

CONLL = SST2.parent / "conll2003"
SQUAD = SST2.parent / "squad"
MODEL_INFO_KT = ROOT / "android-demo/app/src/main/java/dev/edgeport/demo/text/ModelInfo.kt"


@pytest.fixture(scope="module")
def task_assets(tmp_path_factory):
    """`edgeport android` on tiny real TFLite runs of a token classifier, a sentence embedder (dynamic INT8, buckets
    16/32) and a question-answering model (buckets 32/64, stride 12 in the run's config), validate recorded as
    passed: task -> (run dir, assets dir)."""
    from ship_run import TASK_RUN, record_validate, task_run

    from edgeport.cli import main

    out = {}
    for task, data in (("token-classification", CONLL), ("sentence-embedding", SST2), ("question-answering", SQUAD)):
        root = tmp_path_factory.mktemp(task)
        run = task_run(root, task, **TASK_RUN.get(task, {}))
        record_validate(run)
        assert main(["android", str(run), "--out", str(root / "assets"), "--data", str(data),
                     "--golden-count", "12"]) == 0
        out[task] = run, root / "assets"
    return out


def _read(assets: Path):
    return json.loads((assets / "labels.json").read_text()), json.loads((assets / "golden.json").read_text())


@pytest.mark.parametrize("task", ["token-classification", "sentence-embedding"])
def test_labels_json_carries_the_artifacts_task_keys(task_assets, task):
    """labels.json holds the sidecar keys the registry gives the task, with the shipped artifact's values; the
    tensor the app reads stays each signature's own."""
    from edgeport.tasks.models import MODELS

    run, assets = task_assets[task]
    info, _ = _read(assets)
    meta = json.loads((run / "quantize/tflite-int8/artifact.json").read_text())
    assert set(MODELS[task].sidecar) <= set(info) and info["task"] == meta["task"] == task
    assert {k: info[k] for k in MODELS[task].sidecar} == {k: meta[k] for k in MODELS[task].sidecar}
    assert info["labels"] == meta["label_names"] and info["verdict"] == "pass"
    assert {o["name"] for o in info["signature_outputs"].values()} == {"output_0"}


def test_entity_golden_cases_are_edgeport_tasks_ner(task_assets):
    """Each case: the text's words and spans (the pre-tokenizer), their ids as the running text gives them, each
    word's tag read at its first sub-token of the recorded output and the strict IOB2 entities with character
    spans, all recomputed here with edgeport.tasks.ner; CoNLL-2003 sentences and the entity texts are in, the
    cases whose words tokenize differently from their text are out."""
    import numpy as np

    from ship_run import TAGS

    from edgeport.runtimes.text import artifact_tokenizer
    from edgeport.tasks import ner

    run, assets = task_assets["token-classification"]
    info, golden = _read(assets)
    assert info["labels"] == TAGS and (info["labels_on"], info["scheme"]) == ("first_subtoken", "IOB2")
    tok = artifact_tokenizer(run / "quantize/tflite-int8")
    names = [c["name"] for c in golden["cases"]]
    assert {"entities-0", "conll-0", "accents"} <= set(names)
    assert "literal-cls" not in names and "control-chars" not in names
    for c in golden["cases"]:
        words, spans = ner.text_words(tok, c["text"])
        assert (c["words"], c["spans"]) == (words, [list(s) for s in spans]), c["name"]
        n = sum(c["attention_mask"])
        assert c["input_ids"][:n] == tok(c["text"], truncation=True, max_length=32)["input_ids"] == \
            ner.align(tok, words, None, 32)["input_ids"]
        logits = np.asarray(c["logits"]).reshape(c["bucket"], len(TAGS))
        assert len(c["word_ids"]) == n
        tags = ner.word_predictions(logits, [None if w < 0 else w for w in c["word_ids"]], TAGS, len(words))
        assert c["word_tags"] == tags and c["entities"] == ner.entities(c["text"], spans, tags), c["name"]
    assert sum(len(c["entities"]) for c in golden["cases"]) > 20  # the scaled head tags words apart
    assert any(c["dropped_words"] for c in golden["cases"])  # a long CoNLL sentence past 32 tokens
    assert {c["bucket"] for c in golden["cases"]} == {16, 32}


def test_embedding_golden_cases_hold_the_vector(task_assets):
    """Each case holds its unit vector (the graph pools and normalises), one sentence per case, and golden.json
    the least cosine the app accepts against it."""
    import numpy as np

    _, assets = task_assets["sentence-embedding"]
    info, golden = _read(assets)
    assert (info["output"], info["pooling"], info["normalize"], info["labels"]) == ("embedding", "mean", True, [])
    assert golden["tolerance"]["min_cosine"] == android.DEFAULT_MIN_COSINE
    assert all(c["text_pair"] is None for c in golden["cases"])
    assert {"sst2-0", "accents"} <= {c["name"] for c in golden["cases"]}
    for c in golden["cases"]:
        assert c["embedding"] == c["logits"] and len(c["embedding"]) == 32
        assert abs(np.linalg.norm(c["embedding"]) - 1) < 1e-3, c["name"]


def test_question_answering_labels_json_has_the_window_settings(task_assets):
    """labels.json: the sidecar's keys, both outputs of every signature in the torch order (start, end), the span
    search's settings (squad.best_span's defaults) and the stride the run's config records, not a default."""
    from edgeport.tasks.models import MODELS

    run, assets = task_assets["question-answering"]
    info, golden = _read(assets)
    meta = json.loads((run / "quantize/tflite-int8/artifact.json").read_text())
    assert {k: info[k] for k in MODELS["question-answering"].sidecar} == \
        {k: meta[k] for k in MODELS["question-answering"].sidecar}
    assert (info["task"], info["labels"], info["seq_len"], info["seq_buckets"]) == ("question-answering", [], 64,
                                                                                    [32, 64])
    assert (info["outputs"], info["n_best"], info["max_answer_len"]) == (["start_logits", "end_logits"], 20, 30)
    assert (info["doc_stride"], info["doc_stride_source"]) == (12, "the run's config (data.doc_stride)")
    assert {key: [o["name"] for o in outs] for key, outs in info["signature_outputs"].items()} == \
        {"serving_default": ["output_0", "output_1"], "seq_32": ["output_0", "output_1"]}
    assert golden["source"]["doc_stride"] == 12


def test_question_answering_golden_cases_are_the_apps_window_and_pythons_answer(task_assets):
    """Each case: the question and paragraph, the first window ``squad.windows`` makes of them at the model's length
    and the run's stride (ids, token types, character offsets), the start then end logits of the bucket the app runs
    it on, equal to ``edgeport.runtimes.load``'s on the run's artifact, and the answer ``squad.best_span`` reads from
    them. The hand texts, SQuAD dev questions, a paragraph cut to the window and both buckets are in."""
    import numpy as np

    from edgeport import runtimes
    from edgeport.runtimes.text import artifact_tokenizer
    from edgeport.tasks import squad

    run, assets = task_assets["question-answering"]
    _, golden = _read(assets)
    artifact = run / "quantize/tflite-int8"
    tok, runner = artifact_tokenizer(artifact), runtimes.load(artifact)
    cut = 0
    for c in golden["cases"]:
        w = squad.windows(tok, [squad.Example("q", "", c["text_pair"], c["text"], (), ())], 64, 12, labels=False)
        assert (c["input_ids"], c["token_type_ids"]) == (w["input_ids"][0], w["token_type_ids"][0]), c["name"]
        assert c["offsets"] == [None if o is None else list(o) for o in w["offsets"][0]]
        n = c["bucket"]
        assert n == (32 if sum(c["attention_mask"]) <= 32 else 64)
        out = runner(*(np.asarray([c[k][:n]]) for k in ("input_ids", "attention_mask", "token_type_ids")))
        assert np.abs(np.asarray(c["logits"]) - np.concatenate([out["start_logits"][0], out["end_logits"][0]])).max() \
            < 1e-5, c["name"]
        flat = np.asarray(c["logits"], dtype=np.float32)  # as the app reads them (JSON doubles to float)
        best = squad.best_span(flat[:n], flat[n:], w["offsets"][0][:n], c["text_pair"])
        assert c["answer"] == (None if best is None else {k: best[k] for k in (
            "text", "start", "end", "score", "start_token", "end_token")}), c["name"]
        cut += len(w["input_ids"]) > 1
    names = {c["name"] for c in golden["cases"]}
    assert {f"qa-{i}" for i in range(len(android.QA_TEXTS))} | {"squad-0"} <= names
    assert cut > 0 and {c["bucket"] for c in golden["cases"]} == {32, 64}
    assert len({(c["answer"] or {}).get("text") for c in golden["cases"]}) > 5  # the scaled head answers apart


def test_a_question_answering_model_needs_wordpiece_and_both_outputs(tmp_path, monkeypatch, minilm_tokenizer,
                                                                     family_tokenizers):
    from edgeport.tasks.models import MODELS

    meta = {"label_names": [], "outputs": ["start_logits", "end_logits"], "max_seq_len": 64, "seq_len": 64} \
        | MODELS["question-answering"].sidecar
    _fake_shipment(tmp_path, monkeypatch, meta, family_tokenizers["bpe-roberta"])
    with pytest.raises(ArtifactError, match="question-answering mode reads each token's characters the way BERT's "
                                            "WordPiece tokenizer gives them; .* BPE"):
        android.write_assets(tmp_path / "run", tmp_path / "assets")
    _fake_shipment(tmp_path, monkeypatch, meta | {"outputs": ["logits"]}, minilm_tokenizer)
    with pytest.raises(ArtifactError, match="outputs are \\['logits'\\], not start_logits and end_logits"):
        android.write_assets(tmp_path / "run", tmp_path / "assets")
    assert not (tmp_path / "assets").exists()


def _fake_shipment(tmp_path, monkeypatch, meta: dict, tokenizer):
    """write_assets up to the task check: a shippable fake artifact with ``meta`` and ``tokenizer``."""
    import edgeport.runtimes.text as rtext
    from edgeport import runtimes
    from edgeport.apps.shipping import Shipment
    from edgeport.pipeline.manifest import sha256_file
    from edgeport.verdict import ArtifactVerdict, Gate, State

    fake = tmp_path / "model.tflite"
    fake.write_bytes(b"TFL3")
    verdict = ArtifactVerdict("tflite-int8", "quantize/tflite-int8/model.tflite", sha256_file(fake),
                              (Gate("g", State.PASS),))
    shipment = Shipment("tflite-int8", fake, verdict, accepted_inconclusive=False)
    monkeypatch.setattr(android, "ship_artifact", lambda run_dir, artifact, accept=False: shipment)
    monkeypatch.setattr(runtimes, "artifact_meta", lambda path: meta)
    monkeypatch.setattr(rtext, "artifact_tokenizer", lambda path: tokenizer)


def test_a_task_the_app_cannot_show_is_refused(tmp_path, monkeypatch, capsys, minilm_tokenizer):
    from edgeport.cli import main

    _fake_shipment(tmp_path, monkeypatch, {"task": "summarization", "label_names": []}, minilm_tokenizer)
    out = tmp_path / "assets"
    assert main(["android", str(tmp_path / "run"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "a summarization model; the Android app shows sequence-classification, sentence-embedding, " \
           "token-classification, question-answering models" in err and "Traceback" not in err
    assert not out.exists()  # refused before the folder is touched


def test_an_entity_model_needs_iob2_tags_and_wordpiece(tmp_path, monkeypatch, minilm_tokenizer, family_tokenizers):
    from edgeport.tasks.models import MODELS

    meta = {"label_names": ["O", "B-PER", "I-PER"]} | MODELS["token-classification"].sidecar
    _fake_shipment(tmp_path, monkeypatch, meta, family_tokenizers["unigram-xlm-roberta"])
    with pytest.raises(ArtifactError, match="entity mode splits words the way BERT's WordPiece tokenizer does; .* "
                                            "Unigram"):
        android.write_assets(tmp_path / "run", tmp_path / "assets")
    _fake_shipment(tmp_path, monkeypatch, meta | {"label_names": ["O", "U-PER"]}, minilm_tokenizer)
    with pytest.raises(ArtifactError, match="'U-PER' is not IOB2"):
        android.write_assets(tmp_path / "run", tmp_path / "assets")
    _fake_shipment(tmp_path, monkeypatch, {"label_names": ["O", "B-PER"], "task": "token-classification"},
                   minilm_tokenizer)
    with pytest.raises(ArtifactError, match="artifact.json has no output, output_shape, labels_on, scheme"):
        android.write_assets(tmp_path / "run", tmp_path / "assets")
    assert not (tmp_path / "assets").exists()



def test_the_app_reads_the_names_python_writes():
    """One source of names: every task `edgeport android` writes is one the app maps to a screen (ModelInfo.MODES),
    and every sidecar key of those tasks is a key ModelInfo.kt reads."""
    from edgeport.tasks.models import MODELS

    source = MODEL_INFO_KT.read_text()
    modes = source[source.index("val MODES"):]
    modes = modes[:modes.index(")\n")]
    constants = dict(re.findall(r'const val (\w+) = "([^"]+)"', source))
    assert {constants[name] for name in re.findall(r"(\w+) to AppMode\.", modes)} == set(android.APP_TASKS)
    for task in android.APP_TASKS:
        for key in MODELS[task].sidecar:
            assert f'"{key}"' in source, f"ModelInfo.kt never reads labels.json's {key!r} ({task})"
