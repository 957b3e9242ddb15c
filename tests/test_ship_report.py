"""The report never joins old verdicts to new artifacts, and the shipping commands never ship them (issue 28, item 6),
on a real pipeline run (``export_run``: teacher -> distill -> prune -> ONNX + TFLite -> dynamic INT8 -> validate),
copied so the shared run stays as it is, then taken through what happens to users:

1. quantize re-runs with other settings (``full_integer``) and validate does not run after it (``--until
   quantize``): the INT8 artifacts are new bytes, validate's rows describe the old ones;
2. validate is killed as it starts (the runner's ``stage.running-marked`` fault point): it has judged nothing;
3. quantize re-runs and is killed after publishing its directory but before the manifest records it.

After each, the report's artifact rows show no verdict and no validate figure for the bytes nobody judged, and
``edgeport android`` refuses with the reason (exit 2)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from export_run import export_run
from tinyrun import cli

from edgeport.report.collect import collect
from edgeport.verdict import load_verdicts

pytest.importorskip("litert_torch")


@pytest.fixture(scope="module")
def copied(tmp_path_factory) -> dict:
    shared = export_run(tmp_path_factory.getbasetemp())
    base = tmp_path_factory.mktemp("ship-report")
    run = Path(shutil.copytree(shared["run_dir"], base / "runs" / "tiny"))
    cfg = yaml.safe_load(Path(shared["config"]).read_text())
    cfg["run"]["runs_dir"] = str(base / "runs")
    path = base / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return {"run": run, "config": path}


def _rows(run: Path) -> dict:
    return {a["name"]: a for a in collect(run)["artifacts"]}


def _refused(run: Path, tmp: Path, why: str) -> None:
    proc = cli("android", run, "--out", tmp / "assets", "--golden-count", "0")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert why in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp / "assets").exists()


def test_a_real_validate_verdict_stands_for_its_bytes(copied):
    """What validate and the runner record (typed verdicts, sha256, the input digests) is what load_verdicts reads."""
    standings = load_verdicts(copied["run"])
    assert set(standings) == {"onnx-fp32", "tflite-fp32", "onnx-int8", "tflite-int8"}
    assert {n: s.problem for n, s in standings.items()} == dict.fromkeys(standings)
    rows = _rows(copied["run"])
    assert all(r["verdict_state"] is not None and r["accuracy"] is not None for r in rows.values())


def test_no_verdict_is_joined_to_bytes_validate_did_not_judge(copied, tmp_path):
    run, config = copied["run"], copied["config"]
    before = _rows(run)
    # 1. quantize re-runs with other bytes; validate does not run after it
    proc = cli("run", config, "-o", "quantize.tflite=full_integer", "--until", "quantize", timeout=600)
    assert proc.returncode == 0 and "==> quantize" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = _rows(run)
    assert rows["tflite-int8"]["path"] == before["tflite-int8"]["path"]
    for name in ("tflite-int8", "onnx-int8"):  # quantize's outputs: judged in an earlier version
        row = rows[name]
        assert row["verdict"] is None and row["verdict_state"] is None, row
        assert row["accuracy"] is None and row["agreement"] is None and row["max_abs_diff"] is None, row
        assert row["verdict_problem"]["reason"] == "stale"
    for name in ("tflite-fp32", "onnx-fp32"):  # export did not re-run: validate's verdict still stands for them
        assert rows[name]["verdict_state"] == before[name]["verdict_state"] is not None
        assert rows[name]["accuracy"] == before[name]["accuracy"]
    _refused(run, tmp_path, "validate judged an earlier version of quantize's outputs")

    # 2. validate killed as it starts: it has judged nothing now
    proc = cli("run", config, "-o", "quantize.tflite=full_integer", env={"EDGEPORT_FAULT": "stage.running-marked"},
               timeout=600)
    assert proc.returncode != 0
    rows = _rows(run)
    assert all(r["verdict_state"] is None and r["accuracy"] is None for r in rows.values()), rows
    assert {r["verdict_problem"]["reason"] for r in rows.values()} == {"not_judged"}
    _refused(run, tmp_path, "validate has not finished")

    # 3. quantize killed after publishing, before the manifest records it: its directory holds unrecorded bytes
    proc = cli("run", config, env={"EDGEPORT_FAULT": "stage.published"}, timeout=600)
    assert proc.returncode != 0
    assert set(_rows(run)) == {"tflite-fp32", "onnx-fp32"}  # a stage that did not finish vouches for nothing
    _refused(run, tmp_path, "quantize: running")
