"""Instructions per inference under emulation: the bench's ``emulated`` evidence (counted, not timed).

How: QEMU's TCG plugin API. ``insn_count.c`` counts every guest instruction the emulator executes and writes the
count at each marker the guest sets (``guest.mark``: around the model's load and around each call), so the host
gets the instructions of exactly one inference, with the guest's own start-up, Python and JSON excluded.

- **Emulator**: a ``qemu-aarch64`` built with plugin support. Debian's ``qemu-user`` (dynamically linked) is;
  ``qemu-user-static`` is not (static builds cannot ``dlopen``), so parity may run on the static one and counting
  needs the other. The guest root and wheels are ``prepare``'s (the cache key holds the emulator's version).
- **Header**: the plugin API is versioned per QEMU release, so the plugin is built against the ``qemu-plugin.h``
  of the installed emulator's own source: ``$EDGEPORT_QEMU_PLUGIN_H``, else an installed one, else (Debian) the
  source package of the package that owns the binary, downloaded with ``apt-get source`` (the host's own apt
  sources as ``deb-src``; 10 MB of index + the 24 MB upstream tarball, once per QEMU version).
- **Build**: ``gcc -shared`` (QEMU 8+'s header includes ``glib.h``: then glib's headers too), cached under
  ``prepare.cache_base() / "plugins"`` keyed by the source, the header and the emulator; built under a lock and
  renamed into place like the guest root.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import EdgeportError
from .guest import MARKS
from .qemu import Emulator, EmulatorMissing, _probe

SOURCE = Path(__file__).with_name("insn_count.c")
PLUGIN_BINARIES = ("qemu-aarch64",)  # Debian qemu-user: dynamic, takes -plugin (qemu-user-static does not)
HINT = ("install a plugin-capable QEMU and a C compiler: apt-get install qemu-user gcc (Debian's qemu-user is "
        "dynamically linked and loads TCG plugins; qemu-user-static cannot); QEMU 8+ also needs libglib2.0-dev")
HEADER_PATHS = ("/usr/include/qemu-plugin.h", "/usr/local/include/qemu-plugin.h", "/usr/include/qemu/qemu-plugin.h")


class CounterMissing(EmulatorMissing):
    """No plugin-capable qemu-aarch64, compiler, header or glib: instructions cannot be counted here."""


@dataclass(frozen=True)
class Counter:
    """What counts: the emulator and the plugin built for it (``digest``: the plugin's source + header)."""
    emulator: Emulator
    plugin: Path
    digest: str

    def args(self, out: Path) -> list[str]:
        """The emulator's arguments that load the plugin, writing its marks to ``out`` (no comma allowed)."""
        if "," in str(out):
            raise EdgeportError(f"{out}: QEMU's -plugin option cannot take a path with a comma")
        return ["-plugin", f"{self.plugin},out={out}"]


def counting_emulator() -> Emulator:
    """The installed plugin-capable ``qemu-aarch64`` (``$EDGEPORT_QEMU_COUNTING`` names one), or ``CounterMissing``."""
    wanted = os.environ.get("EDGEPORT_QEMU_COUNTING")
    for name in ((wanted,) if wanted else PLUGIN_BINARIES):
        path = shutil.which(name)
        if path and _takes_plugins(path):
            return _probe(path)
    raise CounterMissing(f"no qemu-aarch64 that loads TCG plugins on PATH: instructions cannot be counted; {HINT}")


@lru_cache(maxsize=None)
def _takes_plugins(binary: str) -> bool:
    return "-plugin" in subprocess.run([binary, "-h"], capture_output=True, text=True).stdout


def counter(base: Path | None = None) -> Counter:
    """The counting emulator and its plugin, built (once per source x header x emulator) if missing."""
    from .prepare import cache_base

    emulator = counting_emulator()
    base = (base or cache_base()) / "plugins"
    header = plugin_header(emulator, base)
    digest = hashlib.sha256(SOURCE.read_bytes() + header.read_bytes() + emulator.version.encode()).hexdigest()[:16]
    lib = base / digest / "insn_count.so"
    if not lib.is_file():
        base.mkdir(parents=True, exist_ok=True)
        with open(base / f"{digest}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not lib.is_file():
                _compile(header, lib)
    return Counter(emulator, lib, digest)


def _compile(header: Path, lib: Path) -> None:
    if not shutil.which("gcc"):
        raise CounterMissing(f"gcc is not installed: the instruction-counting plugin cannot be built; {HINT}")
    cflags = _glib_cflags() if "<glib.h>" in header.read_text() else []
    tmp = lib.parent.with_name(f".{lib.parent.name}.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    done = subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-Wall", f"-I{header.parent}", *cflags, "-o",
                           str(tmp / lib.name), str(SOURCE)], capture_output=True, text=True)
    if done.returncode != 0:
        raise EdgeportError(f"building {SOURCE.name} against {header} failed:\n{done.stderr.strip()[-2000:]}")
    tmp.rename(lib.parent)


def _glib_cflags() -> list[str]:
    """This QEMU's plugin header includes glib.h (QEMU 8+): glib's compile flags, or why they are missing."""
    done = subprocess.run(["pkg-config", "--cflags", "glib-2.0"], capture_output=True, text=True) \
        if shutil.which("pkg-config") else None
    if done is None or done.returncode != 0:
        raise CounterMissing(f"glib's headers are missing (this QEMU's qemu-plugin.h includes glib.h): "
                             f"apt-get install libglib2.0-dev pkg-config; {HINT}")
    return done.stdout.split()


def plugin_header(emulator: Emulator, base: Path) -> Path:
    """The ``qemu-plugin.h`` matching ``emulator``: given, installed, or from its Debian source package."""
    given = os.environ.get("EDGEPORT_QEMU_PLUGIN_H")
    if given:
        return Path(given)
    installed = next((Path(p) for p in HEADER_PATHS if Path(p).is_file()), None)
    return installed or debian_header(emulator.binary, base)


def debian_header(binary: str, base: Path) -> Path:
    """The header from the Debian source package that built ``binary`` (``dpkg -S``), fetched once per version."""
    package, version = _debian_source(binary)
    safe = re.sub(r"[^A-Za-z0-9.+~-]", "_", f"{package}-{version}")
    header = base / "headers" / safe / "qemu-plugin.h"
    if header.is_file():
        return header
    if not shutil.which("apt-get"):
        raise CounterMissing(f"{binary} has no qemu-plugin.h installed and apt-get is missing to fetch its source; "
                             f"set EDGEPORT_QEMU_PLUGIN_H to the header of QEMU {version}")
    with tempfile.TemporaryDirectory(prefix="edgeport-qemu-src-") as tmp:
        found = _fetch_header(package, version, Path(tmp))
        header.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found, header.with_suffix(".tmp"))
        header.with_suffix(".tmp").rename(header)
    return header


