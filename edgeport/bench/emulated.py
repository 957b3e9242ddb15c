"""``emulated`` evidence: guest instructions per inference on a device profile's CPU model, under qemu-aarch64.

The artifact runs on the aarch64 build of its runtime (``arm.runner.ArmRunner``: the host's runtime versions, the
CPU model's features and ``/proc/cpuinfo``, so the kernels a phone with that core picks), and QEMU's plugin counts
the instructions of each call (``arm.counting``). A count is **instructions, never milliseconds**: it is not a
latency, never satisfies a latency budget (``api.best_latency`` does not read it) and is shown apart from the
three latency kinds. Counts are near-deterministic (the same row gives the same count to ~0.1%), so few calls do.

Per (artifact, CPU model), two fresh guests, one thread (the total work; more threads add a little of their own):

* ``fixed``: one full row of the fixed length (``host.tokenizer_feed``), ``1 + calls`` times: ``first`` is the
  process's first inference (XNNPACK packs weights, ORT plans memory: what an app's first call costs), ``steady``
  the median of the rest (their min/max beside it).
* ``workload``: a seeded sample of the workload's rows, each at its own length (TFLite: its bucket), run twice:
  ``first`` is the cold first call (the first sampled row), the rest of that pass is in ``first_pass_mean``, and
  the second pass gives the steady per-row counts (mean / p50 / p90 over rows, like the workload latency).

``load`` (the model's load, in the first guest) and ``marker`` (the markers' own count, subtracted from nothing:
it is there to show it is negligible) come with it. Cost: the emulator runs ~100-130 M guest instructions per
host CPU-second with the plugin, so a 128-token INT8 MiniLM call on a Cortex-A53 (~200 M) takes ~1.6 s.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import EdgeportError
from ..timing import Stopwatch

KIND = "emulated"
UNIT = "instructions"


@dataclass(frozen=True)
class EmulatedPlan:
    """bench.emulated resolved: everything a count depends on is here, so it is in the stage's fingerprint."""
    enabled: bool
    calls: int = 3
    rows: int = 16
    seed: int = 0
    emulator: str | None = None  # the counting QEMU's version
    plugin_code: str | None = None  # sha256 of insn_count.c (the header follows the emulator's version)
    guest_code: str | None = None  # arm.prepare.guest_code: arm/guest.py (its markers), the ExecuTorch shim
    guest_key: str | None = None  # arm.prepare.cache_key: the guest's root, wheels and emulator
    notes: tuple[str, ...] = field(default=())
    required: bool = False  # bench.emulated: on (a plugin that cannot be built is an error, not a note)

    def summary(self) -> dict:
        """What the bench stage's metrics say about it (the counts themselves are in each row's ``emulated``)."""
        counted = {"rows": self.rows, "calls": self.calls, "sample_seed": self.seed, "emulator": self.emulator}
        return {"enabled": self.enabled, "notes": list(self.notes)} | (counted if self.enabled else {})


def plan(mode: str, calls: int, rows: int, seed: int | None) -> EmulatedPlan:
    """``mode``: bench.emulated (off / auto / on). ``auto`` without a counting emulator: off, with a note;
    ``on`` without it: an error naming what to install."""
    from ..arm.counting import SOURCE, CounterMissing, counting_emulator
    from ..arm.prepare import cache_key, guest_code, wheel_versions

    if mode == "off":
        return EmulatedPlan(False, notes=("instructions not counted: bench.emulated: off",))
    try:
        emu = counting_emulator()
    except CounterMissing as exc:
        if mode == "on":
            raise EdgeportError(f"bench.emulated: on, but {exc}") from None
        return EmulatedPlan(False, notes=(f"instructions not counted (bench.emulated: auto): {exc}",))
    return EmulatedPlan(True, calls, rows, seed or 0, emu.version, _sha(SOURCE), guest_code(),
                        cache_key(emu, wheel_versions())[0], required=mode == "on")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Counting:
    """Counts for the bench: one measurement per (artifact file, CPU model), shared by the profiles naming it."""

    def __init__(self, p: EmulatedPlan):
        from ..arm.counting import counter

        self.plan, self.counter = p, counter()
        self._done: dict[tuple[str, str], dict] = {}

    def measure(self, path: Path, target, fixed_len: int | None, feeds: list | None) -> dict | None:
        """The ``emulated`` entry of ``path`` on ``target`` (None: the target names no CPU model); the fixed
        length is the one ``api.bench_artifact`` times: the artifact's static length, else ``fixed_len``."""
        if not target.cpu_model:
            return None
        model = next((m for m in target.cpu_model if self.counter.emulator.supports(m)), None)
        if model is None:
            return {"kind": KIND, "not_covered": f"QEMU {self.counter.emulator.version} knows none of "
                                                 f"{target.name}'s CPU models {list(target.cpu_model)}"}
        key = (str(path), model)
        if key not in self._done:
            self._done[key] = count(path, model, fixed_len, feeds, self.plan, self.counter)
        return self._done[key]


