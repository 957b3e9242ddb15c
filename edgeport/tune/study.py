"""``edgeport tune``: an Optuna study whose trials run the real pipeline.

* **Each trial is a pipeline run** in its own directory, ``RUN_DIR/tune/<study>/trials/<number>``: the user's
  config (+ ``-o``), then ``tune.overrides``, then the trial's sampled values, run by the same runner as
  ``edgeport run`` (``pipeline.execute`` with ``--until`` the stage), so the stage code, the training recipe,
  the fingerprints and the selection split are the ones a normal run uses. The objective is read back from the
  trial's manifest: the stage's selection-split metric (``select_<data.metric>``), never the evaluation split.
* **The pruner** hears every periodic selection evaluation of the recipe through ``training.loop.EVAL_HOOK``
  (a context variable set around the trial; no stage passes anything along). Trials evaluate ``tune.evals``
  times, evenly over their own training (``train.eval_every`` is set per trial), and report the best value so
  far at evaluation k, so the pruner compares trials at the same fraction of training whatever their batch size
  and epochs. ``optuna.TrialPruned`` raised by the hook leaves ``fit`` and the stage; Optuna records PRUNED.
* **The teacher is shared** by distill and student studies: it is trained once in the main run directory (the
  normal make-style run ``--until teacher``, skipped when it is up to date) and every trial points
  ``teacher.model`` at it with ``teacher.finetune: never``, so its teacher stage only loads and measures it.
* **Storage** is Optuna's RDB storage (default ``sqlite:///RUN_DIR/tune/study.db``) with heartbeats: a trial
  whose process died (killed, OOM, a lost machine) is failed once its heartbeat is ``tune.grace_seconds`` old and
  re-queued with the same parameters (``RetryHeartbeatStaleTrialCallback``); the study runs until
  ``tune.trials`` trials have *finished* (complete or pruned), counted in the storage, so a resumed or parallel
  study counts every trial once. Several processes on one URL are Optuna's own distributed mode.
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError, EdgeportError

STAGES_TUNED = ("teacher", "distill", "student")


class SurplusTrial(Exception):
    """Another worker already runs the last trials the study needs; this one is not counted."""


@dataclass
class TuneRequest:
    config: str
    stage: str
    overrides: list[str] = field(default_factory=list)
    trials: int | None = None
    storage: str | None = None
    target: str | None = None
    study_name: str | None = None
    params: list[str] = field(default_factory=list)  # params files (config < files < -o)


def study_key(stage: str, target: str | None) -> str:
    return f"student-{target}" if stage == "student" else stage


def default_storage(run_dir: Path) -> str:
    return f"sqlite:///{(run_dir / 'tune' / 'study.db').resolve()}"


def shown_url(url: str) -> str:
    """The storage URL with any password hidden (summaries and logs)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for display
        return url


def _optuna():
    try:
        import optuna
    except ImportError:
        raise EdgeportError("edgeport tune needs Optuna: pip install 'edgeport[tune]' (optuna>=5)") from None
    return optuna


def make_storage(url: str, tcfg):
    optuna = _optuna()
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        # several processes on one SQLite file: wait for the write lock instead of failing at once
        engine = {"connect_args": {"timeout": 120}}
    else:
        engine = {"pool_pre_ping": True}
    for attempt in range(6):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            try:
                return RDBStorage(url, engine_kwargs=engine, heartbeat_interval=tcfg.heartbeat_seconds,
                                  grace_period=tcfg.grace_seconds,
                                  heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=3))
            except ImportError as exc:
                raise EdgeportError(f"tune storage {shown_url(url)}: a database driver is missing ({exc}); for "
                                    f"PostgreSQL: pip install psycopg2-binary") from None
            except Exception as exc:  # noqa: BLE001 - sqlalchemy raises many kinds; the message says what
                # Workers starting together on a new database race to create Optuna's tables (PostgreSQL:
                # UniqueViolation on pg_type): the loser retries and finds them made.
                if attempt < 5 and _creation_race(exc):
                    time.sleep(0.5 + random.random() * 2)
                    continue
                raise EdgeportError(f"tune storage {shown_url(url)}: cannot open it ({type(exc).__name__}: "
                                    f"{str(exc).splitlines()[0][:300]})") from None


