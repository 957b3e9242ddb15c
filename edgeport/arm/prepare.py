"""The guest's world, prepared once and cached: an arm64 Debian root and the aarch64 wheels of the host's runtimes.

- Root: ``mmdebstrap --variant=extract`` (Debian's registry; no binfmt, no chroot: qemu-user runs the root's
  ``python3.11`` with ``-L``), ~76 MB in seconds. The exact .deb files it unpacked are recorded (``debs``).
- Wheels: the host's own versions of numpy and each guest runtime (``GUEST_RUNTIMES``), for aarch64 cp311, from
  PyPI through pip (``--platform`` must name the wheel's exact manylinux tag, hence the list), unpacked with
  ``pip install --target``. The same runtime version on both sides: a difference is the kernels', not a release's.
  ExecuTorch too: the guest runs the host's executorch release (1.5.1 here) and no torch at all. Its wheel's
  Python bindings link libtorch, and PyPI's aarch64 torch is a CUDA build from 2.11 on, so the bindings cannot be
  the guest's runtime (an older CPU pair, executorch 1.1.0 on torch 2.10, would be another release than the
  host's, import for ~35 s under emulation and die with SIGILL on Armv8.0 cores: torch needs LSE atomics). The
  same wheel's runtime libraries link no torch: the guest loads them through ``et_shim.cpp`` (``etshim``), which
  runs on every CPU model here, Armv8.0 included.
- Key: Debian suite + package list + wheel versions + the emulator's version (the smoke import that marks an
  entry ready ran under it). A finished entry is ``ready.json``; preparation builds in a temporary sibling under
  an exclusive lock and renames, so concurrent runs wait for one build and never see half of one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..errors import EdgeportError
from ..timing import Stopwatch
from .qemu import INSTALL_HINT, Emulator, EmulatorMissing, find_emulator

SUITE = "bookworm"  # its python3.11 is the cp311 the wheels are built for
DEB_PACKAGES = ("python3.11", "libpython3.11-stdlib", "libstdc++6", "libgcc-s1", "zlib1g", "libgomp1")
# The distributions a guest needs, by the host's distribution name (pip names the wheel the same).
BASE_WHEELS = ("numpy",)
WHEEL_PLATFORMS = ("manylinux_2_17_aarch64", "manylinux2014_aarch64", "manylinux_2_27_aarch64",
                   "manylinux_2_28_aarch64")  # bookworm's glibc 2.36 runs all of these


@dataclass(frozen=True)
class GuestRuntime:
    """What one format needs in the guest, or why it cannot run there (``unsupported``: the reason). ``shim``: the
    guest runs it through ``etshim`` (a C API over the wheel's C++ runtime, cross-compiled on first use)."""
    wheels: tuple[str, ...] = ()
    unsupported: str | None = None
    shim: bool = False


# format -> its guest runtime: the formats edgeport ships to ARM devices, and why the others do not run here.
GUEST_RUNTIMES = {
    "tflite": GuestRuntime(("ai-edge-litert",)),
    "onnx": GuestRuntime(("onnxruntime",)),
    # the host's executorch version, its runtime libraries without torch (the module docstring says why)
    "executorch": GuestRuntime(("executorch",), shim=True),
    "torchscript": GuestRuntime(unsupported="TorchScript is not an on-device format here (PyTorch Mobile is "
                                            "deprecated); no aarch64 CPU torch wheel to run it"),
}


@dataclass(frozen=True)
class Prepared:
    """A ready cache entry: the root, the wheels' directory, and what they are (the fingerprint reads ``facts``)."""
    root: Path
    site: Path
    views: Path  # per CPU model views of the root (qemu.cpu_view)
    emulator: Emulator
    facts: dict  # suite, packages, wheel versions, emulator version, the .deb files unpacked


def cache_base() -> Path:
    if os.environ.get("EDGEPORT_ARM_CACHE"):
        return Path(os.environ["EDGEPORT_ARM_CACHE"])
    from ..hostinfo import cache_dir

    return cache_dir() / "arm"


def wheel_versions() -> dict[str, str]:
    """The host's versions of every guest wheel (a runtime the host lacks is left out: its format is not run)."""
    names = list(BASE_WHEELS) + [w for g in GUEST_RUNTIMES.values() for w in g.wheels]
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def cache_key(emulator: Emulator, wheels: dict[str, str]) -> tuple[str, dict]:
    spec = {"suite": SUITE, "packages": list(DEB_PACKAGES), "wheels": wheels, "emulator": emulator.version}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16], spec


