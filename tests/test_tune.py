"""``edgeport tune``: Optuna studies whose trials run the real pipeline.

The training studies run on a *learnable* tiny task: SST-2 sentences cut to six words, each prefixed with
"great" (positive) or "awful" (negative) at random, so a random-init tiny BERT reaches 100% selection accuracy in
~30 steps at lr 2e-3 and stays at chance at lr 1e-6: the pruner has something to tell apart.
"""

from __future__ import annotations

import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO, SST2, make_tiny_bert, write_config

optuna = pytest.importorskip("optuna")

GOOD_LR, BAD_LR = 2e-3, 1e-6


@pytest.fixture(scope="module")
def keyword_data(tmp_path_factory) -> Path:
    if not SST2.is_dir():
        pytest.fail(f"SST-2 not found at {SST2}; set EDGEPORT_DATA_DIR to the folder that holds sst2/")
    out = tmp_path_factory.mktemp("keyword-task")
    rng = random.Random(0)
    for split, n in (("train", 600), ("validation", 100)):
        rows = ["sentence\tlabel"]
        for line in (SST2 / f"{split}.tsv").read_text(encoding="utf-8").splitlines()[1:n + 1]:
            y = rng.randint(0, 1)
            rows.append(f"{'great' if y else 'awful'} {' '.join(line.split(chr(9))[0].split()[:6])}\t{y}")
        (out / f"{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def tiny_teacher(tmp_path_factory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tune-tiny-bert"))


def tune_config(tmp: Path, teacher: Path, data: Path, name: str = "tune", **tune) -> Path:
    """Trials of 60 steps (480 training rows, batch 16, 2 epochs), 4 selection evaluations each."""
    section = {"trials": 3, "evals": 4, "startup_trials": 1, "warmup_evals": 1, "heartbeat_seconds": 1,
               "grace_seconds": 3,
               "space": {"lr": {"low": 1e-6, "high": 3e-3, "log": True}, "batch_size": [16],
                         "epochs": {"low": 2, "high": 2}, "warmup_ratio": None, "weight_decay": None}}
    section.update(tune)
    return write_config(tmp / f"{name}.yaml", teacher, data, tmp / "runs", run={"name": name, "threads": 1},
                        tune=section)


def load_study(url: str, name: str):
    return optuna.load_study(study_name=name, storage=url)


def sqlite_url(tmp: Path, name: str = "tune") -> str:
    return f"sqlite:///{(tmp / 'runs' / name / 'tune' / 'study.db').resolve()}"


def tune_cmd(cfg: Path, *extra) -> list[str]:
    return [sys.executable, "-m", "edgeport.cli", "tune", str(cfg), "--stage", "teacher", *map(str, extra)]


def env() -> dict:
    return dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")


# ------------------------------------------------------------------------------------------ fast units


def test_config_section_validates_ranges(tmp_path, tiny_teacher, keyword_data):
    from edgeport.config import load_config
    from edgeport.errors import ConfigError

    cfg = tune_config(tmp_path, tiny_teacher, keyword_data)
    assert load_config(str(cfg)).tune.space.lr.log
    bad = {"tune.space.lr={low: 0, high: 1.0e-3, log: true}": "log-scale range needs low > 0",
           "tune.space.alpha={low: 0.5, high: 0.2}": "must be <= high",
           "tune.student.heads_fraction={low: 0, high: 1}": "within [0, 1)",
           "tune.pruner=hyperband": "tune.pruner",
           "tune.trails=3": "did you mean 'trials'",
           "tune.storage=study.db": "not an RDB URL",
           "tune.heartbeat_seconds=5": "grace_seconds must exceed"}
    for override, words in bad.items():
        with pytest.raises(ConfigError) as err:
            load_config(str(cfg), [override])
        assert words in str(err.value), (override, str(err.value))


def test_student_layer_placements():
    from edgeport.tune.space import student_layers

    assert student_layers(3, "stride", 6) == [0, 2, 4]  # the shipped default student
    assert student_layers(3, "bottom", 6) == [0, 1, 2]
    assert student_layers(3, "spread", 6) == [0, 2, 5]
    assert student_layers(1, "spread", 6) == [5]
    assert student_layers(2, "stride", 2) == [0, 1]


