"""edgeport from Python: run a pipeline, read its results as typed objects, predict with an artifact.

    import edgeport
    run = edgeport.run("quick", overrides=["run.name=demo"])
    art = run.artifacts["tflite-int8"]
    art.accuracy, art.verdict            # Metric(value, split, rows) and State.PASS / INCONCLUSIVE / FAIL
    art.predict(["a gripping film"])     # [{"label": "positive", "probs": {...}}], one row per call as it ships
    edgeport.export("my-classifier/", "out/", formats=["tflite", "onnx"], int8=True, data="sst2")  # no training
    edgeport.benchmark(art, "android-lowend")  # api.bench: BenchResult (latency by kind and input, budgets)

``edgeport run`` is this module's ``run`` plus printing, ``edgeport export`` its ``export``. Errors are the CLI's
exceptions (``edgeport.errors``): bad input raises an ``EdgeportError`` (the CLI's exit 2), a failed gate a
``GateError`` (exit 1) carrying the finished ``Run`` as ``.run`` — every result is written before it is raised.
Everything is read back from the run directory's manifest and result files, so ``load_run`` gives the same objects
for a run made by the CLI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import ConfigError, EdgeportError
from .export_run import DEFAULT_FORMATS
from .pipeline.runner import GateError
from .verdict import State, load_verdicts

__all__ = ["Artifact", "BenchResult", "BudgetCheck", "ConfigError", "EdgeportError", "GateError", "Latency",
           "LoadedArtifact", "Metric", "Plan", "PlanStep", "Run", "StageResult", "State", "bench", "export",
           "load_artifact", "load_run", "plan", "run"]


@dataclass(frozen=True)
class Metric:
    """A measured value with the split it was measured on (``selection`` chose things; the eval split did not)."""

    name: str
    value: float
    split: str
    rows: int | None = None


@dataclass(frozen=True)
class StageResult:
    name: str
    status: str  # the manifest's: done, failed, ...
    seconds: float | None
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Artifact:
    """One exported or quantized file: what validate and bench measured of these bytes."""

    name: str  # e.g. tflite-int8
    path: Path  # the model file
    format: str
    precision: str
    size_bytes: int | None = None
    accuracy: Metric | None = None  # on the eval split, one row per call (validate)
    verdict: State | None = None  # None when no verdict stands for the bytes on disk
    problem: str | None = None  # why not, for people
    latency: dict = field(default_factory=dict)  # target -> bench's row (kind, fixed and workload figures)

    def predict(self, texts: list[str], pairs: list[str] | None = None, threads: int = 1) -> list[dict]:
        """Label and class probabilities per text, each text run alone as the app and validate run it."""
        return load_artifact(self.path).predict(texts, pairs, threads)

    def answer(self, question: str, context: str, threads: int = 1) -> dict:
        """A question-answering artifact's best answer span in ``context``: ``LoadedArtifact.answer``."""
        return load_artifact(self.path).answer(question, context, threads)


@dataclass(frozen=True)
class LoadedArtifact:
    path: Path

    def predict(self, texts: list[str], pairs: list[str] | None = None, threads: int = 1) -> list[dict]:
        from .runtimes import artifact_meta
        from .runtimes.text import predict

        if isinstance(texts, str):
            raise EdgeportError("predict takes a list of texts; wrap a single text in a list")
        if artifact_meta(self.path).get("task") == "question-answering":
            raise EdgeportError(f"{self.path}: a question-answering artifact answers a question about a context, "
                                f"not texts: call answer(question, context) on it")
        return predict(self.path, list(texts), list(pairs) if pairs is not None else None, threads)

    def answer(self, question: str, context: str, threads: int = 1) -> dict:
        """The best answer span of ``context`` to ``question`` (a question-answering artifact), found as validate
        and ``edgeport predict --question/--context`` find it: every window of the context alone, the best span
        over them. ``{"text", "start", "end"}`` (characters of ``context``), ``score``, ``window`` of ``windows``,
        and the window settings; ``text`` is None when no valid span exists."""
        from .runtimes.qa_text import answer

        if not isinstance(question, str) or not isinstance(context, str):
            raise EdgeportError("answer takes one question and one context, both strings")
        return answer(self.path, question, context, threads)


