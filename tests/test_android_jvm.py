"""Runs android-demo/run-jvm-tests.sh (kotlinc + JUnit on the JVM): Kotlin token ids == Python's for every case of
every tokenizer family (MiniLM WordPiece; byte-level BPE, Unigram with SentencePiece's Precompiled normalizer and
Unigram with DeBERTa-v2's normalizer, WordPiece BERT/DistilBERT, trained by tests/family.py), stage by stage, the
app logic's tests, and the app layer's kotlinc type-check against the LiteRT/Android API stubs (plus its negative
control, which must fail to compile).

Before that, real tiny RoBERTa, XLM-R and DeBERTa-v2 classifiers are exported to INT8 TFLite and put through
`edgeport android` (when the TFLite extras are installed): the script then checks those app assets too
(EDGEPORT_EXTRA_ASSETS), i.e. the whole path from a non-BERT run directory to the Kotlin tokenizer. So is a bucketed
full-integer BERT (int8 outputs, one scale per signature): the app's classifier must dequantize the int8 values LiteRT
returned in Python into the Python runtime's logits, on every signature (BucketedClassifierTest). Their validate
verdicts are recorded by tests/ship_run.py (`edgeport android` ships only a passing artifact).

A tiny token classifier, a sentence embedder and a question-answering model (`ship_run.task_run`) go through
`edgeport android` too: the app's controller must load each on its screen and pass the self-check with golden.json's
outputs, show the entities `edgeport.tasks.ner` found for every golden text, and the answer `edgeport.tasks.squad`
found for every golden question, highlighted in its paragraph (TaskAssetsTest).

Slow (first run installs kotlin-compiler from npm and compiles, ~4-5 minutes): pass --runslow, or run the script."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import SST2

ROOT = Path(__file__).resolve().parents[1]
LABELS = ["negative", "positive"]
TASK_DATA = {"token-classification": SST2.parent / "conll2003", "sentence-embedding": SST2,  # golden sentences
             "question-answering": SST2.parent / "squad"}


def export_tiny_run(arch: str, root: Path, seq_len: int = 16) -> Path:
    """A run directory holding a tiny random ``arch`` classifier exported to TFLite fp32 and dynamic INT8, with the
    manifest entries `edgeport android` reads (what the export and quantize stages record)."""
    from family import make_tiny
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from ship_run import record_validate

    from edgeport.exporters import QuantizeRequest, get_exporter, make_sample, write_sidecar
    from edgeport.exporters.base import artifact_record, label_names
    from edgeport.pipeline.manifest import hash_tree

    model_dir = make_tiny(arch, root / "models" / arch, labels=LABELS)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    tok = AutoTokenizer.from_pretrained(model_dir)
    run, exporter = root / "runs" / arch, get_exporter("tflite")
    sample = make_sample(seq_len, vocab=len(tok))
    records = {}
    fp32 = None
    for stage, precision in (("export", "fp32"), ("quantize", "int8")):
        out = run / stage / f"tflite-{precision}"
        out.mkdir(parents=True, exist_ok=True)
        path = exporter.export(model, sample, out) if precision == "fp32" else exporter.quantize(
            QuantizeRequest(model=model, fp32_path=fp32, sample=sample, out_dir=out, mode="dynamic", calibration=[]))
        fp32 = fp32 or path
        write_sidecar(out, fmt="tflite", precision=precision, model_file=path.name, label_names=label_names(model),
                      seq_len=seq_len, max_seq_len=seq_len, tokenizer=tok, model=model)
        records[stage] = {"status": "done",
                          "metrics": {"artifacts": [artifact_record(stage, run / stage, path, "tflite", precision)]}}
    for stage in records:  # as the runner records them: edgeport android takes only recorded bytes
        records[stage]["outputs"] = hash_tree(run / stage, run)
    (run / "manifest.json").write_text(json.dumps({"edgeport_version": "test", "stages": records}, indent=2))
    record_validate(run)  # stands in for validate: these tests are about the tokenizers, not the gates
    return run


@pytest.mark.slow
def test_kotlin_text_pipeline_on_the_jvm(tmp_path):
    if not (shutil.which("java") and shutil.which("npm")):
        pytest.skip("needs a JDK and npm")
    from edgeport.cli import main

    extra = []
    if all(importlib.util.find_spec(m) for m in ("litert_torch", "ai_edge_quantizer", "ai_edge_litert")):
        for arch in ("roberta", "xlm-roberta", "deberta-v2"):
            out = tmp_path / "assets" / arch
            assert main(["android", str(export_tiny_run(arch, tmp_path)), "--out", str(out), "--data", str(SST2),
                         "--golden-count", "300"]) == 0
            info = json.loads((out / "labels.json").read_text())
            assert info["inputs"]["token_type_ids"] is None  # these exports take no token types
            assert json.loads((out / "golden.json").read_text())["cases"][0]["logits"]
            extra.append(str(out))
        # A bucketed full-integer BERT: int8 outputs, one scale per signature (the app's dequantization golden).
        from ship_run import record_validate, tflite_run

        run = tflite_run(tmp_path / "full-integer")
        record_validate(run)
        int8_assets = tmp_path / "assets" / "full-integer"
        assert main(["android", str(run), "--out", str(int8_assets), "--data", str(SST2), "--golden-count", "64"]) == 0
        extra.append(str(int8_assets))
        # A tiny token classifier, sentence embedder and question-answering model: the app's entity, similarity and
        # answer screens on their assets.
        from ship_run import TASK_RUN, task_run

        for task, data in TASK_DATA.items():
            run = task_run(tmp_path / task, task, **TASK_RUN.get(task, {}))
            record_validate(run)
            assets = tmp_path / "assets" / task
            assert main(["android", str(run), "--out", str(assets), "--data", str(data), "--golden-count", "64"]) == 0
            extra.append(str(assets))
    env = os.environ | {"EDGEPORT_EXTRA_ASSETS": ":".join(extra)}
    proc = subprocess.run(["bash", str(ROOT / "android-demo/run-jvm-tests.sh")], capture_output=True, text=True,
                          timeout=1800, env=env, check=False)
    out = proc.stdout
    last = out.strip().splitlines()[-1] if out.strip() else ""
    # "N passed, 0 failed", with ", N skipped" when a test assumed away (no app assets in android-demo/: always in CI)
    assert proc.returncode == 0 and re.fullmatch(r"\d+ passed, 0 failed(, \d+ skipped)?", last), \
        out[-3000:] + proc.stderr[-2000:]
    for family in ("minilm", "bpe-roberta", "unigram-xlm-roberta", "unigram-deberta-v2", "wordpiece-distilbert"):
        assert f"golden {family} (" in out and f"golden {family} " in out
    for path in extra:  # each exported run's assets: every golden case identical on the JVM
        assert f"checking the app assets written by edgeport android ({path})" in out
    assert out.count("golden assets (") >= len(extra)
    assert " 0 differ" in out and not [line for line in out.splitlines()
                                       if line.startswith("golden ") and not line.endswith(" 0 differ")]
    if extra:  # the int8 golden ran (not skipped) on the full-integer assets, every signature
        assert "int8 golden: " in out and "on 3 signatures" in out, out[-3000:]
        # the task screens on their assets: self-check passed on every case, the entities are Python's
        for task, mode in (("token-classification", "ENTITIES"), ("sentence-embedding", "SIMILARITY"),
                           ("question-answering", "ANSWER")):
            assert re.search(rf"task assets {task} \({task}, {mode}\): Self-check PASS: tokenizer (\d+)/\1 identical, "
                             rf"model (\d+)/\2 within", out), out[-3000:]
        assert re.search(r"task assets token-classification: \d+ texts, [1-9]\d* entities as Python found them", out)
        assert re.search(r"task assets question-answering: [1-9]\d* questions, [1-9]\d* answers as Python found them, "
                         r"[1-9]\d* paragraphs cut to the window", out), out[-3000:]
    for tokenizer in ("minilm", "wordpiece-bert", "wordpiece-distilbert"):  # the app's QA window is Python's
        assert re.search(rf"squad windows {tokenizer}: [1-9]\d* windows", out), out[-3000:]