def test_enqueue_entries_belong_to_one_study(tmp_path, tiny_teacher, keyword_data):
    """One config serves every study: a teacher study's queued lr is left alone by a student search."""
    from edgeport.config import load_config
    from edgeport.errors import ConfigError
    from edgeport.tune.space import STUDY_PARAMS, enqueued_for

    cfg = load_config(str(tune_config(tmp_path, tiny_teacher, keyword_data,
                                      enqueue=[{"teacher.train.lr": 1e-6}, {"student.depth": 1}])))
    student = sorted(STUDY_PARAMS["student"])
    assert enqueued_for(cfg, "teacher", ["teacher.train.lr"]) == [{"teacher.train.lr": 1e-6}]
    assert enqueued_for(cfg, "student", student) == [{"student.depth": 1}]
    with pytest.raises(ConfigError, match="not searched by this study"):  # warmup_ratio's range is null here
        enqueued_for(cfg.model_copy(update={"tune": cfg.tune.model_copy(
            update={"enqueue": [{"teacher.train.warmup_ratio": 0.1}]})}), "teacher", ["teacher.train.lr"])
    with pytest.raises(ConfigError, match="not one study's parameters"):
        enqueued_for(cfg.model_copy(update={"tune": cfg.tune.model_copy(
            update={"enqueue": [{"teacher.train.lrr": 0.1}]})}), "teacher", ["teacher.train.lr"])


STUDENT = {"student.depth": 1, "student.placement": "bottom", "prune.heads_fraction": 0.25,
           "prune.ffn_fraction": 0.5, "prune.vocab": True}


def test_student_search_samples_the_quantize_mode_for_the_targets_format(tmp_path):
    """tune.student.quantize_modes: several are sampled as quantize.mode and become quantize.<format>; one is
    fixed (not sampled) but still set; none listed keeps the config's mode and adds no key (unchanged runs)."""
    from optuna.trial import FixedTrial

    from edgeport.config import load_config
    from edgeport.tune.space import STUDY_PARAMS, student_modes, student_overrides, suggest_student

    def load(*overrides):
        return load_config(str(cfg_path(tmp_path)), list(overrides))

    two = load("tune.student.quantize_modes=[dynamic, w4]")
    params = suggest_student(FixedTrial(STUDENT | {"quantize.mode": "w4"}), two, 6)
    assert params["quantize.mode"] == "w4"
    overrides = student_overrides(params, 6, "tflite")
    assert overrides["quantize.tflite"] == "w4" and "quantize.mode" not in overrides
    assert student_overrides(params, 6, "onnx")["quantize.onnx"] == "w4"  # the target's format names the key
    assert student_modes(two, "tflite") == ["dynamic", "w4"] and "quantize.mode" in STUDY_PARAMS["student"]
    # one listed: nothing to choose, so not sampled (FixedTrial would fail on an unknown name), still set
    assert suggest_student(FixedTrial(STUDENT), load("tune.student.quantize_modes=[w4]"), 6)["quantize.mode"] == "w4"
    plain = suggest_student(FixedTrial(STUDENT), load(), 6)
    assert "quantize.mode" not in plain
    assert not [k for k in student_overrides(plain, 6, "tflite") if k.startswith("quantize.")]
    assert student_modes(load(), "tflite") == ["dynamic"]  # the config's own quantize.tflite


def test_artifact_is_found_by_the_name_its_quantize_mode_gives(tmp_path):
    from edgeport.config import load_config
    from edgeport.pipeline.manifest import Manifest
    from edgeport.tune.study import _artifact

    arts = [{"name": f"tflite-{p}", "path": f"quantize/tflite-{p}/model.tflite"} for p in ("int8", "w4")]
    Manifest(tmp_path, {"stages": {"quantize": {"status": "done", "metrics": {"artifacts": arts}}}}).save()
    for mode, name in (("w4", "tflite-w4"), ("dynamic", "tflite-int8"), ("full_integer", "tflite-int8")):
        cfg = load_config(str(cfg_path(tmp_path)), [f"quantize.tflite={mode}"])
        assert _artifact(tmp_path, "quantize", "tflite", cfg) == (name, f"quantize/{name}/model.tflite")


