"""benchmarks/peer_comparison.py on the shared tiny run: the teacher's TFLite row gets the student's buckets, every
row has model-only and end-to-end figures, each as median and [min, max] over the rounds, and provenance."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from export_run import export_run

REPO = Path(__file__).resolve().parents[1]


def load_script():
    sys.path.insert(0, str(REPO / "benchmarks"))  # the script imports _provenance as `python benchmarks/x.py` does
    spec = importlib.util.spec_from_file_location("peer_comparison", REPO / "benchmarks" / "peer_comparison.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["peer_comparison"] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_rounding_and_spread():
    pc = load_script()
    assert [pc.sig2(x) for x in (37.68, 5.54, 0.523, 112.4, 0.0461)] == ["38", "5.5", "0.52", "110", "0.046"]
    rounds = [{sec: {k: v for k in keys} for sec, keys in pc.SECTIONS.items()} for v in (3.0, 1.0, 2.0)]
    s = pc.spread(rounds)
    assert s["end_to_end"]["p50_ms"] == {"median": 2.0, "min": 1.0, "max": 3.0}
    assert pc.cell(s["fixed"]["p90_ms"]) == "2 [1–3]"


def test_peer_comparison_on_tiny_run(tmp_path_factory, tmp_path):
    run = export_run(tmp_path_factory.getbasetemp())
    run_dir = run["run_dir"]
    data = run["base"] / "data"
    pc = load_script()
    assert pc.main([str(run_dir), "--data", str(data), "--limit", "12", "--repeats", "2", "--runs", "3",
                    "--min-seconds", "0", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "peer_comparison.json").read_text())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    buckets = manifest["stages"]["export"]["metrics"]["seq_buckets"]
    rows = {r["name"]: r for r in report["results"]}
    assert rows["teacher TFLite + dynamic-range INT8"]["seq_buckets"] == buckets == report["setting"]["seq_buckets"]
    assert rows["student tflite-int8"]["seq_buckets"] == buckets
    for r in report["results"]:
        assert len(r["rounds"]) == 2 and r["end_to_end_label_mismatches"] == 0, r["name"]
        for sec in ("fixed", "workload", "end_to_end"):
            fig = r[sec]["p50_ms"]
            assert fig["min"] <= fig["median"] <= fig["max"] and fig["min"] > 0, (r["name"], sec)
        assert all(rd["end_to_end"]["rows"] == rd["workload"]["rows"] == 12 for rd in r["rounds"]), r["name"]
    assert report["provenance"]["config_digest"] and report["provenance"]["commit"]
    md = (tmp_path / "peer_comparison.md").read_text()
    assert "end-to-end p50 ms" in md and "[" in md and "Provenance: commit" in md
    table = [line for line in md.splitlines() if line.startswith("| teacher")]
    assert len(table) == len(report["results"]) - sum(n.startswith("student") for n in rows)
    with pytest.raises(SystemExit):
        pc.main([str(tmp_path / "no-run"), "--out", str(tmp_path)])


def test_teacher_tflite_gets_the_students_buckets(tmp_path_factory, tmp_path):
    """The litert-torch teacher row is exported with the run's buckets (here two), not at one static length."""
    run = export_run(tmp_path_factory.getbasetemp())
    pc = load_script()
    rows = pc.peers(run["run_dir"] / "teacher", 16, [8, 16], 1, tmp_path)  # lazy: stops after the TFLite row
    runner = next(r for name, r, _ in rows if name.startswith("teacher TFLite"))
    assert runner.seq_buckets == [8, 16]
