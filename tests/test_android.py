"""edgeport.android: golden vectors for the Kotlin tokenizer and the app's assets (fast parts; the JVM run is in
test_android_jvm.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SST2
from edgeport import android
from edgeport.errors import ArtifactError, DataError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def minilm_tokenizer():
    from edgeport.models import load_tokenizer, resolve_model_dir

    return load_tokenizer(resolve_model_dir("builtin:minilm-l6"))


def test_hard_cases_cover_the_traps():
    names = {n for n, _, _ in android.hard_cases()}
    for must in ("empty", "whitespace-only", "accents", "cjk", "emoji", "zero-width", "control-chars",
                 "long-word", "literal-cls", "pair-both-long"):
        assert must in names
    assert len(android.golden_cases(android.read_sst2_sentences(SST2))) >= 300


def test_golden_vectors_shape_and_special_tokens(minilm_tokenizer):
    cases = [("cls", "hello[CLS]world", None), ("pair", "a", "b"), ("empty-pair", "a", "")]
    g = android.golden_vectors(minilm_tokenizer, cases, seq_len=16)
    assert g["format"] == android.GOLDEN_FORMAT and g["seq_len"] == 16
    by = {c["name"]: c for c in g["cases"]}
    assert all(len(c[k]) == 16 for c in g["cases"] for k in android.KEYS)
    assert by["cls"]["input_ids"][:5] == [101, 7592, 101, 2088, 102]  # the literal [CLS] stays one token
    assert by["pair"]["token_type_ids"][:5] == [0, 0, 0, 1, 1]
    assert by["empty-pair"]["input_ids"][:4] == [101, 1037, 102, 0]  # transformers: "" pair == no pair
    assert "logits" not in by["cls"]  # tokenizer-only goldens until a runner is given


def test_golden_file_is_ascii_json(tmp_path, minilm_tokenizer):
    path = tmp_path / "g.json"
    android.write_json(path, android.golden_vectors(minilm_tokenizer, [("e", "😀\x00é", None)], 8))
    path.read_bytes().decode("ascii")
    assert json.loads(path.read_text())["cases"][0]["text"] == "😀\x00é"


def test_vocab_round_trip(tmp_path, minilm_tokenizer):
    android.write_vocab(minilm_tokenizer, tmp_path / "vocab.txt")
    lines = (tmp_path / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert lines[101] == "[CLS]" and len(lines) == len(minilm_tokenizer.get_vocab())


def test_tokenizer_flags(minilm_tokenizer):
    flags = android.tokenizer_flags(minilm_tokenizer)
    assert flags["do_lower_case"] is True and "[CLS]" in flags["special_tokens"]


def test_missing_artifact_is_a_clear_error(tmp_path):
    with pytest.raises(ArtifactError, match="no 'tflite-int8' artifact"):
        android.find_artifact(tmp_path)


def test_missing_sst2_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="validation.tsv"):
        android.read_sst2_sentences(tmp_path)


def test_cli_reports_missing_run(tmp_path, capsys):
    from edgeport.cli import main

    assert main(["android", str(tmp_path / "nope"), "--out", str(tmp_path / "assets")]) == 2
    assert "tflite-int8" in capsys.readouterr().err


def test_unicode_tables_are_current():
    """The committed Kotlin tables equal what the installed tokenizers measures (the JVM test checks Kotlin)."""
    out = subprocess.run([sys.executable, str(ROOT / "android-demo/tools/unicode_tables.py"), "kotlin"],
                         capture_output=True, text=True, check=True).stdout
    committed = (ROOT / "android-demo/app/src/main/java/dev/edgeport/demo/text/UnicodeTables.kt").read_text()
    assert out == committed, "regenerate UnicodeTables.kt: see android-demo/README.md"