def test_student_quantize_modes_are_refused_up_front(tmp_path):
    """A mode the target's format lacks names the allowed ones (read from the schema); a mode its runtime refuses
    at the quantize preflight (torchscript w4) is refused with the preflight's reason; so is an enqueued value
    outside the listed modes."""
    from edgeport.config import load_config
    from edgeport.errors import ConfigError
    from edgeport.tune.space import enqueued_for, student_modes

    def modes(fmt, *overrides):
        return student_modes(load_config(str(cfg_path(tmp_path)), list(overrides)), fmt)

    with pytest.raises(ConfigError) as err:
        modes("tflite", "tune.student.quantize_modes=[dynamic, w5]")
    assert "'w5' is not a quantize mode of tflite" in str(err.value)
    assert "allowed: dynamic, full_integer, w4" in str(err.value)
    with pytest.raises(ConfigError) as err:
        modes("torchscript", "tune.student.quantize_modes=[dynamic, w4]")
    assert "w4 for a torchscript target is refused by the quantize preflight" in str(err.value)
    assert "INT8 only" in str(err.value)  # the exporter's own reason
    assert modes("onnx", "tune.student.quantize_modes=[dynamic, w4]") == ["dynamic", "w4"]
    with pytest.raises(ConfigError, match="quantize.enabled is false"):
        modes("tflite", "tune.student.quantize_modes=[w4]", "quantize.enabled=false")
    with pytest.raises(ConfigError, match="lists no mode"):
        load_config(str(cfg_path(tmp_path)), ["tune.student.quantize_modes=[]"])
    cfg = load_config(str(cfg_path(tmp_path)), ["tune.enqueue=[{quantize.mode: w5}]"])
    known = ["student.depth", "quantize.mode"]
    with pytest.raises(ConfigError, match=r"quantize.mode: 'w5' \(choices: dynamic, w4\)"):
        enqueued_for(cfg, "student", known, {"quantize.mode": ["dynamic", "w4"]})
    ok = load_config(str(cfg_path(tmp_path)), ["tune.enqueue=[{quantize.mode: w4}]"])
    assert enqueued_for(ok, "student", known, {"quantize.mode": ["dynamic", "w4"]}) == [{"quantize.mode": "w4"}]


def cfg_path(tmp: Path) -> Path:
    """A tiny config that loads without its model or data existing (the search-space units read no files)."""
    path = tmp / "space.yaml"
    if not path.is_file():
        write_config(path, tmp, tmp, tmp / "runs")
    return path


def test_chosen_student_is_the_best_within_every_budget():
    """The most accurate trial is over a budget: the choice is the best one inside them all; the Pareto front
    keeps every non-dominated trial, feasible or not."""
    from optuna.distributions import FloatDistribution
    from optuna.trial import create_trial

    from edgeport.tune.outputs import choose, pareto_front

    study = optuna.create_study(directions=["maximize", "minimize", "minimize"])
    rows = [  # (selection accuracy, latency ms, size MB, latency - budget, size - budget)
        (0.90, 70.0, 20.0, 10.0, -5.0),   # most accurate, over the latency budget
        (0.86, 30.0, 24.0, -30.0, -1.0),  # best within budgets
        (0.86, 35.0, 24.0, -25.0, -1.0),  # same accuracy, slower: dominated
        (0.70, 10.0, 26.0, -50.0, 1.0),   # fastest, over the size budget
    ]
    for acc, lat, size, c_lat, c_size in rows:
        study.add_trial(create_trial(values=[acc, lat, size], params={"x": acc},
                                     distributions={"x": FloatDistribution(0, 1)},
                                     system_attrs={"constraints:latency_p90_ms": c_lat,
                                                   "constraints:model_size_mb": c_size}))
    assert choose(None, study).number == 1
    assert sorted(t.number for t in pareto_front(study.trials)) == [0, 1, 3]
    assert [t.number for t in study.best_trials] == [1]  # Optuna's own front counts feasible trials only


