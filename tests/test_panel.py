"""benchmarks/panel.py: each panel task is the shipped default config with only its data section (and the run's
name and place) changed, on task files built from the shared data at run time."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import yaml

from conftest import SHARED_DATA as DATA_DIR

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))  # panel.py imports _provenance as its sibling
_spec = importlib.util.spec_from_file_location("bench_panel", REPO / "benchmarks" / "panel.py")
panel = sys.modules["bench_panel"] = importlib.util.module_from_spec(_spec)  # dataclasses look their module up
_spec.loader.exec_module(panel)


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def test_every_panel_task_changes_only_the_data_section(tmp_path):
    default = yaml.safe_load((REPO / "edgeport" / "configs" / "default.yaml").read_text())
    for name, task in panel.TASKS.items():
        cfg = yaml.safe_load(panel.config(name, task, DATA_DIR, tmp_path).read_text())
        assert {k: v for k, v in cfg.items() if k not in ("data", "run")} == \
               {k: v for k, v in default.items() if k not in ("data", "run")}, name
        assert cfg["run"] == default["run"] | {"name": name, "runs_dir": str(tmp_path / "runs")}
        assert (cfg["data"] == default["data"]) == (name == "sst2"), name


def test_the_built_tasks_have_their_rows_and_labels(tmp_path):
    for name in ("sst2-2k", "stsb-binary", "stsb-3class"):
        panel.config(name, panel.TASKS[name], DATA_DIR, tmp_path)
    sample = _rows(tmp_path / "data" / "sst2-2k" / "train.tsv")
    assert sample[0] == ["sentence", "label"] and len(sample) == 2001
    source = {tuple(r) for r in _rows(DATA_DIR / "sst2" / "train.tsv")[1:]}
    assert all(tuple(r) in source for r in sample[1:])
    scores = [float(r[2]) for r in _rows(DATA_DIR / "stsb" / "train.tsv")[1:]]
    binary = [int(r[2]) for r in _rows(tmp_path / "data" / "stsb-binary" / "train.tsv")[1:]]
    three = [int(r[2]) for r in _rows(tmp_path / "data" / "stsb-3class" / "train.tsv")[1:]]
    assert binary == [int(s >= 3) for s in scores]
    assert three == [0 if s < 2 else 1 if s < 4 else 2 for s in scores]
    assert len(_rows(tmp_path / "data" / "stsb-binary" / "validation.tsv")) == 1501


def test_an_unknown_task_is_a_usage_error_naming_the_choices(capsys):
    import argparse

    import pytest

    ap = argparse.ArgumentParser()
    assert panel.chosen(ap, "sst2,,stsb-binary", panel.TASKS, "task") == ["sst2", "stsb-binary"]
    with pytest.raises(SystemExit) as exit_:
        panel.chosen(ap, "sst2,sst3", panel.TASKS, "task")
    assert exit_.value.code == 2
    assert "unknown task(s) sst3; choose from sst2, sst2-2k" in capsys.readouterr().err
