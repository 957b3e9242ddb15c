"""Typed gate results: what validate decided about each artifact's bytes, read back by every consumer.

A ``Gate`` is one check (label agreement, a drop, a logit tolerance, builtin ops, ...) with one of three states:

* ``pass``          the evidence meets the limit;
* ``inconclusive``  the point estimate misses the limit but the eval rows cannot confirm it (too few rows), or the
                    limit cannot be judged on this evidence;
* ``fail``          the limit is missed, with the evidence the gate's rule asks for.

An ``ArtifactVerdict`` is every gate of one artifact, tied to the sha256 of the file that was judged. Readers
(report, model cards, "what to ship", ``edgeport android`` / ``mediapipe``, CI) use these objects, never the
wording of a message: ``verdict.state`` and ``verdict.gates[i].state`` are the decision, ``message`` is for people.
``load_verdicts(run_dir)`` returns every recorded artifact with its verdict as it stands now, and says when a verdict
no longer describes the bytes on disk (the file changed, or validate ran on an earlier version of it).

Serialised form (``validate/results.json`` rows and the validate stage's metrics): ``ArtifactVerdict.to_dict()``
under the row's ``"verdict"`` key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path


class State(str, Enum):
    PASS = "pass"
    INCONCLUSIVE = "inconclusive"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        return {"pass": 0, "inconclusive": 1, "fail": 2}[self.value]


def worst(states) -> State:
    """The combined state of several gates: any fail fails, else any inconclusive is inconclusive."""
    return max((State(s) for s in states), key=lambda s: s.rank, default=State.PASS)


@dataclass(frozen=True)
class Gate:
    name: str  # e.g. "agreement_vs_fp32", "drop_vs_teacher", "max_abs_diff", "builtin_ops"
    state: State
    value: float | str | None = None
    limit: float | str | None = None
    message: str = ""  # for people: what was measured, against what, and what to do
    evidence: dict = field(default_factory=dict)  # the numbers behind the state (CI, p, counts, ...)

    def to_dict(self) -> dict:
        return {"name": self.name, "state": self.state.value, "value": self.value, "limit": self.limit,
                "message": self.message, "evidence": self.evidence}

    @classmethod
    def from_dict(cls, d: dict) -> "Gate":
        return cls(d["name"], State(d["state"]), d.get("value"), d.get("limit"), d.get("message", ""),
                   d.get("evidence") or {})


@dataclass(frozen=True)
class ArtifactVerdict:
    artifact: str  # name, e.g. "tflite-int8"
    path: str  # relative to the run directory
    sha256: str  # of the judged file's bytes
    gates: tuple[Gate, ...] = ()

    @property
    def state(self) -> State:
        return worst(g.state for g in self.gates)

    def shippable(self, accept_inconclusive: bool = False) -> bool:
        return self.state is State.PASS or (accept_inconclusive and self.state is State.INCONCLUSIVE)

    def to_dict(self) -> dict:
        return {"artifact": self.artifact, "path": self.path, "sha256": self.sha256, "state": self.state.value,
                "gates": [g.to_dict() for g in self.gates]}

    @classmethod
    def from_dict(cls, d: dict) -> "ArtifactVerdict":
        return cls(d["artifact"], d["path"], d["sha256"], tuple(Gate.from_dict(g) for g in d.get("gates", [])))


@dataclass(frozen=True)
class Standing:
    """A verdict as it stands now: ``problem`` is None when it still describes the artifact's bytes on disk."""

    verdict: ArtifactVerdict | None
    problem: str | None

    def shippable(self, accept_inconclusive: bool = False) -> bool:
        return self.problem is None and self.verdict is not None and self.verdict.shippable(accept_inconclusive)

    @property
    def shown(self) -> str:
        """How reports name it: PASS, INCONCLUSIVE, FAIL, or STALE/NONE when no verdict stands for these bytes."""
        if self.verdict is None:
            return "NONE"
        return "STALE" if self.problem else self.verdict.state.value.upper()

    def to_dict(self) -> dict:
        return {"verdict": None if self.verdict is None else self.verdict.to_dict(), "problem": self.problem}

    @classmethod
    def from_dict(cls, d: dict) -> "Standing":
        v = d.get("verdict")
        return cls(None if v is None else ArtifactVerdict.from_dict(v), d.get("problem"))


def load_verdicts(run_dir: Path) -> dict[str, Standing]:
    """Every artifact export/quantize recorded, with validate's verdict when it still describes those bytes.

    A verdict stands only when validate is done, its verdict's sha256 equals the sha256 the manifest records for
    that artifact now, and the file on disk still hashes to it; otherwise ``problem`` says which of these broke.
    """
    from .pipeline.manifest import Manifest

    manifest = Manifest.load(run_dir)
    entry = manifest.entry("validate") or {}
    judged = {}
    if entry.get("status") == "done":
        for row in entry.get("metrics", {}).get("artifacts", []):
            if isinstance(row.get("verdict"), dict):
                v = ArtifactVerdict.from_dict(row["verdict"])
                judged[v.artifact] = v
    out: dict[str, Standing] = {}
    for stage in ("export", "quantize"):
        outputs = (manifest.entry(stage) or {}).get("outputs", {})
        for art in (manifest.entry(stage) or {}).get("metrics", {}).get("artifacts", []):
            out[art["name"]] = _standing(run_dir, art, outputs.get(art["path"]), judged.get(art["name"]), entry)
    return out


def _standing(run_dir: Path, art: dict, recorded: str | None, verdict: ArtifactVerdict | None,
              validate: dict) -> Standing:
    from .pipeline.manifest import sha256_file

    name, path = art["name"], run_dir / art["path"]
    if verdict is None:
        why = "validate has not finished" if validate.get("status") != "done" else "validate did not judge it"
        return Standing(None, f"{name}: no validate verdict ({why}); run the pipeline through validate")
    if recorded is None or not path.is_file():
        return Standing(verdict, f"{name}: {art['path']} is missing or not recorded in the manifest; re-run the pipeline")
    if verdict.sha256 != recorded:
        return Standing(verdict, f"{name}: validate judged other bytes (sha256 {verdict.sha256[:12]}) than the "
                                 f"manifest records now ({recorded[:12]}); re-run the pipeline so validate judges them")
    if sha256_file(path) != recorded:
        return Standing(verdict, f"{name}: {art['path']} changed on disk since it was recorded (sha256 differs); "
                                 f"re-run the pipeline to rebuild and re-validate it")
    return Standing(verdict, None)
