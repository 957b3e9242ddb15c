"""Two CPU processes (``torchrun --standalone --nproc_per_node 2``, gloo) run teacher and distill unchanged and
optimise the same global batches as one process.

``accelerate launch --cpu --num_processes 2`` is not the launcher here: with Accelerate 1.15 it starts a single
process unless given an MPI hostfile, so it would compare one process with one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import run_cli, write_config

PROCESSES = 2
# Batches are split across processes, so 2 processes see the same global batches as 1; only float reduction
# order differs. With dropout off, accuracies on 200 rows agree to within this many examples' worth.
ACCURACY_TOLERANCE = 0.02
# The two students' logits may differ only by accumulated float reduction-order noise (measured: 1.5e-8 in fp32;
# another seed moves them by 0.04, so the bound still catches a run that trained on other batches).
LOGIT_TOLERANCE = 1e-3


def torchrun_cmd(nproc: int, *cli_args) -> list[str]:
    """The documented multi-process CPU launch of ``edgeport`` (torchrun ships with torch)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
            "-m", "edgeport.cli", *map(str, cli_args)]


def test_two_process_distill_matches_one_process(tiny_bert, sst2_slice, tmp_path):
    # fp32: the equivalence is about the process count; bf16 rounding would blur it (precision "auto" is bf16 on
    # CPUs where bf16 measured faster).
    train = {"epochs": 1, "lr": 1e-3, "batch_size": 16, "useful_gate": False, "precision": "fp32"}
    common = {"teacher": {"model": str(tiny_bert), "dropout": 0.0, "train": train}, "distill": {"train": train}}
    one = write_config(tmp_path / "one.yaml", tiny_bert, sst2_slice, tmp_path / "runs", **common)
    two = write_config(tmp_path / "two.yaml", tiny_bert, sst2_slice, tmp_path / "runs2", **common)
    single = run_cli("run", one, "--until", "distill", cwd=tmp_path)
    assert single.returncode == 0, single.stderr[-3000:]

    multi = subprocess.run(torchrun_cmd(PROCESSES, "run", two, "--until", "distill"), cwd=tmp_path,
                           capture_output=True, text=True, timeout=900, check=False,
                           env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1"))
    assert multi.returncode == 0, multi.stderr[-3000:]
    # The main process alone prints the summary (a second "main" would print it twice).
    assert multi.stdout.count("\nrun: ") == 1, multi.stdout[-3000:]

    def stages(runs):
        return json.loads((tmp_path / runs / "tiny" / "manifest.json").read_text())["stages"]

    a, b = stages("runs"), stages("runs2")
    for stage in ("teacher", "distill"):
        assert b[stage]["status"] == "done"
        # Accelerate really trained with two processes (and the single run with one).
        assert a[stage]["metrics"]["num_processes"] == 1
        assert b[stage]["metrics"]["num_processes"] == PROCESSES, b[stage]["metrics"]
        assert a[stage]["metrics"]["steps"] == b[stage]["metrics"]["steps"]
        assert abs(a[stage]["metrics"]["eval_accuracy"] - b[stage]["metrics"]["eval_accuracy"]) <= ACCURACY_TOLERANCE
    diff = _max_logit_diff(tmp_path / "runs" / "tiny" / "distill", tmp_path / "runs2" / "tiny" / "distill")
    print(f"max |logit diff| distill, {PROCESSES} processes vs 1: {diff:.3g}")
    assert diff < LOGIT_TOLERANCE


def _max_logit_diff(a, b) -> float:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(a)
    batch = tok(["a gorgeous , witty film", "dull and far too long", "it 's fine"], return_tensors="pt", padding=True)
    with torch.no_grad():
        la = AutoModelForSequenceClassification.from_pretrained(a).eval()(**batch).logits
        lb = AutoModelForSequenceClassification.from_pretrained(b).eval()(**batch).logits
    return (la - lb).abs().max().item()
