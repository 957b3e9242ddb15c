"""MediaPipe-ready TFLite (``edgeport.apps.mediapipe``) on a tiny BERT: the metadata-written INT8 file loads in MediaPipe
Tasks' own ``TextClassifier`` (its C++ tokenizer and TFLite runtime) and agrees with edgeport's TFLite runner; a
tiny sentence embedder's file loads in MediaPipe's ``TextEmbedder`` and gives edgeport's vectors.

The tiny model is ``test_export.spread_model`` (a random BERT whose logits really depend on the text) with the
MiniLM WordPiece tokenizer, exported the way the export and quantize stages do (``EXPORTERS["tflite"]``, static
length 32, ai-edge-quantizer dynamic INT8, whose file keeps its weights after the flatbuffer: the case MediaPipe's
own metadata writer breaks). Skipped when mediapipe (or the TFLite extra) is not installed.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from conftest import SHARED_DATA, make_tiny_bert
from test_export import eval_texts, spread_model

from edgeport.errors import ArtifactError, ConfigError
from edgeport.exporters import EXPORTERS, QuantizeRequest, make_sample, write_sidecar
from edgeport.apps import mediapipe as mp_module
from edgeport.apps.mediapipe import (
    check_tokenizer,
    embedding_agreement,
    main,
    mediapipe_agreement,
    pre_normalize,
    read_mediapipe_metadata,
    write_for_artifact,
    write_mediapipe_metadata,
)

# edgeport.apps.mediapipe imports mediapipe lazily: the module imports fine without it, the tests skip.
pytest.importorskip("litert_torch")
pytest.importorskip("ai_edge_quantizer")
pytest.importorskip("mediapipe.tasks.python.text.text_classifier")
pytest.importorskip("mediapipe.tasks.python.text.text_embedder")

SEQ = 32
LABELS = ["negative", "positive"]
HARD_ASCII = ["", "THE MOVIE WAS GREAT!!!", "Hello, world! (It's) \"quoted\" a/b\\c_d #1 @user $99 50% {x} ~y",
              "supercalifragilisticexpialidocious " * 3, "very long first sentence " * 20]
ACCENTED = ["how do you spell cliché ?", "Café naïve résumé Ångström façade", "the ÉCOLE was MAGNIFIQUE"]


def _tflite(tmp: Path, model, tok, precision: str, mode: str | None = None, calibration=(), labels=LABELS,
            extra: dict | None = None) -> Path:
    """One TFLite artifact directory, as stages/export.py (fp32) and stages/quantize.py (INT8) write it."""
    exporter = EXPORTERS["tflite"]
    fp32_dir = tmp / "tflite-fp32"
    if not fp32_dir.is_dir():
        fp32_dir.mkdir()
        path = exporter.export(model, make_sample(SEQ, vocab=tok.vocab_size), fp32_dir)
        write_sidecar(fp32_dir, fmt="tflite", precision="fp32", model_file=path.name, label_names=labels,
                      seq_len=SEQ, max_seq_len=SEQ, tokenizer=tok, model=model, export_seq_len=SEQ, extra=extra)
    if precision == "fp32":
        return fp32_dir
    out = tmp / f"tflite-int8-{mode}"
    shutil.copytree(fp32_dir, out, ignore=shutil.ignore_patterns("model.tflite"))
    exporter.quantize(QuantizeRequest(model=model, fp32_path=fp32_dir / "model.tflite", sample=make_sample(SEQ),
                                      out_dir=out, mode=mode, calibration=list(calibration)))
    meta = json.loads((out / "artifact.json").read_text()) | {"precision": "int8", "quantization": mode}
    (out / "artifact.json").write_text(json.dumps(meta))
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("mediapipe")
    model, tok = spread_model(make_tiny_bert(base / "tiny", classifier_labels=LABELS), eval_texts())
    texts = eval_texts(60) + HARD_ASCII
    return {"base": base, "model": model, "tok": tok, "texts": texts,
            "fp32": _tflite(base, model, tok, "fp32"), "int8": _tflite(base, model, tok, "int8", "dynamic")}


@pytest.fixture(scope="module")
def mp_int8(built) -> Path:
    """The INT8 artifact with MediaPipe metadata (and its vocab.txt beside it), written once for every test that
    reads it, so none depends on another test having run first (each test also passes when run alone)."""
    return write_for_artifact(built["int8"], built["base"] / "mp-int8" / "model.tflite")


def _assert_agrees(result: dict, rows: int, written_atol: float = 1e-6):
    assert result["rows"] == rows
    assert result["label_agreement_count"] == rows, result["examples_over_atol"]
    assert result["max_score_diff"] <= result["atol"], result["examples_over_atol"]
    assert result["rows_over_atol"] == 0
    assert result["category_names_match"] is True
    assert result["written_file_max_diff"] <= written_atol  # the writer did not change the model's arithmetic


def test_int8_with_metadata_loads_in_mediapipe_and_agrees(built, mp_int8):
    src = built["int8"] / "model.tflite"
    # The case that matters: ai-edge-quantizer keeps the weights after the flatbuffer (Buffer.offset/size).
    assert read_source_offsets(src) > 0
    out = mp_int8
    info = read_mediapipe_metadata(out)
    assert info["offset_buffers"] > 0 and info["size_bytes"] > src.stat().st_size  # weights kept, not dropped
    assert info["inputs"] == ["ids", "mask", "segment_ids"]  # paired with the model's input order by tensor name
    assert info["input_tensors"] == ["serving_default_input_ids", "serving_default_attention_mask",
                                     "serving_default_token_type_ids"]
    assert info["tokenizer"] == "BertTokenizer" and info["vocab_file"] == "vocab.txt"
    assert info["labels"] == LABELS and info["label_file"] == ["labels.txt"]
    assert info["output_tensor"] == "probabilities"
    assert info["min_parser_version"] == "1.1.0" and info["compressed_files"] == []
    assert info["files"]["vocab.txt"] == len((built["base"] / "mp-int8" / "vocab.txt").read_bytes())
    result = mediapipe_agreement(out, built["int8"], built["texts"])
    _assert_agrees(result, len(built["texts"]))
    assert result["scores"] == "probabilities" and result["max_score_diff"] < 1e-4


def read_source_offsets(path: Path) -> int:
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(path.read_bytes(), 0)
    return sum(1 for i in range(model.BuffersLength()) if model.Buffers(i).Offset() > 1)


def test_fp32_and_logits_mode(built):
    out = write_for_artifact(built["fp32"], built["base"] / "mp-fp32" / "model.tflite")
    _assert_agrees(mediapipe_agreement(out, built["fp32"], built["texts"]), len(built["texts"]))
    # Raw logits as scores (no softmax): MediaPipe's default score_threshold (0) would drop negative ones; the
    # check lowers it, and the scores are the runner's logits.
    raw = write_for_artifact(built["fp32"], built["base"] / "mp-fp32-logits" / "model.tflite", probabilities=False)
    assert read_mediapipe_metadata(raw)["output_tensor"] != "probabilities"
    result = mediapipe_agreement(raw, built["fp32"], built["texts"])
    _assert_agrees(result, len(built["texts"]))
    assert result["scores"] == "logits"
    # Rewriting a written file replaces its metadata and does not stack a second softmax; the check notices that
    # MediaPipe's category names are no longer the artifact's labels.
    again = write_mediapipe_metadata(out, built["base"] / "mp-fp32-again.tflite",
                                     built["base"] / "mp-fp32" / "vocab.txt", ["neg", "pos"])
    assert read_mediapipe_metadata(again)["labels"] == ["neg", "pos"]
    result = mediapipe_agreement(again, built["fp32"], built["texts"][:10])
    assert result["category_names_match"] is False
    assert result["label_agreement_count"] == 10 and result["max_score_diff"] < 1e-4


def test_full_integer_int8_output_is_dequantized(built):
    """A full-integer model's output is int8, which MediaPipe refuses; the writer adds DEQUANTIZE + SOFTMAX."""
    from edgeport.runtimes.text import encode_rows, pad_batch

    tok = built["tok"]
    calib = [pad_batch([r], width=SEQ) for r in encode_rows(tok, eval_texts(40)[20:], None, SEQ)]
    art = _tflite(built["base"], built["model"], tok, "int8", "full_integer", calib)
    out = write_for_artifact(art, built["base"] / "mp-full" / "model.tflite")
    _assert_agrees(mediapipe_agreement(out, art, built["texts"]), len(built["texts"]), written_atol=1e-5)


