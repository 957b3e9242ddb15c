"""Process-group helpers: under a multi-process launch only the main process plans, publishes and writes the
manifest; every process runs the distributed (training) stages. Single-process runs never start a process group.

Launches that start N processes (Accelerate 1.15):

* CPU only: ``torchrun --standalone --nproc_per_node N -m edgeport.cli run CONFIG`` (torchrun ships with torch).
  Accelerate's own CPU route, ``accelerate launch --cpu --num_processes N``, starts *one* process unless it is
  given an MPI hostfile (``--mpirun_hostfile``, which needs an MPI install), so it is not used here.
* GPUs: ``accelerate launch --multi_gpu --num_processes N -m edgeport.cli run CONFIG`` (torchrun underneath).

Accelerate picks a CPU (gloo) process group only when told to run on the CPU, and ``PartialState()`` does not read
``ACCELERATE_USE_CPU``: under torchrun on a machine without an accelerator it reports a single process in every
process, and each would take itself for the main one. ``state()`` is the one place this process's state is made:
it honours ``ACCELERATE_USE_CPU`` and, when launched with no accelerator Accelerate can use, falls back to CPU
processes on gloo. Anything that needs the Accelerate state (the training loop included) goes through it first."""

from __future__ import annotations

import os
import sys

# The variables Accelerate reads the process count from (torchrun, then the MPI flavours).
_WORLD_VARS = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
_warned_single = False


def world_size_from_env() -> int:
    """How many processes the launcher started (1 when not launched)."""
    for var in _WORLD_VARS:
        if os.environ.get(var, "").strip():
            return int(os.environ[var])
    return 1


def launched() -> bool:
    return world_size_from_env() > 1


def state():
    """This process's Accelerate ``PartialState``, with a real process group whenever the launcher started several
    processes (gloo on the CPU, the accelerator's backend otherwise)."""
    from accelerate import PartialState
    from accelerate.state import AcceleratorState
    from accelerate.utils import parse_flag_from_env

    cpu = parse_flag_from_env("ACCELERATE_USE_CPU")
    st = PartialState(cpu=cpu)  # the existing singleton when already made
    if not launched():
        _warn_if_launch_started_one_process()
        return st
    if st.num_processes == 1:
        # Launched, but Accelerate found no accelerator backend (CPU-only machine without ACCELERATE_USE_CPU):
        # it set up no process group. Make it again on the CPU, where it forms a gloo group.
        AcceleratorState._reset_state(reset_partial_state=True)
        st = PartialState(cpu=True)
    if st.num_processes != world_size_from_env():
        raise RuntimeError(f"the launcher started {world_size_from_env()} processes but Accelerate formed a group of "
                           f"{st.num_processes} ({st.distributed_type}); run with ACCELERATE_USE_CPU=1 on a CPU-only "
                           "machine")
    return st


def num_processes() -> int:
    return state().num_processes if launched() else 1


def is_main() -> bool:
    return not launched() or state().is_main_process


def barrier() -> None:
    if launched():
        state().wait_for_everyone()


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


def _warn_if_launch_started_one_process() -> None:
    """``accelerate launch --cpu --num_processes N`` (N > 1, no MPI hostfile) sets MASTER_ADDR for N processes but
    starts one; say so once, rather than let a user believe N processes trained."""
    global _warned_single
    if _warned_single or not os.environ.get("MASTER_ADDR"):
        return
    _warned_single = True
    print("edgeport: warning: a launcher set MASTER_ADDR but started only this one process (`accelerate launch "
          "--cpu --num_processes N` does so without --mpirun_hostfile); for N CPU processes use "
          "`torchrun --standalone --nproc_per_node N -m edgeport.cli ...`", file=sys.stderr)
