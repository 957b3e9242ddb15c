"""CLI commands ``edgeport targets``, ``edgeport bench`` and ``edgeport report`` (registered by edgeport.cli).

Kept out of cli.py so the command table stays thin; nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path


def cmd_targets(args) -> int:
    from ..targets import all_targets, search_dirs

    targets = all_targets()
    print(f"{'name':<18} {'kind':<7} {'format':<12} {'thr':>3} {'seq':>4} {'p90 ms':>7} {'size MB':>8} {'mem MB':>7}  description")
    for t in targets.values():
        b = t.budgets
        print(f"{t.name:<18} {t.kind:<7} {t.format:<12} {t.threads:>3} {t.seq_len:>4} {b.latency_p90_ms:>7g} "
              f"{b.model_size_mb:>8g} {b.peak_memory_mb:>7g}  {t.description}")
    if args.verbose:
        for t in targets.values():
            print(f"\n{t.name} ({t.path}): {t.hardware.soc}")
            if t.cpu_model:  # validate's ARM parity runs the first one the installed qemu-aarch64 knows
                print(f"  {'cpu_model (QEMU)':<22} {', '.join(t.cpu_model)}")
            for key, fig in t.hardware:
                if key != "soc":
                    print(f"  {key:<22} {fig.value:>9g}  {fig.source}" + (f"\n  {'':<32}derived: {fig.derived}" if fig.derived else ""))
    print(f"\nprofiles from: {', '.join(str(d) for d in search_dirs())}")
    return 0


def cmd_bench(args) -> int:
    from ..errors import EdgeportError
    from ..targets import get_target
    from .adb import AdbBenchmark, run_device_benchmark
    from .api import artifact_info, bench_artifact
    from .estimate import EstimateWarning

    bad = [f"{flag} must be {rule}, got {value}" for flag, value, ok, rule in (
        ("--threads", args.threads, args.threads is None or args.threads >= 1, "at least 1"),
        ("--warmup", args.warmup, args.warmup >= 0, "0 or more"),
        ("--runs", args.runs, args.runs >= 1, "at least 1"),
        ("--min-seconds", args.min_seconds, args.min_seconds >= 0, "0 or more")) if not ok]
    if bad:
        raise EdgeportError("; ".join(bad))
    model_dir = Path(args.model_dir) if args.model_dir else None
    if model_dir is not None and not ((model_dir / "config.json").is_file() and any(model_dir.glob("*.safetensors"))):
        raise EdgeportError(f"--model-dir {model_dir}: not a Hugging Face model directory (config.json + "
                            f"*.safetensors); point it at the run's model stage dir, e.g. runs/NAME/distill")
    target = get_target(args.target)
    if args.threads:
        target = target.model_copy(update={"threads": args.threads})
    device = None
    if args.device:
        info = artifact_info(Path(args.artifact))
        seq = info["static_seq_len"] or info["export_seq_len"] or target.seq_len  # as bench_artifact picks it
        device = run_device_benchmark(AdbBenchmark(info["file"], Path(args.benchmark_binary or "benchmark_model"),
                                                   target.threads, seq, serial=args.serial,
                                                   inputs=info["inputs"]))
    workload = _workload(args) if args.texts else None
    emulated = _emulated(args, target, workload) if args.emulated else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EstimateWarning)
        result = bench_artifact(Path(args.artifact), target, measure_host=not args.no_host,
                                model_dir=model_dir, device=device, workload=workload, emulated=emulated,
                                warmup=args.warmup, runs=args.runs, min_seconds=args.min_seconds)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    _print_bench(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(f"wrote {args.json}")
    return 0


def _workload(args) -> list:
    """Batch-1 feeds of ``--texts`` (one input per line, blank lines skipped), as the bench stage feeds the eval
    split (``api.workload_feeds``)."""
    from ..data import read_texts
    from .api import workload_feeds

    return workload_feeds(Path(args.artifact), read_texts(Path(args.texts), "--texts"), args.texts_limit)


def _emulated(args, target, workload: list | None) -> dict | None:
    """``--emulated``: the instruction counts on the profile's CPU model (an error when they cannot be counted)."""
    from ..errors import EdgeportError
    from .emulated import Counting, plan

    if not target.cpu_model:
        raise EdgeportError(f"--emulated: profile {target.name} names no cpu_model to emulate")
    return Counting(plan("on", args.emulated_calls, args.emulated_rows, 0)).measure(
        Path(args.artifact), target, None, workload)