class NoCounting:
    """bench.emulated off (or auto without an emulator): no ``emulated`` entry anywhere."""

    def __init__(self, p: EmulatedPlan):
        self.plan = p

    @staticmethod
    def measure(path, target, fixed_len, feeds) -> None:
        return None


def counting(p: EmulatedPlan) -> Counting | NoCounting:
    """What the bench counts with: nothing when off; under ``auto``, nothing (with the reason as a note) when the
    plugin cannot be built here (no gcc, no header); under ``on`` that is an error."""
    from ..arm.counting import CounterMissing

    if not p.enabled:
        return NoCounting(p)
    try:
        return Counting(p)
    except CounterMissing as exc:
        if p.required:
            raise EdgeportError(f"bench.emulated: on, but {exc}") from None
        return NoCounting(replace(p, enabled=False, notes=p.notes + (
            f"instructions not counted (bench.emulated: auto): {exc}",)))


def count(path: Path, model: str, fixed_len: int, feeds: list | None, p: EmulatedPlan, counter) -> dict:
    """Fixed and workload counts of one artifact on one CPU model, or ``not_covered`` with the reason."""
    from ..arm.runner import NotRunnable
    from ..errors import ArtifactError
    from .api import artifact_info
    from .host import tokenizer_feed

    info = artifact_info(Path(path))
    fixed_len = info["static_seq_len"] or fixed_len or info["export_seq_len"]
    print(f"  counting instructions: {Path(path).name} on qemu-aarch64 -cpu {model} ...", flush=True)
    clock = Stopwatch().start()
    try:
        fixed = _fixed(path, model, tokenizer_feed(path, fixed_len), p.calls, counter)
        real = _workload(path, model, [feeds[i] for i in _sample(len(feeds), p.rows, p.seed)], counter) \
            if feeds else None
    except (NotRunnable, ArtifactError) as exc:
        return {"kind": KIND, "cpu_model": model, "not_covered": str(exc)}
    return {"kind": KIND, "unit": UNIT, "cpu_model": model, "emulator": counter.emulator.version,
            "plugin": counter.digest, "threads": 1, "fixed": fixed, "workload": real,
            "emulation_s": round(clock.seconds, 1)}


def _fixed(path: Path, model: str, feed: dict, calls: int, counter) -> dict:
    spans = _run(path, model, [feed] * (1 + calls), counter)
    steady = spans["call"][1:]
    return {"input": "fixed", "seq_len": int(feed["input_ids"].shape[1]), "first": spans["call"][0],
            "steady": int(np.median(steady)), "steady_min": min(steady), "steady_max": max(steady),
            "calls": len(steady), "load": spans["load"][0], "marker": spans["empty"][0]}


