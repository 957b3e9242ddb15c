"""Typed gate results: what validate decided about each artifact's bytes, read back by every consumer.

A ``Gate`` is one check (label agreement, a drop, a logit tolerance, builtin ops, ...) with one of three states:

* ``pass``          the evidence meets the limit;
* ``inconclusive``  the point estimate misses the limit but the eval rows cannot confirm it (too few rows), or the
                    limit cannot be judged on this evidence;
* ``fail``          the limit is missed, with the evidence the gate's rule asks for.

An ``ArtifactVerdict`` is every gate of one artifact, tied to the sha256 of the file that was judged. Readers
(report, model cards, "what to ship", ``edgeport android`` / ``mediapipe``, CI) use these objects, never the
wording of a message: ``verdict.state`` and ``verdict.gates[i].state`` are the decision, ``message`` is for people.
``load_verdicts(run_dir)`` returns every recorded artifact with its verdict as it stands now, and says
(``Standing.reason``, a ``Problem``) when a verdict no longer describes the bytes on disk: the file changed, or
validate ran on an earlier version of it (``standings`` does the same on a loaded manifest; the report uses it
without reading the files).

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


class Problem(str, Enum):
    """Why a verdict does not stand for an artifact's bytes (``Standing.reason``)."""

    NOT_JUDGED = "not_judged"  # validate has not finished, or judged nothing by that name
    STALE = "stale"  # validate judged an earlier version of the artifact (its stage re-ran since)
    UNTYPED = "untyped"  # validate's row for it carries no typed verdict (a run from before verdicts)
    MISSING = "missing"  # the model file is gone, or not among its stage's recorded outputs
    CHANGED = "changed"  # a file of the artifact's directory differs from the manifest's record


@dataclass(frozen=True)
class Standing:
    """A verdict as it stands now: ``problem`` (for people) and ``reason`` (typed) are None when it still describes
    the artifact's bytes. ``stage`` (export or quantize) and ``path`` (its model file, relative to the run
    directory) say which file that is."""

    verdict: ArtifactVerdict | None
    problem: str | None
    reason: Problem | None = None
    stage: str = ""
    path: str = ""

    def shippable(self, accept_inconclusive: bool = False) -> bool:
        return self.problem is None and self.verdict is not None and self.verdict.shippable(accept_inconclusive)

    @property
    def shown(self) -> str:
        """How reports name it: PASS, INCONCLUSIVE, FAIL, or STALE/NONE when no verdict stands for these bytes."""
        if self.verdict is None:
            return "NONE"
        return "STALE" if self.problem else self.verdict.state.value.upper()

    def to_dict(self) -> dict:
        return {"verdict": None if self.verdict is None else self.verdict.to_dict(), "problem": self.problem,
                "reason": None if self.reason is None else self.reason.value, "stage": self.stage, "path": self.path}

    @classmethod
    def from_dict(cls, d: dict) -> "Standing":
        v, reason = d.get("verdict"), d.get("reason")
        return cls(None if v is None else ArtifactVerdict.from_dict(v), d.get("problem"),
                   None if reason is None else Problem(reason), d.get("stage", ""), d.get("path", ""))


def load_verdicts(run_dir: Path, check_disk: bool = True) -> dict[str, Standing]:
    """Every artifact a finished export/quantize stage recorded, with validate's verdict when it still describes
    those bytes (see ``standings``)."""
    from .pipeline.manifest import Manifest

    return standings(Manifest.load(Path(run_dir)), check_disk)


