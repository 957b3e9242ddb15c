"""A tiny BERT that learns, and realistic INT8 defects, for the gate tests (and ``benchmarks/int8_noise.py``).

A random tiny BERT answers one class for every row, so parity and drop gates judged on it prove nothing. Here a
2-layer, hidden-32 BERT (the MiniLM WordPiece tokenizer) learns a keyword task in a few seconds: each text is
filler words with up to three keywords of each polarity; the label is the polarity with more of them. Its logits carry
information (eval accuracy is asserted well above the majority class), so a flipped label or a shifted logit means
something.

Defects: ``with_wrong_scale`` quantizes the model the way TorchScript INT8 does (torch dynamic quantization of
every ``nn.Linear``) and then gives one layer's INT8 weights a wrong scale (the integers kept, the scale multiplied),
the error of a quantizer that mixes up a range; ``weight_only_int8`` does the same on top of weight-only per-channel
INT8 (what TFLite's dynamic range mode computes); ``flip_rows`` turns a share of rows' decisions around.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

POSITIVE = ("great", "good", "excellent", "wonderful", "superb", "brilliant", "lovely", "fine")
NEGATIVE = ("bad", "awful", "terrible", "poor", "boring", "dull", "weak", "ugly")
FILLER = ("the", "a", "movie", "film", "story", "was", "is", "and", "with", "of", "plot", "actors", "it", "this",
          "very", "quite", "some", "scenes", "music", "end", "time", "people", "in", "on", "for", "director",
          "screen", "show", "part", "one", "two", "long", "short", "new", "old", "day", "night", "city", "house")


class KeywordSplit:
    """The slice of ``edgeport.data.Split`` that validation reads."""

    def __init__(self, texts: list[str], labels: list[int], name: str):
        self.texts, self.labels, self.pairs, self.name = texts, labels, None, name

    def __len__(self) -> int:
        return len(self.texts)


def keyword_split(n: int, seed: int, name: str = "eval") -> KeywordSplit:
    """Rows of 5-14 filler words with 0-3 positive and 0-3 negative keywords (never as many of each); the label is
    the polarity with more keywords, so confidence is graded (3 vs 0 is clear, 2 vs 1 less so)."""
    rng = random.Random(seed)
    texts, labels = [], []
    while len(texts) < n:
        pos, neg = rng.randint(0, 3), rng.randint(0, 3)
        if pos == neg:
            continue
        words = [rng.choice(FILLER) for _ in range(rng.randint(5, 14))]
        for word in [rng.choice(POSITIVE) for _ in range(pos)] + [rng.choice(NEGATIVE) for _ in range(neg)]:
            words.insert(rng.randint(0, len(words)), word)
        texts.append(" ".join(words))
        labels.append(int(pos > neg))
    return KeywordSplit(texts, labels, name)


def train_keyword_bert(out: Path, *, steps: int = 300, seed: int = 0):
    """(model, tokenizer): a 2-layer hidden-32 BERT trained on keyword_split rows (train seed != eval seed)."""
    import torch
    from conftest import make_tiny_bert
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    src = make_tiny_bert(Path(out), classifier_labels=["negative", "positive"], seed=seed)
    model = AutoModelForSequenceClassification.from_pretrained(str(src))
    tok = AutoTokenizer.from_pretrained(str(src))
    train = keyword_split(steps * 16, seed=seed + 1000, name="train")
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    model.train()
    for i in range(steps):
        batch = slice(i * 16, (i + 1) * 16)
        enc = tok(train.texts[batch], padding=True, truncation=True, max_length=32, return_tensors="pt")
        loss = model(**enc, labels=torch.tensor(train.labels[batch])).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), tok


def with_wrong_scale(model, layer: str | list[str], factor: float = 2.0):
    """torch dynamic INT8 of ``model`` (what TorchScript INT8 computes: ``validation.int8_yardstick``) with one
    layer's (or each named layer's) INT8 weights read back at ``factor`` times their scale."""
    import torch

    from edgeport.validation import int8_yardstick

    q = int8_yardstick(model)
    for name in [layer] if isinstance(layer, str) else layer:
        mod = q.get_submodule(name)
        w = mod.weight()
        if w.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
            bad = torch._make_per_channel_quantized_tensor(w.int_repr(), w.q_per_channel_scales() * factor,
                                                           w.q_per_channel_zero_points(), w.q_per_channel_axis())
        else:
            bad = torch._make_per_tensor_quantized_tensor(w.int_repr(), w.q_scale() * factor, w.q_zero_point())
        mod.set_weight_bias(bad, mod.bias())
    return q


def weight_only_int8(model, wrong_layer: str | None = None, factor: float = 2.0):
    """A copy of ``model`` whose every ``nn.Linear`` weight is INT8 per output channel (symmetric, round to nearest,
    read back in float; activations stay float): what weight-only INT8 (TFLite dynamic range) computes. With
    ``wrong_layer``, that layer's integers are read back at ``factor`` times their scale."""
    import copy

    import torch

    q = copy.deepcopy(model).eval()
    with torch.no_grad():
        for name, mod in q.named_modules():
            if isinstance(mod, torch.nn.Linear):
                scale = mod.weight.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127
                ints = torch.round(mod.weight / scale).clamp(-127, 127)
                mod.weight.copy_(ints * scale * (factor if name == wrong_layer else 1.0))
    return q


def flip_rows(logits: np.ndarray, rate: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(logits with the decision of ``rate`` of the rows turned around, the flipped row indices): a defect that
    moves a share of labels anywhere in the margin distribution, not only near ties. Binary: the two logits swap."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(logits), size=int(round(rate * len(logits))), replace=False)
    out = logits.copy()
    out[rows] = out[rows][:, ::-1]
    return out, np.sort(rows)