def test_documented_tokenizer_differences(built, mp_int8):
    """MediaPipe's tokenizer does not strip accents or lowercase non-ASCII letters (Hugging Face's does): the app-side
    fix ``pre_normalize`` closes that. Literal special-token strings in the text are the other documented
    difference (Hugging Face maps "[CLS]" to its special id, MediaPipe splits it into "[", "cl", "##s", "]")."""
    out = mp_int8
    raw = mediapipe_agreement(out, built["int8"], ACCENTED)
    assert raw["rows_over_atol"] >= 1 and raw["non_ascii_rows_over_atol"] == raw["rows_over_atol"]
    fixed = mediapipe_agreement(out, built["int8"], [pre_normalize(t) for t in ACCENTED])
    _assert_agrees(fixed, len(ACCENTED))
    literal = mediapipe_agreement(out, built["int8"], ["[CLS] hello [SEP] world [UNK]"])
    assert literal["rows_over_atol"] == 1 and literal["non_ascii_rows"] == 0
    assert pre_normalize("Ça\u00a0VA\tbien\x00 naïve") == "ca va bien naive"


def test_wrong_vocabulary_is_caught(built, mp_int8, tmp_path):
    """The check has teeth: a vocabulary of the right size but shifted by one id gives MediaPipe other ids."""
    lines = (mp_int8.parent / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) > 1000  # the real WordPiece vocabulary that write_for_artifact wrote
    shifted = tmp_path / "vocab.txt"
    shifted.write_text("\n".join(lines[1:] + [lines[0]]) + "\n", encoding="utf-8")
    out = write_mediapipe_metadata(built["int8"] / "model.tflite", tmp_path / "bad.tflite", shifted, LABELS,
                                   vocab_size=len(lines))
    result = mediapipe_agreement(out, built["int8"], built["texts"])
    assert result["rows_over_atol"] > len(built["texts"]) // 2
    with pytest.raises(ArtifactError, match="embedding has 999 rows"):
        write_mediapipe_metadata(built["int8"] / "model.tflite", tmp_path / "x.tflite", shifted, LABELS,
                                 vocab_size=999)
    no_specials = tmp_path / "plain.txt"
    no_specials.write_text("a\nb\n")
    with pytest.raises(ArtifactError, match=r"no \[CLS\], \[SEP\], \[UNK\]"):
        write_mediapipe_metadata(built["int8"] / "model.tflite", tmp_path / "y.tflite", no_specials, LABELS)
    with pytest.raises(ArtifactError, match="do not match 3 label names"):
        write_mediapipe_metadata(built["int8"] / "model.tflite", tmp_path / "z.tflite", shifted, LABELS + ["x"])


