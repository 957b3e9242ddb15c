"""Run directories for the shipping tests (test_ship.py, test_android_jvm.py): real TFLite files, the manifest
entries the export and quantize stages record, and a validate entry with a chosen verdict.

``tflite_run`` exports a tiny BERT whose logits depend on the text (``test_export.spread_model``) to TFLite fp32
with length buckets, and quantizes it (``full_integer`` by default: an int8 output per signature, each with its own
scale), exactly through ``EXPORTERS["tflite"]`` as the stages do. ``record_validate`` then writes what validate
records: per artifact a row with an ``ArtifactVerdict`` on the file's sha256, and the ``input.<stage>`` fingerprint
parts the runner records (the digest of the outputs it consumed). It stands in for validate so each test can pick
the verdict; that a real validate run writes the same keys is checked in test_ship.py on a real pipeline run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import make_tiny_bert

LABELS = ["negative", "positive"]
BUCKETS = [8, 16, 32]


def tflite_run(root: Path, mode: str = "full_integer", buckets=BUCKETS) -> Path:
    """``root/run``: export/tflite-fp32 and quantize/tflite-int8 (``mode``; ``w4``: quantize/tflite-w4, 4-bit
    blockwise weights with int8 embeddings, as the quantize stage makes them), both bucketed, recorded as done."""
    from test_export import eval_texts, spread_model

    from edgeport.exporters import EXPORTERS, QuantizeRequest, make_sample, write_sidecar
    from edgeport.exporters.base import artifact_record, precision_of
    from edgeport.pipeline.manifest import Manifest, hash_tree
    from edgeport.runtimes.text import encode_rows, pad_batch

    run, width = root / "run", buckets[-1]
    model, tok = spread_model(make_tiny_bert(root / "tiny", classifier_labels=LABELS), eval_texts())
    exporter, manifest = EXPORTERS["tflite"], Manifest(run)
    precision = precision_of(mode)
    fp32_dir, int8_dir = run / "export" / "tflite-fp32", run / "quantize" / f"tflite-{precision}"
    fp32_dir.mkdir(parents=True)
    fp32 = exporter.export(model, make_sample(width, vocab=tok.vocab_size), fp32_dir, buckets=buckets)
    write_sidecar(fp32_dir, fmt="tflite", precision="fp32", model_file=fp32.name, label_names=LABELS, seq_len=width,
                  max_seq_len=width, tokenizer=tok, model=model, export_seq_len=width,
                  extra={"seq_buckets": list(buckets)})
    shutil.copytree(fp32_dir, int8_dir, ignore=shutil.ignore_patterns(fp32.name))
    calib = [pad_batch([r], width=width) for r in encode_rows(tok, eval_texts(60)[20:], None, width)]
    int8 = exporter.quantize(QuantizeRequest(model=model, fp32_path=fp32, sample=make_sample(width), out_dir=int8_dir,
                                             mode=mode, calibration=calib if mode == "full_integer" else []))
    meta = json.loads((int8_dir / "artifact.json").read_text()) | {"precision": precision, "quantization": mode}
    (int8_dir / "artifact.json").write_text(json.dumps(meta))
    for stage, prec, path in (("export", "fp32", fp32), ("quantize", precision, int8)):
        manifest.stages[stage] = {"status": "done", "outputs": hash_tree(run / stage, run),
                                  "metrics": {"artifacts": [artifact_record(stage, run / stage, path, "tflite",
                                                                            prec)]}}
    manifest.data["config"] = {"data": {"text_pair_column": None}}
    manifest.save()
    return run


def record_validate(run: Path, states: dict | None = None, default: str = "pass") -> None:
    """The validate entry: a typed verdict per recorded artifact on its current bytes (``states``: name -> state;
    others get ``default``), as validate and the runner record them."""
    from edgeport.pipeline.manifest import Manifest, sha256_file
    from edgeport.verdict import ArtifactVerdict, Gate, State

    run = Path(run)
    manifest = Manifest.load(run)
    rows, parts = [], {}
    for stage in ("export", "quantize"):
        entry = manifest.entry(stage) or {}
        if entry.get("status") != "done":
            continue
        parts[f"input.{stage}"] = manifest.outputs_digest(stage)[:16]
        for art in entry["metrics"]["artifacts"]:
            state = State((states or {}).get(art["name"], default))
            gate = Gate("agreement_vs_fp32", state, 0.9, 0.97, message=f"{art['name']}: agreement 0.9 vs 0.97 "
                                                                         f"({state.value})")
            verdict = ArtifactVerdict(art["name"], art["path"], sha256_file(run / art["path"]), (gate,))
            rows.append(art | {"accuracy": 0.9, "agreement": 0.9, "gate_failures": [], "verdict": verdict.to_dict()})
    manifest.stages["validate"] = {"status": "done", "fingerprint_parts": parts,
                                   "metrics": {"artifacts": rows, "gate_failures": []}}
    manifest.save()


TAGS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
# task_run's keyword arguments per task beyond the defaults: a question-answering run's windows of 64 tokens (most
# SQuAD paragraphs are cut: the app reads one window) with the stride its config records
TASK_RUN = {"question-answering": {"buckets": (32, 64), "data": {"max_seq_len": 64, "doc_stride": 12}}}


def task_run(root: Path, task: str, buckets=(16, 32), data: dict | None = None) -> Path:
    """``root/run`` of a tiny random ``task`` model (``token-classification``: tagging ``TAGS``, its head scaled up
    so that words get different tags; ``sentence-embedding``: pooled and normalised in the graph;
    ``question-answering``: start and end logits, the encoder and span head scaled so that spans differ), exported
    to TFLite fp32 with length buckets and quantized to dynamic INT8 as the export and quantize stages do it, each
    sidecar carrying the task's keys (``tasks.models.MODELS``); recorded as done, not yet validated. ``data``: more
    keys of the recorded config's data section (a question-answering run's ``max_seq_len`` and ``doc_stride``)."""
    import torch

    from edgeport.exporters import EXPORTERS, QuantizeRequest, make_sample, write_sidecar
    from edgeport.exporters.base import artifact_record
    from edgeport.models import load_tokenizer
    from edgeport.pipeline.manifest import Manifest, hash_tree
    from edgeport.tasks.models import MODELS

    kind, tiny = MODELS[task], make_tiny_bert(root / "tiny")
    model, tok = kind.load(tiny, label_names=TAGS).eval(), load_tokenizer(tiny)
    if hasattr(model, "classifier"):  # a random head scores every tag about alike: near ties everywhere
        with torch.no_grad():
            model.classifier.weight.mul_(100.0)
    if hasattr(model, "qa_outputs"):  # as test_qa_export: token states that differ, span scores a few units apart
        with torch.no_grad():
            for p in model.base_model.parameters():
                if p.dim() == 2:
                    p.mul_(5.0)
            batch = tok(["Where was the bridge built?", "Who wrote it?"], ["The bridge was built in the valley.",
                        "A young clerk wrote the letter to the mayor."], padding=True, return_tensors="pt")
            out = model(**batch)
            model.qa_outputs.weight.mul_(3.0 / torch.cat([out.start_logits, out.end_logits]).std())
    run, width, exporter, manifest = root / "run", buckets[-1], EXPORTERS["tflite"], Manifest(root / "run")
    fp32_dir, int8_dir = run / "export" / "tflite-fp32", run / "quantize" / "tflite-int8"
    fp32_dir.mkdir(parents=True)
    fp32 = exporter.export(model, make_sample(width, vocab=tok.vocab_size), fp32_dir, buckets=list(buckets))
    write_sidecar(fp32_dir, fmt="tflite", precision="fp32", model_file=fp32.name, label_names=kind.label_names(model),
                  seq_len=width, max_seq_len=width, tokenizer=tok, model=model, export_seq_len=width,
                  extra={"seq_buckets": list(buckets)} | kind.sidecar)
    shutil.copytree(fp32_dir, int8_dir, ignore=shutil.ignore_patterns(fp32.name))
    int8 = exporter.quantize(QuantizeRequest(model=model, fp32_path=fp32, sample=make_sample(width), out_dir=int8_dir,
                                             mode="dynamic", calibration=[]))
    meta = json.loads((int8_dir / "artifact.json").read_text()) | {"precision": "int8", "quantization": "dynamic"}
    (int8_dir / "artifact.json").write_text(json.dumps(meta))
    for stage, prec, path in (("export", "fp32", fp32), ("quantize", "int8", int8)):
        manifest.stages[stage] = {"status": "done", "outputs": hash_tree(run / stage, run),
                                  "metrics": {"artifacts": [artifact_record(stage, run / stage, path, "tflite",
                                                                            prec)]}}
    manifest.data["config"] = {"data": {"task": task, "text_pair_column": None} | (data or {})}
    manifest.save()
    return run