def _creation_race(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(w in text for w in ("already exists", "duplicate", "uniqueviolation", "database is locked",
                                   "integrityerror"))


def make_sampler(tcfg, multi: bool, seed: int | None, n_trials: int | None = None):
    optuna = _optuna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if tcfg.sampler == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if tcfg.sampler == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed, population_size=8)
        # few trials: a short random start, then TPE (multivariate: the parameters interact, lr x batch size)
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(5, max(2, (n_trials or tcfg.trials) // 3)),
                                          multivariate=True, group=False)


def make_pruner(tcfg):
    optuna = _optuna()
    if tcfg.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=tcfg.startup_trials, n_warmup_steps=tcfg.warmup_evals)
    if tcfg.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, tcfg.warmup_evals), reduction_factor=3)
    return optuna.pruners.NopPruner()


# ------------------------------------------------------------------------------------------ context


@dataclass
class TuneContext:
    req: TuneRequest
    cfg: Any  # the user's PipelineConfig (config + -o), without any trial's values
    run_dir: Path
    out_dir: Path  # RUN_DIR/tune/<study key>
    n_trials: int
    echo: Callable[[str], None] = print
    teacher_dir: Path | None = None
    file_params: dict = field(default_factory=dict)
    target: Any = None
    n_teacher_layers: int = 0
    _tasks: dict = field(default_factory=dict)

    @property
    def stage(self) -> str:
        return self.req.stage

    @property
    def multi(self) -> bool:
        return self.stage == "student"

    @property
    def metric(self) -> str:
        return self.cfg.data.metric

    def trial_dir(self, number: int) -> Path:
        return self.out_dir / "trials" / f"{number:04d}"

    def trial_config(self, number: int, values: dict[str, Any]):
        """The trial's config: config < -o < tune.overrides < sampled values < where and how it runs."""
        from .params import load_config_with

        after = dict(self.cfg.tune.overrides) | values
        after |= {"run.runs_dir": str((self.out_dir / "trials").resolve()), "run.name": f"{number:04d}"}
        if self.teacher_dir is not None:
            after |= {"teacher.model": str(self.teacher_dir), "teacher.finetune": "never"}
        return load_config_with(self.req.config, self.file_params, self.req.overrides, after=after,
                                source=f"{self.req.config} (tune trial {number})")

    def train_rows(self, cfg, stage: str) -> int:
        """Training rows the stage will take (the data is read once per data section)."""
        from ..data import load_task

        key = (cfg.data.model_dump_json(), cfg.run.seed)
        if key not in self._tasks:
            self._tasks[key] = len(load_task(cfg.data, seed=cfg.run.seed).train)
        limit = cfg.data.train_limit if stage == "teacher" else (cfg.distill.train_limit or cfg.data.train_limit)
        return self._tasks[key] if limit is None else min(limit, self._tasks[key])


def planned_total_steps(tcfg, rows: int) -> int:
    """Optimizer steps ``fit`` will take for ``rows`` training rows (one process), as ``fit`` plans them."""
    from ..training.loop import planned_epochs

    per_epoch = math.ceil(rows / tcfg.batch_size)
    return max(1, math.ceil(planned_epochs(tcfg, per_epoch) * per_epoch))


# ------------------------------------------------------------------------------------------ shared teacher


def shared_teacher(ctx: TuneContext) -> Path:
    """Train (or find up to date) the teacher in the main run directory: the normal make-style run, until
    teacher. Another tune worker holding the run's lock is waited for."""
    from ..errors import LockError
    from ..pipeline import execute
    from ..stages import STAGES

    waited = False
    while True:
        try:
            summary = execute(STAGES, ctx.cfg, until="teacher", echo=ctx.echo)
            break
        except LockError as exc:
            if not waited:
                ctx.echo(f"tune: waiting for the shared teacher ({exc})")
                waited = True
            time.sleep(5)
    if summary.gate_failures:
        raise EdgeportError("the shared teacher failed its gate, so no student can learn from it:\n"
                            + "\n".join(f"  - {f}" for f in summary.gate_failures))
    return (ctx.run_dir / "teacher").resolve()


