"""The same config and seed give the same results on the same machine: a second, independent run of the tiny
pipeline reproduces the first exactly - metrics (timings aside) and the sha256 of the model weights.

Why this holds: the runner seeds every RNG at the start of each stage (classification-head initialisation happens
before the training loop seeds itself, and a resumed run starts a stage in a fresh process), and CPU kernels are
deterministic for a fixed thread count (the tiny config pins run.threads: 1). Measured, not assumed: before the
per-stage seeding the teacher's weights differed run to run.
"""

from __future__ import annotations

import shutil

import tinyrun


def test_same_seed_same_results(tmp_path_factory):
    ref = tinyrun.reference(tmp_path_factory.mktemp("reference"))
    ws = tinyrun.copy_run(ref["ws"], tmp_path_factory.mktemp("again"))
    shutil.rmtree(ws["runs"])
    proc = tinyrun.cli("run", ws["config"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert tinyrun.results(ws["run_dir"]) == ref["results"]


def test_stage_seeding_fixes_head_init(tiny_bert):
    """The mechanism: a freshly initialised classification head depends only on the run's seed."""
    from edgeport.models import load_classifier
    from edgeport.pipeline.runner import _seed_everything

    heads = []
    for _ in range(2):
        _seed_everything(0)
        heads.append(load_classifier(tiny_bert, label_names=["a", "b"]).classifier.weight.detach().clone())
    assert heads[0].equal(heads[1])


def test_forced_rerun_with_identical_weights_does_not_rerun_consumers(tmp_path_factory):
    """Make-style end to end: a forced teacher re-run reproduces its weights exactly, so distill stays skipped
    (its fingerprint covers the teacher's artifacts, not the wall-clock timings in teacher/metrics.json)."""
    ref = tinyrun.reference(tmp_path_factory.mktemp("reference-force"))
    ws = tinyrun.copy_run(ref["ws"], tmp_path_factory.mktemp("forced"))
    proc = tinyrun.cli("run", ws["config"], "--force", "teacher")
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = {line.split()[0]: line.split()[1] for line in proc.stdout.splitlines()
               if line.strip().startswith(("teacher ", "distill "))}
    assert summary == {"teacher": "ran", "distill": "skip"}, proc.stdout
    assert tinyrun.results(ws["run_dir"]) == ref["results"]
