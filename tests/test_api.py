"""The Python API (edgeport/api.py): a run's results as typed objects, the CLI's errors as exceptions, predict in
the regime validate judges, and the example script in examples/ run end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import write_config

import edgeport
import edgeport.api
from edgeport.errors import ConfigError, EdgeportError
from edgeport.pipeline import GateError
from edgeport.verdict import State

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"export": {"formats": ["onnx"]}, "bench": {"enabled": False}, "prune": {"enabled": False}}


@pytest.fixture(scope="module")
def api_run(tiny_bert, sst2_slice, tmp_path_factory):
    base = tmp_path_factory.mktemp("api")
    cfg = write_config(base / "api.yaml", tiny_bert, sst2_slice, base / "runs", **SMALL)
    return cfg, edgeport.run(cfg)


def test_run_returns_typed_results(api_run):
    cfg, run = api_run
    assert run.passed and set(run.artifacts) == {"onnx-fp32", "onnx-int8"}
    assert {n: s.status for n, s in run.stages.items()}["validate"] == "done"
    fp32 = run.artifacts["onnx-fp32"]
    assert fp32.verdict is State.PASS and fp32.format == "onnx" and fp32.path.is_file()
    assert fp32.accuracy.split == "validation" and fp32.accuracy.rows == 200 and 0 < fp32.accuracy.value <= 1
    assert [r["status"] for r in run.executed if r["stage"] == "teacher"] == ["ran"]
    steps = {s.stage: s for s in edgeport.api.plan(cfg).steps}  # what `edgeport run --dry-run` prints
    assert steps["teacher"].action == "skip" and steps["teacher"].reason == "up to date"
    again = edgeport.load_run(run.run_dir)  # the same objects from the run directory, as the CLI leaves it
    assert again.artifacts == run.artifacts and again.stages == run.stages


def test_predict_runs_each_text_alone_as_validate_does(api_run):
    from edgeport.bench.workload import encode_split, run_rows
    from edgeport.runtimes import load

    _, run = api_run
    art = run.artifacts["onnx-int8"]
    texts = ["a gripping , beautifully acted film", "dull", "the plot , such as it is , never once surprised me"]
    got = np.array([r["logits"] for r in art.predict(texts)], dtype=np.float32)
    want = run_rows(load(art.path), encode_split(art.path, texts, None, 32))
    np.testing.assert_array_equal(got, want)
    assert edgeport.load_artifact(art.path.parent).predict(texts)[0]["label"] in ("negative", "positive")
    with pytest.raises(EdgeportError, match="list of texts"):
        art.predict("one text")


def test_errors_are_the_clis_exceptions(api_run, tmp_path, tiny_bert, sst2_slice):
    with pytest.raises(ConfigError):
        edgeport.run(tmp_path / "missing.yaml")
    with pytest.raises(EdgeportError, match="no manifest.json"):
        edgeport.load_run(tmp_path)
    cfg, _ = api_run  # the same run, with an INT8 logit tolerance no file can meet: a gate fails
    with pytest.raises(GateError) as failed:
        edgeport.run(cfg, ["validate.tolerances.onnx-int8.max_abs=1e-9"])
    assert failed.value.run.artifacts["onnx-int8"].verdict is State.FAIL
    assert failed.value.run.artifacts["onnx-fp32"].verdict is State.PASS


def test_the_example_script_runs(api_run):
    cfg, _ = api_run
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "python_api.py"), str(cfg)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "onnx-int8" in out.stdout and "on validation (200 rows)" in out.stdout and "verdict pass" in out.stdout
    assert "on android-lowend: p90 " in out.stdout and "ms (estimate)" in out.stdout
