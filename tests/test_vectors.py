"""edgeport.tasks.vectors against the libraries it reproduces: sentence-transformers' own Pooling (mean) and Normalize
modules on random hidden states with padding, SciPy's cosine distance, and Spearman on hand-ranked cases."""

from __future__ import annotations

import ast
import csv
from pathlib import Path

import numpy as np
import pytest

from edgeport.tasks import vectors as V

VECTORS_SRC = Path(V.__file__)


def padded_batch(seed: int, batch=6, seq=11, d=16):
    """Random hidden states (float32, as a model gives them) and right-padded masks of lengths 1..seq, plus one row
    whose padding positions hold large values: pooling them in would move the mean far."""
    rng = np.random.default_rng(seed)
    hidden = rng.normal(size=(batch, seq, d)).astype(np.float32)
    lengths = rng.integers(1, seq + 1, size=batch)
    lengths[0], lengths[1], lengths[2] = 1, seq, 2  # one token only, no padding at all, mostly padding
    mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
    hidden[2, 2:] += 100.0
    return hidden, mask


def st_pool_normalize(hidden: np.ndarray, mask: np.ndarray):
    torch = pytest.importorskip("torch")
    modules = pytest.importorskip("sentence_transformers.sentence_transformer.modules")
    features = {"token_embeddings": torch.from_numpy(hidden), "attention_mask": torch.from_numpy(mask)}
    pooled = modules.Pooling(hidden.shape[-1], pooling_mode="mean")(features)["sentence_embedding"].clone()
    normalized = modules.Normalize()(features)["sentence_embedding"]
    return pooled.numpy(), normalized.numpy()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_pool_and_normalize_match_sentence_transformers(seed):
    hidden, mask = padded_batch(seed)
    want_pooled, want_normalized = st_pool_normalize(hidden, mask)
    pooled = V.mean_pool(hidden, mask)
    assert pooled.shape == (hidden.shape[0], hidden.shape[2])
    np.testing.assert_allclose(pooled, want_pooled, rtol=0, atol=1e-5)
    np.testing.assert_allclose(V.l2_normalize(pooled), want_normalized, rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(V.l2_normalize(pooled), axis=-1), 1.0, atol=1e-12)
    # one sequence [seq, d] with its mask [seq] gives that row's vector [d]
    np.testing.assert_allclose(V.mean_pool(hidden[2], mask[2]), want_pooled[2], atol=1e-5)
    np.testing.assert_allclose(V.l2_normalize(V.mean_pool(hidden[2], mask[2])), want_normalized[2], atol=1e-6)


def test_zero_mask_and_zero_vector_follow_the_library():
    hidden, mask = padded_batch(3, batch=3)
    mask[0] = 0  # nothing to pool: Pooling's clamp(min=1e-9) gives the zero vector, not nan
    hidden[1] = 0.0  # all-zero hidden states: normalize leaves the zero vector
    want_pooled, want_normalized = st_pool_normalize(hidden, mask)
    pooled = V.mean_pool(hidden, mask)
    np.testing.assert_array_equal(pooled[0], np.zeros(hidden.shape[-1]))
    np.testing.assert_allclose(pooled, want_pooled, atol=1e-6)
    np.testing.assert_array_equal(V.l2_normalize(pooled)[:2], np.zeros((2, hidden.shape[-1])))
    np.testing.assert_allclose(V.l2_normalize(pooled), want_normalized, atol=1e-6)
    assert V.cosine(np.zeros(4), np.ones(4)) == 0.0


def test_l2_normalize_eps_is_torch_normalize():
    torch = pytest.importorskip("torch")
    v = np.array([[3e-13, 4e-13], [3.0, 4.0], [0.0, 0.0]])  # the first norm (5e-13) is below eps: divided by eps
    want = torch.nn.functional.normalize(torch.from_numpy(v), p=2, dim=-1).numpy()
    np.testing.assert_allclose(V.l2_normalize(v), want, rtol=1e-12, atol=0)
    np.testing.assert_allclose(V.l2_normalize(v[1]), [0.6, 0.8])