def _n_layers(ctx: TuneContext) -> int:
    from ..models.loading import read_model_config

    if ctx.cfg.distill.student.model:
        from ..stages.distill import resolve_student_model

        spec = resolve_student_model(ctx.cfg.distill.student.model)
        if not isinstance(spec, Path):
            raise ConfigError(["tune --stage student: distill.student.model must be a local directory (its layer "
                               "count sets the search space)"])
        return read_model_config(spec).num_hidden_layers
    return read_model_config(ctx.teacher_dir).num_hidden_layers


# ------------------------------------------------------------------------------------------ objectives


def _frozen(study, number: int):
    for t in study.get_trials(deepcopy=False):
        if t.number == number:
            return t
    return None


def _check_surplus(study, trial, n: int) -> None:
    """Two workers may both start "the last" trial; the later-numbered one steps back unless it was queued (an
    enqueued trial or the re-run of a killed one always runs)."""
    optuna = _optuna()
    me = _frozen(study, trial.number)
    if me is None or me.params or "fixed_params" in me.system_attrs:
        return
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.RUNNING)
    ahead = [t for t in study.get_trials(deepcopy=False, states=states) if t.number < trial.number]
    if len(ahead) >= n:
        trial.set_user_attr("surplus", True)
        raise SurplusTrial(f"trial {trial.number} not needed: {len(ahead)} trials finished or running")


def _stage_metrics(run_dir: Path, stage: str) -> dict:
    from ..pipeline.manifest import Manifest

    entry = Manifest.load(run_dir).entry(stage) or {}
    if entry.get("status") != "done":
        raise EdgeportError(f"trial run {run_dir}: stage {stage} did not finish ({entry.get('status', 'not run')})")
    return entry.get("metrics", {})


def select_value(metrics: dict, metric: str) -> float:
    key = "select_accuracy" if metric == "accuracy" else f"select_{metric}"
    if key not in metrics:
        raise EdgeportError(f"the stage recorded no {key}")
    return float(metrics[key])


def share_cache(ctx: TuneContext, run_dir: Path) -> None:
    """Point the trial's cache (``RUN_DIR/cache``: teacher logits) at one cache shared by the study's trials.
    The cache is content-addressed (the teacher's published files, the exact token ids, precision, library
    versions), and distill trials share one teacher, so trials on the same rows reuse its logits instead of
    recomputing them (48,000 SST-2 rows are about a minute of MiniLM forward passes on 2 cores)."""
    shared = ctx.out_dir / "cache"
    shared.mkdir(parents=True, exist_ok=True)
    link = run_dir / "cache"
    run_dir.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink() and not link.exists():
        link.symlink_to(shared.resolve(), target_is_directory=True)


