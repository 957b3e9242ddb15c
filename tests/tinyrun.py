"""A very small real pipeline (teacher -> distill) for the reliability tests and benchmarks/fault_injection.py.

64 training rows, 1 epoch, a 2-layer hidden-32 BERT, one thread, export/quantize/validate/report disabled: a full
`edgeport run` takes about 10 seconds here, most of it Python imports. One thread because the comparison is exact: a fixed seed on the same machine and thread count
gives bit-identical weights on CPU (measured: model.safetensors sha256 equal across runs), so interrupted and
uninterrupted runs must agree exactly, not within a tolerance.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
from conftest import SST2, make_tiny_bert  # noqa: E402

TIMING = re.compile(r"seconds|_ms$|latency|rss|_at$")


def make_data(out: Path, train_rows: int = 64, eval_rows: int = 32) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", train_rows), ("validation", eval_rows)):
        lines = (SST2 / f"{split}.tsv").read_text(encoding="utf-8").splitlines()[: n + 1]
        (out / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


# Words whose polarity a reader knows without context. SST-2 rows that hold words of one side only carry their
# label in those words (about 87% of such training rows agree with the word's side), so a random-init hidden-32
# BERT learns them in 126 steps (83-89% on the selection split, tests/test_cli_e2e.py), where on unfiltered SST-2
# rows it answered one class for every row.
POSITIVE_WORDS = frozenset("good great best fine beautiful wonderful funny fun love enjoyable excellent charming "
                           "moving entertaining".split())
NEGATIVE_WORDS = frozenset("bad worst dull boring awful mess stupid tedious flat lame predictable pointless "
                           "unfunny".split())


def _keyword_rows(split: str, max_words: int) -> dict[int, list[str]]:
    """SST-2 ``split`` rows (text<TAB>label lines, file order) of at most ``max_words`` distinct words, holding words
    of one polarity only, by their label."""
    by_label: dict[int, list[str]] = {0: [], 1: []}
    for line in (SST2 / f"{split}.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        text, label = line.rsplit("\t", 1)
        words = set(text.split())
        if len(words) <= max_words and bool(words & POSITIVE_WORDS) != bool(words & NEGATIVE_WORDS):
            by_label[int(label)].append(line)
    return by_label


def make_keyword_data(out: Path, train_rows: int = 1200, eval_rows: int = 120, max_words: int = 25) -> Path:
    """Real SST-2 rows a tiny random-init model can learn: those with sentiment words of one side only (their real
    labels kept, so about one in eight contradicts its word), classes balanced, the first rows in file order.
    train.tsv from SST-2's train split, validation.tsv from its validation split (sentences the training phrases
    were not cut from). Raises if SST-2 has too few such rows for the sizes asked."""
    out.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", train_rows), ("validation", eval_rows)):
        by_label = _keyword_rows(split, max_words)
        half = n // 2
        if min(len(rows) for rows in by_label.values()) < n - half:
            raise ValueError(f"SST-2 {split} has too few keyword rows for {n} balanced rows")
        rows = [row for pair in zip(by_label[0][:half], by_label[1][: n - half]) for row in pair]
        rows += by_label[1][half: n - half]  # n odd: one more positive row
        (out / f"{split}.tsv").write_text("sentence\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return out


def base_config(teacher: Path, data: Path, runs: Path, name: str = "tiny") -> dict:
    train = {"epochs": 1, "lr": 1e-3, "batch_size": 16, "eval_batch_size": 64, "useful_gate": False}
    return {
        "run": {"name": name, "runs_dir": str(runs), "seed": 0, "threads": 1},
        "data": {"local": str(data), "label_names": ["negative", "positive"], "max_seq_len": 32},
        "teacher": {"model": str(teacher), "train": dict(train)},
        "distill": {"student": {"layers": [1]}, "train": dict(train)},
        # The runner is what is under test; the export/validate stages have their own tests and take a minute.
        **{stage: {"enabled": False} for stage in ("export", "quantize", "validate", "report")},
    }


def make_workspace(base: Path, name: str = "tiny") -> dict:
    """teacher dir, data dir, runs dir and a config file under ``base``."""
    base.mkdir(parents=True, exist_ok=True)
    teacher = make_tiny_bert(base / "teacher-src") if not (base / "teacher-src").is_dir() else base / "teacher-src"
    data = make_data(base / "data")
    cfg = base_config(teacher, data, base / "runs", name)
    path = base / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return {"base": base, "teacher": teacher, "data": data, "runs": base / "runs", "config": path, "cfg": cfg,
            "run_dir": base / "runs" / name}


def cli(*args, env: dict | None = None, timeout: float = 300, **popen) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", "edgeport.cli", *map(str, args)], env=full_env,
                          capture_output=True, text=True, timeout=timeout, **popen)


def popen(*args, env: dict | None = None) -> subprocess.Popen:
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "edgeport.cli", *map(str, args)], env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def results(run_dir: Path) -> dict:
    """What must not change between runs with the same seed: each stage's metrics (timings dropped) and the sha256
    of its model weights. metrics.json is left out of the hashes because it holds the timings."""
    stages = manifest(run_dir)["stages"]
    out = {}
    for name, entry in stages.items():
        assert entry.get("status") == "done", f"{name}: {entry.get('status')} {entry.get('error', '')}"
        metrics = {k: v for k, v in entry["metrics"].items() if not TIMING.search(k)}
        weights = {k: v for k, v in entry["outputs"].items() if not k.endswith("metrics.json")}
        out[name] = {"metrics": metrics, "outputs": weights}
    return out


def tree_digest(directory: Path) -> dict[str, str]:
    """sha256 of every file under a directory (the lock file aside): 'nothing was touched' checks."""
    from edgeport.pipeline.manifest import sha256_file

    return {str(p.relative_to(directory)): sha256_file(p) for p in sorted(directory.rglob("*"))
            if p.is_file() and p.name != ".lock"}


_REFERENCE: dict = {}


def reference(root: Path) -> dict:
    """One uninterrupted run per test session, shared by the test files that compare against it."""
    if "ws" not in _REFERENCE:
        ws = make_workspace(root / "reference")
        proc = cli("run", ws["config"])
        assert proc.returncode == 0, proc.stderr[-3000:]
        _REFERENCE.update(ws=ws, results=results(ws["run_dir"]))
    return _REFERENCE


def copy_run(ws: dict, dest: Path) -> dict:
    """A second workspace whose runs dir starts as a copy of ``ws``'s, same teacher and data."""
    dest.mkdir(parents=True, exist_ok=True)
    runs = dest / "runs"
    if ws["runs"].is_dir():
        shutil.copytree(ws["runs"], runs)
    cfg = base_config(ws["teacher"], ws["data"], runs, ws["cfg"]["run"]["name"])
    path = dest / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return dict(ws, base=dest, runs=runs, config=path, cfg=cfg, run_dir=runs / cfg["run"]["name"])