def prepare(emulator: Emulator | None = None, base: Path | None = None) -> Prepared:
    """The cache entry for this emulator and the host's runtime versions, built if missing (idempotent)."""
    emulator = emulator or find_emulator()
    wheels = wheel_versions()
    key, spec = cache_key(emulator, wheels)
    base = base or cache_base()
    entry = base / key
    base.mkdir(parents=True, exist_ok=True)
    if not (entry / "ready.json").is_file():
        with open(base / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one build; the others wait and then find it ready
            if not (entry / "ready.json").is_file():
                _build(entry, spec, emulator)
    facts = json.loads((entry / "ready.json").read_text())
    return Prepared(entry / "root", entry / "site", entry / "views", emulator, facts)


def _build(entry: Path, spec: dict, emulator: Emulator) -> None:
    if not shutil.which("mmdebstrap"):
        raise EmulatorMissing(f"mmdebstrap is not installed: the arm64 root cannot be made; {INSTALL_HINT}")
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    clock = Stopwatch().start()
    print(f"  preparing the arm64 guest ({SUITE} root + aarch64 wheels) in {entry} ...", flush=True)
    _run(["mmdebstrap", "--quiet", "--variant=extract", "--architectures=arm64", f"--include={','.join(DEB_PACKAGES)}",
          "--extract-hook=ls \"$1\"/var/cache/apt/archives > \"$1\"/debs.txt", SUITE, str(tmp / "root")],
         "mmdebstrap (Debian's registry must be reachable)")
    debs = sorted(d for d in (tmp / "root" / "debs.txt").read_text().split() if d.endswith(".deb"))
    wheels = [f"{n}=={v}" for n, v in spec["wheels"].items()]
    plat = [a for p in WHEEL_PLATFORMS for a in ("--platform", p)]
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary=:all:", "--target",
          str(tmp / "site"), "--python-version", "3.11", "--implementation", "cp", *plat, *wheels],
         "pip (PyPI must be reachable, and have aarch64 cp311 wheels of the host's versions)")
    facts = spec | {"debs": debs, "prepare_s": round(clock.seconds, 1)}
    _smoke(tmp, emulator, spec["wheels"])
    (tmp / "ready.json").write_text(json.dumps(facts, indent=2) + "\n")
    shutil.rmtree(entry, ignore_errors=True)
    tmp.rename(entry)


def _smoke(tmp: Path, emulator: Emulator, wheels: dict[str, str]) -> None:
    """Import every wheel in the guest once (on a plain Armv8.0 core, the lowest common model); executorch's runtime
    libraries are loaded as the guest loads them (``etshim.RUNTIME_LIBS``), not its Python package (torch)."""
    from .etshim import RUNTIME_LIBS
    from .qemu import cpu_view

    view = cpu_view(tmp / "root", tmp / "views", "cortex-a53" if emulator.supports("cortex-a53") else "max")
    mods = {"numpy": "numpy", "onnxruntime": "onnxruntime", "ai-edge-litert": "ai_edge_litert.interpreter"}
    code = "import ctypes, os\n" + "".join(f"import {mods[w]}\n" for w in wheels if w in mods)
    if "executorch" in wheels:
        lib = tmp / "site" / "executorch" / "lib"
        code += "".join(f"ctypes.CDLL({str(lib / n)!r}, mode=os.RTLD_GLOBAL)\n" for n in RUNTIME_LIBS)
    _run([emulator.binary, "-L", str(view), "-cpu", view.name, str(tmp / "root/usr/bin/python3.11"), "-c", code],
         "the guest's smoke import", env=guest_env(tmp / "site"))


def guest_code() -> str:
    """sha256 of what runs in the guest from this tree: ``guest.py`` (a script: no import follows it) and the
    ExecuTorch shim's source (``et_shim.cpp``); the plans' fingerprints hold it."""
    here = Path(__file__).parent
    return hashlib.sha256(b"".join((here / n).read_bytes() for n in ("guest.py", "et_shim.cpp"))).hexdigest()


def guest_env(site: Path, package_dir: Path | None = None) -> dict:
    """The guest Python's environment: the wheels, then ``package_dir`` (a directory whose ``edgeport`` links to
    this edgeport: the guest imports ``edgeport.runtimes`` from it, so it runs the host's runner code, not a copy,
    and nothing else of the host's site-packages); no bytecode written into the host's tree."""
    path = str(site) if package_dir is None else f"{site}{os.pathsep}{package_dir}"
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
            "PYTHONPATH": path, "HOME": "/tmp"}


def _run(cmd: list[str], what: str, env: dict | None = None) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise EdgeportError(f"preparing the ARM guest: {what} failed (exit {done.returncode}):\n{tail}")
