"""The runner protocol and what every runner shares: locating the model file and reading its sidecar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import ArtifactError

SIDECAR = "artifact.json"  # written by edgeport.exporters.base.write_sidecar


class Runner(Protocol):
    """Takes all three inputs; feeds the model only the ones it was exported with (``token_type_ids`` is ignored
    by an artifact of an architecture without token types, and zeros are fed when one with them gets None)."""

    format: str
    path: Path
    seq_len: int | None  # static sequence length (TFLite), None when any length works

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray,
                 token_type_ids: np.ndarray | None = None) -> np.ndarray: ...


def model_file(path: Path) -> Path:
    """The model file of an artifact given as the file itself or as its directory."""
    if not path.exists():
        raise ArtifactError(f"{path}: no such artifact; give a model file (.pt, .onnx, .tflite, .pte) or its "
                            f"directory")
    if path.is_file():
        return path
    meta_path = path / SIDECAR
    if meta_path.is_file():
        return path / _read_meta(meta_path)["model_file"]
    found = [p for p in sorted(path.iterdir()) if p.suffix in (".pt", ".onnx", ".tflite", ".pte")]
    if len(found) != 1:
        raise ArtifactError(f"{path}: expected one model file (.pt, .onnx, .tflite, .pte) in the directory, "
                            f"found {len(found)}")
    return found[0]


def artifact_meta(path: Path) -> dict:
    """The sidecar (format, precision, label names, seq_len) beside a model file; {} when there is none."""
    file = model_file(Path(path))
    meta_path = file.parent / SIDECAR
    return _read_meta(meta_path) if meta_path.is_file() else {}


def _read_meta(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path}: unreadable artifact metadata ({exc}); re-export the artifact") from None


ALL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # edgeport.models.arch.INPUT_NAMES (torch-free here)


def recorded_inputs(path: Path) -> tuple[str, ...]:
    """The inputs the artifact was exported with, in order (``inputs`` in artifact.json; an artifact from before
    the architecture adapters, or without a sidecar, took all three)."""
    return tuple(artifact_meta(path).get("inputs") or ALL_INPUTS)


def recorded_outputs(path: Path) -> tuple[str, ...]:
    """The artifact's named outputs, in order (``outputs`` in artifact.json: QA's start and end logits); an artifact
    without the key has one output, the logits."""
    return tuple(artifact_meta(path).get("outputs") or ("logits",))


def as_result(outputs: tuple[str, ...], arrays: list[np.ndarray]):
    """What a runner returns: the one array of a single-output artifact (every runner's contract before QA), or
    ``{name: float32 array}`` for an artifact of several outputs (``recorded_outputs``), so callers read them by
    name."""
    if len(outputs) == 1:
        return arrays[0].astype(np.float32)
    if len(arrays) != len(outputs):
        raise ArtifactError(f"the model gives {len(arrays)} outputs, artifact.json records {len(outputs)} "
                            f"({', '.join(outputs)}); re-export the artifact")
    return {name: a.astype(np.float32) for name, a in zip(outputs, arrays)}


def with_token_types(input_ids: np.ndarray, token_type_ids: np.ndarray | None) -> np.ndarray:
    return np.zeros_like(input_ids) if token_type_ids is None else token_type_ids


def row_inputs(path: Path, input_ids, attention_mask, token_type_ids, longest: int, what: str) -> dict:
    """The three inputs as arrays (zeros for missing token types), refused when wider than ``longest`` tokens: the
    shared front of the runners that run one row at a time (TFLite, ExecuTorch). ``what`` names the limit."""
    values = {"input_ids": np.asarray(input_ids), "attention_mask": np.asarray(attention_mask),
              "token_type_ids": np.asarray(with_token_types(input_ids, token_type_ids))}
    width = values["input_ids"].shape[1]
    if width > longest:
        raise ArtifactError(f"{path}: input of {width} tokens, but {what} {longest}; truncate to {longest} tokens")
    return values


def load_failed(path: Path, exc: Exception) -> ArtifactError:
    first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    return ArtifactError(f"{path}: cannot be loaded ({first}); the file may be truncated or from another "
                         f"tool; re-export it (edgeport run CONFIG --force export)")