def _print_bench(r: dict) -> None:
    from . import calibration

    print(f"{r['artifact']}  ({r['format']} {r['precision']}, {r['size_bytes'] / 1e6:.2f} MB)")
    print(f"target {r['target']}: batch 1, seq_len {r['seq_len']}, {r['threads']} thread(s)")
    for kind in ("host", "device", "estimate"):
        fig = r.get(kind)
        if not fig:
            continue
        line = f"  {kind:<9} p50 {fig.get('p50_ms', '-')} ms  p90 {fig.get('p90_ms', '-')} ms"
        if kind != "estimate":
            line += (f"  p99 {fig.get('p99_ms', '-')} ms  mean {fig.get('mean_ms', '-')} ms  runs {fig.get('runs', '-')}"
                     f"  load {fig.get('load_ms', '-')} ms  peak RSS {fig.get('peak_rss_mb', '-')} MB"
                     + (f" (in a {fig['memory_measured_in']}; model +{fig.get('model_rss_mb', '-')} MB)"
                        if fig.get("memory_measured_in") else ""))
        elif fig.get("model") == calibration.MODEL_CALIBRATED:
            line = (f"  {kind:<9} {fig['label']} ({fig['method']}; the roofline fallback: "
                    f"{fig['roofline'].get('p50_ms')} ms)")
        else:
            line += (f"  (roofline, fallback: {fig['bound']}-bound: {fig['gops']} GOP, {fig['mbytes']} MB moved; "
                     f"peak {fig['peak_gops']} GOPS, {fig['bandwidth_gbs']} GB/s, efficiency {fig['efficiency']}; "
                     f"{fig['method']})")
        print(line)
    for kind, fig in (r.get("workload") or {}).items():
        if fig:
            err = f" ± {fig['error_pct']:g}% (calibrated estimate)" if fig.get("model") == \
                calibration.MODEL_CALIBRATED else ""
            print(f"  {kind:<9} workload ({fig['rows']} rows, one per call): mean {fig['mean_ms']} ms  "
                  f"p50 {fig['p50_ms']} ms  p90 {fig['p90_ms']} ms{err}")
    if e := r.get("emulated"):
        from .emulated import text_line

        print(f"  emulated  {text_line(e)}")
    for c in r["budgets"]:
        print(f"  budget {c['metric']:<15} {str(c['value']):>9} <= {c['limit']:<7g} {'ok' if c['ok'] else 'OVER'} "
              f"({c['kind']}{', ' + c['input'] if c.get('input') else ''})")


def cmd_report(args) -> int:
    from ..report import build_report, compare, comparison_markdown, failed, load_report_json, write_step_summary

    run_dir = Path(args.run_dir)
    out = Path(args.out) if args.out else run_dir / "report-cli"
    report = build_report(run_dir, out, budget_gate=args.budget_gate, plots=not args.no_plots,
                          accept_inconclusive=args.accept_inconclusive)
    print(f"wrote {out / 'report.md'}, {out / 'report.json'}, {out / 'report.html'}"
          + "".join(f", {out / p}" for p in report["plots"]))
    from ..report.render import overall_state, verdict_state

    states = {name: verdict_state(report, name) for name in report.get("verdicts") or {}}
    print(f"gates: {overall_state(report)}" + (f" (validate: {', '.join(f'{n} {s}' for n, s in states.items())})"
                                              if states else ""))
    if report["gate_failures"]:
        print("gates failing in this run:\n" + "\n".join(f"  - {f}" for f in report["gate_failures"]))
    if not args.baseline:
        return 0
    limit = parse_percent(args.max_regression)
    rows = compare(report, load_report_json(Path(args.baseline)), limit, args.max_accuracy_drop)
    table = comparison_markdown(rows, limit, args.max_accuracy_drop)
    (out / "regression.md").write_text(table)
    (out / "regression.json").write_text(json.dumps([r.to_dict() for r in rows], indent=1) + "\n")
    print(table)
    if where := write_step_summary(table):
        print(f"appended the table to {where}")
    return 1 if failed(rows) else 0  # regressed beyond the limit, or MISSING from this run