def test_cosine_matches_scipy():
    from scipy.spatial.distance import cdist, cosine as cosine_distance

    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(7, 9)), rng.normal(size=(7, 9))
    b[3] = -2.5 * a[3]  # exactly opposite
    b[5] = 0.1 * a[5]   # same direction, other length
    want = np.array([1.0 - cosine_distance(x, y) for x, y in zip(a, b)])
    np.testing.assert_allclose(V.cosine(a, b), want, atol=1e-12)
    np.testing.assert_allclose(V.similarity_scores(a, b), want, atol=1e-12)
    assert V.cosine(a[3], b[3]) == pytest.approx(-1.0, abs=1e-12)
    assert V.cosine(a[5], b[5]) == pytest.approx(1.0, abs=1e-12)
    assert isinstance(V.cosine(a[0], b[0]), float)
    c = rng.normal(size=(4, 9))
    np.testing.assert_allclose(V.cosine_matrix(a, c), 1.0 - cdist(a, c, metric="cosine"), atol=1e-12)


def test_spearman_hand_cases():
    # ranks agree completely / are reversed, whatever the scale
    assert V.spearman([0.1, 0.5, 0.9, 0.95], [0.0, 1.0, 4.0, 5.0]) == pytest.approx(1.0)
    assert V.spearman([0.9, 0.5, 0.1], [1.0, 2.0, 3.0]) == pytest.approx(-1.0)
    # pred ranks 1 2 3 4 5 vs gold ranks 2 1 4 3 5: d^2 = 1+1+1+1+0 = 4; rho = 1 - 6*4 / (5*24) = 0.8
    assert V.spearman([0.1, 0.2, 0.3, 0.4, 0.5], [2.0, 1.0, 4.0, 3.0, 5.0]) == pytest.approx(0.8)
    # ties take average ranks: gold ranks 1.5 1.5 3 4 -> Pearson of the ranks
    rho = V.spearman([0.1, 0.2, 0.3, 0.4], [1.0, 1.0, 2.0, 3.0])
    assert rho == pytest.approx(np.corrcoef([1, 2, 3, 4], [1.5, 1.5, 3, 4])[0, 1])
    assert isinstance(rho, float)


@pytest.mark.parametrize("pred, gold, message", [
    ([0.5, 0.5, 0.5], [1.0, 2.0, 3.0], "pred_similarities is constant"),
    ([0.1, 0.2, 0.3], [4.0, 4.0, 4.0], "gold_scores is constant"),
    ([0.1, 0.2], [1.0, 2.0, 3.0], "2 predictions but 3 gold scores"),
    ([0.1], [1.0], "at least 2 pairs"),
    ([0.1, float("nan")], [1.0, 2.0], "non-finite"),
])
def test_spearman_refuses_undefined_inputs(pred, gold, message):
    with pytest.raises(ValueError, match=message):
        V.spearman(pred, gold)


def test_bad_shapes_and_masks_are_refused():
    hidden = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match="does not match"):
        V.mean_pool(hidden, np.ones((2, 4)))
    with pytest.raises(ValueError, match="only 0 and 1"):
        V.mean_pool(hidden, np.full((2, 3), 2))
    with pytest.raises(ValueError, match="one shape"):
        V.cosine(np.ones((2, 4)), np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"\[n, d\]"):
        V.cosine_matrix(np.ones((2, 4)), np.ones((3, 5)))


def test_spearman_on_stsb_gold_is_sane():
    """The real gold scores (STS-B validation, read with no quoting): gold against itself is 1, against a monotone
    transform of itself 1, against its reverse -1; a noisy copy lands strictly between."""
    from conftest import SHARED_DATA

    path = SHARED_DATA / "stsb" / "validation.tsv"
    if not path.is_file():
        pytest.skip(f"no STS-B at {path}")
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    gold = np.array([float(r["score"]) for r in rows])
    assert len(gold) == 1500
    assert V.spearman(gold, gold) == pytest.approx(1.0)
    assert V.spearman(np.tanh(gold / 5.0), gold) == pytest.approx(1.0)
    assert V.spearman(-gold, gold) == pytest.approx(-1.0)
    noisy = gold + np.random.default_rng(0).normal(scale=1.0, size=gold.shape)
    assert 0.5 < V.spearman(noisy, gold) < 0.99


def test_no_torch_import():
    """NumPy only (SciPy inside spearman): the module must load where torch is not installed."""
    tree = ast.parse(VECTORS_SRC.read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"__future__", "math", "numpy", "scipy"}, imported
