"""Structured pruning (attention heads, FFN neurons) and vocabulary pruning of BERT classifiers.

Library code for the ``prune`` stage; see ARCHITECTURE.md "Pruning" for the method and its constraints.
"""

from .importance import unit_importance
from .saving import load_pruned, reslice, save_pruned
from .structured import heads_to_keep, neurons_to_keep, prune_ffn, prune_heads, top_k_per_layer
from .vocab import prune_vocab, token_change

__all__ = ["heads_to_keep", "load_pruned", "neurons_to_keep", "prune_ffn", "prune_heads", "prune_vocab", "reslice",
           "save_pruned", "token_change", "top_k_per_layer", "unit_importance"]