@dataclass(frozen=True)
class Run:
    run_dir: Path
    stages: dict[str, StageResult]
    artifacts: dict[str, Artifact]
    gate_failures: tuple[str, ...] = ()
    executed: tuple[dict, ...] = ()  # from ``run``: per stage what this call did (ran, skip, ...), seconds, key metric

    @property
    def passed(self) -> bool:
        return not self.gate_failures


@dataclass(frozen=True)
class Latency:
    """One latency figure, never mixed with another kind: ``host`` (measured here), ``device`` (measured over adb)
    or ``estimate`` (roofline from counted work and the profile's figures); ``input`` ``fixed`` (one full-length
    row per call, the worst case) or ``workload`` (the given texts, one per call at the length the runtime
    computes; p50/p90 over rows)."""

    kind: str
    input: str
    p50_ms: float | None
    p90_ms: float | None
    mean_ms: float | None = None
    rows: int | None = None  # workload: rows timed (fixed: None)


@dataclass(frozen=True)
class BudgetCheck:
    """One budget of the target profile, judged on the strongest evidence there is (``kind``: file, host, device,
    estimate; ``input``: the workload figure where measured, else the fixed one)."""

    metric: str  # model_size_mb, latency_p90_ms, peak_memory_mb
    value: float | None
    limit: float
    kind: str
    input: str | None
    ok: bool


@dataclass(frozen=True)
class BenchResult:
    """``bench``'s answer for one artifact on one target: every latency figure with its kind and input, the file
    size, the peak memory and the target's budgets checked. ``details``: ``bench_artifact``'s full result (what
    ``edgeport bench --json`` writes)."""

    artifact: Path
    target: str
    format: str
    precision: str
    size_bytes: int
    seq_len: int  # of the fixed-length figure
    threads: int
    latencies: tuple[Latency, ...]
    budgets: tuple[BudgetCheck, ...]
    peak_memory_mb: float | None = None  # host: a fresh process that loads and runs only the artifact
    details: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def kind(self) -> str | None:
        """The strongest kind of latency evidence here (device > host > estimate): the one budgets judge."""
        return next((c.kind for c in self.budgets if c.metric == "latency_p90_ms"), None)

    def latency(self, which: str = "fixed", kind: str | None = None) -> Latency | None:
        """The ``which`` figure (fixed or workload) of ``kind`` (default: the strongest there is, ``kind``)."""
        kind = kind or self.kind
        return next((lat for lat in self.latencies if lat.kind == kind and lat.input == which), None)

    @property
    def within_budgets(self) -> bool:
        return all(c.ok for c in self.budgets)


@dataclass(frozen=True)
class PlanStep:
    stage: str
    action: str  # run, skip, disabled, ...
    reason: str  # why: "changed: code.training/kd.py", "up to date", ...


@dataclass(frozen=True)
class Plan:
    run_dir: Path
    steps: tuple[PlanStep, ...]


def load_pipeline_config(config, overrides=(), params=()):
    """The pipeline config: ``params`` files (``edgeport tune``'s best_params.yaml) merged before ``overrides``."""
    if params:
        from .tune.params import load_config_with, read_param_files

        return load_config_with(str(config), read_param_files(list(params)), list(overrides),
                                source=f"{config} with --params {', '.join(map(str, params))}")
    from .config import load_config

    return load_config(str(config), list(overrides))


def plan(config: str | Path, overrides: list[str] | tuple[str, ...] = (), *, params: list[str] | tuple = (),
         until: str | None = None, force: list[str] | tuple[str, ...] = ()) -> Plan:
    """What ``run`` would do and why (``edgeport run --dry-run``); nothing is executed."""
    from .pipeline import make_plan, run_dir_for
    from .pipeline.manifest import Manifest
    from .stages import STAGES

    cfg = load_pipeline_config(config, overrides, params)
    items = make_plan(STAGES, cfg, Manifest.load(run_dir_for(cfg)), until, list(force))
    return Plan(run_dir_for(cfg), tuple(PlanStep(i.stage.name, i.action, i.reason) for i in items))