def _cleanup(ctx: TuneContext, run_dir: Path) -> None:
    """Keep a finished trial's record (manifest, every metrics.json), drop its model files and caches unless
    ``tune.keep_trial_models``: a MiniLM teacher is 90 MB per trial. The shared cache stays (only the trial's
    link to it goes)."""
    if (run_dir / "cache").is_symlink():
        (run_dir / "cache").unlink()
    if ctx.cfg.tune.keep_trial_models or not run_dir.is_dir():
        return
    for path in sorted(run_dir.rglob("*"), reverse=True):
        if path.is_file() and path.name not in ("manifest.json", "metrics.json", "results.json", "results.md"):
            path.unlink(missing_ok=True)
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def training_objective(ctx: TuneContext):
    """Single objective: the stage's selection metric (maximised), with the pruner fed by its evaluations."""
    optuna = _optuna()
    from ..pipeline import execute
    from ..stages import STAGES
    from ..training.loop import EVAL_HOOK
    from .space import derived_values, suggest_training

    stage, evals = ctx.stage, ctx.cfg.tune.evals

    def objective(trial):
        _check_surplus(trial.study, trial, ctx.n_trials)
        values = suggest_training(trial, ctx.cfg, stage)
        derived = derived_values(ctx.cfg, stage, values)
        values |= derived
        trial.set_user_attr("derived", derived)  # best_params.yaml carries them beside the sampled values
        cfg = ctx.trial_config(trial.number, values)
        tcfg = cfg.teacher.train if stage == "teacher" else cfg.distill.train
        total = planned_total_steps(tcfg, ctx.train_rows(cfg, stage))
        every = max(1, math.ceil(total / evals))
        cfg = ctx.trial_config(trial.number, values | {f"{stage}.train.eval_every": every})
        run_dir = ctx.trial_dir(trial.number)
        trial.set_user_attr("dir", str(run_dir))
        trial.set_user_attr("planned_steps", total)
        trial.set_user_attr("eval_every", every)

        def hook(*, desc, step, total, metric, value, best):
            if desc != stage:
                return
            k = max(1, min(evals, round(step * evals / total)))
            trial.report(best, k)
            if trial.should_prune():
                trial.set_user_attr("pruned_at", {"eval": k, "step": step, "steps": total, "best": best})
                raise optuna.TrialPruned(f"pruned at evaluation {k}/{evals} (step {step}/{total}): best "
                                         f"selection {metric} so far {best:.4f}")

        token = EVAL_HOOK.set(hook)
        try:
            share_cache(ctx, run_dir)
            execute(STAGES, cfg, until=stage, echo=ctx.echo)
            metrics = _stage_metrics(run_dir, stage)
        finally:
            EVAL_HOOK.reset(token)
            _cleanup(ctx, run_dir)
        value = select_value(metrics, ctx.metric)
        attrs = {"select_accuracy": metrics.get("select_accuracy"), "steps": metrics.get("steps"),
                 "best_step": metrics.get("best_step"), "train_seconds": metrics.get("train_seconds"),
                 "stopped_early": metrics.get("stopped_early"),
                 # measured once per trial by the stage; never the objective, never used to choose
                 "eval_measured": {k: metrics[k] for k in ("eval_accuracy", f"eval_{ctx.metric}", "eval_rows")
                                   if k in metrics},
                 "gate_failures": metrics.get("gate_failures", [])}
        for k, v in attrs.items():
            trial.set_user_attr(k, v)
        return value

    return objective


def student_objective(ctx: TuneContext):
    """Three objectives: selection metric (up), the target's latency and model size (down); the target's budgets
    are constraints (``trial.set_constraint``: value - limit, feasible when <= 0)."""
    from ..bench.api import bench_artifact, best_latency
    from ..pipeline import execute
    from ..stages import STAGES
    from .space import student_overrides, suggest_student

    target = ctx.target

    def objective(trial):
        _check_surplus(trial.study, trial, ctx.n_trials)
        params = suggest_student(trial, ctx.cfg, ctx.n_teacher_layers)
        values = student_overrides(params, ctx.n_teacher_layers, target.format)
        trial.set_user_attr("overrides", values)
        forced = {"export.enabled": True, "export.formats": [target.format], "validate.enabled": False,
                  "explain.enabled": False, "report.enabled": False, "prune.latency_seconds": 0,
                  # a useless student is a low objective here, not a stopped run; the chosen one is gated later
                  "distill.train.useful_gate": False, "prune.train.useful_gate": False}
        cfg = ctx.trial_config(trial.number, values | forced)
        run_dir = ctx.trial_dir(trial.number)
        trial.set_user_attr("dir", str(run_dir))
        until = "quantize" if cfg.quantize.enabled else "export"
        try:
            execute(STAGES, cfg, until=until, echo=ctx.echo)
            model_stage = "prune" if cfg.prune.enabled else "distill"
            metrics = _stage_metrics(run_dir, model_stage)
            name, path = _artifact(run_dir, until, target.format, cfg)
            lat = cfg.bench  # fixed-length timing settings (the workload is the eval split: not for choosing)
            result = bench_artifact(run_dir / path, target, measure_host=target.kind == "host",
                                    warmup=lat.warmup, runs=lat.runs, min_seconds=lat.min_seconds)
        finally:
            _cleanup(ctx, run_dir)
        kind, figures = best_latency(result, target)
        latency, size_mb = float(figures["p90_ms"]), result["size_bytes"] / 1e6
        for check in result["budgets"]:
            gap = 1e6 if check["value"] is None else check["value"] - check["limit"]
            trial.set_constraint(check["metric"], gap)
        mode = getattr(cfg.quantize, target.format) if until == "quantize" else None  # what the artifact is
        attrs = {"artifact": name, "quantize_mode": mode, "latency_kind": kind, "seq_len": result["seq_len"],
                 "budgets": result["budgets"], "select_accuracy": metrics.get("select_accuracy"),
                 "model_stage": model_stage,
                 "eval_measured": {k: metrics[k] for k in ("eval_accuracy", f"eval_{ctx.metric}") if k in metrics},
                 "estimated_memory_mb": result.get("estimated_memory_mb")}
        for k, v in attrs.items():
            trial.set_user_attr(k, v)
        return select_value(metrics, ctx.metric), latency, size_mb

    return objective