def test_unsupported_tokenizers_are_refused():
    from conftest import minilm_dir
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    tok = AutoTokenizer.from_pretrained(str(minilm_dir()))
    assert check_tokenizer(tok)["family"] == "bert-wordpiece-uncased"
    cased = AutoTokenizer.from_pretrained(str(minilm_dir()))
    cased.backend_tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False)
    with pytest.raises(ArtifactError, match="cased"):
        check_tokenizer(cased)
    bpe = Tokenizer(models.BPE(vocab={"a": 0, "b": 1, "<unk>": 2}, merges=[], unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel()
    with pytest.raises(ArtifactError, match="BPE.*no MediaPipe tokenizer"):
        check_tokenizer(PreTrainedTokenizerFast(tokenizer_object=bpe))
    uni = Tokenizer(models.Unigram([("<unk>", 0.0), ("a", -1.0)], unk_id=0))
    with pytest.raises(ArtifactError, match="SentencePiece .model"):
        check_tokenizer(PreTrainedTokenizerFast(tokenizer_object=uni))


def test_sentence_pair_runs_are_refused(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"stages": {}, "config": {"data": {
        "text_pair_column": "question"}}}))

    class Args:
        run_dir, artifact, out, logits, check_rows = tmp_path, None, None, False, 0

    with pytest.raises(ConfigError, match="one text"):
        main(Args())


def test_not_a_tflite_file(tmp_path):
    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"\0" * 64)
    with pytest.raises(ArtifactError, match="not a TFLite flatbuffer"):
        write_mediapipe_metadata(bad, tmp_path / "out.tflite", tmp_path / "vocab.txt", LABELS)


# ------------------------------------------------------------------------------------------ TextEmbedder


