"""Transfer data for small tasks: the task's own training texts with words replaced by their neighbours in the
teacher's word-embedding space, for the teacher to label (soft labels) and the student to learn (KD term only).

TinyBERT's augmentation (Jiao et al. 2020) replaces a single-piece word by one of the K words its masked-LM ranks
highest there, and a multi-piece word by one of its K nearest GloVe neighbours, each word with probability p. The
built-in MiniLM ships without its masked-LM head and GloVe is not on this machine, so the candidates are the K
nearest neighbours (cosine) of the word's own input embedding among the teacher's whole-word vocabulary entries:
the same rule as TinyBERT's GloVe branch, with the teacher's embeddings as the word vectors. Multi-piece words stay
as they are. nlpaug and TextAttack do embedding-neighbour replacement too, but both fetch their word vectors from
the network; the teacher's own table is already here and is the vocabulary the student reads.

Held-out honesty: the sources are the training split only, and a produced text (or a side of a produced pair) that
is also a text of the evaluation or selection split is dropped (``corpus.OverlapFilter``).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import torch

from ..corpus import OverlapFilter
from ..data import Split

WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Plan:
    """How many texts to produce: enough to fill one distillation budget (``budget_rows``) beside the labelled
    rows, at most ``max_per_text`` per training text; ``on`` is False when the labelled rows fill it already."""

    on: bool
    count: int
    reason: str


def plan(mode: str, labelled_rows: int, budget_rows: int, max_per_text: int, epochs_set: bool = False,
         pairs: bool = False) -> Plan:
    """``mode`` auto: augment a single-text task when its labelled rows are fewer than the distillation steps draw
    (``budget_rows`` = min_steps x batch_size), so the student would see each row more than once, and the user has
    not fixed the length in passes (``epochs_set``: more rows would mean more steps). Not a pair task: replacing
    words in either text changes the relation the label is about, and on the panel's STS-B binary task (5,452
    pairs) the copies took the student from 77.0% to 72.8% on the selection split with the same teacher
    (benchmarks/results/panel.md). on: always; off: never."""
    room = max(0, budget_rows - labelled_rows)
    count = min(room, max_per_text * labelled_rows)
    if mode == "off":
        return Plan(False, 0, "distill.augment.mode: off")
    if mode == "on":
        return Plan(count > 0, count, f"distill.augment.mode: on ({labelled_rows} labelled rows, budget "
                                      f"{budget_rows})")
    if epochs_set:
        return Plan(False, 0, "auto: distill.train.epochs is set (passes over the labelled rows)")
    if pairs:
        return Plan(False, 0, "auto: a pair task (copies cost selection accuracy on STS-B pairs; mode: on forces "
                              "them)")
    if labelled_rows >= budget_rows:
        return Plan(False, 0, f"auto: {labelled_rows} labelled rows fill the distillation budget of {budget_rows} "
                              f"rows (min_steps x batch_size)")
    return Plan(count > 0, count, f"auto: {labelled_rows} labelled rows < the distillation budget of {budget_rows} "
                                  f"rows (min_steps x batch_size)")


class Neighbours:
    """Whole-word vocabulary entries and each one's nearest neighbours by cosine of the input embeddings."""

    def __init__(self, tokenizer, embeddings: torch.Tensor, k: int):
        ids, words = whole_words(tokenizer)
        self.k = k
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}
        table = embeddings.detach().float()[torch.tensor(ids)]
        self.table = torch.nn.functional.normalize(table, dim=-1)
        self.cache: dict[str, list[str]] = {}

    def of(self, word: str) -> list[str]:
        key = word if word in self.index else word.lower()
        if key not in self.index:
            return []
        if key not in self.cache:
            i = self.index[key]
            sims = self.table @ self.table[i]
            sims[i] = -2.0  # never the word itself
            top = torch.topk(sims, min(self.k, len(self.words) - 1)).indices.tolist()
            self.cache[key] = [self.words[j] for j in top]
        return self.cache[key]


def whole_words(tokenizer) -> tuple[list[int], list[str]]:
    """(ids, words) of the vocabulary entries that are one alphabetic word of two or more letters on their own
    (``" word"`` encodes to exactly that id), for WordPiece, BPE and SentencePiece vocabularies alike."""
    vocab = tokenizer.get_vocab()
    candidates = []
    for token, i in vocab.items():
        word = tokenizer.convert_tokens_to_string([token]).strip()
        if len(word) >= 2 and word.isascii() and word.isalpha():
            candidates.append((i, word))
    encoded = tokenizer([" " + w for _, w in candidates], add_special_tokens=False)["input_ids"]
    seen, ids, words = set(), [], []
    for (i, word), got in zip(candidates, encoded):
        if got == [i] and word not in seen:
            seen.add(word)
            ids.append(i)
            words.append(word)
    return ids, words


def replace_words(text: str, neighbours: Neighbours, p: float, rng: random.Random) -> str:
    def swap(m: re.Match) -> str:
        word = m.group(0)
        options = neighbours.of(word)
        if not options or rng.random() >= p:
            return word
        new = rng.choice(options)
        return new.capitalize() if word[0].isupper() and not new[0].isupper() else new

    return WORD.sub(swap, text)


def augment(train: Split, held: OverlapFilter, neighbours: Neighbours, count: int, p: float,
            seed: int) -> tuple[Split, dict]:
    """``count`` new unlabelled texts (label -100) made from ``train``'s texts (pairs: both sides), round by round
    over a seeded order of the training rows; unchanged, repeated and held-out texts are not kept."""
    rng = random.Random(seed)
    order = list(range(len(train)))
    texts, pairs, seen = [], [] if train.pairs is not None else None, set()
    dropped = unchanged = 0
    for _ in range(4 * max(1, -(-count // max(1, len(order))))):  # rounds; unchanged texts make some rounds short
        rng.shuffle(order)
        for i in order:
            if len(texts) >= count:
                break
            text = replace_words(train.texts[i], neighbours, p, rng)
            pair = replace_words(train.pairs[i], neighbours, p, rng) if train.pairs is not None else None
            key = (text, pair)
            if text == train.texts[i] and (pair is None or pair == train.pairs[i]) or key in seen:
                unchanged += 1
                continue
            if held.holds(text, [pair] if pair is not None else []):
                dropped += 1
                continue
            seen.add(key)
            texts.append(text)
            if pairs is not None:
                pairs.append(pair)
        if len(texts) >= count:
            break
    split = Split("augmented", f"{len(texts)} word-replaced copies of {train.name}", texts, pairs, [-100] * len(texts))
    return split, {"augmented_rows": len(texts), "augmented_unchanged_or_repeated": unchanged,
                   "augmented_dropped_eval_or_selection_text": dropped}


def copies_for(train: Split, held: OverlapFilter, filled: int, acfg, tcfg, teacher, teacher_tok,
               seed: int) -> tuple[Split | None, dict]:
    """The word-replaced copies a training stage adds (``acfg``: distill.augment) beside its ``filled`` rows to fill
    its budget (``tcfg``: the stage's train section, min_steps x batch_size), or None; with the stage's record of
    why. The copies come from ``train`` only."""
    p = plan(acfg.mode, filled, tcfg.min_steps * tcfg.batch_size, acfg.max_per_text,
             epochs_set=tcfg.epochs is not None, pairs=train.pairs is not None)
    if not p.on:
        return None, {"augment": p.reason, "augmented_rows": 0}
    neighbours = Neighbours(teacher_tok, teacher.get_input_embeddings().weight, acfg.neighbours)
    split, counts = augment(train, held, neighbours, p.count, acfg.replace_prob, seed)
    return split, {"augment": p.reason} | counts
