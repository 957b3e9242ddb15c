"""The emulator: where ``qemu-aarch64`` is, its version, the CPU models it knows, and what each model reports.

QEMU gives the guest its CPU features through the auxiliary vector (``AT_HWCAP``), per ``-cpu`` model. The
micro-architecture, which XNNPACK and ONNX Runtime's ``cpuinfo`` also use to pick kernels (Cortex-A53- and
A55-tuned GEMMs), comes from ``/proc/cpuinfo``'s MIDR lines, and qemu-user passes the *host's* file through:
on QEMU 7.2 ``import onnxruntime`` segfaults parsing an x86 one. qemu-user looks paths up under ``-L`` first, so
each CPU model gets a view of the root with its own ``proc/cpuinfo`` (``cpu_view``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import EdgeportError

BINARIES = ("qemu-aarch64-static", "qemu-aarch64")  # Debian: qemu-user-static (7.2); qemu-user (10, static)
INSTALL_HINT = ("install QEMU user-mode emulation and mmdebstrap: apt-get install qemu-user-static mmdebstrap "
                "(Debian bookworm-backports' qemu-user 10 adds the cortex-a55 and cortex-a710 models)")


class EmulatorMissing(EdgeportError):
    """qemu-aarch64 (or mmdebstrap) is not installed: ARM parity cannot run here."""


@dataclass(frozen=True)
class Midr:
    """What ``/proc/cpuinfo`` says on a real core of this model (Arm TRMs' MIDR_EL1; Linux's feature names)."""
    implementer: int
    part: int
    variant: int
    revision: int
    features: str


_V80 = "fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid"
_V82 = _V80 + " atomics fphp asimdhp asimdrdm lrcpc dcpop asimddp"
# QEMU -cpu name -> the MIDR its real counterpart reports. 'max' is no real core: it reports as a Neoverse N1
# (Armv8.2, dot product), because ONNX Runtime's cpuinfo segfaults on a part it does not know (measured: QEMU's
# own implementer 0 / part 0x051 crashes `import onnxruntime`); its features still come from QEMU's AT_HWCAP.
MIDR = {
    "cortex-a53": Midr(0x41, 0xd03, 0x0, 4, _V80),
    "cortex-a72": Midr(0x41, 0xd08, 0x0, 3, _V80),
    "cortex-a55": Midr(0x41, 0xd05, 0x1, 0, _V82),
    "cortex-a76": Midr(0x41, 0xd0b, 0x4, 1, _V82 + " ssbs"),
    "cortex-a710": Midr(0x41, 0xd47, 0x2, 0, _V82 + " sve sve2 asimdfhm i8mm bf16 svei8mm svebf16 ssbs"),
    "max": Midr(0x41, 0xd0c, 0x4, 1, _V82 + " sve sve2 i8mm bf16"),
}


def cpuinfo_text(model: str, cores: int = 1) -> str:
    """A ``/proc/cpuinfo`` for ``model`` (its base name: 'max,sme=off' reports as 'max')."""
    m = MIDR.get(base_model(model))
    if m is None:
        raise EdgeportError(f"no /proc/cpuinfo description for CPU model '{model}'; known: {', '.join(MIDR)}")
    block = (f"BogoMIPS\t: 50.00\nFeatures\t: {m.features}\nCPU implementer\t: {m.implementer:#04x}\n"
             f"CPU architecture: 8\nCPU variant\t: {m.variant:#x}\nCPU part\t: {m.part:#05x}\n"
             f"CPU revision\t: {m.revision}\n\n")
    return "".join(f"processor\t: {i}\n{block}" for i in range(cores))


def base_model(model: str) -> str:
    return model.split(",", 1)[0]


@dataclass(frozen=True)
class Emulator:
    binary: str
    version: str  # e.g. '7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)'
    models: frozenset[str]  # the -cpu names this build knows

    def supports(self, model: str) -> bool:
        return base_model(model) in self.models


@lru_cache(maxsize=None)
def _probe(binary: str) -> Emulator:
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    # QEMU 7.2 exits 1 after listing them
    listing = subprocess.run([binary, "-cpu", "help"], capture_output=True, text=True).stdout
    models = frozenset(w.split()[0] for w in listing.splitlines()[1:] if w.strip())
    found = re.search(r"version (\S+(?: \([^)]*\))?)", version)
    return Emulator(binary, found.group(1) if found else version.strip().splitlines()[0], models)


def find_emulator() -> Emulator:
    """The installed qemu-aarch64 (``$EDGEPORT_QEMU`` names one explicitly), or ``EmulatorMissing``."""
    wanted = os.environ.get("EDGEPORT_QEMU")
    for name in ((wanted,) if wanted else BINARIES):
        path = shutil.which(name)
        if path:
            return _probe(path)
    raise EmulatorMissing(f"no {wanted or ' / '.join(BINARIES)} on PATH: ARM parity cannot run; {INSTALL_HINT}")


def cpu_view(root: Path, views: Path, model: str) -> Path:
    """A directory that is ``root`` to qemu's ``-L`` lookups, except for its own ``proc/cpuinfo`` for ``model``:
    symlinks to the root's top-level entries, written once per model (atomically, so concurrent runs share it)."""
    view = views / base_model(model)
    if (view / "proc" / "cpuinfo").is_file():
        return view
    tmp = views / f".{base_model(model)}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "proc").mkdir(parents=True)
    for entry in root.iterdir():
        if entry.name != "proc":
            (tmp / entry.name).symlink_to(os.path.relpath(entry, view))
    (tmp / "proc" / "cpuinfo").write_text(cpuinfo_text(model))
    try:
        tmp.rename(view)
    except OSError:  # another process made it first: theirs is the same
        shutil.rmtree(tmp, ignore_errors=True)
    return view
