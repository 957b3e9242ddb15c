"""The model a finished run exported, loaded as its quantize stage saw it: the run's config, the export stage's
record, the exported model and tokenizer, the task's splits and the export length. Shared by the benchmarks that
re-quantize a run's student (int8_noise.py, four_bit.py, four_bit_blocks.py); one thread, as validate and bench
judge artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class RunStudent:
    run_dir: Path
    manifest: object  # edgeport.pipeline.manifest.Manifest
    cfg: object  # the PipelineConfig the run recorded
    export: dict  # the export stage's metrics (artifacts, source_stage)
    model_dir: Path
    model: object
    tokenizer: object
    task: object  # edgeport.data.Task: train / select / eval
    max_len: int  # the shorter of data.max_seq_len and the export length


def load_run_student(run_dir: str | Path) -> RunStudent:
    import torch

    from edgeport.config import PipelineConfig
    from edgeport.data import load_task
    from edgeport.models import load_classifier, load_tokenizer
    from edgeport.pipeline.manifest import Manifest

    torch.set_num_threads(1)
    run_dir = Path(run_dir)
    manifest = Manifest.load(run_dir)
    cfg = PipelineConfig.model_validate(manifest.data["config"])
    export = manifest.entry("export")["metrics"]
    model_dir = run_dir / export["source_stage"]
    return RunStudent(run_dir, manifest, cfg, export, model_dir, load_classifier(model_dir).eval(),
                      load_tokenizer(model_dir), load_task(cfg.data, seed=cfg.run.seed),
                      min(cfg.data.max_seq_len, cfg.export_seq_len()))
