"""The report's data, gathered from a run's manifest alone (no model is loaded, nothing is re-measured).

Reads: every stage's status/timing/metrics; the artifacts listed by the export/quantize stages; the validate
stage's per-artifact results (accuracy, agreement, max |dlogit|, size), joined to an artifact only when its verdict
was taken on the bytes the manifest records now (``artifact_rows``), its ``gate_failures`` and each artifact's
typed verdict as it stands for the bytes on disk (``verdicts``, from ``verdict.load_verdicts``); the bench
stage's rows (one per artifact x target, in ``edgeport.bench.bench_artifact``'s format: fixed-length and
workload latency of each kind, budgets already judged) and the profiles it judged them with. The report
measures and estimates nothing. Key spellings vary a little between stages, so each figure is looked up under
the names it is known by.
"""

from __future__ import annotations

import time
from pathlib import Path

from .. import __version__
from ..pipeline.manifest import Manifest
from ..errors import EdgeportError

LATENCY_KINDS = ("device", "host", "estimate")  # strongest evidence first
_ALIASES = {
    "accuracy": ("accuracy", "acc", "eval_accuracy"),
    "agreement": ("agreement", "label_agreement"),
    "max_abs_diff": ("max_abs_diff", "max_abs", "max_abs_logit_diff", "max_abs_delta"),
    "mean_abs_diff": ("mean_abs_diff", "mean_abs", "mean_abs_logit_diff"),
    "size_bytes": ("size_bytes", "size"),
}


def _first(d: dict, key: str):
    for alias in _ALIASES.get(key, (key,)):
        if d.get(alias) is not None:
            return d[alias]
    return None


def load_manifest(run_dir: Path) -> Manifest:
    run_dir = Path(run_dir)
    if not (run_dir / "manifest.json").is_file():
        raise EdgeportError(f"{run_dir}: no manifest.json; pass a run directory (runs/<name>) that has run")
    manifest = Manifest.load(run_dir)
    _check_reportable(run_dir, manifest)
    return manifest


def _check_reportable(run_dir: Path, manifest: Manifest) -> None:
    """A run of a task whose report is not built (its registry entry refuses ``report.enabled``) is refused here,
    not rendered half-way: ``edgeport report RUN_DIR`` reads runs the report stage never saw."""
    from ..tasks import TASKS

    task = ((manifest.data.get("config") or {}).get("data") or {}).get("task")
    if task in TASKS and "report.enabled" in TASKS[task].unsupported:
        raise EdgeportError(f"{run_dir}: a {task} run, for which the report is not built yet; its stages' metrics "
                            f"are in {run_dir / 'manifest.json'}")


def stage_rows(manifest: Manifest) -> list[dict]:
    rows = []
    for name, entry in manifest.stages.items():
        if name == "report" and entry.get("status") == "running":
            continue  # the report stage describing itself mid-run
        metrics = entry.get("metrics") or {}
        scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool)) and k != "gate_failures"}
        rows.append({"stage": name, "status": entry.get("status"), "seconds": entry.get("seconds"),
                     "metrics": scalars})
    return rows


def artifact_rows(manifest: Manifest) -> list[dict]:
    """One row per artifact a finished export/quantize stage recorded, joined with what validate measured *on
    those bytes* (with another ``data.metric`` than accuracy, its eval value as ``metric_value`` beside the
    accuracy).

    The join is by sha256, not by name (``edgeport.verdict.standings``, reading the manifest alone): after a stage
    re-ran and validate failed, crashed or was not run, validate's figures describe other bytes, so they are left
    out and the row says why. Each row carries ``verdict`` (the ``ArtifactVerdict`` dict when it stands for these
    bytes, else None), ``verdict_state`` (pass / inconclusive / fail, or None) and ``verdict_problem`` (why there is
    no standing verdict: ``Problem`` value and text) so no reader shows "pass" for bytes nobody judged."""
    from ..verdict import Problem, standings

    metric = task_metric(manifest)["name"]
    validate = manifest.entry("validate") or {}
    validated = {v.get("name"): v for v in _as_list(validate.get("metrics", {}).get("artifacts"))}
    rows = []
    for name, standing in standings(manifest, check_disk=False).items():
        art = _recorded(manifest, standing.stage, name)
        # Legacy rows (before typed verdicts) still describe these bytes when validate consumed this very stage output.
        if standing.reason in (None, Problem.UNTYPED):
            art |= validated.get(name, {})
        row = {"name": name, "format": art.get("format"), "precision": art.get("precision"), "path": art.get("path")}
        row |= {k: _first(art, k) for k in ("accuracy", "agreement", "max_abs_diff", "mean_abs_diff", "size_bytes")}
        if metric != "accuracy":
            row["metric_value"] = art.get(f"eval_{metric}")
        # runs from before the bench stage: validate measured fixed-length host latency itself
        host = art.get("latency") if isinstance(art.get("latency"), dict) else None
        row["host_latency"] = host
        stands = standing.problem is None
        row["verdict"] = standing.verdict.to_dict() if stands else None
        row["verdict_state"] = standing.verdict.state.value if stands else None
        row["verdict_problem"] = None if stands else {"reason": standing.reason.value, "text": standing.problem}
        rows.append(row)
    return rows


