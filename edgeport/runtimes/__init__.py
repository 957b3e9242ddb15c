"""Runtimes: one runner per format, one contract, used by validation, benchmarks and ``edgeport predict``.

``load(path, threads) -> Runner``; ``Runner(input_ids, attention_mask, token_type_ids=None) -> logits``
(numpy int arrays ``[batch, seq]`` in, float32 ``[batch, labels]`` out). ``path`` is the model file or the
artifact directory holding it. The registry dispatches on the file suffix. The ONNX and TFLite runners import
no torch, so a deployment host needs only onnxruntime or ai-edge-litert.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import ArtifactError
from .common import SIDECAR, Runner, artifact_meta, model_file

# suffix -> (module, format): modules import lazily, so loading an ONNX file never imports torch or LiteRT.
RUNTIMES = {".pt": ("torchscript", "torchscript"), ".onnx": ("onnx", "onnx"), ".tflite": ("tflite", "tflite"),
            ".pte": ("executorch", "executorch")}


def load(path: str | Path, threads: int = 1) -> Runner:
    """A runner for the artifact at ``path`` (a model file or its directory), using ``threads`` CPU threads."""
    file = model_file(Path(path))
    if file.suffix not in RUNTIMES:
        raise ArtifactError(f"{file}: unknown artifact type '{file.suffix}'; edgeport runs "
                            f"{', '.join(RUNTIMES)} files")
    if file.stat().st_size == 0:
        raise ArtifactError(f"{file}: the file is empty; re-export it (edgeport run CONFIG --force export)")
    module = importlib.import_module(f".{RUNTIMES[file.suffix][0]}", __name__)
    return module.load(file, threads)


__all__ = ["RUNTIMES", "SIDECAR", "Runner", "artifact_meta", "load", "model_file"]
