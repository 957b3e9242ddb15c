"""Bench stage: the one home of latency. Every exported/quantized artifact on every ``bench.targets`` profile.

Per (artifact, target), in ``edgeport.bench.bench_artifact``'s format (the same as ``edgeport bench``):
* ``host``: measured here, in the artifact's own runtime, when the profile is this machine (``kind: host``):
  the fixed-length figure (one full ``seq_len`` row, the worst case) and the workload figure (the eval split's
  own rows, one per call, at the length the runtime really computes: true length, or the smallest TFLite
  bucket), with peak memory in a fresh process;
* ``estimate``: the roofline from the artifact's counted work and the profile's hardware figures, at the fixed
  length and per row over the same workload (per-bucket estimates weighted by the split's length distribution);
* ``budgets``: the profile's budgets, judged on the workload figure of the strongest kind there is;
* ``emulated`` (``bench.emulated``, off by default: 25-50 s per artifact and CPU model for the default student):
  guest instructions per inference on the profile's CPU model under qemu-aarch64, fixed length and a sample of
  the workload, first call and steady state; instructions, never milliseconds, so no budget reads it.

Validate judges accuracy and parity only; the report renders these rows from the manifest and measures nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..pipeline import fingerprint as fp

if TYPE_CHECKING:
    from ..bench.emulated import EmulatedPlan
    from ..config import BenchConfig, DataSpec


@dataclass(frozen=True)
class BenchSettings:
    bench: BenchConfig
    seq_len: int  # tokens per fixed-length call: bench.seq_len or the export length
    workload_len: int  # workload rows are truncated where the app truncates them: min(max_seq_len, export length)
    profile: dict  # target name -> its loaded profile (targets/*.yaml as found now): one part per profile
    host: dict | None  # the machine host-kind targets are measured on (hostinfo), when any target is one
    data: DataSpec | None  # the workload: the eval split's own rows
    seed: int | None
    libs: fp.Libraries
    emulated: EmulatedPlan  # the instruction counter's emulator, plugin and guest, when bench.emulated counts


class BenchStage:
    name = "bench"
    uses_data = True  # the workload is the eval split's own rows
    distributed = False
    key_metric = "artifacts"

    def enabled(self, cfg) -> bool:
        return cfg.bench.enabled and cfg.export.enabled and bool(cfg.bench.targets)

    def inputs(self, cfg) -> dict[str, str]:
        inputs = {"export": "export"}
        if cfg.quantize.enabled:
            inputs["quantize"] = "quantize"
        return inputs

    def configure(self, cfg) -> BenchSettings:
        """The timing settings, each profile as loaded, the host measured on, the eval rows (workload) and the
        runtimes that run them. Host timings are facts about this machine: another CPU re-runs this stage."""
        from ..bench.emulated import plan as emulated_plan
        from ..hostinfo import host_identity
        from ..targets import get_target

        b, export_len = cfg.bench, cfg.export_seq_len()
        profiles = {t: get_target(t) for t in b.targets}
        return BenchSettings(
            bench=b.model_copy(update={"seq_len": b.seq_len or export_len}), seq_len=b.seq_len or export_len,
            workload_len=min(cfg.data.max_seq_len, export_len),
            profile=profiles,
            host=host_identity() if any(t.kind == "host" for t in profiles.values()) else None,
            data=cfg.data.spec() if b.workload else None, seed=cfg.run.seed if b.workload else None,
            libs=fp.libraries("model", *(f"runtime.{f}" for f in cfg.export.formats)),
            emulated=emulated_plan(b.emulated, b.emulated_calls, b.emulated_rows, cfg.run.seed))

    def run(self, ctx) -> dict:
        from ..bench.api import bench_artifact
        from ..bench.emulated import counting
        from ..bench.workload import encode_questions, encode_split

        cfg, b = ctx.cfg, ctx.cfg.bench
        targets = list(cfg.profile.values())
        artifacts = [a for role in ("export", "quantize") if role in ctx.inputs
                     for a in ctx.input_metrics(role).get("artifacts", [])]
        from ..data import model_inputs

        # the workload: the eval rows as the model reads them, one per call (an embedding model: each sentence)
        split = model_inputs(ctx.task().eval, cfg.data.task) if b.workload else None
        from ..tasks import TASKS

        # a row's label is one class; per-word tags (token-classification) are validate's to judge, not a workload's
        labelled = split is not None and split.labels and TASKS[cfg.data.task].labels == "classes"
        # rows are truncated where the app truncates them: the export length (the longest bucket)
        longest = cfg.workload_len
        counter = counting(cfg.emulated)  # counts nothing when bench.emulated is off
        rows = []
        for art in artifacts:
            path = ctx.run_dir / art["path"]
            feeds = None
            if split is not None and split.examples is not None:  # questions: every window, one call each
                feeds = encode_questions(path, split, longest, cfg.data.stride(), b.workload_rows)
            elif split is not None:
                feeds = encode_split(path, split.texts, split.pairs, longest, b.workload_rows)
            for target in targets:
                here = target.kind == "host"
                print(f"  {art['name']} on {target.name} ({'measured here' if here else 'estimated'}) ...",
                      flush=True)
                row = bench_artifact(path, target, measure_host=here, seq_len=cfg.seq_len,
                                     workload=feeds, memory=b.memory, passes=b.workload_passes,
                                     labels=split.labels[:len(feeds)] if feeds and labelled else None,
                                     warmup=b.warmup, runs=b.runs, min_seconds=b.min_seconds,
                                     emulated=counter.measure(path, target, cfg.seq_len, feeds))
                row |= {"artifact": art["path"], "artifact_name": art["name"]}
                if row["workload"]:
                    row["workload"]["split"] = f"{split.name} (eval split)" + (
                        f": {len(feeds)} windows of {len(split.head(b.workload_rows))} questions"
                        if split.examples is not None else "")
                rows.append(row)
        from ..bench.emulated import markdown as emulated_markdown

        table = self._table(rows) + emulated_markdown(rows, counter.plan)
        print(table, flush=True)
        (ctx.out / "results.json").write_text(json.dumps(rows, indent=2, default=str) + "\n")
        (ctx.out / "results.md").write_text(
            "# Latency (bench stage)\n\nHost rows: measured here, batch 1, the profile's threads. Fixed: one full "
            "row of the export length; workload: every eval row, one per call, at the length the runtime computes. "
            "Estimates for every target and the budget checks are in report.md.\n" + table + "\n")
        profiles = {t.name: {"format": t.format, "kind": t.kind, "threads": t.threads,
                             "budgets": t.budgets.model_dump(mode="json")} for t in targets}
        return {"artifacts": len(artifacts), "targets": list(b.targets), "profiles": profiles, "results": rows,
                "workload_split": f"{split.name} (eval split)" if split is not None else None,
                "workload_rows": len(feeds) if split is not None and artifacts else 0,
                "emulated": counter.plan.summary()}

    @staticmethod
    def _table(rows: list[dict]) -> str:
        """Host rows: fixed-length and workload figures side by side (the estimates are in the report)."""
        lines = ["", "| artifact | size MB | fixed p50 ms (seq) | workload mean ms | workload p50 ms | workload p90 ms | "
                 "workload accuracy % |", "|---|---|---|---|---|---|---|"]
        for r in (r for r in rows if r.get("host")):
            real = (r.get("workload") or {}).get("host") or {}
            cell = lambda k: f"{real[k]:.3f}" if k in real else "-"  # noqa: E731
            acc = f"{real['accuracy'] * 100:.2f}" if "accuracy" in real else "-"  # of the logits it computed
            lines.append(f"| {r['artifact_name']} | {r['size_bytes'] / 1e6:.2f} | {r['host']['p50_ms']:.3f} "
                         f"({r['host']['seq_len']}) | {cell('mean_ms')} | {cell('p50_ms')} | {cell('p90_ms')} | {acc} |")
        return "\n".join(lines) + "\n" if len(lines) > 3 else ""
