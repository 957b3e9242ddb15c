"""Realistic INT8 defects trip the gates; a correct INT8 of the same model passes them.

The model learns (``gate_models.train_keyword_bert``: eval accuracy is asserted far above the majority class), so
its logits carry information. Artifact logits are torch dynamic INT8 of it, what TorchScript INT8 computes, run
one row per call like validate (``validation.reference_logits`` on the quantized model). The tolerance is the
shipped noise budget of (torchscript, dynamic) times the model's own 8-bit noise (``References.noise``), exactly as
the validate stage resolves it. Defects: one Linear layer whose INT8 weights are read at 2x or 0.5x their scale
(on top of torch dynamic INT8 against the TorchScript budget, on top of weight-only INT8 against TFLite's), and 2%
of the rows' decisions turned around.
"""

from __future__ import annotations

import numpy as np
import pytest
from gate_models import flip_rows, keyword_split, train_keyword_bert, weight_only_int8, with_wrong_scale

from edgeport.config import ValidateConfig
from edgeport.validation import References, int8_yardstick, reference_logits, resolved_tolerance
from edgeport.validation_gates import Evidence, judge
from edgeport.verdict import ArtifactVerdict, State

EVAL_ROWS, MAX_LEN = 872, 32  # the size of SST-2's eval split
# one Linear of each role: attention projections and FFN in either layer, the pooler, the classifier
LINEARS = ["bert.encoder.layer.0.attention.self.query", "bert.encoder.layer.0.intermediate.dense",
           "bert.encoder.layer.1.attention.output.dense", "bert.encoder.layer.1.output.dense", "bert.pooler.dense",
           "classifier"]


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    model, tok = train_keyword_bert(tmp_path_factory.mktemp("keyword-bert"))
    split = keyword_split(EVAL_ROWS, seed=7)
    refs = References(model, tok, split, MAX_LEN)
    accuracy = float((refs().argmax(-1) == np.asarray(split.labels)).mean())
    assert accuracy > 0.9 and 0.4 < np.mean(split.labels) < 0.6, accuracy  # it learned; both classes present
    assert np.ptp(refs()) > 2.0  # logits spread, not one answer for every row
    return {"model": model, "tok": tok, "split": split, "refs": refs}


def gates_of(logits: np.ndarray, learned, fmt: str = "torchscript") -> dict:
    """validate's gates for these INT8 logits under ``fmt``'s dynamic-mode noise budget."""
    refs, split = learned["refs"], learned["split"]
    vcfg = ValidateConfig()
    tol = resolved_tolerance(fmt, "int8", vcfg, noise=refs.noise(), mode="dynamic")
    ev = Evidence(f"{fmt}-int8", fmt, "int8", logits, refs(), np.asarray(split.labels), tol,
                  noise_rows=refs.noise_rows())
    return {g.name: g for g in judge(ev, vcfg)}


def verdict(gates: dict) -> State:
    return ArtifactVerdict("torchscript-int8", "x", "0", tuple(gates.values())).state


def logits_of(model, learned) -> np.ndarray:
    return reference_logits(model, learned["tok"], learned["split"], MAX_LEN)


def test_a_correct_int8_passes_every_gate(learned):
    gates = gates_of(logits_of(int8_yardstick(learned["model"]), learned), learned)
    assert verdict(gates) is State.PASS, {n: g.message for n, g in gates.items()}
    assert set(gates) == {"agreement_vs_fp32", "drop_vs_fp32", "max_abs_diff", "mean_abs_diff"}


@pytest.mark.parametrize("factor", [2.0, 0.5])
@pytest.mark.parametrize("layer", LINEARS)
def test_one_layer_quantized_with_a_wrong_scale_fails(learned, layer, factor):
    logits = logits_of(with_wrong_scale(learned["model"], layer, factor), learned)
    gates = gates_of(logits, learned)
    assert verdict(gates) is State.FAIL, {n: (g.state.value, g.message) for n, g in gates.items()}
    # the logit tolerances see it even where no label moved
    assert State.FAIL in (gates["max_abs_diff"].state, gates["mean_abs_diff"].state), gates


@pytest.mark.parametrize("layer", LINEARS[1:4])
def test_a_wrong_scale_on_top_of_weight_only_int8_fails_the_tflite_budget(learned, layer):
    """TFLite's dynamic range mode is weight-only per-channel INT8 (``weight_only_int8`` computes it in torch):
    clean, it is far inside its budget; one layer read at twice its scale is not."""
    clean = gates_of(logits_of(weight_only_int8(learned["model"]), learned), learned, fmt="tflite")
    assert verdict(clean) is State.PASS, {n: g.message for n, g in clean.items()}
    gates = gates_of(logits_of(weight_only_int8(learned["model"], layer, 2.0), learned), learned, fmt="tflite")
    assert State.FAIL in (gates["max_abs_diff"].state, gates["mean_abs_diff"].state), gates


def test_a_two_percent_flip_rate_fails(learned):
    correct = logits_of(int8_yardstick(learned["model"]), learned)
    flipped, rows = flip_rows(correct, 0.02, seed=1)
    assert len(rows) == 17  # 2% of 872
    gates = gates_of(flipped, learned)
    agree = gates["agreement_vs_fp32"]
    assert agree.state is State.FAIL, agree  # the flips land on confident rows: 8-bit noise cannot explain them
    assert agree.evidence["flips"] + agree.evidence["tied_flips"] == 17
    assert verdict(gates) is State.FAIL
