"""Recovery after structured pruning, with the pruned weights themselves as a checkpoint.

``fit`` evaluates on the selection split every ``eval_every`` steps and keeps the best of those checkpoints, but it
never evaluates the weights it starts from. For recovery those are a real candidate, already measured on the same
split by the prune table: when pruning removed little (e.g. a quarter of the FFN neurons of a distilled QA student,
selection F1 -0.11), recovery's first steps can lose more than they win back. So the weights that ship are the
best of (pruned, every recovery checkpoint) on the selection split, like every other checkpoint choice.
"""

from __future__ import annotations

from typing import Callable


def recover_or_keep(model, before: float, recover: Callable) -> tuple[object, dict]:
    """Run ``recover()`` (recovery training: returns its ``FitResult`` and leaves ``model`` at its best selection
    checkpoint); keep those weights only when that checkpoint scores above ``before``, the pruned weights' score
    on the same selection split, else put the pruned weights back. Returns the result and what was kept."""
    start = {name: value.detach().clone() for name, value in model.state_dict().items()}
    result = recover()
    best = result.best_accuracy if result.best_score is None else result.best_score
    kept = "recovered" if best > before else "pruned"
    if kept == "pruned":
        model.load_state_dict(start)
        print(f"  prune recovery: no checkpoint beat the pruned weights on the selection split ({best:.4f} <= "
              f"{before:.4f}): the pruned weights are kept", flush=True)
    return result, {"kept": kept, "pruned_select_score": round(float(before), 6)}