def _recorded(manifest: Manifest, stage: str, name: str) -> dict:
    arts = _as_list((manifest.entry(stage) or {}).get("metrics", {}).get("artifacts"))
    return dict(next(a for a in arts if a.get("name") == name))


def latency_rows(bench: list[dict], artifacts: list[dict]) -> list[dict]:
    """Flat rows {artifact, target, kind, input, p50_ms, p90_ms, ...}: one per kind of evidence and per input
    (``fixed``: one full-length row; ``workload``: the eval split's own rows), never merged."""
    rows, seen = [], set()
    for r in bench:
        name = r.get("artifact_name") or Path(r.get("artifact", "?")).parent.name
        for kind in LATENCY_KINDS:
            for inp, fig in (("fixed", r.get(kind)), ("workload", (r.get("workload") or {}).get(kind))):
                if isinstance(fig, dict):
                    rows.append(_latency_row(name, r.get("target"), kind, fig) | {"input": inp})
                    seen.add((name, r.get("target"), kind))
    # Runs from before the bench stage: the fixed-length host latency validate recorded per artifact.
    for art in artifacts:
        host = art.get("host_latency")
        if host and (art["name"], "host", "host") not in seen and host.get("p50_ms") is not None:
            rows.append(_latency_row(art["name"], "host", "host", host) | {"input": "fixed"})
    return rows


def _latency_row(artifact: str, target: str | None, kind: str, fig: dict) -> dict:
    keep = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms", "runs", "rows", "passes", "tokens_mean", "load_ms",
            "peak_rss_mb", "model_rss_mb", "memory_measured_in", "threads", "seq_len", "bound", "efficiency",
            "method", "p90_from", "serial", "length_shares", "model", "error_pct", "label")
    return {"artifact": artifact, "target": target, "kind": kind} | {k: fig[k] for k in keep if k in fig}


def bench_rows(manifest: Manifest) -> list[dict]:
    """Per (artifact, target) results as the bench stage recorded them (validate's ``latency`` rows in runs from
    before the bench stage); none when it did not run."""
    bench = (manifest.entry("bench") or {}).get("metrics", {})
    if bench.get("results"):
        return _as_list(bench["results"])
    return _as_list(((manifest.entry("validate") or {}).get("metrics", {})).get("latency"))


def profiles(manifest: Manifest) -> dict:
    """{target: {format, kind, budgets}} as the bench stage judged with them (its fingerprint covers the YAML)."""
    return dict(((manifest.entry("bench") or {}).get("metrics") or {}).get("profiles") or {})


def budget_checks(bench: list[dict]) -> list[dict]:
    """Per (artifact, target) budget checks, with the kind of evidence each used."""
    checks = []
    for r in bench:
        name = r.get("artifact_name") or Path(r.get("artifact", "?")).parent.name
        for c in r.get("budgets") or []:
            checks.append({"artifact": name, "target": r.get("target"), "format": r.get("format")} | c)
    return checks


def collect(run_dir: Path) -> dict:
    """Everything the Markdown, JSON and plots show."""
    manifest = load_manifest(run_dir)
    artifacts = artifact_rows(manifest)
    validate = (manifest.entry("validate") or {}).get("metrics", {})
    config = manifest.data.get("config") or {}
    targets = (config.get("bench") or {}).get("targets") or (config.get("validate") or {}).get("targets") or []
    bench = bench_rows(manifest)
    return {
        "run": Path(run_dir).resolve().name, "run_dir": str(run_dir), "edgeport_version": __version__,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "stages": stage_rows(manifest), "artifacts": artifacts,
        "latency": latency_rows(bench, artifacts), "budget_checks": budget_checks(bench),
        "validate_gate_failures": list(validate.get("gate_failures") or []), "targets": targets,
        "verdicts": verdict_rows(Path(run_dir)),
        "profiles": profiles(manifest), "workload_split": (manifest.entry("bench") or {}).get("metrics", {}).get(
            "workload_split"),
        "models": model_rows(manifest), "eval_split": _eval_split(manifest), "explain": explain_summary(manifest),
        "metric": task_metric(manifest), "parity_only": parity_only(manifest),
        "arm_parity": validate.get("arm_parity"),  # validate's runs on the profiles' CPU models (emulated)
        # the bench's instruction counts (kind emulated): their own table, never latency rows
        "emulated": emulated_rows(bench),
        "emulated_plan": (manifest.entry("bench") or {}).get("metrics", {}).get("emulated"),
    }


