"""Safe loading: weights come from safetensors; a pickle checkpoint is refused unless teacher.allow_pickle is set,
and even then is read with weights_only=True, so code hidden in it never runs; every torch.load in the project
passes weights_only=True; nothing at run time opens a network connection unless the config names a hub id."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

import tinyrun
from edgeport.errors import ModelError
from edgeport.models import load_classifier

REPO = Path(__file__).resolve().parents[1]


class Payload:
    """Unpickling this runs ``touch MARKER``: what a malicious checkpoint does."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _model_with_pickle(src: Path, dest: Path, marker: Path, keep_safetensors: bool) -> Path:
    import torch
    from safetensors.torch import load_file

    shutil.copytree(src, dest)
    state = load_file(str(dest / "model.safetensors"))
    state["evil"] = Payload(marker)
    torch.save(state, dest / "pytorch_model.bin")
    if not keep_safetensors:
        (dest / "model.safetensors").unlink()
    return dest


def test_every_torch_load_is_weights_only():
    offenders = []
    for path in [*REPO.glob("edgeport/**/*.py"), *REPO.glob("benchmarks/**/*.py")]:
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\btorch\.load\(", line) and "weights_only=True" not in line:
                offenders.append(f"{path.relative_to(REPO)}:{lineno}: {line.strip()}")
    assert not offenders, offenders


def test_pickle_only_refused_without_trust_flag(tiny_bert, tmp_path):
    marker = tmp_path / "pwned"
    model = _model_with_pickle(tiny_bert, tmp_path / "m", marker, keep_safetensors=False)
    with pytest.raises(ModelError, match="only a pickle checkpoint.*teacher.allow_pickle"):
        load_classifier(model, label_names=["a", "b"])
    assert not marker.exists()


def test_trusted_pickle_still_cannot_run_code(tiny_bert, tmp_path):
    """allow_pickle: true reads the checkpoint with weights_only=True: a payload is an error, never executed."""
    marker = tmp_path / "pwned"
    model = _model_with_pickle(tiny_bert, tmp_path / "m", marker, keep_safetensors=False)
    with pytest.raises(ModelError, match="could not load weights"):
        load_classifier(model, label_names=["a", "b"], allow_pickle=True)
    assert not marker.exists()


def test_trusted_plain_pickle_loads(tiny_bert, tmp_path):
    import torch
    from safetensors.torch import load_file

    model = tmp_path / "m"
    shutil.copytree(tiny_bert, model)
    torch.save(load_file(str(model / "model.safetensors")), model / "pytorch_model.bin")
    (model / "model.safetensors").unlink()
    assert load_classifier(model, label_names=["a", "b"], allow_pickle=True).config.num_labels == 2


def test_safetensors_preferred_over_a_pickle_beside_it(tiny_bert, tmp_path):
    marker = tmp_path / "pwned"
    model = _model_with_pickle(tiny_bert, tmp_path / "m", marker, keep_safetensors=True)
    assert load_classifier(model, label_names=["a", "b"]).config.num_labels == 2
    assert not marker.exists()


# A sitecustomize that makes every internet connection fail loudly and records it.
NO_NET = """
import os, socket
_connect = socket.socket.connect
def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        with open(os.environ["NET_LOG"], "a") as f:
            f.write(repr(address) + "\\n")
        raise OSError("network blocked by the test")
    return _connect(self, address)
socket.socket.connect = connect
socket.create_connection = lambda address, *a, **k: connect(socket.socket(), address)
"""


def _no_net_env(tmp_path: Path) -> dict:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_NET)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env |= {"PYTHONPATH": os.pathsep.join([str(site), env.get("PYTHONPATH", "")]), "NET_LOG": str(tmp_path / "net.log"),
            "HF_HOME": str(tmp_path / "hf-home"), "PYTHONUNBUFFERED": "1"}
    return env


def test_local_run_opens_no_connection(tmp_path_factory, tmp_path):
    """HF_HUB_OFFLINE unset and a socket layer that records any connect: a local run makes none."""
    import subprocess

    ref = tinyrun.reference(tmp_path_factory.mktemp("reference"))
    ws = tinyrun.copy_run(ref["ws"], tmp_path / "ws")
    shutil.rmtree(ws["runs"])
    env = _no_net_env(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "edgeport.cli", "run", str(ws["config"]), "--until", "teacher"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = tmp_path / "net.log"
    assert not log.exists() or not log.read_text(), log.read_text()


@pytest.mark.slow  # ~50 s: huggingface_hub retries the blocked connection with back-off before giving up
def test_hub_id_is_the_only_way_online(tmp_path_factory, tmp_path):
    """The guard is real: a hub-id teacher does try the network (and, offline, fails with a clear error)."""
    import subprocess

    ref = tinyrun.reference(tmp_path_factory.mktemp("reference"))
    ws = tinyrun.copy_run(ref["ws"], tmp_path / "ws")
    env = _no_net_env(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "edgeport.cli", "run", str(ws["config"]), "--until", "teacher",
                           "-o", "teacher.model=some-org/some-model"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "some-org/some-model" in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "net.log").read_text(), "expected a (blocked) connection attempt for a hub id"
