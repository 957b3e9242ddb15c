"""Export stage: the fp32 model of the most processed model stage, in every configured format.

Each artifact is a directory ``export/<format>-fp32/`` holding the model file, ``artifact.json`` and the
tokenizer. The stage's metrics list them under ``artifacts`` (name, format, precision, path relative to the
run dir, size_bytes): quantize, validate, report and the Android build read that list from the manifest.
"""

from __future__ import annotations

from pathlib import Path

from ..pipeline import fingerprint as fp
from ..pipeline.stage import model_stage


class ExportStage:
    name = "export"
    uses_data = False
    distributed = False
    key_metric = "formats"

    def enabled(self, cfg) -> bool:
        return cfg.export.enabled

    def inputs(self, cfg) -> dict[str, str]:
        return {"model": model_stage(cfg)}

    def reads(self, cfg) -> dict[str, object]:
        # data.max_seq_len goes into every sidecar; the export length is resolved (seq_len or max_seq_len)
        return (fp.fields(cfg, "export", without=("seq_len",)) | fp.values("export", seq_len=cfg.export_seq_len())
                | fp.values("data", max_seq_len=cfg.data.max_seq_len)
                | fp.libraries("model", *(f"export.{f}" for f in cfg.export.formats)))

    def preflight(self, cfg) -> None:
        """What the exported model's architecture cannot do fails before any training, not inside a converter: a
        format its adapter declares it cannot take, an export length it has no positions for."""
        from ..errors import ConfigError
        from ..models import resolve_model_dir
        from ..models.arch import ARCHES, usable_positions
        from ..models.loading import read_model_config

        student = cfg.distill.student.model if cfg.distill.enabled else None
        spec = resolve_model_dir(student or cfg.teacher.model)  # the architecture that reaches export
        if not isinstance(spec, Path):
            return  # a hub model: checked when it is downloaded
        config = read_model_config(spec)
        adapter = ARCHES.get(config.model_type)  # an unsupported type is the teacher's / distill's preflight error
        problems = [f"export.formats: {fmt} cannot take a '{config.model_type}' model: {adapter.limitation(fmt)}; "
                    f"remove {fmt} from export.formats" for fmt in cfg.export.formats
                    if adapter and adapter.limitation(fmt)]
        limit = usable_positions(config)  # RoBERTa: max_position_embeddings - pad_token_id - 1
        if cfg.export.seq_len and limit and cfg.export.seq_len > limit:
            problems.append(f"export.seq_len {cfg.export.seq_len} exceeds what '{student or cfg.teacher.model}' can "
                            f"take ({limit} positions); set export.seq_len <= {limit}")
        if problems:
            raise ConfigError(problems)

    def run(self, ctx) -> dict:
        from ..exporters import get_exporter, make_sample, write_sidecar
        from ..exporters.base import artifact_record, label_names
        from ..models import load_classifier, load_tokenizer

        cfg, model_dir = ctx.cfg, ctx.inputs["model"]
        model = load_classifier(model_dir).eval()
        tokenizer = load_tokenizer(model_dir)
        seq_len = cfg.export_seq_len()
        artifacts = []
        for fmt in cfg.export.formats:
            exporter = get_exporter(fmt)
            # Dynamic formats trace a batch of 2: torch specialises a dimension of size 1 to a constant.
            sample = make_sample(seq_len, batch=2 if exporter.dynamic_shapes else 1, vocab=tokenizer.vocab_size)
            out_dir = ctx.out / f"{fmt}-fp32"
            out_dir.mkdir()
            print(f"  exporting {fmt} fp32 ...", flush=True)
            path = exporter.export(model, sample, out_dir)
            write_sidecar(out_dir, fmt=fmt, precision="fp32", model_file=path.name, label_names=label_names(model),
                          seq_len=None if exporter.dynamic_shapes else seq_len, max_seq_len=cfg.data.max_seq_len,
                          tokenizer=tokenizer, extra={"source_stage": model_stage(cfg)},
                          model=model, export_seq_len=seq_len)
            artifacts.append(artifact_record(self.name, ctx.out, path, fmt, "fp32"))
        return {"formats": ",".join(cfg.export.formats), "seq_len": seq_len, "source_stage": model_stage(cfg),
                "artifacts": artifacts}