def _artifact(run_dir: Path, stage: str, fmt: str, cfg) -> tuple[str, str]:
    """(name, run-relative path) of the artifact in the target's format that ``stage`` published, named as the
    quantize stage names it: ``<format>-<precision of the trial's quantize.<format> mode>`` (tflite-int8,
    tflite-w4), or the fp32 export when quantize is off."""
    from ..exporters.base import precision_of

    precision = precision_of(getattr(cfg.quantize, fmt)) if stage == "quantize" else "fp32"
    name = f"{fmt}-{precision}"
    for art in _stage_metrics(run_dir, stage).get("artifacts", []):
        if art.get("name") == name:
            return name, art["path"]
    raise EdgeportError(f"trial run {run_dir}: {stage} published no {name} artifact")


# ------------------------------------------------------------------------------------------ the worker


def counts(study) -> dict[str, int]:
    """Trials by state, study-wide (every worker's). ``interrupted``: failed because their process died (each
    was re-queued with its parameters); ``surplus``: stepped back because other workers finished the study."""
    optuna = _optuna()
    S = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    out = {"complete": 0, "pruned": 0, "failed": 0, "interrupted": 0, "surplus": 0, "running": 0, "waiting": 0}
    for t in trials:
        if t.state == S.COMPLETE:
            out["complete"] += 1
        elif t.state == S.PRUNED:
            out["pruned"] += 1
        elif t.state == S.RUNNING:
            out["running"] += 1
        elif t.state == S.WAITING:
            out["waiting"] += 1
        elif t.user_attrs.get("surplus"):
            out["surplus"] += 1
        elif t.number in retried or t.user_attrs.get("interrupted"):
            out["interrupted"] += 1
        else:
            out["failed"] += 1
    out["finished"] = out["complete"] + out["pruned"]
    return out


class _HideSurplus(logging.Filter):
    """Optuna's two "Trial N failed" warnings for a trial that stepped back as surplus: not a failure."""

    def __init__(self):
        super().__init__()
        self.surplus: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        number = message.split(" ", 2)[1] if message.startswith("Trial ") else None
        if "SurplusTrial" in message:
            self.surplus.add(number)
            return False
        return not (number in self.surplus and "failed" in message)