def _debian_source(binary: str) -> tuple[str, str]:
    owner = subprocess.run(["dpkg", "-S", os.path.realpath(binary)], capture_output=True, text=True) \
        if shutil.which("dpkg") else None
    if owner is None or owner.returncode != 0:
        raise CounterMissing(f"{binary} is not from a Debian package, and no qemu-plugin.h is installed: set "
                             f"EDGEPORT_QEMU_PLUGIN_H to the header of this QEMU's source")
    package = owner.stdout.split(":", 1)[0].strip()
    src = subprocess.run(["dpkg-query", "-W", "-f=${source:Package} ${source:Version}", package],
                         capture_output=True, text=True, check=True).stdout.split()
    return src[0], src[1]


def _fetch_header(package: str, version: str, tmp: Path) -> Path:
    """``apt-get source --download-only`` with the host's apt sources turned into deb-src ones, in a private
    apt state (the host's configuration and lists are untouched), then the one header out of the tarballs."""
    parts = tmp / "sources.list.d"
    parts.mkdir()
    (parts / "src.list").write_text("".join(_deb_src_lines()))
    apt = ["-o", "Dir::Etc::SourceList=/dev/null", "-o", f"Dir::Etc::SourceParts={parts}",
           "-o", f"Dir::State::Lists={tmp / 'lists'}", "-o", f"Dir::Cache={tmp / 'cache'}",
           "-o", "APT::Sandbox::User=root" if os.geteuid() == 0 else "APT::Sandbox::User=_apt"]
    (tmp / "lists" / "partial").mkdir(parents=True)
    for cmd in (["apt-get", *apt, "-q", "update"], ["apt-get", *apt, "-q", "source", "--download-only",
                                                    f"{package}={version}"]):
        done = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        if done.returncode != 0:
            raise CounterMissing(f"fetching the source of {package} {version} for its qemu-plugin.h failed "
                                 f"({' '.join(cmd[:1] + cmd[-2:])}):\n{done.stderr.strip()[-800:]}; or set "
                                 f"EDGEPORT_QEMU_PLUGIN_H")
    for tarball in sorted(tmp.glob(f"{package}_*.orig.tar.*")):
        subprocess.run(["tar", "-xf", str(tarball), "-C", str(tmp), "--wildcards", "*/include/qemu/qemu-plugin.h"],
                       capture_output=True, check=False)
    found = sorted(tmp.glob("*/include/qemu/qemu-plugin.h"))
    if not found:
        raise CounterMissing(f"the source of {package} {version} has no include/qemu/qemu-plugin.h")
    return found[0]


def _deb_src_lines() -> list[str]:
    """The host's binary apt sources as one-line deb-src entries (deb822 ``.sources`` and ``sources.list``)."""
    lines = []
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            f = dict(_field(line) for line in stanza.splitlines() if ":" in line and not line.startswith(("#", " ")))
            if "deb" in f.get("Types", "").split() and f.get("Enabled", "yes") != "no":
                opts = f"[signed-by={f['Signed-By']}] " if f.get("Signed-By", "").startswith("/") else ""
                lines += [f"deb-src {opts}{uri} {suite} {f.get('Components', '')}\n"
                          for uri in f.get("URIs", "").split() for suite in f.get("Suites", "").split()]
    listing = Path("/etc/apt/sources.list")
    if listing.is_file():
        lines += [re.sub(r"^deb\s", "deb-src ", line) + "\n" for line in listing.read_text().splitlines()
                  if line.startswith("deb ")]
    return lines


def _field(line: str) -> tuple[str, str]:
    key, _, value = line.partition(":")
    return key.strip(), value.strip()


class Marks:
    """Reads the plugin's marks file as the guest writes it: ``span(name)`` is the next count of that span."""

    def __init__(self, path: Path):
        self.path = path
        self._pos = 0
        self._open: dict[int, int] = {}  # opening code -> the count it was seen at
        self._spans: dict[str, list[int]] = {name: [] for name in MARKS}
        self._close = {close: (name, open_) for name, (open_, close) in MARKS.items()}

    def read(self) -> dict[str, list[int]]:
        """Every span completed so far, by name (``guest.MARKS``), in order."""
        with open(self.path) as f:
            f.seek(self._pos)
            text = f.read()
        complete = text[:text.rfind("\n") + 1]  # a line being written now is read next time
        self._pos += len(complete)
        for line in complete.splitlines():
            code, count = (int(x) for x in line.split())
            if code in self._close:
                name, opening = self._close[code]
                self._spans[name].append(count - self._open.pop(opening))
            else:
                self._open[code] = count
        return self._spans
