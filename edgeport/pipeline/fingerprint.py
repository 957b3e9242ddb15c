"""What a stage reads, declared per stage, and how each thing read becomes one fingerprint part.

A stage's ``configure(cfg)`` returns its resolved settings (``pipeline/stage.py``); ``settings_parts`` turns each
field into fingerprint parts. A plain JSON value (a config field, or a value resolved from several fields, such as
distill's ``train_rows``) is hashed as it is; the markers below stand for things outside the config and are
resolved to a digest when the fingerprint is made:

  ``DataSpec``        (a section) the data files' bytes and the fields that decide rows (``data.data_fingerprint``),
                      as the part ``data``;
  ``ModelSource(s)``  the model files (or built-in package version, or hub commit) a model spec loads:
                      ``teacher.model`` (part ``teacher_weights``), ``distill.student.model`` (``student_weights``);
  ``Profile(name)``   a device profile's YAML bytes, found through ``targets.search_dirs()``;
  ``File(path)``      a file's bytes (``report.baseline``);
  ``Library(name)``   an installed distribution's version (``"absent"`` when it is not installed);
  ``Libraries`` / ``Profiles``  several of the above, one part each.
The stage's own source and every edgeport module it imports are parts too (``pipeline/code.py``).

Each entry is its own part, so ``--dry-run`` names what changed: ``config.distill.train_rows``, ``teacher_weights``,
``lib.onnxruntime``, ``profile.host``. Which libraries produce or judge what is written once, in ``LIBRARIES``.
Nothing here imports torch. The training stages' ``configure`` does: ``precision: auto`` resolves by the device
Accelerate would use, which is what decides the weights.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, is_dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

# Which installed distributions produce or judge what. Keys: "model" (load/save/tokenize a Hugging Face model),
# "training", "export.<format>", "quantize.<format>" and "quantize.<format>.<mode>" (extra libraries of one mode),
# "runtime.<format>" (runs an artifact: validate, the quantize fallback's judge), "plots", "explain" (attributions).
LIBRARIES: dict[str, tuple[str, ...]] = {
    "model": ("torch", "transformers", "tokenizers", "safetensors", "numpy"),  # numpy: statistics, runners
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

    def digest(self) -> str:
        raise NotImplementedError


def optional_input():
    """A settings field holding an ``Input`` or None: its part keeps the field's name either way, so switching
    it off reads as one change (``extra_texts``), not as a config key appearing beside the input vanishing."""
    return field(metadata={"input": True})


@dataclass(frozen=True)
class DataFiles(Input):
    """The data a stage loads: the split files' bytes (or the hub dataset's revision) and the fields that decide
    rows and labels (``data.data_fingerprint``)."""

    spec: object  # a DataSpec (the data section without the per-stage row limit)

    def digest(self) -> str:
        from ..data import data_fingerprint

        return data_fingerprint(self.spec)  # the files' bytes as they are now: never cached


@dataclass(frozen=True)
class ModelSource(Input):
    spec: str

    def digest(self) -> str:
        from ..models.source import model_source_digest

        return model_source_digest(self.spec)


@dataclass(frozen=True)
class File(Input):
    path: str

    def digest(self) -> str:
        from ..models.source import file_digest

        path = Path(self.path).expanduser()
        return file_digest(path) if path.is_file() else "missing"


@dataclass(frozen=True)
class Profile(Input):
    name: str

    def digest(self) -> str:
        from ..targets import target_files

        path = target_files().get(self.name)
        return hashlib.sha256(path.read_bytes()).hexdigest() if path else "unknown"


@dataclass(frozen=True)
class Library(Input):
    name: str

    def digest(self) -> str:
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


# ------------------------------------------------------------------------------------------ settings -> parts


@dataclass(frozen=True)
class Libraries(Input):
    """The installed versions of what produces or judges a stage's outputs: one ``lib.<name>`` part each."""

    names: tuple[str, ...]

    def digest(self) -> str:
        return ",".join(f"{n}={library_version(n)}" for n in self.names)


def libraries(*uses: str) -> Libraries:
    """The distributions behind each use (keys of ``LIBRARIES``; unknown keys add none), deduplicated, in order."""
    names = [name for use in uses for name in LIBRARIES.get(use, ())]
    return Libraries(tuple(dict.fromkeys(names)))


@dataclass(frozen=True)
class Profiles(Input):
    """Device profiles a stage judges or estimates with: one ``profile.<name>`` part each (the YAML's bytes)."""

    names: tuple[str, ...]

    def digest(self) -> str:
        return ",".join(f"{n}={Profile(n).digest()}" for n in self.names)


def settings_parts(settings) -> dict[str, object]:
    """One fingerprint part per thing a stage's resolved settings hold (a frozen dataclass, ``pipeline/stage.py``).

    A plain value is ``config.<field>``; a config section (a pydantic model) gives one part per key,
    ``config.<field>.<key>``; an ``Input`` marker is its own part under the field's name (``data``,
    ``teacher_weights``); ``Libraries`` and ``Profiles`` give one part per library / profile. Everything a stage
    can read is in its settings, so everything it reads is in its fingerprint."""
    from dataclasses import fields as dc_fields

    from pydantic import BaseModel

    from ..config.data import DataSpec

    parts: dict[str, object] = {}
    for f in dc_fields(settings):
        value = getattr(settings, f.name)
        if isinstance(value, Libraries):
            parts |= {f"lib.{n}": Library(n) for n in value.names}
        elif isinstance(value, Profiles):
            parts |= {f"profile.{n}": Profile(n) for n in value.names}
        elif isinstance(value, Input) or (value is None and f.metadata.get("input")):
            parts[f.name] = value
        elif isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values()):
            parts |= {f"{f.name}.{k}": v.model_dump(mode="json") for k, v in value.items()}  # profile.host
        elif isinstance(value, BaseModel) or is_dataclass(value):
            dumped = value.model_dump(mode="json") if isinstance(value, BaseModel) else asdict(value)
            parts |= {f"config.{f.name}.{k}": _jsonable(v) for k, v in dumped.items()}
            if isinstance(value, DataSpec):
                parts["data"] = DataFiles(value)  # the files the section points at
        else:
            parts[f"config.{f.name}"] = _jsonable(value)
    return parts


def _jsonable(value):
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


# ------------------------------------------------------------------------------------------ hashing


def short_hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def part_digest(value) -> str:
    return short_hash(value.digest() if isinstance(value, Input) else value)
