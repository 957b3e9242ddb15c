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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..pipeline import fingerprint as fp
from ..pipeline.stage import model_stage

if TYPE_CHECKING:
    from ..config import DataSpec, FallbackConfig, QatConfig
    from ..training.loop import TrainEnv

CALIBRATED = ("static", "static_linear", "nncf", "nncf_accuracy", "full_integer")  # modes that read training rows


@dataclass(frozen=True)
class QuantizeSettings:
    """Only what the configured modes use: a dynamic-only run reads no data, so its fingerprint holds none."""

    modes: dict[str, str]  # exported format -> its quantize mode
    task: str  # data.task: which model is loaded (``tasks.models``): TorchScript INT8 is made from it
    embeddings: str  # the embedding tables: auto | fp32 | int8 | int4
    block_size: int | None  # w4: weights per 4-bit scale (None when no format is w4)
    embedding_block_size: int | None  # int4 tables: values per scale (None unless embeddings is int4)
    export_len: int  # export.seq_len or data.max_seq_len
    calibration_rows: int | None  # calibrated modes: the first N training rows
    fallback: FallbackConfig | None  # fallback on, or nncf_accuracy: selection rows judge INT8 candidates
    qat: QatConfig | None  # quantization-aware training first
    qat_env: TrainEnv | None
    data: DataSpec | None  # calibration, judging or QAT read the data
    seed: int | None
    threads: int | None  # run.threads: the judge and QAT compute with torch
    libs: fp.Libraries


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

    def configure(self, cfg) -> QuantizeSettings:
        q, formats = cfg.quantize, cfg.export.formats
        modes = {f: getattr(q, f) for f in formats}
        calibrated = any(m in CALIBRATED for m in modes.values())
        judged = q.fallback.enabled or "nncf_accuracy" in modes.values()  # selection rows judge INT8 candidates
        qat, reads_data = q.qat.enabled, calibrated or judged or q.qat.enabled
        libs = (["model"] + [f"quantize.{f}" for f in formats] + [f"quantize.{f}.{m}" for f, m in modes.items()]
                + ([f"runtime.{f}" for f in formats] if q.fallback.enabled else [])
                + (["training"] + [f"export.{f}" for f in formats] if qat else []))  # QAT re-exports its weights
        env = None
        if qat:
            from ..training.loop import train_env  # torch: only when planning a run

            env = train_env(q.qat.train, cfg.run.threads)
        return QuantizeSettings(
            modes=modes, task=cfg.data.task, embeddings=q.embeddings, block_size=q.block_size if "w4" in modes.values() else None,
            embedding_block_size=q.embedding_block_size if q.embeddings == "int4" else None,
            export_len=cfg.export_seq_len(), calibration_rows=q.calibration_rows if calibrated else None,
            fallback=q.fallback if judged else None, qat=q.qat if qat else None, qat_env=env,
            data=cfg.data.spec() if reads_data else None, seed=cfg.run.seed if reads_data else None,
            threads=cfg.run.threads if judged or qat else None, libs=fp.libraries(*libs))

    def preflight(self, cfg: QuantizeSettings) -> None:
        """Refused before anything runs, with the reason: a (format, mode, embeddings) its runtime cannot take (each
        exporter's declarative ``refused`` table), and calibration with unlabelled texts (data.texts has no training
        rows but the rows validate judges, and ranges calibrated on those would flatter their parity)."""
        from ..errors import ConfigError
        from ..exporters import get_exporter
        from ..exporters.base import refusal

        problems = [f"quantize.{fmt}: {mode} with quantize.embeddings {cfg.embeddings}: {why}"
                    for fmt, mode in cfg.modes.items() if (why := refusal(get_exporter(fmt), mode, cfg.embeddings))]
        if cfg.calibration_rows and cfg.data is not None and cfg.data.texts is not None:
            problems += [f"quantize.{fmt}: mode {mode} calibrates on training rows; with data.texts the only rows are "
                         f"the texts validate judges: use dynamic" for fmt, mode in cfg.modes.items()
                         if mode in CALIBRATED]
        if problems:
            raise ConfigError(problems)

    def run(self, ctx) -> dict:
        from ..exporters.base import artifact_record, precision_of
        from ..tasks.models import load

        cfg = ctx.cfg
        model = load(cfg.task, ctx.inputs["model"]).eval()
        metrics: dict = {}
        source = model  # what INT8 is made from: the model stage's weights, or their QAT version
        if cfg.qat is not None:
            from .quantize_qat import qat_model

            source, metrics["qat"] = qat_model(ctx, model)
        artifacts, modes, fallback = [], {}, {}
        with tempfile.TemporaryDirectory() as scratch:  # QAT fp32 exports: inputs to the converters, not outputs
            for src in ctx.input_metrics("export")["artifacts"]:
                path, report = self._one(ctx, src, model, source, Path(scratch))
                artifacts.append(artifact_record(self.name, ctx.out, path, src["format"],
                                                 precision_of(cfg.modes[src["format"]])))
                modes[src["format"]] = cfg.modes[src["format"]]
                if report is not None:
                    fallback[src["format"]] = report
        metrics |= {"modes": ",".join(f"{k}={v}" for k, v in modes.items()), "artifacts": artifacts}
        if _fallback_on(cfg):
            metrics["fallback"] = fallback
        return metrics

    def _one(self, ctx, src: dict, model, source, scratch: Path):
        """One quantized artifact (``quantize/<format>-<precision>/``: int8, or w4 for 4-bit weights), through the
        fallback when it is enabled."""
        from ..exporters import QuantizeRequest, get_exporter, make_sample
        from ..exporters.base import precision_of
        from ..quant.fallback import quantize_with_fallback

        cfg, fmt = ctx.cfg, src["format"]
        exporter, mode, seq_len = get_exporter(fmt), cfg.modes[fmt], cfg.export_len
        fp32_path = ctx.run_dir / src["path"]
        out_dir = ctx.out / f"{fmt}-{precision_of(mode)}"
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
                              max_drop=cfg.fallback.max_accuracy_drop / 100 if cfg.fallback else 0.0,
                              embeddings=cfg.embeddings, block_size=cfg.block_size or 32,
                              embedding_block_size=cfg.embedding_block_size or 32)
        report = None
        if _fallback_on(cfg):
            rows, labels = held_out(ctx, fp32_path, seq_len)
            judge = _judge(ctx, model, rows, labels)
            path, report = quantize_with_fallback(exporter, req, judge, cfg.fallback, source, seq_len)
        else:
            path = exporter.quantize(req)
        emb = req.embedding_bits(exporter)
        weights = ({"embeddings": emb} | ({"block_size": req.block_size} if mode == "w4" else {})
                   | ({"embedding_block_size": req.embedding_block_size} if emb == "int4" else {}))
        _update_sidecar(out_dir, mode, cfg.calibration_rows if needs_data else 0,
                        {"qat": source is not model, "layers_fp": (report or {}).get("layers_fp", [])}
                        | ({"layers_int8": report.get("layers_int8", []), "kept_why": report.get("why")}
                           if report and report.get("kept_at") == "int8" else {}) | weights)
        return path, report


