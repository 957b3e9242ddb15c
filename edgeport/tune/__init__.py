"""``edgeport tune``: hyperparameter and student search with Optuna over the real pipeline (see ``study.py``)."""

from .commands import register

__all__ = ["register"]