def test_params_file_merges_before_overrides(tmp_path, tiny_teacher, keyword_data):
    """--params FILE: nested or dotted keys, typed values; -o still wins; a typo is a ConfigError naming both."""
    from edgeport.cli import _load, build_parser
    from edgeport.errors import ConfigError

    cfg = tune_config(tmp_path, tiny_teacher, keyword_data)
    params = tmp_path / "p.yaml"
    params.write_text("teacher.train.lr: 1.0e-06\ndistill:\n  student:\n    layers: [0, 1]\n  alpha: 0.25\n")
    args = build_parser().parse_args(["run", str(cfg), "--params", str(params), "-o", "distill.alpha=0.75"])
    loaded = _load(args)
    assert loaded.teacher.train.lr == 1e-6 and loaded.distill.student.layers == [0, 1]
    assert loaded.distill.alpha == 0.75  # -o after the file
    params.write_text("teacher.train.lrr: 0.1\n")
    with pytest.raises(ConfigError) as err:
        _load(build_parser().parse_args(["run", str(cfg), "--params", str(params)]))
    assert "did you mean 'lr'" in str(err.value) and "--params" in str(err.value)


# ------------------------------------------------------------------------------------------ a study


def test_teacher_study_prunes_bad_lr_and_best_params_reproduce(tmp_path, tiny_teacher, keyword_data, capsys):
    """A good lr first, lr 1e-6 second (both enqueued), one sampled: the 1e-6 trial is pruned by the median
    pruner fed by the recipe's selection evaluations; the outputs exist; best_params.yaml run through
    `edgeport run --params` reproduces the best trial's selection accuracy exactly."""
    from edgeport.cli import main
    from edgeport.pipeline.manifest import Manifest
    from edgeport.training.loop import EVAL_HOOK

    cfg = tune_config(tmp_path, tiny_teacher, keyword_data,
                      enqueue=[{"teacher.train.lr": GOOD_LR}, {"teacher.train.lr": BAD_LR}])
    assert main(["tune", str(cfg), "--stage", "teacher"]) == 0
    assert EVAL_HOOK.get() is None  # the hook lives only inside a trial
    out = capsys.readouterr().out
    assert "tune: trial 3/3" in out and "pruned" in out

    study = load_study(sqlite_url(tmp_path), "tune-teacher")
    by_lr = {t.params["teacher.train.lr"]: t for t in study.trials}
    good, bad = by_lr[GOOD_LR], by_lr[BAD_LR]
    assert good.state.name == "COMPLETE" and good.value == 1.0
    assert bad.state.name == "PRUNED"
    assert bad.user_attrs["pruned_at"]["step"] < bad.user_attrs["pruned_at"]["steps"] == 60
    assert max(bad.intermediate_values.values()) < 0.6  # chance on the selection split
    assert sorted(good.intermediate_values) == [1, 2, 3, 4]  # 4 evaluations spread over the trial

    tune_dir = tmp_path / "runs" / "tune" / "tune" / "teacher"
    for name in ("summary.json", "summary.md", "history.png", "importances.png", "learning_curves.png",
                 "best_params.yaml"):
        assert (tune_dir / name).is_file(), name
    summary = yaml.safe_load((tune_dir / "summary.json").read_text())
    assert summary["counts"]["finished"] == 3 and summary["counts"]["pruned"] >= 1
    assert summary["best"]["value"] == 1.0 and "select_accuracy" in summary["objective"]
    # trial dirs keep their record, not their weights (tune.keep_trial_models: false)
    trial_dir = Path(good.user_attrs["dir"])
    assert (trial_dir / "teacher" / "metrics.json").is_file() and not list(trial_dir.rglob("*.safetensors"))

    best = yaml.safe_load((tune_dir / "best_params.yaml").read_text())
    assert best["teacher.train.lr"] == study.best_trial.params["teacher.train.lr"]
    assert main(["run", str(cfg), "--params", str(tune_dir / "best_params.yaml"), "--until", "teacher"]) == 0
    rerun = Manifest.load(tmp_path / "runs" / "tune").entry("teacher")["metrics"]
    assert rerun["select_accuracy"] == study.best_value
    assert rerun["steps"] == study.best_trial.user_attrs["steps"]