def kill_and_resume(ref: dict, work: Path, scenario: str, fault: str | None = None,
                    delay: float | None = None) -> dict:
    """SIGKILL one run (at EDGEPORT_FAULT=``fault``, or from outside after ``delay`` seconds), then re-run it.

    scenario "fresh": the run starts from an empty run dir; "force": it re-runs teacher over a completed run (so the
    publish has a previous version to move aside)."""
    import signal
    import time

    ws = copy_run(ref["ws"], work)
    args = ["run", ws["config"]]
    if scenario == "fresh":
        shutil.rmtree(ws["runs"], ignore_errors=True)
    else:
        args += ["--force", "teacher"]
    t0 = time.perf_counter()
    if fault:
        killed = cli(*args, env={"EDGEPORT_FAULT": fault}).returncode == -signal.SIGKILL
    else:
        proc = popen(*args)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        killed = proc.returncode == -signal.SIGKILL
    left = sorted(p.name for p in ws["run_dir"].iterdir()) if ws["run_dir"].is_dir() else []
    rerun = cli("run", ws["config"])
    row = {"scenario": scenario, "fault": fault or f"random {delay:.1f}s", "killed": killed, "left_behind": left,
           "rerun_rc": rerun.returncode, "stale_lock_recovered": "recovered a stale lock" in rerun.stdout,
           "seconds": round(time.perf_counter() - t0, 1), "run_dir": str(ws["run_dir"]), "config": str(ws["config"])}
    try:
        row["metrics_equal"] = rerun.returncode == 0 and results(ws["run_dir"]) == ref["results"]
    except AssertionError as exc:
        row["metrics_equal"], row["error"] = False, str(exc)
    if rerun.returncode != 0:
        row["error"] = rerun.stderr[-1500:]
    return row
