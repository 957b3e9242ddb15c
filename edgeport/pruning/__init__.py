"""Structured pruning (attention heads, FFN neurons) and vocabulary pruning of BERT-like classifiers
(every architecture in ``edgeport.models.arch``).

Library code for the ``prune`` stage; see ARCHITECTURE.md "Pruning" for the method and its constraints.
"""

from .importance import unit_importance
from .saving import load_pruned, reslice, save_pruned
from .structured import heads_to_keep, neurons_to_keep, prune_ffn, prune_heads, top_k_per_layer
from .vocab import VocabTrial, prune_vocab, token_change, tokenizer_family, vocab_report

__all__ = ["VocabTrial", "heads_to_keep", "load_pruned", "neurons_to_keep", "prune_ffn", "prune_heads", "prune_vocab", "reslice",
           "save_pruned", "token_change", "tokenizer_family", "top_k_per_layer", "unit_importance", "vocab_report"]