def stsb_pairs(n: int) -> tuple[list[str], list[str], list[float]]:
    path = SHARED_DATA / "stsb" / "validation.tsv"
    if not path.is_file():
        pytest.fail(f"STS-B not found at {path}; set EDGEPORT_DATA_DIR to the folder that holds stsb/")
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[:n]
    return [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], [float(r["score"]) for r in rows]


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    """A tiny random sentence embedder (mean pooling + L2 norm in the graph) exported to TFLite fp32 and dynamic
    INT8 with the sentence-embedding sidecar, as the export and quantize stages write it."""
    from transformers import AutoTokenizer

    from edgeport.tasks.embedding_model import load_embedder
    from edgeport.tasks.models import MODELS

    base = tmp_path_factory.mktemp("mediapipe-embed")
    src = make_tiny_bert(base / "tiny")
    model, tok = load_embedder(src), AutoTokenizer.from_pretrained(str(src))
    extra = MODELS["sentence-embedding"].sidecar
    s1, s2, scores = stsb_pairs(30)
    return {"base": base, "s1": s1, "s2": s2, "scores": scores,
            "fp32": _tflite(base, model, tok, "fp32", labels=[], extra=extra),
            "int8": _tflite(base, model, tok, "int8", "dynamic", labels=[], extra=extra)}


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_embedder_file_loads_in_text_embedder_and_gives_edgeports_vectors(embedder, precision):
    out = write_for_artifact(embedder[precision], embedder["base"] / f"mp-{precision}" / "model.tflite")
    info = read_mediapipe_metadata(out)
    assert info["name"] == "edgeport sentence embedder"
    assert info["inputs"] == ["ids", "mask", "segment_ids"]
    assert info["tokenizer"] == "BertTokenizer" and info["vocab_file"] == "vocab.txt"
    assert info["outputs"] == ["embedding"] and info["label_file"] == [] and info["labels"] == []
    assert set(info["files"]) == {"vocab.txt"} and info["min_parser_version"] == "1.1.0"
    assert info["output_tensor"] != "probabilities"  # no softmax on a vector
    texts = embedder["s1"] + HARD_ASCII
    result = embedding_agreement(out, embedder[precision], texts, embedder["s2"] + HARD_ASCII,
                                 embedder["scores"] + [0.0, 1.0, 2.0, 3.0, 4.0])
    assert result["sentences"] == 2 * len(texts) and result["dim"] == 32
    assert result["head_names"] == ["embedding"]  # the output tensor metadata name
    # MediaPipe (l2_normalize off) returns the graph's own unit vector: edgeport's runner's, to float rounding.
    assert result["sentences_below"] == 0 and result["min_cosine"] > 1 - 1e-6, result["examples_below"]
    assert result["max_abs_diff"] < 1e-5 and result["padded_max_abs_diff"] < 1e-5
    assert result["non_ascii_sentences"] == 0 and result["max_abs_diff_ascii"] == result["max_abs_diff"]
    assert abs(result["norm_min"] - 1) < 1e-5 and abs(result["norm_max"] - 1) < 1e-5
    # MediaPipe's cosine_similarity of the pairs is edgeport's similarity.
    assert result["pairs"] == len(texts) and result["pair_similarity_max_diff"] < 1e-5
    # (a random tiny model's similarities are close together: float rounding may swap a few ranks)
    assert abs(result["spearman_mediapipe"] - result["spearman_runner"]) < 0.01


def test_embedder_tokenizer_differences_and_pre_normalize(embedder):
    """As for the classifier: accented text tokenizes differently in MediaPipe (no accent stripping, ASCII-only
    lowercasing) and moves the vector; ``pre_normalize`` closes it."""
    out = write_for_artifact(embedder["int8"], embedder["base"] / "mp-int8-accents" / "model.tflite")
    raw = embedding_agreement(out, embedder["int8"], ACCENTED)
    assert raw["sentences_below"] >= 1 and raw["non_ascii_below"] == raw["sentences_below"]
    fixed = embedding_agreement(out, embedder["int8"], [pre_normalize(t) for t in ACCENTED])
    assert fixed["sentences_below"] == 0 and fixed["max_abs_diff"] < 1e-5


