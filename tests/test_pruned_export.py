"""Head pruning reaches the exported artifacts: ``models.load_classifier`` slices out the zero-padded heads of a
saved head-pruned model, so TorchScript/ONNX/TFLite files are physically smaller and compute the same logits as
the zero-padded model that plain transformers loads."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_tiny_bert

from edgeport import runtimes
from edgeport.exporters import EXPORTERS, make_sample
from edgeport.models import load_classifier, save_model
from edgeport.pruning import prune_heads, save_pruned

SEQ = 16
# fp32 float noise only: the sliced model drops exact zeros, so its sums differ from the padded one's by rounding.
ATOL = 1e-4


@pytest.fixture(scope="module")
def pruned_dir(tmp_path_factory):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    base = tmp_path_factory.mktemp("pruned")
    src = make_tiny_bert(base / "src", hidden=64, layers=2, heads=4, intermediate=64, classifier_labels=["n", "p"])
    model = AutoModelForSequenceClassification.from_pretrained(str(src)).eval()
    with torch.no_grad():  # larger weights so logits depend on the input (a random tiny BERT's barely do)
        for p in model.bert.parameters():
            if p.dim() == 2:
                p.mul_(3.0)
    prune_heads(model, [[0, 3], [1, 2]])  # half the heads of each layer
    save_pruned(model, AutoTokenizer.from_pretrained(str(src)), base / "pruned")
    return base / "pruned"


def test_load_classifier_reslices_and_is_idempotent(pruned_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification

    padded = AutoModelForSequenceClassification.from_pretrained(str(pruned_dir)).eval()
    sliced = load_classifier(pruned_dir).eval()
    assert padded.bert.encoder.layer[0].attention.self.query.weight.shape == (64, 64)
    assert sliced.bert.encoder.layer[0].attention.self.query.weight.shape == (32, 64)  # 2 heads x 16 dims
    from edgeport.pruning import reslice

    assert reslice(sliced) is sliced and sliced.bert.encoder.layer[1].attention.self.key.weight.shape == (32, 64)
    sample = make_sample(SEQ, batch=2, vocab=5000)
    kwargs = {k: v.long() for k, v in sample.items()}
    with torch.no_grad():
        torch.testing.assert_close(sliced(**kwargs).logits, padded(**kwargs).logits, atol=ATOL, rtol=0)
    # save_model re-pads, so plain transformers loads what load_classifier sliced
    save_model(sliced, _tok(pruned_dir), tmp_path / "again")
    again = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "again")).eval()
    with torch.no_grad():
        torch.testing.assert_close(again(**kwargs).logits, padded(**kwargs).logits, atol=ATOL, rtol=0)


def _tok(path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


@pytest.mark.parametrize("fmt", list(EXPORTERS))
def test_head_pruned_model_exports_smaller_with_equal_logits(fmt, pruned_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification

    padded = AutoModelForSequenceClassification.from_pretrained(str(pruned_dir)).eval()
    sliced = load_classifier(pruned_dir).eval()
    exporter = EXPORTERS[fmt]
    sample = make_sample(SEQ, batch=2 if exporter.dynamic_shapes else 1, vocab=5000)
    paths = {}
    for name, model in (("padded", padded), ("sliced", sliced)):
        (tmp_path / name).mkdir()
        paths[name] = exporter.export(model, sample, tmp_path / name)
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 5000, (3, SEQ))
    mask = np.ones_like(ids)
    mask[1, SEQ // 2:] = 0
    with torch.no_grad():
        expected = padded(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy()
    got = runtimes.load(paths["sliced"])(ids, mask)
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)
    assert np.ptp(expected[:, 1] - expected[:, 0]) > 0.05  # the rows differ: the comparison is not vacuous
    # q/k/v lose half their rows and the attention output half its columns: 4 x 64 x 32 x 4 bytes per layer
    # Half of q/k/v rows and of the attention-output columns go: 4 x 64 x 32 fp32 weights per layer = 64 KiB over
    # 2 layers. Measured savings: onnx 64977 B and tflite 65444 B (the full amount), torchscript 51334 B (its zip
    # container layout differs; not investigated). 0.7 leaves room for container overhead.
    saved = paths["padded"].stat().st_size - paths["sliced"].stat().st_size
    print(fmt, "bytes saved", saved)
    assert saved >= 0.7 * 2 * 4 * 64 * 32 * 4, (fmt, saved)