def parse_percent(text: str) -> float:
    """'10%' -> 0.10, '0.1' -> 0.10."""
    from ..errors import EdgeportError

    try:
        value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise EdgeportError(f"--max-regression {text!r}: give a percentage like 10% or a fraction like 0.1") from None
    if not 0 < value < 10:
        raise EdgeportError(f"--max-regression {text!r}: must be above 0% and below 1000% (e.g. 10%)")
    return value


def register(sub) -> None:
    t = sub.add_parser("targets", help="list the device profiles (targets/*.yaml)")
    t.add_argument("-v", "--verbose", action="store_true", help="also print hardware figures and their sources")
    t.set_defaults(fn=cmd_targets)

    b = sub.add_parser("bench", help="latency of one artifact on a device profile (host / device / estimate)")
    b.add_argument("artifact", help="a model file (.pt/.onnx/.tflite/.pte) or its artifact directory")
    b.add_argument("--target", default="host", help="a profile name (edgeport targets) or a YAML file")
    b.add_argument("--threads", type=int, help="override the profile's thread count")
    b.add_argument("--warmup", type=int, default=10)
    b.add_argument("--runs", type=int, default=50, help="at least this many timed runs")
    b.add_argument("--min-seconds", type=float, default=2.0, help="and at least this long")
    b.add_argument("--no-host", action="store_true", help="skip the host measurement (estimate only)")
    b.add_argument("--texts", metavar="FILE", help="also time a workload: these inputs (one per line), one per "
                                                   "call at the length the runtime computes; budgets judge it")
    b.add_argument("--texts-limit", type=int, metavar="N", help="only the first N lines of --texts")
    b.add_argument("--model-dir", help="HF model dir to count the work from (default: the physical shapes the "
                                       "artifact's artifact.json carries)")
    b.add_argument("--device", action="store_true", help="also measure on an adb device with benchmark_model")
    b.add_argument("--benchmark-binary", help="LiteRT benchmark_model built for the device (e.g. android_aarch64)")
    b.add_argument("--serial", help="adb device serial (adb devices)")
    b.add_argument("--emulated", action="store_true",
                   help="also count instructions per inference on the profile's CPU model under qemu-aarch64 "
                        "(needs Debian qemu-user + gcc; a count, not a time)")
    b.add_argument("--emulated-calls", type=int, default=3, help="--emulated: steady calls after the first")
    b.add_argument("--emulated-rows", type=int, default=16, help="--emulated: --texts rows counted (seeded sample)")
    b.add_argument("--json", metavar="FILE", help="also write the full result as JSON")
    b.set_defaults(fn=cmd_bench)

    r = sub.add_parser("report", help="report.md/json + plots from a run's manifest; optional regression gate")
    r.add_argument("run_dir", help="runs/<name>")
    r.add_argument("--out", help="output folder (default RUN_DIR/report-cli; the stage's own copy is RUN_DIR/report)")
    r.add_argument("--baseline", metavar="OLD.json", help="a report.json to compare against; exit 1 on regression "
                                                          "(estimates, sizes and parity must not worsen at all)")
    r.add_argument("--max-regression", default="10%", help="headroom for host/device latency, which is noisy, "
                                                           "e.g. 10%% (default)")
    r.add_argument("--max-accuracy-drop", type=float, default=1.0, metavar="POINTS",
                   help="accuracy may drop at most this many points below the baseline (default 1)")
    r.add_argument("--budget-gate", choices=("off", "any", "all"), default="any")
    r.add_argument("--no-plots", action="store_true")
    r.add_argument("--accept-inconclusive", action="store_true",
                   help="\"what to ship\" may pick an artifact whose validate verdict is INCONCLUSIVE (a limit missed "
                        "on too little evidence to fail); by default only PASS ships")
    r.set_defaults(fn=cmd_report)
