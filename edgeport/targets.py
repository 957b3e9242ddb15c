"""Device profiles (``targets/*.yaml``): what a model must run on, its published hardware figures and budgets.

A profile is data, validated like a pipeline config: every problem in every file is collected into one
``ConfigError`` naming the file and the key. Hardware figures carry their public source, and a ``derived`` note
when they are computed (e.g. peak = cores x clock x SIMD lanes x 2); the latency *estimate* uses them. A profile
of this machine says ``hardware: {from_machine: true, memory_bandwidth_gbs: ...}``: its CPU model, cores, clock and
derived peaks are read when it loads (``hostinfo.hardware_figures``), never written by hand.

Where profiles are found, first match of a name wins:
  1. ``$EDGEPORT_TARGETS_DIR`` (``os.pathsep``-separated directories), for a user's own profiles;
  2. ``edgeport/profiles/`` inside the installed package (a symlink to the repo's ``targets/`` in a checkout;
     setuptools copies the files into wheels through the ``package-data`` entry);
  3. ``targets/`` next to the package (a source checkout run without installing).
"""

from __future__ import annotations

import difflib
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import hostinfo
from .errors import ConfigError, EdgeportError

PACKAGED_DIR = Path(__file__).parent / "profiles"
CHECKOUT_DIR = Path(__file__).resolve().parent.parent / "targets"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Figure(_Strict):
    value: float = Field(gt=0)
    source: str = Field(min_length=3, description="public document or URL the figure comes from")
    derived: str | None = Field(None, description="how the value was computed from sourced figures, if it was")


class Hardware(_Strict):
    soc: str
    cores: Figure
    clock_ghz: Figure
    peak_int8_gops: Figure = Field(description="peak INT8 ops/s (1 MAC = 2 ops) for the cores the profile uses")
    peak_fp32_gflops: Figure = Field(description="peak fp32 FLOP/s for the cores the profile uses")
    memory_bandwidth_gbs: Figure


class Budgets(_Strict):
    latency_p90_ms: float = Field(gt=0)
    model_size_mb: float = Field(gt=0)
    peak_memory_mb: float = Field(gt=0)


class Calibration(_Strict):
    """Counted instructions -> ms for this profile's cores (``bench.calibration``), fitted to published latencies."""
    cpu_model: str = Field(description="the QEMU CPU model the instructions must be counted on")
    ms_per_ginstr: float = Field(gt=0, description="ms per 10^9 instructions counted (one thread, steady state)")
    error_pct: float = Field(ge=0, description="the fit's leave-one-out RMS relative error, in percent")
    points: int = Field(ge=2, description="published latencies fitted (leave-one-out needs two)")
    source: str = Field(min_length=3, description="the calibration table (published points, counts, errors)")


class EstimateSettings(_Strict):
    # Real kernels reach a fraction of peak; 0.5 matches what MiniLM reached on the host (see ARCHITECTURE.md).
    efficiency: float = Field(0.5, gt=0, le=1, description="fraction of peak compute and bandwidth assumed reached")
    calibration: Calibration | None = Field(None, description="where set, the estimate is counted instructions x "
                                            "its factor (bench.emulated counts on its cpu_model); the roofline is "
                                            "the fallback")


class Target(_Strict):
    @field_validator("cpu_model", mode="before")
    @classmethod
    def _one_or_many(cls, v):
        return (v,) if isinstance(v, str) else v

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    description: str
    os: str
    kind: Literal["device", "host"] = Field("device", description="host: this machine, measured here; device: elsewhere")
    format: Literal["torchscript", "onnx", "tflite", "executorch"]
    runtime: str
    threads: int = Field(ge=1, le=256)
    seq_len: int = Field(ge=8, le=4096)
    hardware: Hardware
    budgets: Budgets
    estimate: EstimateSettings = EstimateSettings()
    cpu_model: tuple[str, ...] = Field((), description="QEMU -cpu models of this device's cores, best match first: "
                                       "validate's ARM parity runs the artifact on the first the installed "
                                       "qemu-aarch64 knows (QEMU 7.2 lacks cortex-a55 and cortex-a710); "
                                       "empty: not an ARM device")
    path: str | None = Field(None, exclude=True, description="the file it was loaded from (set by the loader)")


# --------------------------------------------------------------------------------------------- loading


def search_dirs() -> list[Path]:
    env = [Path(p) for p in os.environ.get("EDGEPORT_TARGETS_DIR", "").split(os.pathsep) if p]
    dirs: list[Path] = []
    for d in env + [PACKAGED_DIR, CHECKOUT_DIR]:
        if d.is_dir() and d.resolve() not in [x.resolve() for x in dirs]:
            dirs.append(d)  # the packaged symlink and the checkout dir are often the same folder
    return dirs