def run(config: str | Path, overrides: list[str] | tuple[str, ...] = (), *, params: list[str] | tuple = (),
        until: str | None = None, force: list[str] | tuple[str, ...] = (), accept_inconclusive: bool = False) -> Run:
    """Run the pipeline make-style (``edgeport run``): ``config`` is a YAML path or a shipped config's name,
    ``overrides`` dotted ``key=value`` strings, ``params`` YAML files merged before them. Returns the run's
    results; raises ``GateError`` (with ``.run``) when a gate failed."""
    overrides = [*overrides, *(["report.accept_inconclusive=true"] if accept_inconclusive else [])]
    return _execute(load_pipeline_config(config, overrides, params), until, force)


def export(model: str | Path, out: str | Path, *, formats: list[str] | tuple[str, ...] = DEFAULT_FORMATS,
           int8: bool = False, data: str | Path | None = None, texts: str | Path | None = None,
           targets: list[str] | tuple[str, ...] | None = None, max_seq_len: int | None = None,
           text_column: str | None = None, text_pair_column: str | None = None, label_column: str | None = None,
           eval_split: str | None = None, overrides: list[str] | tuple[str, ...] = (),
           accept_inconclusive: bool = False) -> Run:
    """Export an already fine-tuned sequence classifier (``model``: a Hugging Face directory or hub id) without
    training (``edgeport export``): export, INT8 (``int8``), validate, bench and report, as a pipeline run whose
    directory is ``out`` (new, empty, or an earlier export run; it also gets the resolved config,
    ``edgeport-export.yaml``). ``data``: a labelled dataset (a directory or a name under $EDGEPORT_DATA_DIR; label
    names from the model's config.json) for accuracy gates, or ``texts``: a file of inputs, one per line, for parity
    with the fp32 model only. ``targets``: device profiles (default: the bench section's). Raises like ``run``."""
    from .export_run import ExportRequest, prepare

    req = ExportRequest(str(model), Path(out), tuple(formats), int8, None if data is None else str(data),
                        None if texts is None else str(texts), None if targets is None else tuple(targets),
                        max_seq_len, text_column, text_pair_column, label_column, eval_split, tuple(overrides),
                        accept_inconclusive)
    return _execute(prepare(req))


def _execute(cfg, until: str | None = None, force: list[str] | tuple[str, ...] = ()) -> Run:
    """Run a loaded config make-style and read the results back (``run``, ``export``)."""
    from .environment import apply_runtime
    from .pipeline import execute
    from .pipeline.dist import is_main
    from .stages import STAGES

    apply_runtime(cfg)
    summary = execute(STAGES, cfg, until, list(force))
    # other processes of a distributed launch only trained: the main one wrote and reads the results
    result = (load_run(summary.run_dir, gate_failures=summary.gate_failures) if is_main()
              else Run(Path(summary.run_dir), {}, {}, tuple(summary.gate_failures)))
    result = replace(result, executed=tuple(summary.rows))
    if summary.gate_failures:
        err = GateError("gates failed:\n" + "\n".join(f"  - {f}" for f in summary.gate_failures))
        err.run = result
        raise err
    return result


def bench(artifact: str | Path | Artifact | LoadedArtifact, target: str = "host", *, texts: list[str] | None = None,
          threads: int | None = None, measure_host: bool = True, memory: bool = True, warmup: int = 10,
          runs: int = 50, min_seconds: float = 2.0) -> BenchResult:
    """Benchmark one artifact (a model file or its directory, or a run's ``Artifact``) on a target profile
    (``edgeport targets`` lists them; a YAML path works too), as ``edgeport bench`` does: measured here when the
    profile is this machine (``host``; ``measure_host=False`` skips it), estimated for every target, at the fixed
    length and, with ``texts``, on those inputs one per call (the workload the budgets then judge); ``threads``
    overrides the profile's. ``edgeport.benchmark`` is this function."""
    from .bench.api import bench_artifact, workload_feeds
    from .targets import get_target

    path = Path(artifact.path if isinstance(artifact, (Artifact, LoadedArtifact)) else artifact)
    if not path.exists():
        raise EdgeportError(f"{path} does not exist; pass an artifact file (.pt, .onnx, .tflite, .pte) or its "
                            f"directory")
    if isinstance(texts, str):
        raise EdgeportError("bench takes texts as a list of inputs; wrap a single text in a list")
    if threads is not None and threads < 1:
        raise EdgeportError(f"threads must be at least 1, got {threads}")
    profile = get_target(target)
    if threads is not None:
        profile = profile.model_copy(update={"threads": threads})
    feeds = workload_feeds(path, list(texts)) if texts else None
    raw = bench_artifact(path, profile, measure_host=measure_host, workload=feeds, memory=memory, warmup=warmup,
                         runs=runs, min_seconds=min_seconds)
    return _bench_result(raw)


