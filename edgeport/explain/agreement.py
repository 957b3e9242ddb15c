"""How far two attributions of the same input agree: Spearman rank correlation and top-k word overlap.

Both are computed on the words both attributions cover (``Attribution.covered``). Spearman ranks the signed
scores: a word that pushes one model towards the class and the other away from it is a disagreement, not an
agreement in magnitude. Top-k overlap is sign-aware feature agreement (Krishna et al. 2022, "The Disagreement
Problem in Explainable Machine Learning"): of the k words with the largest |score| for each model (ties: the
earlier word), the share that are in both sets *and* push the same way; k is cut to the number of words.

Spearman is Pearson's correlation of the ranks, ties taking their average rank (as ``scipy.stats.spearmanr``);
scores equal to 6 digits of the row's largest |score| count as ties (float noise). It is undefined (NaN) for fewer
than two words or when one side scores every word the same, and such rows are left out of the means (their count
is reported).
"""

from __future__ import annotations

import math

import numpy as np


def rankdata(x) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    sorted_x = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) != len(b):
        raise ValueError(f"spearman: {len(a)} vs {len(b)} values")
    if len(a) < 2:
        return math.nan
    ra, rb = rankdata(a), rankdata(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = math.sqrt(float((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / denom) if denom > 0 else math.nan


def top_k(scores, k: int) -> list[int]:
    """Indices of the k largest |scores| (ties: the earlier word first)."""
    scores = np.abs(np.asarray(scores, dtype=np.float64))
    return [int(i) for i in np.argsort(-scores, kind="mergesort")[:min(k, len(scores))]]


def top_k_overlap(a, b, k: int) -> float:
    """Share of the k words with the largest |score| that both have, with the same sign."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    k = min(k, len(a))
    if k == 0:
        return math.nan
    both = set(top_k(a, k)) & set(top_k(b, k))
    return sum(1 for i in both if np.sign(a[i]) == np.sign(b[i])) / k


def compare(ref, other, k: int) -> dict:
    """Spearman and top-k overlap of two ``Attribution``s (or word-score arrays) of the same input."""
    ra, rb, covered = _scores(ref), _scores(other), _covered(ref) & _covered(other)
    a, b = _denoise(ra[covered]), _denoise(rb[covered])
    return {"spearman": spearman(a, b), "top_k": top_k_overlap(a, b, k), "words": int(covered.sum())}


def _denoise(x: np.ndarray) -> np.ndarray:
    """Scores equal to 6 digits of the row's largest |score| are ties: float32 models give a repeated word
    (the same tokens, the same contribution) scores that differ in the last bits."""
    scale = float(np.abs(x).max()) if len(x) else 0.0
    return np.round(x / scale, 6) * scale if scale > 0 else x


def _scores(x) -> np.ndarray:
    return np.asarray(getattr(x, "word_scores", x), dtype=np.float64)


def _covered(x) -> np.ndarray:
    cov = getattr(x, "covered", None)
    return np.ones(len(_scores(x)), dtype=bool) if cov is None else np.asarray(cov, dtype=bool)


def summarize(values) -> dict:
    """mean, std (population), median, min and count of the defined values; ``undefined`` counts the NaNs."""
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    ok = v[~np.isnan(v)]
    if not len(ok):
        return {"mean": None, "std": None, "median": None, "min": None, "n": 0, "undefined": len(v)}
    return {"mean": float(ok.mean()), "std": float(ok.std()), "median": float(np.median(ok)), "min": float(ok.min()),
            "n": len(ok), "undefined": len(v) - len(ok)}
