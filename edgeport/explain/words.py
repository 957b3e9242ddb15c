"""One input, tokenized, with every token tied to a word of the text.

Attributions are compared at the **word** level: the teacher, the pruned student (its own, smaller vocabulary)
and every artifact (the tokenizer saved beside it) may split a word into different word pieces, and a future
student may use another tokenizer family altogether. A word here is a whitespace-separated span of the text as
given (``re.finditer(r"\\S+")``), so the word list depends on the text alone and is the same for every model;
each token is tied to the word that holds its first character (the fast tokenizer's offsets). SST-2's text is
already split at punctuation ("it 's a charming film ."), so its words are what a reader calls words.

Tokens the tokenizer adds ([CLS], [SEP]) belong to no word: they are never occluded and stay in the baseline.
A word with no token in the input (cut by truncation, or made of characters the tokenizer drops) is not
``covered``: its score is 0 and agreement metrics leave it out.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from ..errors import ArtifactError

WORD = re.compile(r"\S+")


@dataclass
class Encoded:
    input_ids: list[int]
    attention_mask: list[int]
    token_type_ids: list[int] | None
    tokens: list[str]
    word_of_token: list[int]  # index into ``words``; -1 for added tokens ([CLS], [SEP]) and unaligned ones
    words: list[str]
    word_part: list[int]  # 0: a word of the text, 1: a word of the pair

    def positions(self, word: int) -> list[int]:
        return [i for i, w in enumerate(self.word_of_token) if w == word]

    def covered(self) -> list[bool]:
        seen = set(self.word_of_token)
        return [w in seen for w in range(len(self.words))]

    def baseline_ids(self, pad_id: int) -> list[int]:
        """Every token of a word replaced with ``pad_id``; added tokens ([CLS], [SEP]) kept."""
        return [pad_id if w >= 0 else t for t, w in zip(self.input_ids, self.word_of_token)]


def split_words(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in WORD.finditer(text or "")]


def encode_one(tokenizer, text: str, pair: str | None = None, max_len: int = 128) -> Encoded:
    """Tokenize one input (truncated to ``max_len`` tokens) and tie each token to a word of text or pair."""
    if not getattr(tokenizer, "is_fast", False):
        raise ArtifactError(f"attributions need a fast tokenizer (tokenizer.json) for character offsets; "
                            f"{type(tokenizer).__name__} is not one: re-save the tokenizer with transformers")
    enc = tokenizer(text, pair, truncation=True, max_length=max_len, return_offsets_mapping=True)
    parts = [split_words(text)] + ([split_words(pair)] if pair is not None else [])
    first_word = [0, len(parts[0])]
    words = [w for part in parts for (_, _, w) in part]
    word_part = [i for i, part in enumerate(parts) for _ in part]
    starts = [[s for s, _, _ in part] for part in parts]
    word_of_token = []
    for seq, (s, e) in zip(enc.sequence_ids(), enc["offset_mapping"]):
        word = -1
        if seq is not None and seq < len(parts) and e > s:
            j = bisect_right(starts[seq], s) - 1
            if j >= 0 and s < parts[seq][j][1]:
                word = first_word[seq] + j
        word_of_token.append(word)
    ids = list(enc["input_ids"])
    return Encoded(input_ids=ids, attention_mask=list(enc["attention_mask"]),
                   token_type_ids=list(enc["token_type_ids"]) if "token_type_ids" in enc else None,
                   tokens=tokenizer.convert_ids_to_tokens(ids), word_of_token=word_of_token, words=words,
                   word_part=word_part)