def test_distill_study_shares_one_teacher(tmp_path, tiny_teacher, keyword_data):
    """The teacher is trained once, in the main run directory; each distill trial loads it as is."""
    import json

    from edgeport.cli import main
    from edgeport.pipeline.manifest import Manifest

    cfg = tune_config(tmp_path, tiny_teacher, keyword_data, trials=2, pruner="none")
    assert main(["tune", str(cfg), "--stage", "distill"]) == 0
    main_run = Manifest.load(tmp_path / "runs" / "tune")
    assert main_run.entry("teacher")["status"] == "done" and main_run.entry("distill") is None
    study = load_study(sqlite_url(tmp_path), "tune-distill")
    assert {"distill.train.lr", "distill.temperature", "distill.alpha"} <= set(study.trials[0].params)
    for t in study.trials:
        trial_run = Manifest.load(Path(t.user_attrs["dir"]))
        teacher = trial_run.entry("teacher")["metrics"]
        assert teacher["finetuned"] is False and teacher["model"] == str(tmp_path / "runs" / "tune" / "teacher")
        assert t.value == trial_run.entry("distill")["metrics"]["select_accuracy"]
    summary = json.loads((tmp_path / "runs" / "tune" / "tune" / "distill" / "summary.json").read_text())
    assert summary["counts"]["complete"] == 2


# ------------------------------------------------------------------------------------------ resume and parallel


