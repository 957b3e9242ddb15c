"""What a model spec (``teacher.model``) points at, as one digest: the teacher stage's fingerprint includes it.

* ``builtin:NAME``: the package that ships it, its installed version, and the sha256 of its model files;
* a local directory: the sha256 of each model file in it (weights, config, tokenizer files);
* a hub id: the id and the commit the local Hugging Face cache resolves ``main`` to (no network), so a newer
  download re-runs the teacher on the next plan.

Only files transformers reads are hashed (top level, by suffix): a README or a ``.git/`` folder is not the model.
Each file's sha256 is cached per (path, inode, size, mtime) within the process, so a plan hashes ~90 MB of weights once.
No torch or transformers import: ``edgeport run --dry-run`` plans without them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

MODEL_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".json", ".txt", ".model")

_FILE_DIGESTS: dict[tuple[str, int, int, int], str] = {}


def file_digest(path: Path) -> str:
    """sha256 of a file, cached per (resolved path, inode, size, mtime_ns) for the life of the process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key not in _FILE_DIGESTS:
        from ..pipeline.manifest import sha256_file

        _FILE_DIGESTS[key] = sha256_file(path)
    return _FILE_DIGESTS[key]


def model_files_digest(directory: Path) -> dict[str, str]:
    """File name -> sha256 for the model files at the top level of a Hugging Face directory."""
    return {p.name: file_digest(p) for p in sorted(directory.iterdir())
            if p.is_file() and not p.name.startswith(".") and p.suffix in MODEL_SUFFIXES}


def model_source(spec: str) -> dict:
    """A JSON-able description of exactly what ``spec`` loads; a spec that does not resolve says why (the
    stage's preflight reports it properly: a plan, ``--dry-run`` included, does not fail on it)."""
    from importlib import metadata

    from ..errors import EdgeportError
    from .loading import BUILTIN_TEACHERS, resolve_model_dir

    try:
        resolved = resolve_model_dir(spec)
    except EdgeportError as exc:
        return {"spec": spec, "error": str(exc)}
    if not isinstance(resolved, Path):
        return {"hub": resolved, "cached_commit": _hub_cached_commit(resolved)}
    source: dict = {"files": model_files_digest(resolved)}
    if spec.startswith("builtin:"):
        package = BUILTIN_TEACHERS[spec.split(":", 1)[1]][0]
        try:
            version = metadata.version(package.replace("_", "-"))
        except metadata.PackageNotFoundError:
            version = "unknown"
        source |= {"builtin": spec, "package": package, "version": version}
    return source


def model_source_digest(spec: str) -> str:
    return hashlib.sha256(json.dumps(model_source(spec), sort_keys=True).encode()).hexdigest()


def _hub_cached_commit(repo_id: str) -> str | None:
    """The commit ``refs/main`` points at in the local Hugging Face cache, or None before the first download."""
    cache = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"), "hub")
    ref = Path(cache) / f"models--{repo_id.replace('/', '--')}" / "refs" / "main"
    try:
        return ref.read_text(encoding="utf-8").strip()
    except OSError:
        return None
