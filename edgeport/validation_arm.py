"""ARM parity in validate: each artifact a device ships, run on the device's CPU model under qemu-aarch64.

A phone runs the aarch64 kernels of its runtime, chosen by its CPU (no dot product on an A53, SDOT on A55/A76,
I8MM on newer cores), not the x86 kernels validate judged. For every ``bench.targets`` profile with a
``cpu_model`` (``targets/*.yaml``), every artifact in the profile's format runs in one guest process
(``arm.runner.ArmRunner``: the same runtime version, built for aarch64) over the eval split, or a seeded sample of
``validate.arm_rows`` when the split is larger, one row per call at batch 1 as shipped (one thread: thread count
does not change XNNPACK's or ONNX Runtime's results, only the emulated cost).

Gates (typed, three-state like every other; named ``arm.<profile>.<gate>``):

* Against the fp32 torch model, the rules of ``validation_gates.RULES`` on the ARM logits with the artifact's own
  resolved tolerance: a device must meet the budget the x86 artifact was judged on (fp32 parity or INT8
  agreement with its tie band, drop, max/mean |Δlogit|).
* Against the x86 result of the same artifact on the same rows (``vs_x86_agreement``, ``vs_x86_max_abs``): two
  sound computations of one quantized graph may differ by kernel rounding, by no more than the envelope the x86
  artifact was allowed around the fp32 model (its max |Δlogit| tolerance); a label may flip only on rows tied
  within that budget's band (fp32: 2 x the fp32 tolerance; INT8: the 8-bit tie band). fp32 flips beyond it fail;
  INT8 flips face the budget's agreement floor with the exact binomial rule.

A pair that cannot run (a format with no aarch64 runtime, a CPU model the installed QEMU lacks) is listed as not
covered, with the reason; a guest that dies mid-run gives an inconclusive gate (the rows could not be checked).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .errors import EdgeportError
from .timing import Stopwatch
from .verdict import Gate, State


@dataclass(frozen=True)
class ArmTarget:
    profile: str
    format: str
    cpu_model: str  # the first of the profile's cpu_model list the installed QEMU knows


@dataclass(frozen=True)
class ArmPlan:
    """validate's resolved ARM settings: all of it is in the stage's fingerprint (installing or upgrading qemu,
    a profile's CPU model, the guest's wheels or its script re-run validate)."""

    enabled: bool
    targets: tuple[ArmTarget, ...] = ()
    rows: int | None = None
    emulator: str | None = None  # QEMU's version
    guest_key: str | None = None  # arm.prepare.cache_key: suite, packages, wheel versions, emulator
    guest_code: str | None = None  # arm.prepare.guest_code: arm/guest.py and the ExecuTorch shim's source
    notes: tuple[str, ...] = ()  # what is not checked, and why
    required: bool = False  # validate.arm_parity: on (a guest that cannot be prepared is an error, not a note)


def plan(mode: str, profiles: list, rows: int | None) -> ArmPlan:
    """``mode``: validate.arm_parity; ``profiles``: the bench.targets profiles (``targets.Target``)."""
    from .arm.prepare import cache_key, guest_code, wheel_versions
    from .arm.qemu import EmulatorMissing, find_emulator

    arm = [p for p in profiles if p.cpu_model]
    if mode == "off" or not arm:
        why = "validate.arm_parity: off" if mode == "off" else "no bench.targets profile names a cpu_model"
        return ArmPlan(False, notes=(f"ARM parity not checked: {why}",))
    try:
        emu = find_emulator()
    except EmulatorMissing as exc:
        if mode == "on":
            raise EdgeportError(f"validate.arm_parity: on, but {exc}") from None
        return ArmPlan(False, notes=(f"ARM parity not checked (validate.arm_parity: auto): {exc}",))
    targets, notes = [], []
    for p in arm:
        model = next((m for m in p.cpu_model if emu.supports(m)), None)
        if model is None:
            notes.append(f"{p.name}: not covered: QEMU {emu.version} knows none of its CPU models "
                         f"{list(p.cpu_model)}")
        else:
            targets.append(ArmTarget(p.name, p.format, model))
    notes += [f"{p.name}: not an ARM device (no cpu_model)" for p in profiles if not p.cpu_model and p.kind == "device"]
    return ArmPlan(bool(targets), tuple(targets), rows, emu.version, cache_key(emu, wheel_versions())[0],
                   guest_code(), tuple(notes), mode == "on")


def sample(n: int, cap: int | None, seed: int) -> np.ndarray:
    """Row indices run under emulation: all, or ``cap`` of them drawn without replacement (seeded), in order."""
    if cap is None or n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=cap, replace=False))


class ArmCheck:
    """Runs the plan's (profile, artifact) pairs for validate and decides their gates."""

    def __init__(self, arm: ArmPlan, n_rows: int, seed: int, formats: set[str] = frozenset()):
        from .arm.prepare import GUEST_RUNTIMES, prepare

        self.plan, self.idx, self.seed, self.n_rows = arm, sample(n_rows, arm.rows, seed), seed, n_rows
        self.prepared = prepare()
        self.runs: list[dict] = []
        self.wall_seconds = 0.0  # what the ARM runs added to validate's wall time
        self.not_covered: list[dict] = []
        shipped = {t.format for t in arm.targets}
        self.notes = list(arm.notes) + [
            f"{f} artifacts: not covered: no ARM profile in bench.targets ships {f}"
            + (f"; and {GUEST_RUNTIMES[f].unsupported}" if f in GUEST_RUNTIMES and GUEST_RUNTIMES[f].unsupported
               else "") for f in sorted(formats - shipped)]

    def judge(self, art: dict, path: Path, feeds: list, x86: np.ndarray, ref: np.ndarray, labels, tolerance: dict,
              noise_rows, vcfg) -> tuple[Gate, ...]:
        """Every gate of ``art`` on every profile of its format. ``feeds``/``x86``/``ref``/``labels``/``noise_rows``:
        all eval rows, as validate ran the artifact on x86 (the sample is taken here). One guest per CPU model
        (profiles on the same model share its logits: same kernels, same bytes), the guests at once, one qemu
        process per core (each is single-threaded); records keep the plan's order."""
        from concurrent.futures import ThreadPoolExecutor

        i = self.idx
        feeds, x86, ref = [feeds[k] for k in i], x86[i], ref[i]
        labels = None if labels is None else np.asarray(labels)[i]
        noise_rows = None if noise_rows is None else np.asarray(noise_rows)[i]
        targets = [t for t in self.plan.targets if t.format == art["format"]]
        models = list(dict.fromkeys(t.cpu_model for t in targets))
        clock = Stopwatch().start()
        with ThreadPoolExecutor(max_workers=max(1, min(len(models), os.cpu_count() or 1))) as pool:
            guest = dict(zip(models, pool.map(lambda m: self._run(m, art, path, feeds), models)))
        self.wall_seconds += clock.seconds
        gates: list[Gate] = []
        for t in targets:
            where = f"qemu-aarch64 -cpu {t.cpu_model} ({t.profile})"
            arm, run = guest[t.cpu_model]
            run = {"artifact": art["name"], "profile": t.profile} | run
            if "reason" in run:
                self.not_covered.append(run)
            elif arm is None:  # the guest died loading or running it
                self.runs.append(run)
                gates.append(Gate(f"arm.{t.profile}.run", State.INCONCLUSIVE, message=f"on {where}: {run['error']}; "
                                  f"the device's kernels could not be checked", evidence={"cpu_model": t.cpu_model}))
            else:
                self.runs.append(run | _figures(arm, x86, ref))
                gates += [_named(g, t, where) for g in self._gates(art, arm, x86, ref, labels, tolerance,
                                                                    noise_rows, vcfg)]
        return tuple(gates)

    def _run(self, cpu_model: str, art, path, feeds) -> tuple[np.ndarray | None, dict]:
        """One guest run of ``art`` on ``cpu_model``: its logits (None when it could not run) and its record
        (``reason``: not runnable; ``error``: the guest died)."""
        from .arm.runner import ArmRunner, NotRunnable
        from .bench.workload import run_rows
        from .errors import ArtifactError

        print(f"  ARM parity: {art['name']} on qemu-aarch64 -cpu {cpu_model}, {len(feeds)} rows ...", flush=True)
        clock = Stopwatch().start()
        try:
            runner = ArmRunner(path, cpu_model, 1, self.prepared)
            with runner:
                arm = run_rows(runner, feeds)
        except NotRunnable as exc:
            return None, {"reason": str(exc)}
        except ArtifactError as exc:
            return None, {"cpu_model": cpu_model, "error": str(exc)}
        return arm, {"cpu_model": cpu_model, "rows": len(feeds), "sampled": len(feeds) < self.n_rows,
                     "cpu_seconds": runner.cpu_seconds, "wall_seconds": round(clock.seconds, 2),
                     "guest": runner.guest}

    @staticmethod
    def _gates(art, arm, x86, ref, labels, tolerance, noise_rows, vcfg) -> list[Gate]:
        from .validation_gates import Evidence, judge

        ev = Evidence(art["name"], art["format"], art["precision"], arm, ref, labels, tolerance,
                      noise_rows=noise_rows)
        vs_fp32 = [g for g in judge(ev, vcfg) if g.name != "builtin_ops"]
        return vs_fp32 + [decide(ev, x86, vcfg) for applies, decide in VS_X86 if applies(ev, vcfg)]

    def results(self) -> dict:
        p = self.plan
        return {"enabled": p.enabled, "emulator": p.emulator, "guest": self.prepared.facts,
                "rows": int(len(self.idx)), "eval_rows": self.n_rows,
                "sample_seed": self.seed if len(self.idx) < self.n_rows else None,
                "targets": [t.__dict__ for t in p.targets], "runs": self.runs, "not_covered": self.not_covered,
                "wall_seconds": round(self.wall_seconds, 1),
                "notes": self.notes}


