"""`accelerate launch --num_processes 2 --cpu` (gloo) runs teacher and distill unchanged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from tests.conftest import run_cli, write_config

# Batches are split across processes, so 2 processes see the same global batches as 1; only float reduction
# order differs. With dropout off, accuracies on 200 rows agree to within this many examples' worth.
ACCURACY_TOLERANCE = 0.02
# The two students' logits may differ only by accumulated float reduction-order noise.
LOGIT_TOLERANCE = 1e-3


def test_two_process_distill_matches_one_process(tiny_bert, sst2_slice, tmp_path):
    common = dict(teacher={"model": str(tiny_bert), "dropout": 0.0,
                           "train": {"epochs": 1, "lr": 1e-3, "batch_size": 16, "useful_gate": False}})
    one = write_config(tmp_path / "one.yaml", tiny_bert, sst2_slice, tmp_path / "runs", **common)
    two = write_config(tmp_path / "two.yaml", tiny_bert, sst2_slice, tmp_path / "runs2", **common)
    single = run_cli("run", one, "--until", "distill", cwd=tmp_path)
    assert single.returncode == 0, single.stderr[-3000:]

    launcher = shutil.which("accelerate", path=os.path.dirname(sys.executable)) or "accelerate"
    cmd = [launcher, "launch", "--num_processes", "2", "--num_machines", "1", "--cpu", "--mixed_precision", "no",
           "--dynamo_backend", "no", "-m", "edgeport.cli", "run", str(two), "--until", "distill"]
    multi = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                           env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert multi.returncode == 0, multi.stderr[-3000:]

    def metrics(runs):
        return json.loads((tmp_path / runs / "tiny" / "manifest.json").read_text())["stages"]

    a, b = metrics("runs"), metrics("runs2")
    for stage in ("teacher", "distill"):
        assert b[stage]["status"] == "done"
        assert abs(a[stage]["metrics"]["eval_accuracy"] - b[stage]["metrics"]["eval_accuracy"]) <= ACCURACY_TOLERANCE
        assert a[stage]["metrics"]["steps"] == b[stage]["metrics"]["steps"]
    assert _max_logit_diff(tmp_path / "runs" / "tiny" / "distill", tmp_path / "runs2" / "tiny" / "distill") < LOGIT_TOLERANCE


def _max_logit_diff(a, b) -> float:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(a)
    batch = tok(["a gorgeous , witty film", "dull and far too long", "it 's fine"], return_tensors="pt", padding=True)
    with torch.no_grad():
        la = AutoModelForSequenceClassification.from_pretrained(a).eval()(**batch).logits
        lb = AutoModelForSequenceClassification.from_pretrained(b).eval()(**batch).logits
    return (la - lb).abs().max().item()
