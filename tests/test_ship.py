"""Shipping paths ship only what validate passed (issue 28, item 6): ``edgeport android`` and ``edgeport mediapipe``
refuse an artifact whose verdict failed, whose bytes changed after the run or that validate never judged, with the
reason (exit 2) and nothing written; a passing one is written, and an int8-output (full-integer) model's labels.json
carries each signature's own output with its own dequantization parameters.

The run is real TFLite (a tiny bucketed BERT, full-integer INT8, ``ship_run.tflite_run``) with a chosen verdict
(``ship_run.record_validate``). The report's join of validate's figures to the bytes they describe is checked on a
real pipeline run in test_ship_report.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SST2
from ship_run import BUCKETS, record_validate, tflite_run

from edgeport.cli import main
from edgeport.errors import ArtifactError
from edgeport.apps.shipping import NotShippable, ship_artifact
from edgeport.verdict import Problem, State, load_verdicts

pytest.importorskip("litert_torch")
pytest.importorskip("ai_edge_quantizer")


@pytest.fixture(scope="module")
def source_run(tmp_path_factory) -> Path:
    return tflite_run(tmp_path_factory.mktemp("ship"))


@pytest.fixture
def run(source_run, tmp_path) -> Path:
    """A private copy of the run, its manifest without a validate entry yet."""
    return Path(shutil.copytree(source_run, tmp_path / "run"))


def android(run: Path, out: Path, *extra: str) -> int:
    return main(["android", str(run), "--out", str(out), "--data", str(SST2), "--golden-count", "8", *extra])


def test_gate_failed_is_refused(run, tmp_path, capsys):
    record_validate(run, {"tflite-int8": "fail"})
    assert android(run, tmp_path / "assets") == 2
    err = capsys.readouterr().err
    assert "refusing to ship tflite-int8" in err and "is FAIL" in err and "agreement 0.9 vs 0.97 (fail)" in err
    assert not (tmp_path / "assets").exists()  # nothing written: no model, no golden vectors from the failing file
    with pytest.raises(NotShippable) as exc:
        ship_artifact(run, "tflite-int8", accept_inconclusive=True)  # the flag never lets a failure through
    assert exc.value.reason is State.FAIL


def test_changed_bytes_are_refused(run, tmp_path, capsys):
    record_validate(run)
    model = run / "quantize" / "tflite-int8" / "model.tflite"
    model.write_bytes(model.read_bytes() + b"\0")  # still loads; not what validate judged
    assert android(run, tmp_path / "assets") == 2
    err = capsys.readouterr().err
    assert "quantize/tflite-int8/model.tflite changed on disk" in err and "re-run the pipeline" in err
    assert not (tmp_path / "assets").exists()
    assert load_verdicts(run)["tflite-int8"].reason is Problem.CHANGED
    assert load_verdicts(run)["tflite-fp32"].problem is None  # the other artifact is untouched


@pytest.mark.parametrize("change", ["tokenizer", "extra file"])
def test_changed_artifact_directory_is_refused(run, change):
    """The app ships the tokenizer and labels beside the model: they must be the recorded bytes too."""
    record_validate(run)
    folder = run / "quantize" / "tflite-int8"
    if change == "tokenizer":
        (folder / "tokenizer.json").write_text((folder / "tokenizer.json").read_text().replace("[UNK]", "[UNK2]"))
    else:
        (folder / "tokenizer.model").write_bytes(b"not recorded")
    with pytest.raises(NotShippable, match="tflite-int8" if change == "tokenizer" else "appeared") as exc:
        ship_artifact(run, "tflite-int8")
    assert exc.value.reason is Problem.CHANGED


def test_passing_artifact_is_written(run, tmp_path, capsys):
    record_validate(run)
    out = tmp_path / "assets"
    assert android(run, out) == 0
    stdout = capsys.readouterr().out
    assert "tflite-int8: validate verdict PASS on these bytes" in stdout and "int8 output" in stdout
    source = run / "quantize" / "tflite-int8" / "model.tflite"
    assert (out / "model.tflite").read_bytes() == source.read_bytes()
    assert not list(out.glob(".*partial"))
    info = json.loads((out / "labels.json").read_text())
    from edgeport.pipeline.manifest import sha256_file

    assert info["sha256"] == sha256_file(source) and info["verdict"] == "pass"
    # Each bucket's signature has its own int8 output and its own scale: one signature's cannot stand for another's.
    outs = info["signature_outputs"]
    assert sorted(outs) == sorted(info["bucket_signatures"].values()) and info["seq_buckets"] == BUCKETS
    assert {o["dtype"] for o in outs.values()} == {"int8"}
    assert len({o["scale"] for o in outs.values()}) == len(BUCKETS)
    golden = json.loads((out / "golden.json").read_text())
    assert {c["bucket"] for c in golden["cases"]} == set(BUCKETS)
    # The app's rule, (q - zero_point) * scale with the case's own signature, gives the runtime's logits.
    for case in golden["cases"]:
        spec = outs[info["bucket_signatures"][str(case["bucket"])]]
        decoded = (np.asarray(case["raw_output"], np.float32) - spec["zero_point"]) * np.float32(spec["scale"])
        np.testing.assert_allclose(decoded, case["logits"], atol=1e-5, err_msg=case["name"])
    assert np.ptp([c["logits"][1] - c["logits"][0] for c in golden["cases"]]) > 0.5  # logits carry information


def test_inconclusive_needs_the_flag(run, tmp_path, capsys):
    record_validate(run, {"tflite-int8": "inconclusive"})
    assert android(run, tmp_path / "assets") == 2
    assert "INCONCLUSIVE" in capsys.readouterr().err and not (tmp_path / "assets").exists()
    assert android(run, tmp_path / "assets", "--accept-inconclusive") == 0
    stdout = capsys.readouterr().out
    assert "verdict INCONCLUSIVE" in stdout and "--accept-inconclusive" in stdout
    assert json.loads((tmp_path / "assets" / "labels.json").read_text())["verdict"] == "inconclusive"


def test_unjudged_and_stale_verdicts_are_refused(run):
    with pytest.raises(NotShippable, match="no validate verdict") as exc:
        ship_artifact(run, "tflite-int8")  # validate never ran
    assert exc.value.reason is Problem.NOT_JUDGED
    record_validate(run)
    manifest = json.loads((run / "manifest.json").read_text())
    # quantize re-ran (new bytes, recorded) and validate did not run after it: its verdict is on the old bytes.
    model = run / "quantize" / "tflite-int8" / "model.tflite"
    model.write_bytes(model.read_bytes() + b"\0")
    from edgeport.pipeline.manifest import hash_tree

    manifest["stages"]["quantize"]["outputs"] = hash_tree(run / "quantize", run)
    (run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(NotShippable, match="validate judged an earlier version of quantize's outputs") as exc:
        ship_artifact(run, "tflite-int8")
    assert exc.value.reason is Problem.STALE
    # Without the runner's input digest (older manifests), the sha256 of the judged file still tells.
    del manifest["stages"]["validate"]["fingerprint_parts"]
    (run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(NotShippable, match="validate judged other bytes") as exc:
        ship_artifact(run, "tflite-int8")
    assert exc.value.reason is Problem.STALE


def test_unknown_artifact_names_what_exists(run):
    record_validate(run)
    with pytest.raises(NotShippable, match=r"no 'onnx-int8' artifact .*found: tflite-fp32, tflite-int8"):
        ship_artifact(run, "onnx-int8")


def test_mediapipe_refuses_and_ships(run, tmp_path, capsys):
    pytest.importorskip("mediapipe.tasks.python.text.text_classifier")
    from edgeport.apps.mediapipe import read_mediapipe_metadata

    out = tmp_path / "mp" / "model.tflite"
    record_validate(run, {"tflite-int8": "fail"})
    assert main(["mediapipe", str(run), "--out", str(out)]) == 2
    assert "is FAIL" in capsys.readouterr().err and not out.exists()
    record_validate(run)
    model = run / "quantize" / "tflite-int8" / "model.tflite"
    good = model.read_bytes()
    model.write_bytes(good + b"\0")
    assert main(["mediapipe", str(run), "--out", str(out)]) == 2
    assert "changed on disk" in capsys.readouterr().err and not out.exists()
    model.write_bytes(good)
    assert main(["mediapipe", str(run), "--out", str(out)]) == 0
    assert "validate verdict PASS" in capsys.readouterr().out
    assert read_mediapipe_metadata(out)["labels"] == ["negative", "positive"]


# ------------------------------------------------------------------------------------------ outputs the app reads


def _details(dtype, scales=(), zeros=()):
    return {"logits": {"dtype": dtype, "quantization": (scales[0] if scales else 0.0, zeros[0] if zeros else 0),
                       "quantization_parameters": {"scales": np.asarray(scales, np.float32),
                                                   "zero_points": np.asarray(zeros, np.int32)}}}


def test_output_spec_accepts_float_and_int8_only():
    from edgeport.apps.android_model import output_spec

    assert output_spec(Path("m"), "s", _details(np.float32)) == {"name": "logits", "dtype": "float32"}
    assert output_spec(Path("m"), "s", _details(np.int8, [0.5], [-3])) == {"name": "logits", "dtype": "int8",
                                                                          "scale": 0.5, "zero_point": -3}
    for bad, why in ((_details(np.uint8, [0.5], [3]), "outputs uint8"), (_details(np.int16, [0.5], [0]), "int16"),
                     (_details(np.int8, [0.5, 0.25], [0, 0]), r"scales \[0.5, 0.25\]"),
                     (_details(np.int8), "outputs int8"), (_details(np.float32) | {"x": {}}, "2 outputs")):
        with pytest.raises(ArtifactError, match=why):
            output_spec(Path("m"), "s", bad)
