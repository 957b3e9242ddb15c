"""Dynamic masking for masked-language modelling: BERT's 80/10/10 rule, token-level or whole-word.

One rule, one implementation (``mask_tokens``): each *word* (a single token, unless whole-word masking is on) is
chosen with probability ``mlm_probability``; a chosen word is replaced, as a whole, by the mask token (80%), by
random tokens (10%) or kept as it is (10%); the loss is computed on every chosen token (labels = the original ids,
-100 elsewhere). Special tokens and padding are never chosen, and random replacements are drawn from the
vocabulary minus the special tokens.

Why not transformers' ``DataCollatorForLanguageModeling``: its token-level path is the same rule, but in
transformers 5 ``whole_word_mask=True`` finds words from character offsets (a gap between tokens) and turns the
80/10/10 rule into 100% mask tokens; here words are the fast tokenizer's own ``word_ids()`` (WordPiece ``##``,
byte-level BPE ``Ġ``, SentencePiece ``▁`` alike), within each segment of a pair, and the rule stays 80/10/10.

Masks are drawn per batch in the collate from a seeded ``torch.Generator`` (dynamic masking: each epoch sees new
masks; the same seed gives the same masks). Held-out text is masked once, with its own seed, so every evaluation
scores the same positions.
"""

from __future__ import annotations

import torch

MASK_SHARE = 0.8  # of the chosen tokens: replaced by the mask token
RANDOM_SHARE = 0.1  # ... by random tokens; the rest (0.1) keep their own token
NO_WORD = -1  # word id of special tokens and padding


def word_starts(word_ids: torch.Tensor) -> torch.Tensor:
    """[B, L] bool: a position starts a word (its word id differs from the previous position's; specials never)."""
    prev = torch.full_like(word_ids[:, :1], NO_WORD)
    shifted = torch.cat([prev, word_ids[:, :-1]], dim=1)
    return (word_ids != NO_WORD) & (word_ids != shifted)


def mask_tokens(input_ids: torch.Tensor, word_ids: torch.Tensor, *, mlm_probability: float, mask_id: int,
                random_ids: torch.Tensor, generator: torch.Generator | None = None,
                whole_word: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(masked inputs, labels) for a padded batch.

    ``word_ids`` [B, L]: a word index per token, ``NO_WORD`` for special tokens and padding (never masked); tokens
    of one word are contiguous and share an id (pairs: ids unique across both segments). Without ``whole_word``
    each token is its own word."""
    ids = input_ids.clone()
    labels = input_ids.clone()
    maskable = word_ids != NO_WORD
    if whole_word:
        starts = word_starts(word_ids)
    else:
        starts = maskable
    positions = torch.arange(ids.shape[1]).expand_as(ids)
    # for each token, the position where its word starts (words are contiguous runs of one id)
    start_of = torch.cummax(torch.where(starts, positions, torch.zeros_like(positions)), dim=1).values
    # one draw per word, at its first token, then spread over the word
    chosen = (torch.rand(ids.shape, generator=generator) < mlm_probability) & starts
    action = torch.rand(ids.shape, generator=generator)  # < 0.8 mask, < 0.9 random, else keep
    chosen = chosen.gather(1, start_of) & maskable
    action = action.gather(1, start_of)
    labels[~chosen] = -100
    to_mask = chosen & (action < MASK_SHARE)
    to_random = chosen & (action >= MASK_SHARE) & (action < MASK_SHARE + RANDOM_SHARE)
    ids[to_mask] = mask_id
    picks = torch.randint(len(random_ids), ids.shape, generator=generator)
    ids[to_random] = random_ids[picks][to_random]
    return ids, labels


def random_candidates(tokenizer, vocab_size: int) -> torch.Tensor:
    """Token ids a random replacement may take: the model's vocabulary without the special tokens."""
    special = set(tokenizer.all_special_ids)
    return torch.tensor([i for i in range(min(vocab_size, len(tokenizer))) if i not in special], dtype=torch.long)


class MaskingCollate:
    """Pads pre-training rows and masks them (dynamic masking, ``mask_tokens``); sentence-order labels pass through.

    Rows: ``input_ids``, ``attention_mask``, optionally ``token_type_ids``, ``word_ids`` (``NO_WORD`` on special
    tokens) and ``sop_label`` (-100 where the row is not a sentence pair built for SOP). The generator is seeded
    with ``seed`` + the process index on first use, so each process of an ``accelerate launch`` draws its own masks
    and a run is reproducible."""

    def __init__(self, pad_id: int, mask_id: int, random_ids: torch.Tensor, mlm_probability: float,
                 whole_word: bool, seed: int):
        self.pad_id, self.mask_id, self.random_ids = pad_id, mask_id, random_ids
        self.mlm_probability, self.whole_word, self.seed = mlm_probability, whole_word, seed
        self.generator: torch.Generator | None = None

    def pad(self, rows: list[dict]) -> dict:
        width = max(len(r["input_ids"]) for r in rows)
        batch = {}
        for key, fill in (("input_ids", self.pad_id), ("token_type_ids", 0), ("attention_mask", 0),
                          ("word_ids", NO_WORD)):
            if key in rows[0]:
                batch[key] = torch.tensor([r[key] + [fill] * (width - len(r[key])) for r in rows], dtype=torch.long)
        batch["sop_labels"] = torch.tensor([r.get("sop_label", -100) for r in rows], dtype=torch.long)
        return batch

    def mask(self, batch: dict, generator: torch.Generator) -> dict:
        word_ids = batch.pop("word_ids")
        batch["input_ids"], batch["labels"] = mask_tokens(
            batch["input_ids"], word_ids, mlm_probability=self.mlm_probability, mask_id=self.mask_id,
            random_ids=self.random_ids, generator=generator, whole_word=self.whole_word)
        return batch

    def __call__(self, rows: list[dict]) -> dict:
        if self.generator is None:
            from accelerate import PartialState

            self.generator = torch.Generator().manual_seed(self.seed + PartialState().process_index)
        return self.mask(self.pad(rows), self.generator)

    def fixed_batches(self, rows: list[dict], batch_size: int, seed: int) -> list[dict]:
        """Held-out rows masked once with their own generator: every evaluation scores the same positions."""
        gen = torch.Generator().manual_seed(seed)
        return [self.mask(self.pad(rows[i:i + batch_size]), gen) for i in range(0, len(rows), batch_size)]
