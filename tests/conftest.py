"""Shared fixtures: tiny random-weight BERTs (fast) and small SST-2 slices read from ../shared/data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# pytest-xdist runs two workers (pyproject's addopts): each gets its share of the cores for torch, ONNX Runtime and
# the CLI subprocesses it starts (they inherit it), set before anything imports torch. Two workers with all cores
# each would oversubscribe them.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    os.environ.setdefault("OMP_NUM_THREADS",
                          str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))

import pytest  # noqa: E402
import yaml  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EDGEPORT_DATA_DIR", REPO.parent / "shared" / "data"))
SST2 = SHARED_DATA / "sst2"


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="run slow tests (real MiniLM, full SST-2)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: pass --runslow (the benchmarks cover this)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def minilm_dir() -> Path:
    from edgeport.models import resolve_model_dir

    return resolve_model_dir("builtin:minilm-l6")


def make_tiny_bert(out: Path, *, hidden=32, layers=2, heads=2, intermediate=64, classifier_labels=None,
                   seed=0) -> Path:
    """A random-weight BERT with the MiniLM WordPiece tokenizer, saved as a HF directory (safetensors)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, BertModel

    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(str(minilm_dir()))
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=heads, intermediate_size=intermediate, max_position_embeddings=512)
    if classifier_labels:
        config.num_labels = len(classifier_labels)
        config.id2label = dict(enumerate(classifier_labels))
        config.label2id = {n: i for i, n in enumerate(classifier_labels)}
        model = BertForSequenceClassification(config)
    else:
        model = BertModel(config)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def sst2_slice(tmp_path_factory) -> Path:
    """A few hundred SST-2 rows in a temp dir (the real data stays in ../shared; nothing is copied to the repo)."""
    if not SST2.is_dir():
        pytest.fail(f"SST-2 not found at {SST2}; set EDGEPORT_DATA_DIR to the folder that holds sst2/")
    out = tmp_path_factory.mktemp("sst2-slice")
    for split, n in (("train", 400), ("validation", 200)):
        lines = (SST2 / f"{split}.tsv").read_text(encoding="utf-8").splitlines()[: n + 1]
        (out / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


TINY_TRAIN = {"epochs": 2, "lr": 1e-3, "batch_size": 16, "useful_gate": False}


def write_config(path: Path, teacher_dir: Path, data_dir: Path, runs_dir: Path, **sections) -> Path:
    """A tiny pipeline config: quick training, small model; sections override/extend the defaults."""
    cfg = {
        "run": {"name": "tiny", "runs_dir": str(runs_dir), "seed": 0},
        "data": {"local": str(data_dir), "label_names": ["negative", "positive"], "max_seq_len": 32},
        # useful_gate off: a random-init hidden-32 BERT on 400 rows learns little; these runs test mechanics
        # (tests/test_recipe.py proves the gate itself).
        "teacher": {"model": str(teacher_dir), "train": dict(TINY_TRAIN)},
        "distill": {"student": {"layers": [1]}, "train": dict(TINY_TRAIN)},
    }
    for key, value in sections.items():
        cfg.setdefault(key, {}).update(value)
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_cli(*args, cwd=None, env=None, timeout=600):
    """Run the real ``edgeport`` CLI in a subprocess; returns CompletedProcess (text)."""
    import subprocess

    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", "edgeport.cli", *map(str, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
