"""Measure every ONNX INT8 mode (dynamic, naive static, Linear-only static, NNCF, NNCF accuracy-controlled) and
QAT on a small *trained* MiniLM student, on SST-2 validation. Writes benchmarks/results/quant_modes.{json,md}.

The student: MiniLM-L6 layers [0, 2, 4] (edgeport's default student shape) with a fresh head, fine-tuned with
cross-entropy on the first ``--train-rows`` shuffled SST-2 training rows (a quick stand-in for a distilled student:
what matters here is a trained model with real MiniLM activation statistics); its checkpoint is chosen on the
selection split (held out from train). Calibration: the next 128 training rows; NNCF's accuracy control and QAT's
checkpoint are judged on selection rows, never on the eval split. Eval: SST-2 validation at seq 64. Latency: ONNX
Runtime, 1 thread, batch 1, seq 64, all tokens real.

    EDGEPORT_DATA_DIR=/work/shared/data python benchmarks/quant_modes.py [--train-rows 3000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from _provenance import ARGS_ONLY, args_dict, provenance, write_json, write_markdown

SEQ = 64


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-rows", type=int, default=3000)
    ap.add_argument("--qat-rows", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()
    prov = provenance({"args": args_dict(args) | {"out": None}}, ARGS_ONLY)
    torch.set_num_threads(2)
    work = Path(tempfile.mkdtemp(prefix="quant-modes-"))
    task, model, tok = train_student(args.train_rows, work)
    rows = measure_all(task, model, tok, work, args)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "quant_modes.json", rows, prov)
    table = markdown(rows)
    write_markdown(args.out / "quant_modes.md", table, prov)
    print(table)


def train_student(n_rows: int, work: Path):
    from edgeport.config import DataConfig, StudentConfig, TrainConfig
    from edgeport.data import encode, load_task
    from edgeport.models import build_student, load_classifier, load_tokenizer, resolve_model_dir
    from edgeport.training import recipe

    task = load_task(DataConfig(local="sst2", max_seq_len=SEQ), seed=0)
    teacher_dir = resolve_model_dir("builtin:minilm-l6")
    tok = load_tokenizer(teacher_dir)
    saved = Path(tempfile.gettempdir()) / f"quant-modes-student-{n_rows}"
    if (saved / "config.json").is_file():  # measurements can be re-run without re-training
        return task, load_classifier(saved).eval(), tok
    base = load_classifier(teacher_dir, label_names=task.label_names)
    model = build_student(base, StudentConfig(layers=[0, 2, 4]))
    collate = recipe.collate_for(tok)
    rows = encode(task.train.head(n_rows), tok, SEQ)
    select_rows = encode(task.select, tok, SEQ)  # the checkpoint is chosen here, never on eval

    t0 = time.perf_counter()
    recipe.finetune(model, rows, select_rows, TrainConfig(epochs=1, lr=1e-4, batch_size=32), collate, 0, "student")
    print(f"trained in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    from edgeport.models import save_model

    save_model(model, tok, saved)
    return task, model.eval(), tok


def measure_all(task, model, tok, work: Path, args) -> list[dict]:
    from edgeport.exporters import EXPORTERS, QuantizeRequest, make_sample
    from edgeport.runtimes.text import encode_rows, pad_batch
    from edgeport.validation import reference_logits

    onnx = EXPORTERS["onnx"]
    (work / "fp32").mkdir()
    fp32 = onnx.export(model, make_sample(SEQ, batch=2, vocab=tok.vocab_size), work / "fp32")
    tok.save_pretrained(work / "fp32")
    train = task.train.head(args.train_rows + 128)
    calib = [pad_batch([r], width=SEQ, pad_id=tok.pad_token_id)
             for r in encode_rows(tok, train.texts[-128:], None, SEQ)]  # training rows the student never saw
    select = task.select.head(256)  # nncf_accuracy judges on selection rows, never on the reported eval split
    validation = {"rows": [pad_batch([r], width=SEQ, pad_id=tok.pad_token_id)
                           for r in encode_rows(tok, select.texts, None, SEQ)], "labels": list(select.labels)}
    ref = reference_logits(model, tok, task.eval, SEQ)
    labels = task.eval.labels
    results = [row_for("torch-fp32", ref, ref, labels, None)]
    results.append(row_for("onnx-fp32", *ort_logits(fp32, tok, task.eval), ref, labels, fp32))
    for mode in ("dynamic", "static", "static_linear", "nncf", "nncf_accuracy"):
        out = work / mode
        out.mkdir()
        tok.save_pretrained(out)
        t0 = time.perf_counter()
        path = onnx.quantize(QuantizeRequest(model=model, fp32_path=fp32, sample={}, out_dir=out, mode=mode,
                                             calibration=calib, validation=validation, max_drop=0.01))
        row = row_for(f"onnx-int8-{mode}", *ort_logits(path, tok, task.eval), ref, labels, path)
        row["quantize_seconds"] = round(time.perf_counter() - t0, 1)
        results.append(row)
        print(json.dumps(row), file=sys.stderr)
    results += qat_rows(task, model, tok, work, args, ref, calib)
    return results


def qat_rows(task, model, tok, work, args, ref, calib) -> list[dict]:
    """QAT (edgeport.quant.qat) on the same student, the student's own logits as the KD teacher, then ONNX INT8."""
    from edgeport.config import QatConfig
    from edgeport.exporters import EXPORTERS, QuantizeRequest, make_sample
    from edgeport.data import encode
    from edgeport.quant.qat import qat_finetune
    from edgeport.training import predict_logits, recipe

    out = []
    qcfg = QatConfig(enabled=True, train_limit=args.qat_rows)
    collate = recipe.collate_for(tok)
    rows = encode(task.train.head(args.qat_rows), tok, SEQ)
    for row, values in zip(rows, predict_logits(model, rows, collate).tolist()):
        row["teacher_logits"] = values
    t0 = time.perf_counter()
    qat_model, _ = qat_finetune(model, rows, encode(task.select, tok, SEQ), qcfg, collate, 0)
    print(f"QAT {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    onnx = EXPORTERS["onnx"]
    (work / "qat-fp32").mkdir()
    fp32 = onnx.export(qat_model, make_sample(SEQ, batch=2, vocab=tok.vocab_size), work / "qat-fp32")
    for mode in ("dynamic", "static_linear"):
        (work / f"qat-{mode}").mkdir()
        tok.save_pretrained(work / f"qat-{mode}")
        path = onnx.quantize(QuantizeRequest(model=qat_model, fp32_path=fp32, sample={},
                                             out_dir=work / f"qat-{mode}", mode=mode, calibration=calib))
        row = row_for(f"onnx-int8-qat-{mode}", *ort_logits(path, tok, task.eval), ref, task.eval.labels, path)
        out.append(row)
        print(json.dumps(row), file=sys.stderr)
    return out


def ort_logits(path, tok, split):
    from edgeport import runtimes
    from edgeport.validation import artifact_logits

    runner = runtimes.load(path, threads=2)
    return (artifact_logits(runner, path, split, SEQ),)


def row_for(name, logits, ref, labels, path) -> dict:
    from edgeport import runtimes
    from edgeport.bench.host import latency_feed, measure_latency
    from edgeport.validation import compare

    row = {"name": name} | compare(logits, ref, labels)
    if path is not None:
        row["size_mb"] = round(Path(path).stat().st_size / 1e6, 3)
        lat = measure_latency(runtimes.load(path, threads=1), latency_feed(SEQ, 30000), 5, 30, 1.0)
        row["p50_ms"] = round(lat["p50_ms"], 2)
    return row


def markdown(rows) -> str:
    lines = ["| artifact | accuracy % | agreement % | max abs Δlogit | mean abs Δlogit | size MB | p50 ms (1 thr, seq 64) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['accuracy'] * 100:.2f} | {r['agreement'] * 100:.2f} | "
                     f"{r['max_abs_diff']:.3g} | {r['mean_abs_diff']:.3g} | {r.get('size_mb', '-')} | "
                     f"{r.get('p50_ms', '-')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
