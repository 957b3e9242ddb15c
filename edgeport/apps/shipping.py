"""What a shipping command (``edgeport android``, ``edgeport mediapipe``) may take from a run directory.

Only an artifact whose bytes are the ones its stage recorded in the manifest and validate judged, and whose verdict
on those bytes is ``pass`` (``inconclusive`` only with ``--accept-inconclusive``). Anything else is refused before
anything is written, with ``NotShippable`` (exit 2): which artifact, why, and what to run. The decision is
``edgeport.verdict``'s typed ``Standing``/``ArtifactVerdict``, never the wording of a message.

After use, ``check_bytes`` re-hashes the file that was shipped (the copy, or the source a writer read), so a file
replaced between the check and the copy cannot slip through either.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ArtifactError
from ..verdict import ArtifactVerdict, Problem, State, load_verdicts

ACCEPT_HELP = "ship an artifact whose validate verdict is inconclusive (never one that failed)"


class NotShippable(ArtifactError):
    """The artifact may not ship; ``reason`` is the typed cause: a ``Problem`` with its verdict's standing, the
    verdict's ``State`` (fail, or inconclusive without --accept-inconclusive), or None (no such artifact)."""

    def __init__(self, name: str, reason: Problem | State | None, message: str):
        super().__init__(message)
        self.name, self.reason = name, reason


@dataclass(frozen=True)
class Shipment:
    name: str
    path: Path  # the model file in the run directory
    verdict: ArtifactVerdict
    accepted_inconclusive: bool

    def summary(self) -> str:
        """One line for the command's output: what ships and on what evidence."""
        text = f"{self.name}: validate verdict {self.verdict.state.value.upper()} on these bytes " \
               f"(sha256 {self.verdict.sha256[:12]})"
        if self.accepted_inconclusive:
            text += "; shipped anyway because --accept-inconclusive was given:\n" + _gate_lines(self.verdict)
        return text


DEFAULT_TFLITE = "tflite-int8"  # what --artifact names when a run has no quantized TFLite artifact (the refusal's name)
TFLITE_HELP = ("artifact name in the manifest (default: the run's quantized TFLite artifact: tflite-int8, or "
               "tflite-w4 when quantize.tflite is w4)")


def quantized_tflite(run_dir: Path) -> str:
    """The default artifact of ``edgeport android`` / ``mediapipe``: the one quantized TFLite artifact the run's
    quantize stage recorded (``tflite-int8``, or ``tflite-w4`` for ``quantize.tflite: w4``: its precision names it,
    ``edgeport.precision``), else ``DEFAULT_TFLITE`` (then refused by ``ship_artifact`` with the reason)."""
    from ..precision import PRECISIONS

    run_dir = Path(run_dir)
    if not (run_dir / "manifest.json").is_file():
        return DEFAULT_TFLITE
    names = load_verdicts(run_dir, check_disk=False)
    return next((f"tflite-{p}" for p, row in PRECISIONS.items() if row.quantized and f"tflite-{p}" in names),
                DEFAULT_TFLITE)


def ship_artifact(run_dir: Path, name: str, accept_inconclusive: bool = False) -> Shipment:
    """The artifact ``name`` of ``run_dir`` if it may ship, else ``NotShippable`` saying why."""
    run_dir = Path(run_dir)
    if not (run_dir / "manifest.json").is_file():
        raise NotShippable(name, None, f"{run_dir}: no manifest.json, so no '{name}' artifact; pass a run directory "
                                       f"(runs/<name>) that has run through validate")
    standing = load_verdicts(run_dir).get(name)
    if standing is None:
        raise NotShippable(name, None, _not_found(run_dir, name))
    refuse = f"refusing to ship {name} from {run_dir}"
    if standing.problem is not None:
        why = standing.problem.removeprefix(f"{name}: ")
        raise NotShippable(name, standing.reason, f"{refuse}: {why}. Nothing was written.")
    verdict = standing.verdict
    if verdict.state is State.FAIL:
        raise NotShippable(name, State.FAIL, f"{refuse}: validate's verdict on these bytes (sha256 "
                                             f"{verdict.sha256[:12]}) is FAIL:\n{_gate_lines(verdict)}\nSee "
                                             f"{run_dir / 'validate' / 'results.md'}; fix the cause and re-run the "
                                             f"pipeline, or ship another artifact (--artifact). Nothing was written.")
    if verdict.state is State.INCONCLUSIVE and not accept_inconclusive:
        raise NotShippable(name, State.INCONCLUSIVE, f"{refuse}: validate's verdict on these bytes is INCONCLUSIVE "
                                                     f"(the eval rows cannot confirm a gate):\n{_gate_lines(verdict)}\n"
                                                     f"Pass --accept-inconclusive to ship it anyway. Nothing was "
                                                     f"written.")
    return Shipment(name, run_dir / standing.path, verdict, verdict.state is State.INCONCLUSIVE)


def check_bytes(shipment: Shipment, path: Path) -> None:
    """``path`` (the shipped copy, or the source after a writer read it) must still be the bytes validate judged."""
    from ..pipeline.manifest import sha256_file

    if sha256_file(path) != shipment.verdict.sha256:
        raise NotShippable(shipment.name, Problem.CHANGED,
                           f"{path} is not the file validate judged for {shipment.name} (sha256 differs; it changed "
                           f"while being shipped?); run the command again")


def _gate_lines(verdict: ArtifactVerdict) -> str:
    shown = [g for g in verdict.gates if g.state is not State.PASS]
    return "\n".join(f"  - {g.state.value}: {g.message or g.name}" for g in shown)


def _not_found(run_dir: Path, name: str) -> str:
    from ..pipeline.manifest import Manifest

    manifest = Manifest.load(run_dir)
    known, statuses = [], []
    for stage in ("export", "quantize"):
        entry = manifest.entry(stage) or {}
        statuses.append(f"{stage}: {entry.get('status') or 'never ran'}")
        known += [a.get("name") for a in (entry.get("metrics") or {}).get("artifacts", [])]
    return (f"{run_dir}: no '{name}' artifact recorded by a finished export/quantize stage (found: "
            f"{', '.join(known) or 'none'}; {', '.join(statuses)}). Add its format to export.formats and run the "
            f"pipeline through validate")
