"""ExecuTorch (.pte, XNNPACK): fp32 and INT8 of a tiny BERT through the registered exporter and runner.

The model is ``test_export.spread_model`` (logits that depend on the input), judged like the validate stage judges
every artifact: the exporter's tolerance (INT8: + the noise budget's factor x the model's own 8-bit noise) and the gates.
The sequence length is dynamic: the same file runs 5, 32 and 77 tokens at batch 1..3 (the runner loops rows).
Lowering is slow (~20 s per program here), so fp32 and dynamic INT8 are built once per module; static INT8
(a calibrated option) is ``slow``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("executorch")

from conftest import make_tiny_bert
from test_export import SEQ, Split, eval_texts, spread_model

from edgeport import runtimes
from edgeport.config import ValidateConfig
from edgeport.errors import ArtifactError
from edgeport.exporters import EXPORTERS, INT8_NOISE, QuantizeRequest, make_sample, write_sidecar
from edgeport.validation import (References, artifact_logits, judge_artifact, reference_logits,
                                 resolved_tolerance)
from edgeport.validation_gates import lines
from edgeport.verdict import State

LABELS = ["negative", "positive"]
MARGIN = 0.5  # judged rows: |logit1 - logit0| of the fp32 model at least this (near-ties flip under any noise)


def _int8(model, fp32: Path, out_dir: Path, mode: str, calibration: list[dict]) -> Path:
    shutil.copytree(fp32.parent, out_dir, ignore=shutil.ignore_patterns(fp32.name))
    return EXPORTERS["executorch"].quantize(QuantizeRequest(
        model=model, fp32_path=fp32, sample=make_sample(SEQ, batch=2), out_dir=out_dir, mode=mode,
        calibration=calibration))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("executorch")
    model, tok = spread_model(make_tiny_bert(base / "tiny", classifier_labels=LABELS), eval_texts())
    texts = eval_texts(400)
    ref = reference_logits(model, tok, Split(texts, [0] * len(texts)), SEQ)
    keep = np.flatnonzero(np.abs(ref[:, 1] - ref[:, 0]) >= MARGIN)
    split = Split([texts[i] for i in keep], ref[keep].argmax(-1).tolist())
    out = base / "executorch-fp32"
    out.mkdir()
    # the export stage's sample for a dynamic-shape format: batch 2 (the exporter takes one row)
    fp32 = EXPORTERS["executorch"].export(model, make_sample(SEQ, batch=2, vocab=tok.vocab_size), out)
    write_sidecar(out, fmt="executorch", precision="fp32", model_file=fp32.name, label_names=LABELS, seq_len=None,
                  max_seq_len=SEQ, tokenizer=tok, model=model, export_seq_len=SEQ)
    int8 = _int8(model, fp32, base / "executorch-int8", "dynamic", [])
    return {"model": model, "tok": tok, "split": split, "ref": ref[keep], "paths": {"fp32": fp32, "int8": int8},
            "base": base, "noise": References(model, tok, split, SEQ).noise()}


def _validate(path: Path, precision: str, built, mode: str = "dynamic") -> tuple[dict, list[str]]:
    """What the validate stage computes and gates for one artifact (default config, no teacher)."""
    logits = artifact_logits(runtimes.load(path, threads=2), path, built["split"], SEQ)
    row, gates = judge_artifact(f"executorch-{precision}", "executorch", precision, logits, built["ref"],
                                built["split"].labels, ValidateConfig(), noise=built["noise"], mode=mode)
    return row | {"gates": {g.name: g for g in gates}}, lines(row["name"], gates, State.FAIL)


def test_registered_with_a_runtime_and_config():
    from edgeport.config import ExportConfig, QuantizeConfig
    from edgeport.stages.quantize import CALIBRATED

    exporter = EXPORTERS["executorch"]
    assert exporter.suffix == ".pte" and runtimes.RUNTIMES[".pte"] == ("executorch", "executorch")
    assert exporter.dynamic_shapes and set(exporter.tolerances) == {"fp32", "int8", "w4"}
    assert {("executorch", m) for m in (*exporter.quantize_modes, "qat")} <= set(INT8_NOISE)
    assert "executorch" in ExportConfig().formats and QuantizeConfig().executorch == "dynamic"
    assert "static" in CALIBRATED and "dynamic" not in CALIBRATED
    ValidateConfig(tolerances={"executorch-int8": {"max_abs": 1.0}})  # a known artifact name


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_artifact_matches_torch_and_passes_the_gates(precision, built):
    row, failures = _validate(built["paths"][precision], precision, built)
    tol = row["tolerance"]
    assert row["max_abs_diff"] <= tol["max_abs"] and row["mean_abs_diff"] <= tol["mean_abs"], row
    assert row["agreement"] >= (0.999 if precision == "fp32" else 0.99), row
    assert failures == []
    if precision == "fp32":  # XNNPACK's float kernels: noise, far inside the tolerance
        assert row["max_abs_diff"] < 1e-4, row


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_one_file_takes_any_length_and_batch(precision, built):
    import torch

    runner = runtimes.load(built["paths"][precision])
    assert runner.seq_len is None and runner.max_seq_len == SEQ  # the export length, not the model's 512 positions
    rng = np.random.default_rng(1)
    for batch, width in ((1, 5), (3, SEQ - 7), (2, SEQ)):
        ids = rng.integers(1000, 2000, (batch, width))
        mask = np.ones_like(ids)
        mask[-1, width // 2:] = 0
        with torch.no_grad():
            expected = built["model"](input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits
        got = runner(ids, mask)
        assert got.shape == (batch, 2) and got.dtype == np.float32
        # INT8: the base + the budget's factor x this model's own 8-bit noise on the eval rows, as validation allows
        tol = resolved_tolerance("executorch", precision, ValidateConfig(), mode="dynamic", noise=built["noise"])
        np.testing.assert_allclose(got, expected.numpy(), atol=tol["max_abs"], rtol=0)


def test_int8_is_smaller_and_too_long_inputs_are_refused(built):
    fp32, int8 = (built["paths"][p].stat().st_size for p in ("fp32", "int8"))
    assert int8 < fp32  # the Linear weights in INT8 (the embedding tables stay float: most of this tiny model)
    runner = runtimes.load(built["paths"]["fp32"])
    ids = np.ones((1, SEQ + 1), np.int64)
    with pytest.raises(ArtifactError, match=f"at most {SEQ}"):
        runner(ids, ids)


def test_predict_reads_a_pte_artifact(built, capsys):
    from edgeport.cli import main

    text = built["split"].texts[0]
    for precision in ("fp32", "int8"):
        assert main(["predict", str(built["paths"][precision].parent), text]) == 0
        assert capsys.readouterr().out.split("\t")[0] == LABELS[built["split"].labels[0]]


@pytest.mark.slow
def test_static_int8_calibrated_on_real_rows(built):
    from family import sst2_texts

    from edgeport.runtimes.text import encode_rows, pad_batch

    tok = built["tok"]
    rows = [pad_batch([r], width=SEQ, pad_id=tok.pad_token_id) for r in encode_rows(tok, sst2_texts("train", 32),
                                                                                    None, SEQ)]
    path = _int8(built["model"], built["paths"]["fp32"], built["base"] / "executorch-int8-static", "static", rows)
    row, failures = _validate(path, "int8", built, mode="static")
    assert row["max_abs_diff"] <= row["tolerance"]["max_abs"], row
    assert failures == [], failures
