"""The stage contract: what a stage declares, and the context it runs in.

A stage is a small object with:
  ``name``         its directory under the run and its key in the manifest;
  ``reads(cfg)``   everything it reads, ``{part name: value}``: config values (resolved, e.g. distill's
                   ``train_rows``), the data, model files, device profiles, files, library versions
                   (``pipeline/fingerprint.py``); its fingerprint is these plus its inputs' outputs, nothing else;
  ``uses_data``    whether the runner loads the dataset for it before anything runs (preflight);
  ``distributed``  whether every process of a multi-process launch runs it (training), or only the main one;
  ``key_metric``   the metric shown in the end-of-run summary;
  ``gate_stops_run`` (optional) when its metrics hold ``gate_failures``, later stages do not run (a useless
                   teacher or student: training on from it only wastes time);
  ``enabled(cfg)`` whether the config turns it on;
  ``inputs(cfg)``  role -> upstream stage name (its published directory reaches ``run`` as ``ctx.inputs[role]``);
  ``run(ctx)``     does the work, writes only into ``ctx.out``, and returns its metrics (a JSON-able dict).
Stages never touch the manifest or each other's directories: the runner publishes and records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..config import PipelineConfig
from .manifest import Manifest


class Stage(Protocol):
    name: str
    uses_data: bool
    distributed: bool
    key_metric: str | None

    def enabled(self, cfg: PipelineConfig) -> bool: ...

    def reads(self, cfg: PipelineConfig) -> dict[str, object]: ...

    def inputs(self, cfg: PipelineConfig) -> dict[str, str]: ...

    def run(self, ctx: "StageContext") -> dict[str, Any]: ...


@dataclass
class StageContext:
    cfg: PipelineConfig
    run_dir: Path
    out: Path
    inputs: dict[str, Path]
    manifest: Manifest
    _cache: dict = field(default_factory=dict)

    def task(self):
        """The dataset, loaded once per process and shared by the stages of this run."""
        if "task" not in self._cache:
            from ..data import load_task

            self._cache["task"] = load_task(self.cfg.data, seed=self.cfg.run.seed)
        return self._cache["task"]

    def input_metrics(self, role: str) -> dict:
        stage = self.inputs[role].name
        return (self.manifest.entry(stage) or {}).get("metrics", {})

    @property
    def cache_dir(self) -> Path:
        """Long-lived, content-addressed cache (e.g. teacher logits) shared by re-runs of the same run."""
        path = self.run_dir / "cache"
        path.mkdir(exist_ok=True)
        return path


def model_stage(cfg: PipelineConfig, order: tuple[str, ...] = ("prune", "distill", "teacher")) -> str:
    """The most processed model stage enabled in the config: what quantize/export should start from."""
    for name in order:
        if name == "teacher" or getattr(cfg, name).enabled:
            return name
    return "teacher"