def _figures(arm: np.ndarray, x86: np.ndarray, ref: np.ndarray) -> dict:
    out = {}
    for who, other in (("x86", x86), ("fp32", ref)):
        d = np.abs(arm.astype(np.float64) - other.astype(np.float64))
        out |= {f"agreement_vs_{who}": round(float((arm.argmax(-1) == other.argmax(-1)).mean()), 6),
                f"max_abs_vs_{who}": float(d.max()), f"mean_abs_vs_{who}": float(d.mean())}
    return out


def _named(g: Gate, t: ArmTarget, where: str) -> Gate:
    return replace(g, name=f"arm.{t.profile}.{g.name}", message=f"on {where}: {g.message}",
                   evidence=g.evidence | {"cpu_model": t.cpu_model, "profile": t.profile})


# ----------------------------------------------------------------------------------- against the x86 result


def vs_x86_agreement(ev, x86: np.ndarray, vcfg) -> Gate:
    """Labels against the x86 run of the same artifact: flips on rows whose x86 margin is within the budget's band
    are sound rounding (reported); fp32 fails on any other flip, INT8 faces the budget's floor (binomial rule)."""
    from .stats import agreement_test
    from .validation_gates import evidence_rule, int8_band, int8_floor, margins

    flipped = ev.logits.argmax(-1) != x86.argmax(-1)
    band = int8_band(ev) if ev.precision == "int8" else 2 * float(ev.tolerance["max_abs"])
    tied = flipped & (margins(x86) <= band)
    counted = int((flipped & ~tied).sum())
    if ev.precision != "int8":
        state = State.FAIL if counted else State.PASS
        text = f"label parity with the x86 run: {counted} of {len(flipped)} rows flipped vs limit 0"
        return Gate("vs_x86_agreement", state, value=counted, limit=0, message=text + _tied(tied),
                    evidence={"n": len(flipped), "flips": int(flipped.sum()), "tied_flips": int(tied.sum())})
    floor = int8_floor(ev, vcfg)
    s = agreement_test(~(flipped & ~tied), floor) | {"tied_flips": int(tied.sum())}
    state = evidence_rule(s["agreement"] < floor, s["p_below"], vcfg.significance)
    text = (f"label agreement with the x86 run {s['agreement']:.4f} on {s['n']} rows ({s['flips']} flipped beyond "
            f"8-bit noise, one-sided binomial p={s['p_below']:.2g}) vs limit >= {floor}")
    return Gate("vs_x86_agreement", state, value=s["agreement"], limit=floor, message=text + _tied(tied),
                evidence=s)


