"""Sentence-embedding vector maths, NumPy only: the reference the app's Kotlin (``text/Vectors.kt``) is tested against.

The built-in sentence-embedding teacher (all-MiniLM-L6-v2) is used as sentence-transformers uses it: the encoder's
last hidden state, mean-pooled over the real tokens, then L2-normalised; two texts are compared by the cosine of
their embeddings, and an STS-B-style evaluation is the Spearman rank correlation of those cosines with the gold
scores. Each function here states which library behaviour it reproduces; tests/test_vectors.py checks it against
that library (sentence-transformers' ``Pooling`` and ``Normalize`` modules, SciPy's cosine distance).

Everything is computed in float64 and returned as float64 arrays (or Python floats): the reference should not add
float32 rounding of its own; the app and the exported graph work in float32 and are compared with a tolerance.
No torch import: this module runs wherever NumPy does.
"""

from __future__ import annotations

import math

import numpy as np

# sentence-transformers' Pooling divides by clamp(sum(mask), min=1e-9): a mask of zeros gives a zero vector, not nan.
POOL_MIN_COUNT = 1e-9
# torch.nn.functional.normalize's default eps: v / max(||v||, eps), so the zero vector stays zero.
NORMALIZE_EPS = 1e-12


def _floats(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has non-finite values (nan or inf)")
    return a


def mean_pool(hidden, attention_mask) -> np.ndarray:
    """Mean of ``hidden`` over the positions whose ``attention_mask`` is 1, sentence-transformers' mean pooling.

    ``hidden`` is ``[batch, seq, d]`` (returns ``[batch, d]``) or one sequence ``[seq, d]`` (returns ``[d]``);
    ``attention_mask`` is ``[batch, seq]`` or ``[seq]`` of 0/1. The formula is Pooling's own:
    ``sum(h * m) / clamp(sum(m), min=1e-9)``, so a mask of all zeros gives the zero vector (never a division by zero).
    """
    h = _floats(hidden, "hidden")
    m = np.asarray(attention_mask)
    if h.ndim not in (2, 3):
        raise ValueError(f"hidden must be [batch, seq, d] or [seq, d], got shape {h.shape}")
    if m.shape != h.shape[:-1]:
        raise ValueError(f"attention_mask shape {m.shape} does not match hidden {h.shape} (expected {h.shape[:-1]})")
    if not np.all((m == 0) | (m == 1)):
        raise ValueError("attention_mask must hold only 0 and 1")
    m = m.astype(np.float64)[..., None]
    summed = (h * m).sum(axis=-2)
    count = np.maximum(m.sum(axis=-2), POOL_MIN_COUNT)
    return summed / count


def l2_normalize(v, eps: float = NORMALIZE_EPS) -> np.ndarray:
    """``v / max(||v||_2, eps)`` along the last axis (``torch.nn.functional.normalize(v, p=2, dim=-1)``).

    ``[d]`` or ``[batch, d]``; the zero vector stays zero."""
    a = _floats(v, "v")
    if a.ndim not in (1, 2):
        raise ValueError(f"expected [d] or [batch, d], got shape {a.shape}")
    norm = np.linalg.norm(a, axis=-1, keepdims=True)
    return a / np.maximum(norm, eps)


def cosine(a, b):
    """Cosine similarity: a float for two ``[d]`` vectors, an array ``[batch]`` for two ``[batch, d]`` batches (row by
    row). Both sides are L2-normalised first (as sentence-transformers' ``util.cos_sim`` does), so a zero vector has
    cosine 0 with anything instead of SciPy's nan."""
    x, y = _floats(a, "a"), _floats(b, "b")
    if x.shape != y.shape or x.ndim not in (1, 2):
        raise ValueError(f"cosine needs two [d] vectors or two [batch, d] batches of one shape, "
                         f"got {x.shape} and {y.shape}")
    sims = np.sum(l2_normalize(x) * l2_normalize(y), axis=-1)
    return float(sims) if x.ndim == 1 else sims


def cosine_matrix(a, b) -> np.ndarray:
    """Every pair's cosine: ``[n, d]`` x ``[m, d]`` -> ``[n, m]`` (sentence-transformers' ``util.cos_sim``)."""
    x, y = _floats(a, "a"), _floats(b, "b")
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"cosine_matrix needs [n, d] and [m, d], got {x.shape} and {y.shape}")
    return l2_normalize(x) @ l2_normalize(y).T


def similarity_scores(emb_a, emb_b) -> np.ndarray:
    """The predicted similarity of each sentence pair: the row-wise cosine of two ``[batch, d]`` embedding batches."""
    x, y = np.asarray(emb_a), np.asarray(emb_b)
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(f"similarity_scores needs two [batch, d] batches, got {x.shape} and {y.shape}")
    return cosine(x, y)


def spearman(pred_similarities, gold_scores) -> float:
    """Spearman's rank correlation of predicted similarities with gold scores (``scipy.stats.spearmanr``), the STS-B
    metric. A constant input has no ranks to correlate: SciPy answers nan (with a warning); this raises ValueError."""
    from scipy.stats import spearmanr

    p = _floats(pred_similarities, "pred_similarities").ravel()
    g = _floats(gold_scores, "gold_scores").ravel()
    if p.shape != g.shape:
        raise ValueError(f"{p.size} predictions but {g.size} gold scores")
    if p.size < 2:
        raise ValueError(f"Spearman correlation needs at least 2 pairs, got {p.size}")
    for name, x in (("pred_similarities", p), ("gold_scores", g)):
        if np.all(x == x[0]):
            raise ValueError(f"{name} is constant ({x[0]!r} for all {x.size}): Spearman correlation is undefined")
    rho = float(spearmanr(p, g).statistic)
    if math.isnan(rho):  # not reachable after the checks above; kept so a nan can never be reported as a score
        raise ValueError("Spearman correlation is undefined for these inputs")
    return rho