def test_broken_embedder_metadata_is_caught(embedder, tmp_path, monkeypatch):
    """The check has teeth: the ``ids`` and ``mask`` metadata swapped onto the other input tensors (MediaPipe then
    feeds the mask as token ids), or a vocabulary shifted by one id, move MediaPipe's vectors off edgeport's."""
    art = embedder["int8"]
    texts = embedder["s1"]
    swapped = lambda model: {"input_ids": "serving_default_attention_mask",  # noqa: E731
                             "attention_mask": "serving_default_input_ids",
                             "token_type_ids": "serving_default_token_type_ids"}
    with monkeypatch.context() as m:
        m.setattr(mp_module, "_input_tensor_names", swapped)
        bad = write_for_artifact(art, tmp_path / "swapped" / "model.tflite")
    assert read_mediapipe_metadata(bad)["inputs"] == ["mask", "ids", "segment_ids"]
    result = embedding_agreement(bad, art, texts)
    assert result["sentences_below"] == len(texts), result["min_cosine"]
    good = write_for_artifact(art, tmp_path / "good" / "model.tflite")
    lines = (good.parent / "vocab.txt").read_text(encoding="utf-8").splitlines()
    shifted = tmp_path / "vocab.txt"
    shifted.write_text("\n".join(lines[1:] + [lines[0]]) + "\n", encoding="utf-8")
    out = write_mediapipe_metadata(art / "model.tflite", tmp_path / "shifted.tflite", shifted, [],
                                   vocab_size=len(lines), output="embedding")
    result = embedding_agreement(out, art, texts)
    assert result["sentences_below"] == len(texts), result["min_cosine"]


def test_unknown_output_and_non_vector_outputs_are_refused(embedder, tmp_path):
    src = embedder["fp32"] / "model.tflite"
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n")
    with pytest.raises(ArtifactError, match="output is 'spans'.*logits, embedding"):
        write_mediapipe_metadata(src, tmp_path / "x.tflite", vocab, [], output="spans")
    with pytest.raises(ArtifactError, match="need one non-empty"):  # an embedder is not a classifier
        write_mediapipe_metadata(src, tmp_path / "y.tflite", vocab, [], output="logits")


def test_cli_writes_and_checks_a_text_embedder_file(embedder, tmp_path, capsys):
    """``edgeport mediapipe RUN_DIR --check-rows N`` on a sentence-embedding run (STS-B pairs, validate passed):
    the TextEmbedder file, and both sentences of N eval pairs checked with MediaPipe (exit 0)."""
    from ship_run import record_validate
    from test_embedding import embed_data, stsb_slice

    from edgeport.cli import main as cli
    from edgeport.exporters.base import artifact_record
    from edgeport.pipeline.manifest import Manifest, hash_tree

    run = tmp_path / "run"
    manifest = Manifest(run)
    for stage, name in (("export", "fp32"), ("quantize", "int8")):
        shutil.copytree(embedder[name], run / stage / f"tflite-{name}")
        manifest.stages[stage] = {"status": "done", "outputs": hash_tree(run / stage, run), "metrics": {
            "artifacts": [artifact_record(stage, run / stage, run / stage / f"tflite-{name}" / "model.tflite",
                                          "tflite", name)]}}
    manifest.data["config"] = {"data": embed_data(stsb_slice(tmp_path / "data", train=40, validation=20))}
    manifest.save()
    record_validate(run)
    out = tmp_path / "mp" / "model.tflite"
    assert cli(["mediapipe", str(run), "--out", str(out), "--check-rows", "12"]) == 0
    printed = capsys.readouterr().out
    assert "for MediaPipe TextEmbedder" in printed and "output embedding" in printed
    assert "24 sentences, raw text: cosine min 1 - " in printed and "12 pairs" in printed
    check = json.loads((out.parent / "check.json").read_text())
    assert check["pre_normalize"]["sentences_below"] == 0 and check["raw_text"]["head_names"] == ["embedding"]
    assert read_mediapipe_metadata(out)["outputs"] == ["embedding"]


def test_sentence_pair_data_of_an_embedding_run_is_not_refused(tmp_path):
    """STS-B runs have a text_pair_column, but the embedder reads one sentence at a time: only a pair
    *classifier* is refused; this run then fails later, for having no validated artifact."""
    (tmp_path / "manifest.json").write_text(json.dumps({"stages": {}, "config": {"data": {
        "task": "sentence-embedding", "text_pair_column": "sentence2"}}}))

    class Args:
        run_dir, artifact, out, logits, check_rows = tmp_path, None, None, False, 0

    with pytest.raises(Exception) as err:
        main(Args())
    assert not isinstance(err.value, ConfigError), err.value
