"""The bad-input catalogue: every case runs the real CLI entry point (``edgeport.cli.main``) against a completed run
and must give exit code 2, a message naming the problem and the fix, no traceback - and leave every file of the
completed run (manifest, outputs, cache) byte-identical.

The cases run in-process (one torch import for all of them, so the catalogue takes seconds, not minutes); a few
are repeated in a real subprocess to prove the exit code and the absence of a traceback end to end.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import yaml

import tinyrun

CASES: dict[str, callable] = {}


def case(name: str, *expect: str):
    """Register a case: ``fn(b) -> argv``; ``expect``: substrings the error message must contain (problem, fix)."""

    def register(fn):
        assert name not in CASES, name
        CASES[name] = (fn, expect)
        return fn

    return register


class Builder:
    """Makes bad inputs next to a completed run: configs, data dirs, model dirs, each a variation of a good one."""

    def __init__(self, ws: dict, tmp: Path):
        self.ws, self.tmp = ws, tmp
        self.cfg = copy.deepcopy(ws["cfg"])

    def config(self, text: str | None = None, **sections) -> Path:
        path = self.tmp / "bad.yaml"
        if text is None:
            for dotted, value in sections.items():
                node = self.cfg
                *parents, leaf = dotted.split("__")
                for p in parents:
                    node = node.setdefault(p, {})
                node[leaf] = value
            text = yaml.safe_dump(self.cfg)
        path.write_text(text)
        return path

    def run(self, text: str | None = None, **sections) -> list:
        return ["run", self.config(text, **sections)]

    def data(self, train: str | bytes | None = None, validation: str | bytes | None = None, ext="tsv") -> Path:
        out = self.tmp / "data"
        shutil.copytree(self.ws["data"], out)
        for split, content in (("train", train), ("validation", validation)):
            if content is None:
                continue
            (out / f"{split}.tsv").unlink()
            target = out / f"{split}.{ext}"
            target.write_bytes(content if isinstance(content, bytes) else content.encode())
        return out

    def model(self) -> Path:
        out = self.tmp / "model"
        shutil.copytree(self.ws["teacher"], out)
        return out


GOOD_TRAIN = "sentence\tlabel\na fine film\t1\na dull film\t0\nwonderful\t1\nawful\t0\n"


# ------------------------------------------------------------------------------------------ configs


@case("config-yaml-syntax", "YAML syntax error", "line")
def _(b):
    return b.run("run:\n  name: [unclosed\n")


@case("config-top-level-list", "top level must be a mapping")
def _(b):
    return b.run("- run\n- data\n")


@case("config-not-utf8", "not UTF-8", "save it as UTF-8")
def _(b):
    path = b.tmp / "latin1.yaml"
    path.write_bytes("run:\n  name: caf\xe9\n".encode("latin-1"))
    return ["run", path]


@case("config-file-missing", "no config file", "shipped configs")
def _(b):
    return ["run", b.tmp / "nope.yaml"]


@case("config-is-a-directory", "no config file")
def _(b):
    return ["run", b.tmp]


@case("config-unknown-section", "quantise: unknown key", "did you mean 'quantize'")
def _(b):
    return b.run(quantise={"enabled": True})


@case("config-unknown-key-typo", "teacher.modle: unknown key", "did you mean 'model'")
def _(b):
    return b.run(teacher__modle="x")


@case("config-unknown-nested-key", "distill.train.learning_rate: unknown key", "accepts")
def _(b):
    return b.run(distill__train__learning_rate=0.1)


@case("config-wrong-type-number", "distill.train.epochs", "'two'")
def _(b):
    return b.run(distill__train__epochs="two")


@case("config-wrong-type-list", "data.label_names", "list")
def _(b):
    return b.run(data__label_names="negative")


@case("config-wrong-type-section", "teacher", "dictionary")
def _(b):
    return b.run(teacher="builtin:minilm-l6")


@case("config-lr-too-large", "distill.train.lr", "less than 1")
def _(b):
    return b.run(distill__train__lr=5)


@case("config-batch-size-zero", "teacher.train.batch_size", "greater than or equal to 1")
def _(b):
    return b.run(teacher__train__batch_size=0)


@case("config-seq-len-too-small", "data.max_seq_len", "greater than or equal to 8")
def _(b):
    return b.run(data__max_seq_len=4)


@case("config-alpha-above-one", "distill.alpha", "less than or equal to 1")
def _(b):
    return b.run(distill__alpha=1.5)


@case("config-temperature-zero", "distill.temperature", "greater than 0")
def _(b):
    return b.run(distill__temperature=0)


@case("config-threads-zero", "run.threads", "greater than or equal to 1")
def _(b):
    return b.run(run__threads=0)


@case("config-run-name-path", "run.name", "plain directory name")
def _(b):
    return b.run(run__name="../elsewhere")


@case("config-no-data-source", "data.local", "data.hub_id")
def _(b):
    return b.run(data__local=None, data__hub_id=None)


@case("config-pair-equals-text", "text_pair_column must differ")
def _(b):
    return b.run(data__text_pair_column="sentence")


@case("config-label-equals-text", "label_column must differ")
def _(b):
    return b.run(data__label_column="sentence")


@case("config-builtin-never-finetune", "finetune=never", "use 'auto' or 'always'")
def _(b):
    return b.run(teacher__model="builtin:minilm-l6", teacher__finetune="never")


@case("config-student-layers-decreasing", "distinct and increasing", "[0, 2, 4]")
def _(b):
    return b.run(distill__student__layers=[1, 0])


@case("config-student-layers-empty", "at least one teacher layer")
def _(b):
    return b.run(distill__student__layers=[])


@case("config-single-label-name", "at least two classes")
def _(b):
    return b.run(data__label_names=["only"])


@case("config-duplicate-label-names", "duplicates")
def _(b):
    return b.run(data__label_names=["pos", "pos"])


@case("config-student-heads-not-dividing", "divisible by", "num_attention_heads")
def _(b):
    return b.run(distill__student__hidden_size=30, distill__student__num_attention_heads=4)


@case("override-without-equals", "must look like section.key=value")
def _(b):
    return ["run", b.config(), "-o", "distill.epochs"]


@case("override-unknown-key", "distill.epoch: unknown key", "accepts")
def _(b):
    return ["run", b.config(), "-o", "distill.epoch=2"]


@case("until-unknown-stage", "unknown stage 'distil'", "stages are")
def _(b):
    return ["run", b.config(), "--until", "distil"]


@case("force-unknown-stage", "unknown stage 'teachr'", "stages are")
def _(b):
    return ["run", b.config(), "--force", "teachr"]


@case("cp-onto-existing-file", "already exists", "--force")
def _(b):
    existing = b.tmp / "mine.yaml"
    existing.write_text("# mine\n")
    return ["cp", "default", existing]


# ------------------------------------------------------------------------------------------ data


@case("data-dir-missing", "not found", "data.local")
def _(b):
    return b.run(data__local=str(b.tmp / "no-such-data"))


@case("data-split-file-missing", "no file for split 'train'", "data.train_split")
def _(b):
    d = b.data()
    (d / "train.tsv").unlink()
    return b.run(data__local=str(d))


@case("data-two-files-one-split", "several files for split 'train'", "keep one")
def _(b):
    d = b.data()
    (d / "train.csv").write_text("sentence,label\nok,1\n")
    return b.run(data__local=str(d))


@case("data-missing-column", "missing column(s) 'sentence'", "data.text_column")
def _(b):
    return b.run(data__local=str(b.data(train="text\tlabel\nnice\t1\nbad\t0\n")))


@case("data-empty-text", "train.tsv:3: empty text", "remove the row or fill it in")
def _(b):
    return b.run(data__local=str(b.data(train="sentence\tlabel\nnice\t1\n \t0\n")))


@case("data-unknown-label", "label '7' is not one of the labels", "data.label_names")
def _(b):
    return b.run(data__local=str(b.data(train=GOOD_TRAIN + "odd\t7\n")))


@case("data-single-class", "same label", "at least two")
def _(b):
    return b.run(data__local=str(b.data(train="sentence\tlabel\nnice\t1\ngood\t1\n")))


@case("data-not-utf8", "train.tsv:6: bytes that are not UTF-8", "re-save the file as UTF-8")
def _(b):
    return b.run(data__local=str(b.data(train=GOOD_TRAIN.encode() + "caf\xe9\t1\n".encode("latin-1"))))


@case("data-empty-split", "split 'validation' has no rows", "eval_split")
def _(b):
    return b.run(data__local=str(b.data(validation="sentence\tlabel\n")))


@case("data-empty-file", "the file is empty", "header line")
def _(b):
    return b.run(data__local=str(b.data(train="")))


@case("data-stray-tab", "3 fields but the header has 2", "stray tab")
def _(b):
    return b.run(data__local=str(b.data(train=GOOD_TRAIN + "a\tb\t1\n")))


@case("data-jsonl-invalid", "not valid JSON", "one JSON object")
def _(b):
    good = "".join(json.dumps({"sentence": t, "label": y}) + "\n" for t, y in (("a", 0), ("b", 1)))
    return b.run(data__local=str(b.data(train=good + "{oops\n", ext="jsonl")))


@case("data-jsonl-not-object", "expected a JSON object per line")
def _(b):
    return b.run(data__local=str(b.data(train='{"sentence": "a", "label": 0}\n[1, 2]\n', ext="jsonl")))


# ------------------------------------------------------------------------------------------ model directories


@case("model-dir-missing", "does not exist", "teacher.model")
def _(b):
    return b.run(teacher__model=str(b.tmp / "no-such-model"))


@case("model-no-config", "no config.json", "not a Hugging Face model directory")
def _(b):
    m = b.model()
    (m / "config.json").unlink()
    return b.run(teacher__model=str(m))


@case("model-config-invalid-json", "could not read the model config", "fix or replace its config.json")
def _(b):
    m = b.model()
    (m / "config.json").write_text("{not json")
    return b.run(teacher__model=str(m))


@case("model-missing-weights", "no weights", "copy the weights")
def _(b):
    m = b.model()
    (m / "model.safetensors").unlink()
    return b.run(teacher__model=str(m))


@case("model-missing-tokenizer", "no tokenizer", "save the tokenizer")
def _(b):
    m = b.model()
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        (m / name).unlink(missing_ok=True)
    return b.run(teacher__model=str(m))


@case("model-unsupported-architecture", "is a 'gpt2' model", "set teacher.model")
def _(b):
    m = b.model()
    config = json.loads((m / "config.json").read_text())
    (m / "config.json").write_text(json.dumps(config | {"model_type": "gpt2", "architectures": ["GPT2Model"]}))
    return b.run(teacher__model=str(m))


@case("model-pickle-only", "only a pickle checkpoint", "teacher.allow_pickle")
def _(b):
    import torch
    from safetensors.torch import load_file

    m = b.model()
    torch.save(load_file(str(m / "model.safetensors")), m / "pytorch_model.bin")
    (m / "model.safetensors").unlink()
    return b.run(teacher__model=str(m))


@case("model-seq-len-beyond-positions", "exceeds", "data.max_seq_len <= 512")
def _(b):
    return b.run(data__max_seq_len=1024)


@case("model-unknown-builtin", "unknown built-in teacher 'nope'", "builtin:minilm-l6")
def _(b):
    return b.run(teacher__model="builtin:nope")


@case("student-layer-out-of-range", "[5] out of range", "layers 0..1")
def _(b):
    return b.run(distill__student__layers=[0, 5])


@case("student-width-vs-heads", "hidden_size 33 is not divisible", "num_attention_heads")
def _(b):
    return b.run(distill__student__hidden_size=33)


@case("student-hidden-loss-narrow", "hidden_loss_weight > 0", "unset distill.student.hidden_size")
def _(b):
    return b.run(distill__student__hidden_size=16, distill__hidden_loss_weight=1.0)


# ------------------------------------------------------------------------------------------ targets, artifacts


@case("target-unknown-name", "unknown target 'nope'", "known targets")
def _(b):
    return ["bench", _fake_artifact(b, "model.onnx", b"\x08\x01"), "--target", "nope", "--no-host"]


@case("target-malformed-profile", "threads", "bad-target.yaml")
def _(b):
    host = yaml.safe_load((tinyrun.TESTS.parent / "targets" / "host.yaml").read_text())
    path = b.tmp / "bad-target.yaml"
    path.write_text(yaml.safe_dump(host | {"threads": "many"}))
    return ["bench", _fake_artifact(b, "model.onnx", b"\x08\x01"), "--target", path, "--no-host"]


@case("target-profile-yaml-syntax", "bad-syntax.yaml")
def _(b):
    path = b.tmp / "bad-syntax.yaml"
    path.write_text("name: [unclosed\n")
    return ["bench", _fake_artifact(b, "model.onnx", b"\x08\x01"), "--target", path, "--no-host"]


@case("artifact-missing", "no-such-model.onnx")
def _(b):
    return ["predict", b.tmp / "no-such-model.onnx", "a fine film"]


@case("artifact-truncated-onnx", "model.onnx")
def _(b):
    return ["predict", _fake_artifact(b, "model.onnx", b"\x08\x07\x12\x04onnx\x3a\xff\xff"), "a fine film"]


@case("artifact-truncated-torchscript", "model.pt")
def _(b):
    return ["predict", _fake_artifact(b, "model.pt", b"PK\x03\x04\x14\x00\x00\x00"), "a fine film"]


@case("artifact-truncated-tflite", "model.tflite")
def _(b):
    return ["predict", _fake_artifact(b, "model.tflite", b"\x1c\x00\x00\x00TFL3\x00\x00"), "a fine film"]


def _fake_artifact(b, name: str, content: bytes) -> Path:
    """An artifact directory whose model file is cut short (the tokenizer beside it is fine)."""
    d = b.tmp / "artifact"
    d.mkdir(exist_ok=True)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(b.ws["teacher"] / f, d / f)
    (d / name).write_bytes(content)
    return d / name


# ------------------------------------------------------------------------------------------ the test


@pytest.fixture(scope="module")
def completed(tmp_path_factory):
    """A copy of the session's completed tiny run; the catalogue runs against it and must leave it untouched."""
    ref = tinyrun.reference(tmp_path_factory.mktemp("reference"))
    ws = tinyrun.copy_run(ref["ws"], tmp_path_factory.mktemp("bad-inputs"))
    return ws, tinyrun.tree_digest(ws["run_dir"])