def _tied(tied: np.ndarray) -> str:
    n = int(tied.sum())
    return f"; {n} more flipped on rows tied within the budget's band, not counted" if n else ""


def vs_x86_max_abs(ev, x86: np.ndarray, vcfg) -> Gate:
    d = float(np.abs(ev.logits.astype(np.float64) - x86.astype(np.float64)).max())
    limit = float(ev.tolerance["max_abs"])
    return Gate("vs_x86_max_abs", State.FAIL if d > limit else State.PASS, value=d, limit=limit,
                message=f"max abs Δlogit vs the x86 run {d:.3g} vs limit <= {limit:.3g} (the artifact's own "
                        f"tolerance around the fp32 model: two sound computations of it differ by less)",
                evidence={"mean_abs": float(np.abs(ev.logits.astype(np.float64) - x86).mean())})


# the gates against the x86 result: (when it applies, how it decides); the |Δlogit| one follows
# validate.check_tolerances like every tolerance gate
VS_X86 = ((lambda ev, v: True, vs_x86_agreement), (lambda ev, v: v.check_tolerances, vs_x86_max_abs))


def markdown(res: dict) -> str:
    """results.md's ARM section: one line per (artifact, profile) run, then what was not covered."""
    lines = ["", "## ARM parity (emulated: qemu-aarch64, the device's CPU model)", ""]
    if res.get("runs"):
        lines += [f"QEMU {res['emulator']}; {res['rows']} eval rows"
                  + (f" (a sample seeded by run.seed {res['sample_seed']})" if res.get("sample_seed") is not None else "")
                  + f", batch 1, one thread; {res.get('wall_seconds', 0):.0f} s of wall time added to validate "
                  f"(the profiles' guests in parallel); guest wheels "
                  + ", ".join(f"{k} {v}" for k, v in res["guest"]["wheels"].items()) + ".", "",
                  "| artifact | profile | CPU model | rows | agreement vs x86 % | max / mean abs Δ vs x86 | "
                  "agreement vs fp32 % | max / mean abs Δ vs fp32 | guest CPU s |", "|---|---|---|---|---|---|---|---|---|"]
        for r in res["runs"]:
            if "error" in r:
                lines.append(f"| {r['artifact']} | {r['profile']} | {r['cpu_model']} | - | {r['error'][:120]} |||||")
                continue
            lines.append(f"| {r['artifact']} | {r['profile']} | {r['cpu_model']} | {r['rows']} | "
                         f"{r['agreement_vs_x86'] * 100:.2f} | {r['max_abs_vs_x86']:.3g} / {r['mean_abs_vs_x86']:.3g} | "
                         f"{r['agreement_vs_fp32'] * 100:.2f} | {r['max_abs_vs_fp32']:.3g} / {r['mean_abs_vs_fp32']:.3g} | "
                         f"{r['cpu_seconds']} |")
    lines += [f"- not covered: {c['artifact']} on {c['profile']}: {c['reason']}" for c in res.get("not_covered", [])]
    lines += [f"- {n}" for n in res.get("notes", [])]
    return "\n".join(lines) + "\n"