def open_study(ctx: TuneContext, url: str):
    optuna = _optuna()
    storage = make_storage(url, ctx.cfg.tune)
    name = ctx.req.study_name or f"{ctx.cfg.run.name}-{study_key(ctx.stage, ctx.req.target)}"
    directions = ["maximize", "minimize", "minimize"] if ctx.multi else ["maximize"]
    try:
        study = optuna.create_study(storage=storage, study_name=name, directions=directions, load_if_exists=True,
                                    sampler=make_sampler(ctx.cfg.tune, ctx.multi, ctx.cfg.tune.seed),
                                    pruner=None if ctx.multi else make_pruner(ctx.cfg.tune))
    except Exception as exc:  # noqa: BLE001
        raise EdgeportError(f"tune storage {shown_url(url)}: cannot open study '{name}' ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:300]})") from None
    if [d.name.lower() for d in study.directions] != directions:
        raise ConfigError([f"study '{name}' in {shown_url(url)} optimises {[d.name for d in study.directions]}, "
                           f"not this stage's {directions}; pass --study-name to start another study"])
    kind = study.user_attrs.get("edgeport_stage")
    wanted = study_key(ctx.stage, ctx.req.target)
    if kind is None:
        study.set_user_attr("edgeport_stage", wanted)
        study.set_user_attr("metric", ctx.metric)
    elif kind != wanted:
        raise ConfigError([f"study '{name}' is a '{kind}' study, not '{wanted}'; pass --study-name"])
    return study


def _reseed(study, ctx: TuneContext) -> None:
    """A fresh sampler RNG per trial: seeded from (tune.seed, trials so far) when a seed is set (a single worker
    repeats itself exactly, and a resumed study does not replay its first random points), else from the
    process and the clock (workers never draw the same points)."""
    n = len(study.get_trials(deepcopy=False))
    base = ctx.cfg.tune.seed
    seed = (base * 1_000_003 + n) % 2**31 if base is not None else random.SystemRandom().randrange(2**31)
    study.sampler = make_sampler(ctx.cfg.tune, ctx.multi, seed, ctx.n_trials)


def run_worker(ctx: TuneContext, study, objective, on_trial=None) -> dict[str, int]:
    """Run trials until ``ctx.n_trials`` have finished study-wide; returns the final counts."""
    optuna = _optuna()
    S = optuna.trial.TrialState
    # Optuna logs a surplus trial as failed; its records reach the handlers of the "optuna" logger from child
    # loggers, which a logger filter would not see, so the filter goes on the handlers
    for handler in logging.getLogger("optuna").handlers:
        if not any(isinstance(f, _HideSurplus) for f in handler.filters):
            handler.addFilter(_HideSurplus())
    failures_in_a_row, waiting_said = 0, False
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        c = counts(study)
        if c["finished"] >= ctx.n_trials:
            return c
        if c["finished"] + c["running"] >= ctx.n_trials and not c["waiting"]:
            if not waiting_said:
                ctx.echo(f"tune: {c['running']} trial(s) still running in other workers (or in a killed process, "
                         f"until its heartbeat is {ctx.cfg.tune.grace_seconds} s old); waiting")
                waiting_said = True
            time.sleep(ctx.cfg.tune.heartbeat_seconds)
            continue
        waiting_said = False
        _reseed(study, ctx)
        ran: dict = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.optimize(_record_errors(objective, ran), n_trials=1, catch=(Exception,), gc_after_trial=True)
        trial = _frozen(study, ran["number"]) if "number" in ran else None
        if trial is None or trial.user_attrs.get("surplus"):
            continue
        if trial.state == S.FAIL:
            failures_in_a_row += 1
            if failures_in_a_row >= 3:
                raise EdgeportError(f"tune: 3 trials in a row failed; the last: {trial.user_attrs.get('error', '?')}")
        else:
            failures_in_a_row = 0
        if on_trial is not None:
            on_trial(study, trial)


def _record_errors(objective, ran: dict):
    """Note which trial this worker ran, and keep a failed trial's error in its user attrs (the summary lists
    it; Optuna logs the traceback)."""
    optuna = _optuna()

    worker = f"{socket.gethostname()}:{os.getpid()}"

    def wrapped(trial):
        ran["number"] = trial.number
        trial.set_user_attr("worker", worker)
        try:
            return objective(trial)
        except (optuna.TrialPruned, SurplusTrial):
            raise
        except KeyboardInterrupt:
            # Ctrl-C: Optuna marks it FAIL; queue its parameters again so a resumed study re-runs it
            trial.set_user_attr("interrupted", True)
            trial.study.enqueue_trial(dict(trial.params), skip_if_exists=False)
            raise
        except Exception as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {str(exc)[:1500]}")
            raise

    return wrapped