def _bench_result(raw: dict) -> BenchResult:
    figures = [(kind, "fixed", raw.get(kind)) for kind in ("device", "host", "estimate")]
    figures += [(kind, "workload", fig) for kind, fig in (raw.get("workload") or {}).items()]
    latencies = tuple(Latency(kind, inp, fig.get("p50_ms"), fig.get("p90_ms"), fig.get("mean_ms"),
                              fig.get("rows") if inp == "workload" else None)
                      for kind, inp, fig in figures if isinstance(fig, dict))
    budgets = tuple(BudgetCheck(c["metric"], c["value"], c["limit"], c["kind"], c.get("input"), c["ok"])
                    for c in raw["budgets"])
    peak = (raw.get("host") or {}).get("peak_rss_mb")
    return BenchResult(Path(raw["artifact"]), raw["target"], raw["format"], raw["precision"], raw["size_bytes"],
                       raw["seq_len"], raw["threads"], latencies, budgets, peak, raw)


def load_run(run_dir: str | Path, gate_failures: list[str] | tuple[str, ...] = ()) -> Run:
    """The results of a run directory (made by ``run`` or by the CLI), read from its manifest and result files."""
    from .pipeline.manifest import Manifest

    run_dir = Path(run_dir)
    if not (run_dir / "manifest.json").is_file():
        raise EdgeportError(f"{run_dir} holds no manifest.json: not an edgeport run directory (run the pipeline "
                            f"first, or pass runs/NAME)")
    manifest = Manifest.load(run_dir)
    stages = {name: StageResult(name, e.get("status", ""), e.get("seconds"), e.get("metrics") or {})
              for name, e in manifest.stages.items()}
    return Run(run_dir, stages, _artifacts(run_dir), tuple(gate_failures))


def load_artifact(path: str | Path) -> LoadedArtifact:
    """Any artifact file (``.pt``, ``.onnx``, ``.tflite``, ``.pte``) or its directory, ready to ``predict``."""
    path = Path(path)
    if not path.exists():
        raise EdgeportError(f"{path} does not exist; pass an artifact file or its directory")
    return LoadedArtifact(path)


def _artifacts(run_dir: Path) -> dict[str, Artifact]:
    validated = {a["name"]: a for a in _read(run_dir / "validate" / "results.json", {}).get("artifacts", [])}
    split = _read(run_dir / "validate" / "results.json", {})
    latency: dict[str, dict] = {}
    for row in _read(run_dir / "bench" / "results.json", []):
        latency.setdefault(row.get("artifact_name") or "", {})[row.get("target")] = row
    out = {}
    for name, standing in load_verdicts(run_dir).items():
        v = validated.get(name) or {}
        meta = _read(run_dir / Path(standing.path).parent / "artifact.json", {})
        accuracy = (Metric("accuracy", v["accuracy"], split.get("eval_split") or "eval", split.get("eval_rows"))
                    if v.get("accuracy") is not None else None)
        verdict = standing.verdict.state if standing.verdict is not None and standing.problem is None else None
        out[name] = Artifact(name, run_dir / standing.path, meta.get("format", ""), meta.get("precision", ""),
                             v.get("size_bytes"), accuracy, verdict, standing.problem, latency.get(name, {}))
    return out


def _read(path: Path, default):
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else default