def standings(manifest, check_disk: bool = True) -> dict[str, Standing]:
    """Per artifact of a ``done`` export/quantize stage, its verdict as it stands. A verdict stands only when

    1. validate is done and its row for the artifact carries a typed verdict;
    2. validate consumed the stage's current outputs (its recorded ``input.<stage>`` fingerprint part equals the
       digest of what the manifest records for that stage now): after the stage re-ran and validate failed,
       crashed or was not run, every verdict on that stage is stale, even one whose model bytes came out the same
       (its tokenizer or sidecar may not have);
    3. the verdict's sha256 equals the sha256 the manifest records for the model file now;
    4. with ``check_disk``, every file of the artifact's directory still hashes to its record and none was added
       (the Android and MediaPipe commands ship the tokenizer and labels beside the model). The report passes
       False: it reads the manifest alone.

    A failed or interrupted stage publishes nothing (the runner keeps the last finished entry, or none), so a
    stage whose status is not ``done`` contributes no artifact.
    """
    validate = manifest.entry("validate") or {}
    rows = {}
    if validate.get("status") == "done":
        rows = {r.get("name"): r for r in validate.get("metrics", {}).get("artifacts", []) if isinstance(r, dict)}
    out: dict[str, Standing] = {}
    for stage in ("export", "quantize"):
        entry = manifest.entry(stage) or {}
        if entry.get("status") != "done":
            continue
        for art in entry.get("metrics", {}).get("artifacts", []):
            if not isinstance(art, dict) or not art.get("name") or not art.get("path"):
                continue  # not an artifact record (a hand-edited manifest): nothing to vouch for
            out[art["name"]] = _standing(manifest, stage, art, rows.get(art["name"]), validate, check_disk)
    return out


def _standing(manifest, stage: str, art: dict, row: dict | None, validate: dict, check_disk: bool) -> Standing:
    name, rel = art["name"], art["path"]
    verdict = ArtifactVerdict.from_dict(row["verdict"]) if isinstance((row or {}).get("verdict"), dict) else None

    def refused(reason: Problem, why: str) -> Standing:
        return Standing(verdict, f"{name}: {why}", reason, stage, rel)

    if row is None:
        why = "validate has not finished" if validate.get("status") != "done" else "validate did not judge it"
        return refused(Problem.NOT_JUDGED, f"no validate verdict ({why}); run the pipeline through validate")
    judged_inputs = (validate.get("fingerprint_parts") or {}).get(f"input.{stage}")
    if judged_inputs is not None and judged_inputs != manifest.outputs_digest(stage)[:16]:
        return refused(Problem.STALE, f"validate judged an earlier version of {stage}'s outputs ({stage} re-ran "
                                      f"since, and validate did not finish after it); re-run the pipeline so "
                                      f"validate judges these bytes")
    if verdict is None:
        return refused(Problem.UNTYPED, "validate recorded no typed verdict for it (a run from before verdicts); "
                                        "re-run validate: edgeport run CONFIG --force validate")
    recorded = ((manifest.entry(stage) or {}).get("outputs") or {}).get(rel)
    if recorded is None or not (manifest.run_dir / rel).is_file():
        return refused(Problem.MISSING, f"{rel} is missing or not recorded in the manifest; re-run the pipeline")
    if verdict.sha256 != recorded:
        return refused(Problem.STALE, f"validate judged other bytes (sha256 {verdict.sha256[:12]}) than the "
                                      f"manifest records now ({recorded[:12]}); re-run the pipeline so validate "
                                      f"judges them")
    if check_disk and (changed := _changed_on_disk(manifest, stage, rel)):
        return refused(Problem.CHANGED, f"{changed}; re-run the pipeline to rebuild and re-validate it")
    return Standing(verdict, None, None, stage, rel)


def _changed_on_disk(manifest, stage: str, rel: str) -> str | None:
    """How the artifact's directory (the model file's folder) differs from the stage's recorded outputs, if it does."""
    from pathlib import PurePosixPath

    from .pipeline.manifest import hash_tree_paths, sha256_file

    folder = PurePosixPath(rel).parent
    outputs = (manifest.entry(stage) or {}).get("outputs") or {}
    recorded = {k: v for k, v in outputs.items() if PurePosixPath(k).is_relative_to(folder)}
    for key, digest in sorted(recorded.items()):
        path = manifest.run_dir / key
        if not path.is_file():
            return f"{key} is missing"
        if sha256_file(path) != digest:
            return f"{key} changed on disk since {stage} recorded it (its sha256 differs from the manifest's)"
    directory = manifest.run_dir / folder
    on_disk = hash_tree_paths(directory, manifest.run_dir) if directory.is_dir() else []
    extra = sorted(set(PurePosixPath(p).as_posix() for p in on_disk) - set(recorded))
    return f"{extra[0]} appeared beside the artifact (not recorded in the manifest)" if extra else None
