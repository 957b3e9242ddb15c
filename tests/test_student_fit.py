"""benchmarks/student_fit.py: every variant is the panel task's config with only the student changed, and its
overrides load through edgeport's own config loader (a misspelt key or value would fail the variant's run)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from conftest import SHARED_DATA as DATA_DIR

from edgeport.config import load_config

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))  # student_fit.py imports panel and _provenance as siblings
_spec = importlib.util.spec_from_file_location("bench_student_fit", REPO / "benchmarks" / "student_fit.py")
fit = sys.modules["bench_student_fit"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fit)


def test_each_variant_changes_only_the_student(tmp_path):
    cfg = fit.config("sst2-2k", fit.TASKS["sst2-2k"], DATA_DIR, tmp_path, 1)
    base = load_config(str(cfg)).model_dump()
    students = {}
    for name, (_, overrides) in fit.VARIANTS.items():
        got = load_config(str(cfg), overrides).model_dump()
        changed = {(section, key) for section in base for key in base[section]
                   if base[section][key] != got[section][key]}
        assert changed <= {("distill", "student"), ("distill", "hidden_loss_weight")}, name
        students[name] = (got["distill"]["student"]["layers"], got["distill"]["hidden_loss_weight"])
    assert students == {"stride": ([0, 2, 4], 0.0), "spread": ([0, 2, 5], 0.0), "hidden": ([0, 2, 4], 1.0),
                        "depth4": ([0, 2, 3, 5], 0.0)}
