"""What a stage reads, declared per stage, and how each thing read becomes one fingerprint part.

A stage's ``reads(cfg)`` returns ``{part name: value}``. A plain JSON value (a config field, or a value resolved
from several fields, such as distill's ``train_rows``) is hashed as it is; the markers below stand for things
outside the config and are resolved to a digest when the fingerprint is made:

  ``DATA``            the data files' bytes and the data fields that change parsing (``data.data_fingerprint``);
  ``ModelSource(s)``  the model files (or built-in package version, or hub commit) a model spec loads:
                      ``teacher.model`` (part ``teacher_weights``), ``distill.student.model`` (``student_weights``);
  ``Profile(name)``   a device profile's YAML bytes, found through ``targets.search_dirs()``;
  ``File(path)``      a file's bytes (``report.baseline``);
  ``Library(name)``   an installed distribution's version (``"absent"`` when it is not installed).

Each entry is its own part, so ``--dry-run`` names what changed: ``config.distill.train_rows``, ``teacher_weights``,
``lib.onnxruntime``, ``profile.host``. Which libraries produce or judge what is written once, in ``LIBRARIES``.
Nothing here imports torch. The training stages' own ``reads`` do (``training.loop.precision_part``): ``precision:
auto`` resolves by the device Accelerate would use, which is what decides the weights.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

# Which installed distributions produce or judge what. Keys: "model" (load/save/tokenize a Hugging Face model),
# "training", "export.<format>", "quantize.<format>" and "quantize.<format>.<mode>" (extra libraries of one mode),
# "runtime.<format>" (runs an artifact: validate, the quantize fallback's judge), "plots", "explain" (attributions).
LIBRARIES: dict[str, tuple[str, ...]] = {
    "model": ("torch", "transformers", "tokenizers", "safetensors"),
    "training": ("accelerate",),
    "export.torchscript": ("torch",),
    "export.onnx": ("onnx", "onnxscript"),
    "export.tflite": ("litert-torch", "litert-converter", "ai-edge-litert"),
    "export.executorch": ("executorch", "torch"),
    "quantize.torchscript": ("torch",),
    "quantize.onnx": ("onnx", "onnxruntime"),
    "quantize.onnx.nncf": ("nncf",),
    "quantize.onnx.nncf_accuracy": ("nncf",),
    "quantize.tflite": ("ai-edge-quantizer", "ai-edge-litert"),
    "quantize.executorch": ("executorch", "torchao", "torch"),
    "runtime.torchscript": ("torch",),
    "runtime.onnx": ("onnxruntime",),
    "runtime.tflite": ("ai-edge-litert", "tflite-runtime"),
    "runtime.executorch": ("executorch",),
    "plots": ("matplotlib",),
    "explain": ("captum", "torch"),
}


class Input:
    """Something a stage reads that is not a config value; ``digest`` resolves it when a fingerprint is made."""

    def digest(self, data_fp: str | None) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class _Data(Input):
    def digest(self, data_fp: str | None) -> str:
        return data_fp or ""


DATA = _Data()


@dataclass(frozen=True)
class ModelSource(Input):
    spec: str

    def digest(self, data_fp: str | None) -> str:
        from ..models.source import model_source_digest

        return model_source_digest(self.spec)


@dataclass(frozen=True)
class File(Input):
    path: str

    def digest(self, data_fp: str | None) -> str:
        from ..models.source import file_digest

        path = Path(self.path).expanduser()
        return file_digest(path) if path.is_file() else "missing"


@dataclass(frozen=True)
class Profile(Input):
    name: str

    def digest(self, data_fp: str | None) -> str:
        from ..targets import target_files

        path = target_files().get(self.name)
        return hashlib.sha256(path.read_bytes()).hexdigest() if path else "unknown"


@dataclass(frozen=True)
class Library(Input):
    name: str

    def digest(self, data_fp: str | None) -> str:
        return library_version(self.name)


def library_version(name: str) -> str:
    """The installed version of a distribution, or "absent" (tests monkeypatch this one function)."""
    return _installed_version(name)


@cache
def _installed_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


# ------------------------------------------------------------------------------------------ declaring reads


def fields(cfg, section: str, without: tuple[str, ...] = ()) -> dict[str, object]:
    """Every field of a config section, one part each (``config.distill.temperature``), minus ``without``."""
    return {f"config.{section}.{k}": v for k, v in cfg.section(section).items() if k not in without}


def values(section: str, **resolved) -> dict[str, object]:
    """Values a stage computes from the config (``train_rows = distill.train_limit or data.train_limit``)."""
    return {f"config.{section}.{k}": v for k, v in resolved.items()}


def data() -> dict[str, object]:
    return {"data": DATA}


def libraries(*uses: str) -> dict[str, object]:
    """``lib.<name>`` parts for the libraries behind each use (keys of ``LIBRARIES``; unknown keys add none)."""
    return {f"lib.{name}": Library(name) for use in uses for name in LIBRARIES.get(use, ())}


def stage_reads(stage, cfg) -> dict[str, object]:
    """The stage's ``reads(cfg)``; a stage that declares only ``sections`` (and ``uses_data``) reads those whole
    sections and, with ``uses_data``, the data."""
    reads = getattr(stage, "reads", None)
    if reads is not None:
        return reads(cfg)
    legacy = {f"config.{s}": cfg.section(s) for s in stage.sections}
    return legacy | (data() if stage.uses_data else {})


# ------------------------------------------------------------------------------------------ hashing


def short_hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def part_digest(value, data_fp: str | None) -> str:
    return short_hash(value.digest(data_fp) if isinstance(value, Input) else value)