# ------------------------------------------------------------------------------------------ entry point


def run_tune(req: TuneRequest, echo=print) -> dict:
    """Open (or resume, or join) the study, run trials until enough have finished, write ``tune/`` outputs."""
    optuna = _optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress line below says what INFO would
    from ..pipeline import run_dir_for
    from .outputs import progress_line, write_outputs
    from .params import load_config_with, read_param_files
    from .space import enqueued_for, student_modes, training_keys

    if req.stage not in STAGES_TUNED:
        raise ConfigError([f"--stage {req.stage!r}: choose teacher, distill or student"], source="edgeport tune")
    if (req.stage == "student") != (req.target is not None):
        raise ConfigError(["--target NAME is what --stage student searches for (and only it)"],
                          source="edgeport tune")
    file_params = read_param_files(req.params)
    cfg = load_config_with(req.config, file_params, req.overrides)
    if req.stage == "distill" and not cfg.distill.enabled:
        raise ConfigError(["tune --stage distill: distill.enabled is false"])
    if req.trials is not None and req.trials < 1:
        raise ConfigError(["--trials must be at least 1"], source="edgeport tune")
    run_dir = run_dir_for(cfg)
    key = study_key(req.stage, req.target)
    ctx = TuneContext(req, cfg, run_dir, run_dir / "tune" / key, req.trials or cfg.tune.trials, echo)
    ctx.file_params = file_params
    if req.stage == "student":
        from ..targets import get_target

        ctx.target = get_target(req.target)
    _apply_runtime(cfg)
    url = req.storage or cfg.tune.storage or default_storage(run_dir)
    # a bad tune.overrides or search range fails here, before any trial or teacher runs
    base = ctx.trial_config(0, {})
    modes = student_modes(base, ctx.target.format) if req.stage == "student" else []
    if req.stage in ("distill", "student"):
        ctx.teacher_dir = shared_teacher(ctx)
    if req.stage == "student":
        ctx.n_teacher_layers = _n_layers(ctx)
        from .space import student_depths

        student_depths(cfg, ctx.n_teacher_layers)
        known = ["student.depth", "student.placement", "prune.heads_fraction", "prune.ffn_fraction", "prune.vocab"]
        known += ["quantize.mode"] if len(modes) > 1 else []  # sampled only when there is a choice
        objective = student_objective(ctx)
    else:
        known = list(training_keys(cfg, req.stage).values())
        if not known:
            raise ConfigError(["tune.space: every range is null, nothing to search"])
        objective = training_objective(ctx)
    queued = enqueued_for(cfg, req.stage, known, {"quantize.mode": modes})
    study = open_study(ctx, url)
    for params in queued:
        study.enqueue_trial(params, skip_if_exists=True)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    echo(f"tune: study '{study.study_name}' in {shown_url(url)}: {key}, {ctx.n_trials} trials "
         f"({counts(study)['finished']} finished so far); trials in {ctx.out_dir / 'trials'}")

    def on_trial(study, trial):
        echo(progress_line(ctx, study, trial))
        write_outputs(ctx, study, url, plots=False)

    final = run_worker(ctx, study, objective, on_trial)
    summary = write_outputs(ctx, study, url, plots=True)
    echo(f"tune: done: {final['complete']} complete, {final['pruned']} pruned, {final['failed']} failed"
         + (f", {final['interrupted']} interrupted (re-run)" if final["interrupted"] else "")
         + f"; outputs in {ctx.out_dir}")
    return summary


def _apply_runtime(cfg) -> None:
    from ..environment import apply_runtime

    apply_runtime(cfg)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