def _main(argv, capsys) -> tuple[int, str]:
    from edgeport.cli import main

    capsys.readouterr()
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors exit 2 themselves
        rc = exc.code
    return rc, capsys.readouterr().err


def test_catalogue_is_large_enough():
    assert len(CASES) >= 40, len(CASES)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, completed, tmp_path, capsys, monkeypatch):
    ws, before = completed
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fn, expect = CASES[name]
    argv = fn(Builder(ws, tmp_path))
    rc, err = _main(argv, capsys)
    assert rc == 2, f"exit {rc}; stderr:\n{err}"
    assert err.startswith("edgeport: error:"), err
    assert "Traceback" not in err
    for text in expect:
        assert text in err, f"{text!r} not in:\n{err}"
    assert tinyrun.tree_digest(ws["run_dir"]) == before, "the completed run changed"
    lock = ws["run_dir"] / ".lock"  # filelock keeps the file; a released lock holds no holder record
    assert not lock.exists() or lock.read_text() == ""


@pytest.mark.parametrize("name", ["config-yaml-syntax", "data-missing-column", "model-pickle-only"])
def test_bad_input_real_process(name, completed, tmp_path):
    """The same, in a real `edgeport` process: exit status 2 and no traceback on stderr."""
    ws, before = completed
    fn, expect = CASES[name]
    proc = tinyrun.cli(*fn(Builder(ws, tmp_path)))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert all(text in proc.stderr for text in expect), proc.stderr[-2000:]
    assert tinyrun.tree_digest(ws["run_dir"]) == before
