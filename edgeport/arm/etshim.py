"""ExecuTorch in the guest without torch: ``et_shim.cpp`` cross-compiled for aarch64 against the executorch wheel.

Why: the wheel's Python bindings (``extension/pybindings/_C``) link libtorch (``libtorch_python``, ``libtorch``,
``libtorch_cpu``, ``libc10``) and take torch tensors, and PyPI's aarch64 torch is a CUDA build from 2.11 on (the
host's executorch 1.5.1 pairs with torch 2.13). The runtime libraries of the same wheel (``executorch/lib``:
``libexecutorch`` with the Module and data-loader extensions, the optimized/portable and quantized kernels, the
XNNPACK delegate, the thread pool) link no torch. So the guest runs the host's executorch release on its own
aarch64 libraries through this small C API (``ep_et_*``), which the guest loads with ctypes
(``guest.ExecuTorchGuestRunner``), as a phone app links the C++ runtime.

Build: ``aarch64-linux-gnu-g++`` (Debian: g++-aarch64-linux-gnu; ``$EDGEPORT_AARCH64_CXX`` names another) against
the wheel's own headers and libraries in the prepared guest's ``site`` (``prepare``), cached under
``prepare.cache_base() / "executorch-shim"`` keyed by the source, the compiler's version and the executorch
version; built under a lock and renamed into place like the counting plugin.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import EdgeportError
from .qemu import EmulatorMissing

SOURCE = Path(__file__).with_name("et_shim.cpp")
COMPILERS = ("aarch64-linux-gnu-g++",)
LIBRARY = "libedgeport_et.so"
HINT = "install an aarch64 C++ cross compiler: apt-get install g++-aarch64-linux-gnu"
# the wheel's runtime libraries, in the order the guest loads them (RTLD_GLOBAL: each one's static registration of
# its kernels or backend runs on load; the shim links the first two)
RUNTIME_LIBS = ("libexecutorch.so", "libexecutorch_threadpool.so", "libexecutorch_kernels_optimized.so",
                "libexecutorch_kernels_quantized.so", "libexecutorch_backend_xnnpack.so")


class ShimMissing(EmulatorMissing):
    """No aarch64 C++ cross compiler (or no executorch wheel in the guest): .pte files cannot run under emulation."""


@dataclass(frozen=True)
class Shim:
    library: Path  # libedgeport_et.so, for the guest
    lib_dir: Path  # the wheel's executorch/lib in the prepared site (the guest loads RUNTIME_LIBS from it)
    digest: str  # source + compiler + executorch version
    compiler: str  # the compiler's version line


def compiler() -> tuple[str, str]:
    """The cross compiler's path and version line, or ``ShimMissing`` saying what to install."""
    wanted = os.environ.get("EDGEPORT_AARCH64_CXX")
    for name in ((wanted,) if wanted else COMPILERS):
        path = shutil.which(name)
        if path:
            return path, _version(path)
    raise ShimMissing(f"no {wanted or ' / '.join(COMPILERS)} on PATH to build the guest's ExecuTorch runner "
                      f"(the wheel's Python bindings need torch, which has no aarch64 CPU wheel); {HINT}")


@lru_cache(maxsize=None)
def _version(path: str) -> str:
    return subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]


def shim(prepared, base: Path | None = None) -> Shim:
    """The shim for ``prepared``'s executorch wheel, built (once per source x compiler x version) if missing."""
    from .prepare import cache_base

    version = prepared.facts["wheels"].get("executorch")
    package = prepared.site / "executorch"
    if version is None or not (package / "lib" / RUNTIME_LIBS[0]).is_file():
        raise ShimMissing("the guest has no executorch wheel (its version follows the host's: install executorch "
                          "on the host)")
    cxx, line = compiler()
    digest = hashlib.sha256(SOURCE.read_bytes() + line.encode() + version.encode()).hexdigest()[:16]
    base = (base or cache_base()) / "executorch-shim"
    lib = base / digest / LIBRARY
    if not lib.is_file():
        base.mkdir(parents=True, exist_ok=True)
        with open(base / f"{digest}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not lib.is_file():
                _compile(cxx, package, lib)
    return Shim(lib, package / "lib", digest, line)


def _compile(cxx: str, package: Path, lib: Path) -> None:
    include = package / "include"
    tmp = lib.parent.with_name(f".{lib.parent.name}.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    # C10_USING_CUSTOM_GENERATED_MACROS: the wheel's portable c10 headers without torch's generated cmake_macros.h
    # (as ExecuTorch's own build defines it)
    done = subprocess.run([cxx, "-O2", "-std=c++17", "-shared", "-fPIC", "-Wall", "-Wno-deprecated-declarations",
                           "-DC10_USING_CUSTOM_GENERATED_MACROS", f"-I{include}",
                           f"-I{include / 'executorch/runtime/core/portable_type/c10'}", "-o", str(tmp / lib.name),
                           str(SOURCE), f"-L{package / 'lib'}", "-lexecutorch", "-lexecutorch_threadpool"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise EdgeportError(f"building {SOURCE.name} with {cxx} failed:\n{done.stderr.strip()[-2000:]}")
    tmp.rename(lib.parent)