def _fallback_on(cfg: QuantizeSettings) -> bool:
    return cfg.fallback is not None and cfg.fallback.enabled


def calibration_rows(ctx, artifact_path, seq_len: int) -> list[dict]:
    """Training rows as ``[1, seq_len]`` int arrays by input name (what every calibrator accepts)."""
    from ..runtimes.text import artifact_tokenizer, encode_rows, pad_batch, pad_token_id

    from ..data import model_inputs

    # the rows as the model reads them (an embedding model: one sentence per row)
    train = model_inputs(ctx.task().train, ctx.cfg.task).head(ctx.cfg.calibration_rows)
    tokenizer = artifact_tokenizer(artifact_path)
    rows = encode_rows(tokenizer, train.texts, train.pairs, seq_len)
    return [pad_batch([r], width=seq_len, pad_id=pad_token_id(tokenizer)) for r in rows]


def held_out(ctx, artifact_path, seq_len: int, padded: bool = False):
    """Labelled selection-split rows (the first ``quantize.fallback.rows``): they judge INT8 candidates in the
    fallback and in nncf_accuracy. The eval split is left to the validate stage's verdict."""
    from ..runtimes.text import artifact_tokenizer, encode_rows, pad_batch

    task = ctx.task()
    part = task.select.head(ctx.cfg.fallback.rows)
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
    from ..exporters.base import precision_of

    meta |= {"precision": precision_of(mode), "quantization": mode, "calibration_rows": n_calibration} | extra
    path.write_text(json.dumps(meta, indent=2) + "\n")
