"""Small-sample statistics for the accuracy gates: exact binomial tails, Wilson and Newcombe intervals.

A gate on an evaluation split of a few hundred rows must tell a real loss from noise: on 277 rows one row is
0.36 points, and an INT8 artifact that flips 16 rows one way and 10 the other is "2.2 points worse" with no
evidence that it is worse at all. Every accuracy-drop gate therefore works on the *paired* outcome of the same
rows (reference right / candidate wrong = b, reference wrong / candidate right = c):

* drop = (b - c) / n, with Newcombe's 95 % interval for a difference of paired proportions (method 10, from
  Wilson score intervals; Newcombe 1998, Stat Med 17:2635);
* p = the exact one-sided McNemar test of "the candidate is worse": P(X >= b) for X ~ Binomial(b + c, 1/2).

A label-agreement gate tests the share of flipped rows against the allowed share with an exact one-sided
binomial test. Pure Python (``math``): no SciPy.
"""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # two-sided 95 %


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), exact (summed in log space)."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p)
            + (n - i) * math.log1p(-p) for i in range(k, n + 1)]
    top = max(logs)
    return min(1.0, math.exp(top) * sum(math.exp(v - top) for v in logs))


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion k / n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_drop(ref_correct, cand_correct) -> dict:
    """How much worse the candidate is than the reference on the same rows (two equal-length 0/1 sequences).

    Returns n, b (ref right, candidate wrong), c (ref wrong, candidate right), both accuracies,
    ``drop_points`` = 100 (b - c) / n,
    its Newcombe 95 % interval ``ci95_points`` and ``p_worse``, the exact one-sided McNemar p-value.
    """
    ref, cand = [bool(x) for x in ref_correct], [bool(x) for x in cand_correct]
    if len(ref) != len(cand):
        raise ValueError(f"paired_drop: {len(ref)} reference rows vs {len(cand)} candidate rows")
    n = len(ref)
    a = sum(r and k for r, k in zip(ref, cand))
    b = sum(r and not k for r, k in zip(ref, cand))
    c = sum(k and not r for r, k in zip(ref, cand))
    d = n - a - b - c
    if n == 0:
        return {"n": 0, "b": 0, "c": 0, "ref_accuracy": 0.0, "accuracy": 0.0, "drop_points": 0.0,
                "ci95_points": [-100.0, 100.0], "p_worse": 1.0}
    p1, p2 = (a + b) / n, (a + c) / n  # reference accuracy, candidate accuracy
    l1, u1 = wilson(a + b, n)
    l2, u2 = wilson(a + c, n)
    den = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(den) if den else 0.0
    drop = p1 - p2
    lo = drop - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    hi = drop + math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return {"n": n, "b": b, "c": c, "ref_accuracy": round(p1, 6), "accuracy": round(p2, 6),
            "drop_points": round(100 * drop, 4),
            "ci95_points": [round(100 * lo, 4), round(100 * hi, 4)], "p_worse": binomial_tail(b, b + c, 0.5)}


def agreement_test(agree, min_agreement: float) -> dict:
    """Label agreement (0/1 per row) against its floor: n, flips, agreement, Wilson 95 % interval, and
    ``p_below``: the exact one-sided binomial p-value of "the true flip rate exceeds 1 - min_agreement"."""
    agree = [bool(x) for x in agree]
    n = len(agree)
    flips = n - sum(agree)
    lo, hi = wilson(n - flips, n)
    return {"n": n, "flips": flips, "agreement": round((n - flips) / n, 6) if n else 1.0,
            "ci95": [round(lo, 6), round(hi, 6)], "p_below": binomial_tail(flips, n, 1.0 - min_agreement)}