def target_files() -> dict[str, Path]:
    """Profile name (file stem) -> file; earlier directories shadow later ones."""
    found: dict[str, Path] = {}
    for directory in search_dirs():
        for path in sorted(directory.glob("*.yaml")):
            found.setdefault(path.stem, path)
    return found


def load_target_file(path: Path) -> Target:
    target, problems = _parse(path)
    if problems:
        raise ConfigError(problems, source=str(path))
    return target


def _parse(path: Path) -> tuple[Target | None, list[str]]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return None, [f"not readable as YAML: {str(exc).splitlines()[0]}"]
    if not isinstance(raw, dict):
        return None, ["the top level must be a mapping (name:, description:, hardware:, budgets:, ...)"]
    problems = []
    if isinstance(raw.get("hardware"), dict) and raw["hardware"].get("from_machine") is not None:
        hardware, issues = _from_machine(raw["hardware"], raw.get("threads"))
        raw, problems = {**raw, "hardware": hardware}, issues
    if raw.get("name") not in (None, path.stem):
        problems.append(f"name: '{raw.get('name')}' must equal the file name '{path.stem}'")
    try:
        target = Target.model_validate({**raw, "path": str(path)})
    except ValidationError as exc:
        return None, problems + [_describe(e) for e in exc.errors()]
    return target, problems


MACHINE_FIGURES = ("soc", "cores", "clock_ghz", "peak_int8_gops", "peak_fp32_gflops")


def _from_machine(hardware: dict, threads) -> tuple[dict, list[str]]:
    """``hardware: {from_machine: true, memory_bandwidth_gbs: ...}``: the figures this machine reports
    (``hostinfo.hardware_figures``: CPU model, cores, clock read; peaks derived from them and the ISA flags) plus
    the ones only the file can give (memory bandwidth). A read figure written in the file too is an error: the
    hand-written one is what went stale before."""
    given = {k: v for k, v in hardware.items() if k != "from_machine"}
    if hardware["from_machine"] is False:
        return given, []  # written by hand
    if hardware["from_machine"] is not True:
        return given, [f"hardware.from_machine: must be true or false (got {hardware['from_machine']!r})"]
    problems = [f"hardware.{k}: read from this machine when hardware.from_machine is true; remove it from the "
                f"profile (or drop from_machine and write every figure by hand)" for k in given if k in MACHINE_FIGURES]
    try:
        read = hostinfo.hardware_figures(threads if isinstance(threads, int) and threads >= 1 else 1)
    except ValueError as exc:
        return given, problems + [f"hardware.from_machine: {exc}; write the hardware section by hand instead"]
    return {**given, **read}, problems


def _describe(err: dict) -> str:
    loc = ".".join(str(p) for p in err["loc"]) or "profile"
    if err["type"] == "extra_forbidden":
        return f"{loc}: unknown key"
    got = err.get("input")
    shown = "" if isinstance(got, dict) or err["type"] == "missing" else f" (got {got!r})"
    return f"{loc}: {err['msg']}{shown}"


@lru_cache(maxsize=None)
def _registry(key: tuple) -> dict[str, Target]:
    targets, problems = {}, []
    for name, path in target_files().items():
        target, issues = _parse(path)
        problems += [f"{path}: {p}" for p in issues]
        if target is not None:
            targets[name] = target
    if problems:
        raise ConfigError(problems, source="device profiles")
    return targets


def all_targets() -> dict[str, Target]:
    """Every profile found, validated all at once (one error lists every problem in every file)."""
    files = target_files()
    key = tuple((n, str(p), p.stat().st_mtime_ns) for n, p in files.items())
    return _registry(key)


class UnknownTargetError(EdgeportError):
    """A target name that no profile file defines."""


def get_target(name_or_path: str) -> Target:
    """A profile by name (``edgeport targets`` lists them) or by the path of a YAML file."""
    if name_or_path.endswith((".yaml", ".yml")) and Path(name_or_path).is_file():
        return load_target_file(Path(name_or_path))
    known = all_targets()
    if name_or_path in known:
        return known[name_or_path]
    hint = difflib.get_close_matches(name_or_path, list(known), n=1)
    raise UnknownTargetError(
        f"unknown target '{name_or_path}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")
        + f"; known targets: {', '.join(known) or '(none found)'}; searched: "
        + ", ".join(str(d) for d in search_dirs()))
