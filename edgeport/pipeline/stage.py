"""The stage contract: what a stage declares, and the context it runs in.

A stage is a small object with:
  ``name``         its directory under the run and its key in the manifest;
  ``configure(cfg)`` its **settings**: a frozen dataclass holding every value it uses, resolved (defaults applied,
                   cross-section values such as distill's ``train_rows`` computed, the device and precision it
                   will train with), plus markers for what it reads outside the config (the data files, model
                   files, device profiles, library versions; ``pipeline/fingerprint.py``). Its fingerprint is these
                   settings + its own source and the edgeport modules it imports (``pipeline/code.py``) + its
                   inputs' outputs, nothing else;
  ``uses_data``    whether the runner loads the dataset for it before anything runs (its settings hold ``data``
                   and ``seed``);
  ``distributed``  whether every process of a multi-process launch runs it (training), or only the main one;
  ``key_metric``   the metric shown in the end-of-run summary;
  ``gate_stops_run`` (optional) when its metrics hold ``gate_failures``, later stages do not run (a useless
                   teacher or student: training on from it only wastes time);
  ``enabled(cfg)`` whether the config turns it on;
  ``inputs(cfg)``  role -> upstream stage name (its published directory reaches ``run`` as ``ctx.inputs[role]``);
                   a stage with ``reads_manifest = True`` (the report) has none: every other enabled stage is its
                   input (``runner.stage_inputs``);
  ``preflight(settings)`` (optional) cheap checks before anything is written;
  ``run(ctx)``     does the work with ``ctx.cfg`` = its settings (never the whole config: what it can read is
                   what its fingerprint covers), writes only into ``ctx.out``, returns its metrics (JSON-able).
Stages never touch the manifest or each other's directories: the runner publishes and records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .manifest import Manifest

if TYPE_CHECKING:
    from ..config import PipelineConfig


class Stage(Protocol):
    name: str
    uses_data: bool
    distributed: bool
    key_metric: str | None

    def enabled(self, cfg: PipelineConfig) -> bool: ...

    def configure(self, cfg: PipelineConfig) -> Any: ...

    def inputs(self, cfg: PipelineConfig) -> dict[str, str]: ...

    def run(self, ctx: "StageContext") -> dict[str, Any]: ...


@dataclass
class StageContext:
    cfg: Any  # the stage's own settings (``configure``), frozen
    run_dir: Path
    out: Path
    inputs: dict[str, Path]
    manifest: Manifest
    _cache: dict = field(default_factory=dict)

    def task(self):
        """The dataset, loaded once per process and shared by the stages of this run (same data, same seed)."""
        if "task" not in self._cache:
            from ..data import load_task

            self._cache["task"] = load_task(self.cfg.data, seed=self.cfg.seed)
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
