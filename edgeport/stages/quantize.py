"""Quantize stage: an INT8 artifact from every fp32 artifact, by the per-format mode in the ``quantize`` section.

It runs after export because ONNX and TFLite INT8 are made on the exported fp32 file (ONNX Runtime and
ai-edge-quantizer rewrite the graph); TorchScript INT8 is torch dynamic quantization of the same model, traced.
Calibration rows (static / full_integer modes) are the first ``quantize.calibration_rows`` training rows,
tokenised by the artifact's own tokenizer and padded to the export length. Choices (fallback, nncf_accuracy)
are judged on the selection split.

Optional, both inside this stage so it still writes only ``quantize/`` and returns JSON metrics:
* ``quantize.qat``: quantization-aware training first (``stages/quantize_qat.py``); every format's INT8 is then
  made from the QAT weights, exported to scratch fp32 files;
* ``quantize.fallback``: each INT8 artifact is judged on selection-split rows; when it loses too much, its most
  quantization-sensitive Linear layers stay in float (``edgeport/quant/fallback.py``); the report under
  ``metrics.fallback.<format>`` names them and their size/latency cost. Validate then judges the final artifact.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ..pipeline import fingerprint as fp
from ..pipeline.stage import model_stage

CALIBRATED = ("static", "static_linear", "nncf", "nncf_accuracy", "full_integer")  # modes that read training rows


class QuantizeStage:
    name = "quantize"
    uses_data = True
    distributed = False
    key_metric = "modes"

    def enabled(self, cfg) -> bool:
        return cfg.quantize.enabled and cfg.export.enabled

    def inputs(self, cfg) -> dict[str, str]:
        inputs = {"model": model_stage(cfg), "export": "export"}
        if cfg.quantize.qat.enabled:
            inputs["teacher"] = "teacher"  # QAT distils from it
        return inputs

    def reads(self, cfg) -> dict[str, object]:
        """The mode of each exported format; training rows only for the modes, fallback and QAT that use them."""
        q, formats = cfg.quantize, cfg.export.formats
        modes = {f: getattr(q, f) for f in formats}
        calibrated = any(m in CALIBRATED for m in modes.values())
        judged = q.fallback.enabled or "nncf_accuracy" in modes.values()  # selection rows judge INT8 candidates
        reads = (fp.values("quantize", **modes) | fp.values("export", seq_len=cfg.export_seq_len())
                 | fp.libraries("model", *(f"quantize.{f}" for f in formats),
                                *(f"quantize.{f}.{m}" for f, m in modes.items())))
        if calibrated or judged or q.qat.enabled:
            reads |= fp.data()
        if calibrated:
            reads |= fp.values("quantize", calibration_rows=q.calibration_rows)
        if judged:
            reads |= fp.values("quantize", fallback=q.fallback.model_dump(mode="json"))
        if judged or q.qat.enabled:  # the judge and QAT's checkpoint choice score data.metric
            reads |= fp.values("data", metric=cfg.data.metric)
        if q.fallback.enabled:
            reads |= fp.libraries(*(f"runtime.{f}" for f in formats))
        if q.qat.enabled:  # trained, then re-exported in every format before quantization
            reads |= (fp.values("quantize", qat=q.qat.model_dump(mode="json"))
                      | fp.values("data", max_seq_len=cfg.data.max_seq_len)
                      | fp.libraries("training", *(f"export.{f}" for f in formats)))
        return reads

    def run(self, ctx) -> dict:
        from ..exporters.base import artifact_record
        from ..models import load_classifier

        qcfg = ctx.cfg.quantize
        model = load_classifier(ctx.inputs["model"]).eval()
        metrics: dict = {}
        source = model  # what INT8 is made from: the model stage's weights, or their QAT version
        if qcfg.qat.enabled:
            from .quantize_qat import qat_model

            source, metrics["qat"] = qat_model(ctx, model)
        artifacts, modes, fallback = [], {}, {}
        with tempfile.TemporaryDirectory() as scratch:  # QAT fp32 exports: inputs to the converters, not outputs
            for src in ctx.input_metrics("export")["artifacts"]:
                path, report = self._one(ctx, src, model, source, Path(scratch))
                artifacts.append(artifact_record(self.name, ctx.out, path, src["format"], "int8"))
                modes[src["format"]] = getattr(qcfg, src["format"])
                if report is not None:
                    fallback[src["format"]] = report
        metrics |= {"modes": ",".join(f"{k}={v}" for k, v in modes.items()), "artifacts": artifacts}
        if qcfg.fallback.enabled:
            metrics["fallback"] = fallback
        return metrics

    def _one(self, ctx, src: dict, model, source, scratch: Path):
        """One INT8 artifact (``quantize/<format>-int8/``), through the fallback when it is enabled."""
        from ..exporters import QuantizeRequest, get_exporter, make_sample
        from ..quant.fallback import quantize_with_fallback

        cfg, qcfg, fmt = ctx.cfg, ctx.cfg.quantize, src["format"]
        exporter, mode, seq_len = get_exporter(fmt), getattr(qcfg, fmt), cfg.export_seq_len()
        fp32_path = ctx.run_dir / src["path"]
        out_dir = ctx.out / f"{fmt}-int8"
        # Tokenizer and sidecar come along; the model file is replaced by the INT8 one.
        shutil.copytree(fp32_path.parent, out_dir, ignore=shutil.ignore_patterns(fp32_path.name))
        # ids inside the model's vocabulary: a pruned one may have fewer than make_sample's default 1000
        sample = make_sample(seq_len, batch=2 if exporter.dynamic_shapes else 1, vocab=model.config.vocab_size)
        if source is not model:  # QAT: the converters read an fp32 file of the QAT weights (tokenizer beside it)
            shutil.copytree(fp32_path.parent, scratch / fmt, ignore=shutil.ignore_patterns(fp32_path.name))
            fp32_path = exporter.export(source, sample, scratch / fmt)
        needs_data = mode in CALIBRATED
        print(f"  quantizing {fmt} ({mode}{', QAT' if source is not model else ''}) ...", flush=True)
        req = QuantizeRequest(model=source, fp32_path=fp32_path, out_dir=out_dir, mode=mode, sample=sample,
                              calibration=calibration_rows(ctx, fp32_path, seq_len) if needs_data else [],
                              validation=held_out(ctx, fp32_path, seq_len, padded=True)
                              if mode == "nncf_accuracy" else None,
                              max_drop=qcfg.fallback.max_accuracy_drop / 100)
        report = None
        if qcfg.fallback.enabled:
            rows, labels = held_out(ctx, fp32_path, seq_len)
            judge = _judge(ctx, model, rows, labels)
            path, report = quantize_with_fallback(exporter, req, judge, qcfg.fallback, source, seq_len)
        else:
            path = exporter.quantize(req)
        _update_sidecar(out_dir, mode, qcfg.calibration_rows if needs_data else 0,
                        {"qat": source is not model, "layers_fp": (report or {}).get("layers_fp", [])})
        return path, report


def calibration_rows(ctx, artifact_path, seq_len: int) -> list[dict]:
    """Training rows as ``[1, seq_len]`` int arrays by input name (what every calibrator accepts)."""
    from ..runtimes.text import artifact_tokenizer, encode_rows, pad_batch, pad_token_id

    train = ctx.task().train.head(ctx.cfg.quantize.calibration_rows)
    tokenizer = artifact_tokenizer(artifact_path)
    rows = encode_rows(tokenizer, train.texts, train.pairs, seq_len)
    return [pad_batch([r], width=seq_len, pad_id=pad_token_id(tokenizer)) for r in rows]


def held_out(ctx, artifact_path, seq_len: int, padded: bool = False):
    """Labelled selection-split rows (the first ``quantize.fallback.rows``): they judge INT8 candidates in the
    fallback and in nncf_accuracy. The eval split is left to the validate stage's verdict."""
    from ..runtimes.text import artifact_tokenizer, encode_rows, pad_batch

    task = ctx.task()
    part = task.select.head(ctx.cfg.quantize.fallback.rows)
    tokenizer = artifact_tokenizer(artifact_path)
    rows = encode_rows(tokenizer, part.texts, part.pairs, seq_len)
    if padded:
        rows = [pad_batch([r], width=seq_len, pad_id=tokenizer.pad_token_id) for r in rows]
        return {"rows": rows, "labels": list(part.labels), "metric": ctx.cfg.data.metric,
                "num_labels": task.num_labels}
    return rows, list(part.labels)


def _judge(ctx, model, rows, labels):
    from ..models import load_tokenizer
    from ..quant.fallback import Judge
    from ..runtimes.text import pad_token_id

    key = ("judge", len(rows))
    if key not in ctx._cache:  # one reference pass per run, shared by the formats
        # the rows come from the artifact's tokenizer, which export saved from the model stage's: same [PAD]
        pad = pad_token_id(load_tokenizer(ctx.inputs["model"]))
        ctx._cache[key] = Judge(model, rows, labels, pad_id=pad, metric=ctx.cfg.data.metric,
                                num_labels=ctx.task().num_labels)
    return ctx._cache[key]


def _update_sidecar(out_dir, mode: str, n_calibration: int, extra: dict) -> None:
    import json

    from ..exporters.base import SIDECAR

    path = out_dir / SIDECAR
    meta = json.loads(path.read_text())
    meta |= {"precision": "int8", "quantization": mode, "calibration_rows": n_calibration} | extra
    path.write_text(json.dumps(meta, indent=2) + "\n")