def test_killed_study_resumes_without_counting_a_trial_twice(tmp_path, tiny_teacher, keyword_data):
    """SIGKILL `edgeport tune` in the middle of its second trial (after the first completed), run it again: the
    killed trial is failed by its stale heartbeat and re-run with the same parameters, the completed one is not
    re-run, and the study ends with exactly 3 finished trials."""
    cfg = tune_config(tmp_path, tiny_teacher, keyword_data, pruner="none")
    url, name = sqlite_url(tmp_path), "tune-teacher"
    proc = subprocess.Popen(tune_cmd(cfg), cwd=REPO, env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    killed_number = None
    try:
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.5)
            if not Path(url[len("sqlite:///"):]).is_file():
                continue
            try:
                trials = load_study(url, name).trials
            except Exception:
                continue
            running = [t for t in trials if t.state.name == "RUNNING" and t.intermediate_values]
            if any(t.state.name == "COMPLETE" for t in trials) and running:
                killed_number = running[0].number
                os.killpg(proc.pid, signal.SIGKILL)  # mid-trial: it has reported evaluations, not finished
                break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert killed_number is not None, "the first run never reached its second trial"
    before = {t.number: t.state.name for t in load_study(url, name).trials}
    assert before[killed_number] == "RUNNING" and list(before.values()).count("COMPLETE") == 1

    done = subprocess.run(tune_cmd(cfg), cwd=REPO, env=env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    trials = load_study(url, name).trials
    states = [t.state.name for t in trials]
    assert states.count("COMPLETE") + states.count("PRUNED") == 3  # the study's 3 trials, each counted once
    killed = trials[killed_number]
    assert killed.state.name == "FAIL"
    reruns = [t for t in trials if t.system_attrs.get("retry_history") == [killed_number]]
    assert len(reruns) == 1 and reruns[0].state.name == "COMPLETE"
    assert reruns[0].params == killed.params  # resumed where it stopped: the same trial again
    first = [t for t in trials if t.number < killed_number and t.state.name == "COMPLETE"]
    assert len(first) == 1 and not [t for t in trials if t.system_attrs.get("retry_history") == [first[0].number]]
    summary = yaml.safe_load((tmp_path / "runs" / "tune" / "tune" / "teacher" / "summary.json").read_text())
    assert summary["counts"]["finished"] == 3
    assert summary["counts"]["interrupted"] == 1 and summary["counts"]["failed"] == 0
    assert "tune: trial 3/3" in done.stdout


def _two_workers(cfg: Path, storage: str, trials: int) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen(tune_cmd(cfg, "--storage", storage, "--trials", trials), cwd=REPO, env=env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=900)
        results.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return results


def _check_shared_study(storage: str, name: str, trials: int, results) -> set[str]:
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
    study = load_study(storage, name)
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == trials  # exactly: a worker that would overshoot steps back
    assert len({t.number for t in study.trials}) == len(study.trials)
    return {t.user_attrs["worker"] for t in finished}


def test_two_processes_share_one_sqlite_study(tmp_path, tiny_teacher, keyword_data):
    cfg = tune_config(tmp_path, tiny_teacher, keyword_data)
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    results = _two_workers(cfg, storage, 4)
    workers = _check_shared_study(storage, "tune-teacher", 4, results)
    assert len(workers) == 2, f"one worker did every trial: {workers}"


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent  # /usr/local/bin may hold only a few symlinks
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


@pytest.fixture
def postgres_url(tmp_path):
    """A throw-away PostgreSQL cluster (Debian's postgresql package) on a Unix socket; skipped when there is no
    server binary or no psycopg2. As root it runs as the `postgres` user (the server refuses root)."""
    pytest.importorskip("psycopg2")
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (apt-get install postgresql)")
    import tempfile

    prefix: list[str] = []
    # its own short folder: the socket path has a length limit, and the server's user must reach it
    root = Path(tempfile.mkdtemp(prefix="edgeport-pg-"))
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            pytest.skip("running as root and there is no postgres user to run the server as")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = lambda *a: subprocess.run(prefix + list(a), capture_output=True, text=True, timeout=120)
    init = run(str(bindir / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", "postgres")
    if init.returncode:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb failed: {init.stderr[-500:]}")
    start = run(str(bindir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"), "-w", "-o",
                f"-k {root} -p {port} -c listen_addresses=''", "start")
    if start.returncode:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL did not start: {start.stderr[-500:]}")
    try:
        made = run(str(bindir / "createdb"), "-h", str(root), "-p", str(port), "-U", "postgres", "optuna")
        assert made.returncode == 0, made.stderr
        yield f"postgresql+psycopg2://postgres@/optuna?host={root}&port={port}"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_two_processes_share_one_postgresql_study(tmp_path, tiny_teacher, keyword_data, postgres_url):
    """Optuna's distributed mode on PostgreSQL: what several machines would use."""
    cfg = tune_config(tmp_path, tiny_teacher, keyword_data)
    results = _two_workers(cfg, postgres_url, 2)
    _check_shared_study(postgres_url, "tune-teacher", 2, results)
    assert "postgresql" in results[0].stdout and "***" not in results[0].stdout  # no password in the URL here


# ------------------------------------------------------------------------------------------ student search


# Two students whose TFLite INT8 files lie on either side of SIZE_BUDGET_MB: the full 30522-token vocabulary at
# hidden 32 is about 1.4 MB; the vocabulary pruned to the keyword task's words is a small fraction of that.
SIZE_BUDGET_MB = 0.8
BIG = {"student.depth": 2, "student.placement": "bottom", "prune.heads_fraction": 0.0, "prune.ffn_fraction": 0.0,
       "prune.vocab": False}
SMALL = {"student.depth": 1, "student.placement": "bottom", "prune.heads_fraction": 0.5,
         "prune.ffn_fraction": 0.5, "prune.vocab": True}
MODES = {False: "dynamic", True: "w4"}  # quantize.mode per student (by prune.vocab): tflite-int8 / tflite-w4


def _lowend_with_size_budget(directory: Path, name: str, size_mb: float) -> str:
    """A copy of the android-lowend profile under another name, with another model-size budget."""
    from edgeport.targets import get_target

    raw = yaml.safe_load(Path(get_target("android-lowend").path).read_text())
    raw |= {"name": name, "budgets": raw["budgets"] | {"model_size_mb": size_mb}}
    directory.mkdir(exist_ok=True)
    (directory / f"{name}.yaml").write_text(yaml.safe_dump(raw))
    return name


def test_student_search_pareto_and_chosen_student_meets_budgets(tmp_path, tiny_teacher, keyword_data,
                                                                 monkeypatch):
    """`--stage student --target T`, where T's size budget lies between the two students tried: the one over it is
    marked so, the chosen student is the one within, and run through the normal pipeline (`edgeport run
    --params`) it meets T's budgets in the report, while a second target whose budget nothing meets fails the
    run's budget gate (the checks can say "over"). The quantize mode is searched too (dynamic for the big
    student, w4 for the small one): each trial benches its own artifact, and the chosen mode reaches the run."""
    import json

    from edgeport.cli import main
    from edgeport.pipeline.manifest import Manifest

    targets = tmp_path / "targets"
    split = _lowend_with_size_budget(targets, "lowend-split", SIZE_BUDGET_MB)
    tight = _lowend_with_size_budget(targets, "lowend-tight", 0.001)
    monkeypatch.setenv("EDGEPORT_TARGETS_DIR", str(targets))
    cfg = write_config(tmp_path / "student.yaml", tiny_teacher, keyword_data, tmp_path / "runs",
                       run={"name": "student", "threads": 1},
                       prune={"train": {"epochs": 1, "lr": 1e-3, "batch_size": 16, "useful_gate": False},
                              "latency_seconds": 0},
                       export={"formats": ["tflite"]},
                       validate={"max_drop_vs_teacher": None},
                       bench={"targets": [split], "runs": 5, "min_seconds": 0, "warmup": 1},
                       tune={"trials": 2, "student": {"min_layers": 1, "max_layers": 2,
                                                      "quantize_modes": ["dynamic", "w4"]},
                             "enqueue": [BIG | {"quantize.mode": MODES[False]},
                                         SMALL | {"quantize.mode": MODES[True]}]})
    assert main(["tune", str(cfg), "--stage", "student", "--target", split]) == 0
    out = tmp_path / "runs" / "student" / "tune" / f"student-{split}"
    for name in ("pareto.md", "pareto.json", "pareto.png", "best_params.yaml", "summary.json", "history.png"):
        assert (out / name).is_file(), name
    rows = {r["vocab"]: r for r in json.loads((out / "pareto.json").read_text())}
    assert len(rows) == 2 and all(r["latency_kind"] == "estimate" for r in rows.values())
    # the budget splits the two: judged from the sizes themselves, not from the study's own verdict
    assert rows[False]["size_mb"] > SIZE_BUDGET_MB >= rows[True]["size_mb"], rows
    assert not rows[False]["within_budgets"] and rows[True]["within_budgets"]
    assert not rows[False]["chosen"] and rows[True]["chosen"]
    assert {v: (r["quantize_mode"], r["artifact"]) for v, r in rows.items()} == {
        False: ("dynamic", "tflite-int8"), True: ("w4", "tflite-w4")}  # each trial benched its own mode's file
    study = load_study(f"sqlite:///{out.parent / 'study.db'}", f"student-student-{split}")
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE", "MINIMIZE"]
    assert set(study.trials[0].constraints) == {"model_size_mb", "latency_p90_ms", "peak_memory_mb"}
    over = {t.params["prune.vocab"]: t.constraints["model_size_mb"] for t in study.trials}
    assert over[False] == pytest.approx(rows[False]["size_mb"] - SIZE_BUDGET_MB, abs=1e-3) and over[False] > 0
    params = yaml.safe_load((out / "best_params.yaml").read_text())
    assert params == {"distill.student.layers": [0], "prune.enabled": True, "prune.heads_fraction": 0.5,
                      "prune.ffn_fraction": 0.5, "prune.vocab": True, "quantize.tflite": "w4"}
    chosen_summary = json.loads((out / "summary.json").read_text())["chosen"]
    assert (chosen_summary["quantize_mode"], chosen_summary["artifact"]) == ("w4", "tflite-w4")

    # the chosen student through the pipeline, benched on both targets: budget gate 'any' fails the run on the
    # target nothing fits, and only on it
    assert main(["run", str(cfg), "--params", str(out / "best_params.yaml"),
                 "-o", f"bench.targets=[{split},{tight}]"]) == 1
    manifest = Manifest.load(tmp_path / "runs" / "student")
    assert manifest.data["config"]["distill"]["student"]["layers"] == params["distill.student.layers"]
    assert manifest.data["config"]["quantize"]["tflite"] == "w4"
    report = json.loads((tmp_path / "runs" / "student" / "report" / "report.json").read_text())
    checks = {(c["target"], c["metric"]): c for c in report["budget_checks"] if c["artifact"] == "tflite-w4"}
    assert {m for t, m in checks if t == split} == {"model_size_mb", "latency_p90_ms", "peak_memory_mb"}
    for c in checks.values():  # every verdict agrees with its own figures
        assert c["ok"] == (c["value"] <= c["limit"]), c
    assert all(c["ok"] for (t, _), c in checks.items() if t == split), checks
    assert not checks[(tight, "model_size_mb")]["ok"]
    failures = manifest.entry("report")["metrics"].get("gate_failures") or []
    assert failures and all(tight in f and split not in f for f in failures), failures
    chosen = rows[True]  # the estimate counts shapes: the same student, the same figure
    assert checks[(split, "latency_p90_ms")]["kind"] == "estimate"
    assert checks[(split, "latency_p90_ms")]["value"] == pytest.approx(chosen["latency_p90_ms"], rel=1e-2, abs=1e-3)
    assert checks[(split, "model_size_mb")]["value"] == pytest.approx(chosen["size_mb"], abs=1e-3)