def _workload(path: Path, model: str, rows: list[dict], counter) -> dict:
    calls = _run(path, model, rows + rows, counter)["call"]
    first_pass, steady = np.asarray(calls[:len(rows)]), np.asarray(calls[len(rows):])
    p50, p90 = np.percentile(steady, [50, 90])
    return {"input": "workload", "rows": len(rows), "tokens_mean": round(float(np.mean(
        [r["input_ids"].shape[1] for r in rows])), 1), "first": int(first_pass[0]),
        "first_tokens": int(rows[0]["input_ids"].shape[1]), "first_pass_mean": int(first_pass[1:].mean())
        if len(rows) > 1 else None, "mean": int(steady.mean()), "p50": int(p50), "p90": int(p90)}


def _run(path: Path, model: str, feeds: list[dict], counter) -> dict[str, list[int]]:
    """Every feed through one fresh guest with the counter; the spans it counted."""
    from ..arm.runner import ArmRunner

    with ArmRunner(path, model, 1, counter=counter) as runner:
        for feed in feeds:
            runner(**feed)
        spans = runner.spans()
    if len(spans["call"]) != len(feeds):
        raise EdgeportError(f"{path} on {model}: {len(spans['call'])} counted calls for {len(feeds)} feeds: the "
                            f"guest's markers and the plugin disagree")
    return {k: [int(x) for x in v] for k, v in spans.items()}


def _sample(n: int, cap: int, seed: int) -> list[int]:
    """The workload rows counted: all, or ``cap`` drawn without replacement (seeded), in their order (validate's ARM
    sample rule, not imported: bench's code fingerprint would then follow validate's modules)."""
    if n <= cap:
        return list(range(n))
    return sorted(int(i) for i in np.random.default_rng(seed).choice(n, size=cap, replace=False))


def markdown(rows: list[dict], p: EmulatedPlan) -> str:
    """The bench's instruction table (millions), one line per (artifact, profile) counted; then the notes."""
    counted = [r for r in rows if r.get("emulated")]
    lines = [f"- {n}" for n in p.notes]
    if counted:
        lines = ["", f"Instructions per inference (kind `emulated`: counted under qemu-aarch64 "
                 f"{p.emulator}, one thread; millions; not a time). Fixed: the first call, then the median of "
                 f"{p.calls} more; workload: {p.rows} sampled rows (seeded by {p.seed}) at their own length, the "
                 f"cold first call, then a steady pass.", "", "| artifact | profile | CPU model | fixed seq | "
                 "fixed first M | fixed steady M | workload first M | workload mean M | workload p50 M | "
                 "workload p90 M | emulation s |", "|---|---|---|---|---|---|---|---|---|---|---|",
                 *(table_line(r["artifact_name"], r["target"], r["emulated"]) for r in counted)] + lines
    return "\n".join(lines) + "\n" if lines else ""


def table_line(artifact: str, target: str, e: dict) -> str:
    if "not_covered" in e:
        return f"| {artifact} | {target} | {e.get('cpu_model', '-')} | not covered: {e['not_covered'][:160]} ||||||||"
    f, w = e["fixed"], e.get("workload") or {}
    return (f"| {artifact} | {target} | {e['cpu_model']} | {f['seq_len']} | {_m(f['first'])} | {_m(f['steady'])} | "
            f"{_m(w.get('first'))} | {_m(w.get('mean'))} | {_m(w.get('p50'))} | {_m(w.get('p90'))} | "
            f"{e['emulation_s']} |")


def _m(count: int | None) -> str:
    return "-" if count is None else f"{count / 1e6:.1f}"


def text_line(e: dict) -> str:
    """``edgeport bench --emulated``'s line: the counts in millions of instructions, said to be no time."""
    if "not_covered" in e:
        return f"not covered: {e['not_covered']}"
    f, w = e["fixed"], e.get("workload")
    line = (f"{e['cpu_model']}, millions of instructions per inference (not a time): fixed ({f['seq_len']}) first "
            f"{_m(f['first'])}, steady {_m(f['steady'])}")
    if w:
        line += (f"; workload ({w['rows']} rows) first {_m(w['first'])}, mean {_m(w['mean'])}, p50 {_m(w['p50'])}, "
                 f"p90 {_m(w['p90'])}")
    return line + f"; {e['emulation_s']} s of emulation"
