"""Export stage: the fp32 model of the most processed model stage, in every configured format.

Each artifact is a directory ``export/<format>-fp32/`` holding the model file, ``artifact.json`` and the
tokenizer. The stage's metrics list them under ``artifacts`` (name, format, precision, path relative to the
run dir, size_bytes): quantize, validate, report and the Android build read that list from the manifest.

Length buckets (``export.seq_buckets``, ``resolve_buckets``): the TFLite file gets one signature per bucket; every
artifact's ``artifact.json`` and the stage metrics record the resolved list under ``seq_buckets`` (the runtime
contract: run the smallest bucket that holds the input; dynamic-shape formats run at the true length anyway).
``auto`` reads the training split (its token lengths under the model's tokenizer), so the stage then uses data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..pipeline import fingerprint as fp
from ..pipeline.stage import model_stage

if TYPE_CHECKING:
    from ..config import DataSpec, ExportConfig


@dataclass(frozen=True)
class ExportSettings:
    export: ExportConfig
    export_len: int  # export.seq_len or data.max_seq_len: TFLite's longest signature, the app's longest input
    max_seq_len: int  # data.max_seq_len, written into every sidecar
    source_stage: str  # the model stage exported (prune, distill or teacher)
    task: str  # data.task: which model the stage loads (``tasks.models``) and what the sidecar says of its output
    doc_stride: int | None  # question-answering: the context tokens two windows share, written into every sidecar
    exported_model: str  # the model spec whose architecture reaches export (preflight's checks)
    data: DataSpec | None  # seq_buckets auto: the training split's token lengths decide the buckets
    seed: int | None  # ... and the seed that carves the selection split out of it
    libs: fp.Libraries


class ExportStage:
    name = "export"
    uses_data = True  # seq_buckets: auto derives the buckets from the training split (the default)
    distributed = False
    key_metric = "formats"

    def enabled(self, cfg) -> bool:
        return cfg.export.enabled

    def inputs(self, cfg) -> dict[str, str]:
        return {"model": model_stage(cfg)}

    def configure(self, cfg) -> ExportSettings:
        student = cfg.distill.student.model if cfg.distill.enabled else None
        auto = cfg.export.seq_buckets == "auto"
        # export.seq_len resolved: the export length is what is read, not how it was spelled
        return ExportSettings(export=cfg.export.model_copy(update={"seq_len": cfg.export_seq_len()}),
                              export_len=cfg.export_seq_len(), max_seq_len=cfg.data.max_seq_len,
                              source_stage=model_stage(cfg), task=cfg.data.task,
                              doc_stride=cfg.data.stride() if cfg.data.task == "question-answering" else None,
                              exported_model=student or cfg.teacher.model,
                              data=cfg.data.spec() if auto else None, seed=cfg.run.seed if auto else None,
                              libs=fp.libraries("model", *(f"export.{f}" for f in cfg.export.formats)))

    def preflight(self, cfg: ExportSettings) -> None:
        """What the exported model's architecture cannot do fails before any training, not inside a converter: a
        format its adapter declares it cannot take, an export length it has no positions for."""
        from ..errors import ConfigError
        from ..models import resolve_model_dir
        from ..models.arch import ARCHES, usable_positions
        from ..models.loading import read_model_config

        spec = resolve_model_dir(cfg.exported_model)  # the architecture that reaches export
        if not isinstance(spec, Path):
            return  # a hub model: checked when it is downloaded
        config = read_model_config(spec)
        adapter = ARCHES.get(config.model_type)  # an unsupported type is the teacher's / distill's preflight error
        problems = [f"export.formats: {fmt} cannot take a '{config.model_type}' model: {adapter.limitation(fmt)}; "
                    f"remove {fmt} from export.formats" for fmt in cfg.export.formats
                    if adapter and adapter.limitation(fmt)]
        limit = usable_positions(config)  # RoBERTa: max_position_embeddings - pad_token_id - 1
        buckets = cfg.export.seq_buckets
        if isinstance(buckets, list) and buckets[-1] > cfg.export_len:
            problems.append(f"export.seq_buckets {buckets}: {buckets[-1]} exceeds the export length "
                            f"{cfg.export_len} (export.seq_len or data.max_seq_len); remove the buckets above it")
        if limit and cfg.export_len > limit:
            problems.append(f"the export length {cfg.export_len} (export.seq_len or data.max_seq_len) exceeds what "
                            f"'{cfg.exported_model}' can take ({limit} positions); set export.seq_len <= {limit}")
        if problems:
            raise ConfigError(problems)

    def run(self, ctx) -> dict:
        from ..data import model_inputs
        from ..exporters import get_exporter, make_sample, write_sidecar
        from ..exporters.base import artifact_record
        from ..models import load_tokenizer
        from ..tasks.models import MODELS

        cfg, model_dir = ctx.cfg, ctx.inputs["model"]
        kind = MODELS[cfg.task]
        model = kind.load(model_dir).eval()
        tokenizer = load_tokenizer(model_dir)
        seq_len = cfg.export_len
        buckets = resolve_buckets(cfg, lambda: token_lengths(model_inputs(ctx.task().train, cfg.task), tokenizer,
                                                             cfg.max_seq_len))
        if "tflite" in cfg.export.formats:
            print(f"  length buckets (tflite signatures): {buckets}", flush=True)
        artifacts = []
        for fmt in cfg.export.formats:
            exporter = get_exporter(fmt)
            # Dynamic formats trace a batch of 2: torch specialises a dimension of size 1 to a constant.
            sample = make_sample(seq_len, batch=2 if exporter.dynamic_shapes else 1, vocab=tokenizer.vocab_size)
            out_dir = ctx.out / f"{fmt}-fp32"
            out_dir.mkdir()
            print(f"  exporting {fmt} fp32 ...", flush=True)
            if exporter.dynamic_shapes:
                path = exporter.export(model, sample, out_dir)
            else:
                path = exporter.export(model, sample, out_dir, buckets=buckets)
            write_sidecar(out_dir, fmt=fmt, precision="fp32", model_file=path.name,
                          label_names=kind.label_names(model), seq_len=None if exporter.dynamic_shapes else seq_len,
                          max_seq_len=cfg.max_seq_len, tokenizer=tokenizer,
                          extra={"source_stage": cfg.source_stage, "seq_buckets": buckets} | kind.sidecar
                          | _windowing(cfg),
                          model=model, export_seq_len=seq_len)
            artifacts.append(artifact_record(self.name, ctx.out, path, fmt, "fp32"))
        return {"formats": ",".join(cfg.export.formats), "seq_len": seq_len, "seq_buckets": buckets,
                "source_stage": cfg.source_stage, "artifacts": artifacts}


def _windowing(cfg: ExportSettings) -> dict:
    """question-answering: the stride the model's windows were made with, so ``edgeport predict`` and the app cut
    a long context as the pipeline measured it (``runtimes.qa_text.window_settings`` reads it first)."""
    return {} if cfg.doc_stride is None else {"doc_stride": cfg.doc_stride}


def token_lengths(split, tokenizer, max_len: int) -> list[int]:
    """Tokens per row of ``split`` under ``tokenizer`` (special tokens included), truncated at ``max_len``."""
    from ..runtimes.text import encode_rows

    return [len(r["input_ids"]) for r in encode_rows(tokenizer, split.texts, split.pairs, max_len)]


def auto_buckets(lengths, export_len: int, minimum: int = 32, coverage: float = 0.99) -> list[int]:
    """``seq_buckets: auto``: the powers of two ``minimum, 2*minimum, ...`` up to the smallest one that holds at
    least ``coverage`` of ``lengths`` (and below ``export_len``), then ``export_len`` itself: the last bucket is
    always the export length, so no row is cut shorter than it. E.g. SST-2 train under the default student
    (99% of rows <= 45 tokens), export length 128: [32, 64, 128] from the default minimum 32 ([16, 32, 64, 128]
    from 16). No lengths: [export_len]."""
    import numpy as np

    lengths = np.asarray(list(lengths), dtype=np.int64)
    if not lengths.size:
        return [export_len]
    buckets, b = [], minimum
    while b < export_len:
        buckets.append(b)
        if (lengths <= b).mean() >= coverage:
            break
        b *= 2
    return buckets + [export_len]


def resolve_buckets(settings: ExportSettings, lengths) -> list[int]:
    """The TFLite length buckets of these settings, ascending, the last the export length: ``seq_buckets`` as
    listed (the export length appended when missing), ``null`` -> one bucket, ``auto`` -> ``auto_buckets`` of
    ``lengths()`` (a callable: the training split is tokenised only for auto)."""
    cfg = settings
    export_len, spec = cfg.export_len, cfg.export.seq_buckets
    if spec is None:
        return [export_len]
    if spec == "auto":
        return auto_buckets(lengths(), export_len, cfg.export.bucket_min, cfg.export.bucket_coverage)
    return sorted({b for b in spec if b <= export_len} | {export_len})
