"""``runs/<name>/manifest.json``: per stage its fingerprint, status, outputs with sha256, metrics and timings.

The manifest is the single source of truth for what a run has produced: a stage is done only when the manifest
says so *and* its outputs still hash to what the manifest recorded. It is always replaced atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from .. import __version__
from .faults import fault_point

MANIFEST = "manifest.json"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# Model cards: the report stage (it runs last and has every figure) writes a README.md into each model and artifact
# directory of earlier stages. They are documentation owned by the report stage - no stage reads them - so they are
# left out of the output hashes and of the "unexpected file" check: writing them must not make upstream stages look
# tampered with (and re-run everything).
DOC_FILES = frozenset({"README.md"})


def _tree_files(directory: Path) -> list[Path]:
    return [p for p in sorted(directory.rglob("*")) if p.is_file() and p.name not in DOC_FILES]


def hash_tree(directory: Path, relative_to: Path) -> dict[str, str]:
    """sha256 of every file under ``directory`` (model cards aside), keyed by its path relative to ``relative_to``."""
    return {str(p.relative_to(relative_to)): sha256_file(p) for p in _tree_files(directory)}


def hash_tree_paths(directory: Path, relative_to: Path) -> list[str]:
    return [str(p.relative_to(relative_to)) for p in _tree_files(directory)]


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a sibling temp file, fsync, then rename over the target: readers see old or new, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        half = len(text) // 2
        f.write(text[:half])
        f.flush()
        fault_point("manifest.tmp-partial")
        f.write(text[half:])
        f.flush()
        os.fsync(f.fileno())
    fault_point("manifest.tmp-written")
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Manifest:
    def __init__(self, run_dir: Path, data: dict | None = None):
        self.run_dir = run_dir
        self.data = data or {"edgeport_version": __version__, "stages": {}}

    @classmethod
    def load(cls, run_dir: Path) -> "Manifest":
        path = run_dir / MANIFEST
        if not path.is_file():
            return cls(run_dir)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            # An unreadable manifest cannot vouch for anything: start afresh, every stage re-runs.
            return cls(run_dir)
        if not isinstance(data, dict) or not isinstance(data.get("stages"), dict):
            return cls(run_dir)
        return cls(run_dir, data)

    @property
    def stages(self) -> dict[str, dict]:
        return self.data["stages"]

    def entry(self, stage: str) -> dict | None:
        return self.stages.get(stage)

    def save(self) -> None:
        self.data["edgeport_version"] = __version__
        self.data["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        atomic_write_text(self.run_dir / MANIFEST, json.dumps(self.data, indent=2, sort_keys=False) + "\n")

    def verify(self, stage: str) -> str | None:
        """None when the stage's recorded outputs are all present and intact, else why not."""
        entry = self.entry(stage)
        if not entry or entry.get("status") != "done":
            return "not done" if not entry else f"status is '{entry.get('status')}'"
        outputs = entry.get("outputs") or {}
        if not outputs:
            return "no outputs recorded"
        for rel, digest in outputs.items():
            path = self.run_dir / rel
            if not path.is_file():
                return f"output {rel} is missing"
            if sha256_file(path) != digest:
                return f"output {rel} does not match its recorded sha256 (changed or corrupted)"
        # A file dropped into a published stage dir (say a pytorch_model.bin beside model.safetensors) could be
        # read by a consumer, so the directory must hold exactly what was recorded.
        stage_dir = self.run_dir / stage
        if stage_dir.is_dir():
            extra = sorted(set(hash_tree_paths(stage_dir, self.run_dir)) - set(outputs))
            if extra:
                return f"unexpected file {extra[0]} in {stage}/ (not recorded in the manifest)"
        return None

    def outputs_digest(self, stage: str) -> str:
        """One hash over a stage's outputs: downstream fingerprints include it.

        ``<stage>/metrics.json`` is left out: it holds wall-clock timings, so a re-run that produced the same
        artifacts would otherwise still re-run every consumer. (It is still checksummed by ``verify``.)
        """
        outputs = (self.entry(stage) or {}).get("outputs") or {}
        consumed = {k: v for k, v in outputs.items() if k != f"{stage}/metrics.json"}
        return hashlib.sha256(json.dumps(consumed, sort_keys=True).encode()).hexdigest()
