"""Attributions for one input: Integrated Gradients for torch models, word ablation for anything.

What is explained is the **log-odds of one class**, ``f(x) = z_c - logsumexp(z_other)`` over the logits ``z``
(for two classes: the logit margin ``z_c - z_other``). It does not depend on a shift of all logits, and unlike the
probability it does not saturate on confident rows, where removing one word barely moves p = 0.999. The class
``c`` is the model's own prediction unless given; the explain stage gives every model the teacher's predicted
class, so a student that flips a row is still scored on the same question.

- ``integrated_gradients(model, tokenizer, text, pair)``: Captum's ``LayerIntegratedGradients`` on the model's
  input (word) embeddings, ``model.get_input_embeddings()``, from a padding baseline (every word piece replaced by
  the tokenizer's own pad id, [CLS]/[SEP] kept), per-token scores summed over the embedding dimension. Captum's
  convergence delta is recorded: ``sum(attributions) - (f(x) - f(baseline))``, which is 0 for exact IG
  (completeness); a large delta means the path integral needs more steps and the scores are not trustworthy.
- ``ablation(runner, tokenizer, text, pair)``: black-box occlusion through the runner contract only (any artifact,
  INT8 TFLite included; no gradient, no torch for ONNX/TFLite). Each word's tokens are replaced by the pad id
  together (the same baseline as IG, word by word), and the word's score is ``f(x) - f(x without the word)``.
  One batch of ``words + 2`` rows per input (the input, one row per word, the all-padding baseline).

Both return an ``Attribution`` with per-word scores (IG: token scores summed per word), so models with different
tokenizers compare word for word (``words.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import require
from ..models.arch import inputs_of
from ..runtimes.text import pad_token_id
from .words import Encoded, encode_one


@dataclass
class Attribution:
    method: str  # "ig" | "ablation"
    words: list[str]
    word_scores: np.ndarray  # per word; 0 where the word has no token in the input
    covered: np.ndarray  # bool per word: some token of the word is in the input
    tokens: list[str]
    word_of_token: list[int]
    word_part: list[int]  # per word: 0 text, 1 pair
    target: int  # the class explained
    logits: np.ndarray  # of the unchanged input
    score: float  # f(x): log-odds of ``target``
    baseline_score: float  # f(baseline): every word padded
    token_scores: np.ndarray | None = None  # IG only
    delta: float | None = None  # IG only: Captum's convergence delta
    steps: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def predicted(self) -> int:
        return int(np.argmax(self.logits))

    @property
    def probs(self) -> np.ndarray:
        return softmax(self.logits)

    @property
    def relative_delta(self) -> float | None:
        """|delta| / |f(x) - f(baseline)|: the share of the explained change the attributions fail to account for."""
        if self.delta is None:
            return None
        return abs(self.delta) / max(abs(self.score - self.baseline_score), 1e-6)

    def word_tokens(self) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in self.words]
        for tok, w in zip(self.tokens, self.word_of_token):
            if w >= 0:
                out[w].append(tok)
        return out


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def log_odds(logits: np.ndarray, target: int) -> np.ndarray:
    """``z_target - logsumexp(z_others)`` per row of a ``[batch, classes]`` array."""
    z = np.asarray(logits, dtype=np.float64)
    others = np.delete(z, target, axis=-1)
    m = others.max(-1)
    return z[..., target] - (m + np.log(np.exp(others - m[..., None]).sum(-1)))


def _log_odds_torch(logits, target: int):
    import torch

    others = torch.cat([logits[:, :target], logits[:, target + 1:]], dim=1)
    return logits[:, target] - torch.logsumexp(others, dim=1)


def _check_target(target: int | None, classes: int) -> None:
    from ..errors import EdgeportError

    if target is not None and not 0 <= target < classes:
        raise EdgeportError(f"class {target} does not exist: the model has {classes} classes (0..{classes - 1})")


# ------------------------------------------------------------------------------------------ black box


def ablation(runner, tokenizer, text: str, pair: str | None = None, *, target: int | None = None,
             max_len: int = 128, chunk: int = 64) -> Attribution:
    """Word occlusion through the runner contract: score = f(x) - f(x with the word's tokens set to [PAD])."""
    if getattr(runner, "seq_len", None):
        max_len = min(max_len, int(runner.seq_len))  # a static model (TFLite) sees at most its length
    enc = encode_one(tokenizer, text, pair, max_len)
    pad = pad_token_id(tokenizer)
    base = np.asarray(enc.input_ids, dtype=np.int64)
    covered = np.array(enc.covered(), dtype=bool)
    rows = [base]
    for w in np.flatnonzero(covered):
        row = base.copy()
        row[enc.positions(int(w))] = pad
        rows.append(row)
    rows.append(np.asarray(enc.baseline_ids(pad), dtype=np.int64))
    ids = np.stack(rows)
    mask = np.tile(np.asarray(enc.attention_mask, dtype=np.int64), (len(rows), 1))
    types = None if enc.token_type_ids is None else np.tile(np.asarray(enc.token_type_ids, dtype=np.int64),
                                                            (len(rows), 1))
    logits = np.concatenate([np.asarray(runner(ids[i:i + chunk], mask[i:i + chunk],
                                               None if types is None else types[i:i + chunk]), dtype=np.float64)
                             for i in range(0, len(rows), chunk)])
    _check_target(target, logits.shape[-1])
    target = int(np.argmax(logits[0])) if target is None else int(target)
    f = log_odds(logits, target)
    scores = np.zeros(len(enc.words))
    scores[covered] = f[0] - f[1:-1]
    return _result("ablation", enc, scores, covered, target, logits[0], float(f[0]), float(f[-1]))


def _result(method, enc: Encoded, scores, covered, target, logits, score, baseline, **extra) -> Attribution:
    return Attribution(method=method, words=enc.words, word_scores=np.asarray(scores, dtype=np.float64),
                       covered=np.asarray(covered, dtype=bool), tokens=enc.tokens, word_of_token=enc.word_of_token,
                       word_part=enc.word_part,
                       target=target, logits=np.asarray(logits, dtype=np.float64), score=score,
                       baseline_score=baseline, **extra)


# ------------------------------------------------------------------------------------------ gradients


def integrated_gradients(model, tokenizer, text: str, pair: str | None = None, *, target: int | None = None,
                         steps: int = 32, max_len: int = 128, internal_batch_size: int | None = None) -> Attribution:
    """Layer Integrated Gradients on ``model.get_input_embeddings()`` from the padding baseline.

    ``model`` is a torch classifier called as ``model(input_ids=, attention_mask=[, token_type_ids=])`` that returns
    logits or an object with ``.logits`` (any Hugging Face sequence classifier)."""
    captum_attr = require("captum.attr", "explain")
    import torch

    enc = encode_one(tokenizer, text, pair, max_len)
    pad = pad_token_id(tokenizer)
    covered = np.array(enc.covered(), dtype=bool)
    ids = torch.tensor([enc.input_ids], dtype=torch.long)
    base = torch.tensor([enc.baseline_ids(pad)], dtype=torch.long)
    mask = torch.tensor([enc.attention_mask], dtype=torch.long)
    types = None if enc.token_type_ids is None else torch.tensor([enc.token_type_ids], dtype=torch.long)
    if "token_type_ids" not in inputs_of(model):
        types = None  # no token types (DistilBERT, DeBERTa-v3) or one constant type (RoBERTa)
    device = next(model.parameters()).device
    ids, base, mask = ids.to(device), base.to(device), mask.to(device)
    types = None if types is None else types.to(device)
    model.eval()

    def logits_of(input_ids, attention_mask, token_type_ids=None):
        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            feed["token_type_ids"] = token_type_ids
        out = model(**feed)
        return getattr(out, "logits", out).float()

    with torch.no_grad():
        logits = logits_of(ids, mask, types)
        base_logits = logits_of(base, mask, types)
    _check_target(target, logits.shape[-1])
    target = int(logits[0].argmax()) if target is None else int(target)
    lig = captum_attr.LayerIntegratedGradients(lambda *a: _log_odds_torch(logits_of(*a), target),
                                               model.get_input_embeddings())
    extra = (mask,) if types is None else (mask, types)
    with torch.enable_grad():
        attributions, delta = lig.attribute(ids, baselines=base, additional_forward_args=extra, n_steps=steps,
                                            internal_batch_size=internal_batch_size, return_convergence_delta=True)
    token_scores = attributions.sum(-1)[0].detach().cpu().double().numpy()
    scores = np.zeros(len(enc.words))
    for t, w in enumerate(enc.word_of_token):
        if w >= 0:
            scores[w] += token_scores[t]
    logits_np = logits[0].cpu().double().numpy()
    f_x = float(log_odds(logits_np[None], target)[0])
    f_b = float(log_odds(base_logits.cpu().double().numpy(), target)[0])
    return _result("ig", enc, scores, covered, target, logits_np, f_x, f_b, token_scores=token_scores,
                   delta=float(delta.reshape(-1)[0]), steps=steps)