def emulated_rows(bench: list[dict]) -> list[dict]:
    """{artifact_name, target, emulated} per (artifact, target) the bench counted instructions for."""
    return [{"artifact_name": r.get("artifact_name") or Path(r.get("artifact", "?")).parent.name,
             "target": r.get("target"), "emulated": r["emulated"]} for r in bench if r.get("emulated")]


def parity_only(manifest: Manifest) -> dict | None:
    """{texts, rows} when the run's inputs are unlabelled texts (``data.texts``): every artifact is judged by parity
    with its fp32 model only and no accuracy exists to show; None for a labelled dataset."""
    texts = ((manifest.data.get("config") or {}).get("data") or {}).get("texts")
    if texts is None:
        return None
    return {"texts": texts, "rows": _eval_split(manifest).get("rows")}


def verdict_rows(run_dir: Path) -> dict[str, dict]:
    """Per artifact, validate's typed verdict as it stands for the bytes on disk now (``verdict.load_verdicts``),
    serialised (``Standing.to_dict``): every reader (what to ship, cards, tables) decides on its state."""
    from ..verdict import load_verdicts

    return {name: standing.to_dict() for name, standing in load_verdicts(run_dir).items()}


def task_metric(manifest: Manifest) -> dict:
    """The task metric of the run (``data.metric``) and where it was used: the name, how reports title it (F1 names
    its positive class), and the splits it chose on and reports on."""
    from ..stats import metric_title

    data = (manifest.data.get("config") or {}).get("data") or {}
    name = task_metric_name(manifest)
    names = data.get("label_names")
    stages = [(manifest.entry(s) or {}).get("metrics") or {} for s in MODEL_STAGES]
    positive = next((m["positive_label"] for m in stages if m.get("positive_label")), None)
    if name == "f1" and not names and positive:
        names = ["", positive]
    select_rows = next((m.get("select_rows") for m in stages if m.get("select_rows")), None)
    return {"name": name, "title": metric_title(name, names), "positive_label": positive if name == "f1" else None,
            "select_split": "selection split (held out from the training split)", "select_rows": select_rows,
            "eval_split": _eval_split(manifest)}


MODEL_STAGES = ("teacher", "distill", "prune")


def explain_summary(manifest: Manifest) -> dict | None:
    """The explain stage's agreement table, most divergent rows and files (paths relative to the run), when it
    ran."""
    entry = manifest.entry("explain") or {}
    m = entry.get("metrics") or {}
    enabled = ((manifest.data.get("config") or {}).get("explain") or {}).get("enabled")
    if not enabled or entry.get("status") != "done" or not m.get("agreement"):  # turned off since: not shown
        return None
    return {k: m.get(k) for k in ("rows", "eval_split", "top_k", "ig_steps", "agreement", "divergent", "files")}


def model_rows(manifest: Manifest) -> list[dict]:
    """The torch models of the run, each with the split it was chosen on and the split it is reported on."""
    rows = []
    metric = task_metric_name(manifest)
    for name in MODEL_STAGES:
        m = (manifest.entry(name) or {}).get("metrics") or {}
        if m:
            rows.append({"stage": name, "params": m.get("params"), "train_rows": m.get("train_rows"),
                         # the teacher may be taken as it is (teacher.finetune: never, or a ready head)
                         "trained_here": name != "teacher" or bool(m.get("finetuned", True)),
                         "select_metric": m.get("select_metric") or "accuracy",
                         "select_value": m.get(f"select_{metric}"), "eval_value": m.get(f"eval_{metric}"),
                         "select_accuracy": m.get("select_accuracy"), "select_rows": m.get("select_rows"),
                         "eval_accuracy": m.get("eval_accuracy"), "eval_split": m.get("eval_split"),
                         "eval_rows": m.get("eval_rows"), "precision": m.get("precision"),
                         "train_seconds": m.get("train_seconds") or (m.get("recovery") or {}).get("train_seconds")})
    return rows


def task_metric_name(manifest: Manifest) -> str:
    return ((manifest.data.get("config") or {}).get("data") or {}).get("metric") or "accuracy"


def _eval_split(manifest: Manifest) -> dict:
    """Which split every artifact accuracy is on, and how many rows (one row = 100/n points)."""
    for name in ("validate", *MODEL_STAGES):
        m = (manifest.entry(name) or {}).get("metrics") or {}
        if m.get("eval_rows"):
            return {"name": m.get("eval_split") or "eval", "rows": m["eval_rows"]}
    return {}


def _as_list(value) -> list[dict]:
    if isinstance(value, dict):  # {name: {...}} is accepted as well as [{name, ...}]
        return [{"name": k} | v for k, v in value.items() if isinstance(v, dict)]
    return [v for v in (value or []) if isinstance(v, dict)] if isinstance(value, list) else []
