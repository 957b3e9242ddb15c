"""Quantize stage: an INT8 artifact from every fp32 artifact, by the per-format mode in the ``quantize`` section.

It runs after export because ONNX and TFLite INT8 are made on the exported fp32 file (ONNX Runtime and
ai-edge-quantizer rewrite the graph); TorchScript INT8 is torch dynamic quantization of the same model, traced.
Calibration rows (static / full_integer modes) are the first ``quantize.calibration_rows`` training rows,
tokenised by the artifact's own tokenizer and padded to the export length.
"""

from __future__ import annotations

import shutil

from ..pipeline.stage import model_stage
from .export import artifact_record, export_seq_len


class QuantizeStage:
    name = "quantize"
    sections = ("data", "export", "quantize")
    uses_data = True
    distributed = False
    key_metric = "modes"

    def enabled(self, cfg) -> bool:
        return cfg.quantize.enabled and cfg.export.enabled

    def inputs(self, cfg) -> dict[str, str]:
        return {"model": model_stage(cfg), "export": "export"}

    def run(self, ctx) -> dict:
        from ..exporters import QuantizeRequest, get_exporter, make_sample
        from ..models import load_classifier

        cfg = ctx.cfg
        model = load_classifier(ctx.inputs["model"]).eval()
        seq_len = export_seq_len(cfg)
        artifacts, modes = [], {}
        for src in ctx.input_metrics("export")["artifacts"]:
            fmt = src["format"]
            exporter, mode = get_exporter(fmt), getattr(cfg.quantize, fmt)
            fp32_path = ctx.run_dir / src["path"]
            out_dir = ctx.out / f"{fmt}-int8"
            # Tokenizer and sidecar come along; the model file is replaced by the INT8 one.
            shutil.copytree(fp32_path.parent, out_dir, ignore=shutil.ignore_patterns(fp32_path.name))
            needs_data = mode in ("static", "full_integer")
            print(f"  quantizing {fmt} ({mode}) ...", flush=True)
            req = QuantizeRequest(model=model, fp32_path=fp32_path, out_dir=out_dir, mode=mode,
                                  sample=make_sample(seq_len, batch=2 if exporter.dynamic_shapes else 1),
                                  calibration=calibration_rows(ctx, fp32_path, seq_len) if needs_data else [])
            path = exporter.quantize(req)
            _update_sidecar(out_dir, mode, cfg.quantize.calibration_rows if needs_data else 0)
            artifacts.append(artifact_record(self.name, ctx.out, path, fmt, "int8"))
            modes[fmt] = mode
        return {"modes": ",".join(f"{k}={v}" for k, v in modes.items()), "artifacts": artifacts}


def calibration_rows(ctx, artifact_path, seq_len: int) -> list[dict]:
    """Training rows as ``[1, seq_len]`` int arrays by input name (what every calibrator accepts)."""
    from ..runtimes.text import artifact_tokenizer, encode_rows, pad_batch

    train = ctx.task().train.head(ctx.cfg.quantize.calibration_rows)
    tokenizer = artifact_tokenizer(artifact_path)
    rows = encode_rows(tokenizer, train.texts, train.pairs, seq_len)
    return [pad_batch([r], width=seq_len, pad_id=tokenizer.pad_token_id or 0) for r in rows]


def _update_sidecar(out_dir, mode: str, n_calibration: int) -> None:
    import json

    from ..exporters.base import SIDECAR

    path = out_dir / SIDECAR
    meta = json.loads(path.read_text())
    meta |= {"precision": "int8", "quantization": mode, "calibration_rows": n_calibration}
    path.write_text(json.dumps(meta, indent=2) + "\n")
