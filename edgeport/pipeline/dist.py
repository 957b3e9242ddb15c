"""Process-group helpers: under ``accelerate launch`` only the main process plans, publishes and writes the
manifest; every process runs the training stages. Single-process runs never start a process group."""

from __future__ import annotations

import os


def _state():
    from accelerate import PartialState

    return PartialState()


def launched() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_main() -> bool:
    return not launched() or _state().is_main_process


def barrier() -> None:
    if launched():
        _state().wait_for_everyone()


def run_on_main(fn):
    """Run ``fn`` on the main process and re-raise its user error on every process, so none hangs."""
    if not launched():
        return fn()
    import torch.distributed as tdist

    error = [None]
    if is_main():
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - forwarded to the other ranks, then re-raised
            error[0] = exc
    tdist.broadcast_object_list(error, src=0)
    if error[0] is not None:
        raise error[0]
