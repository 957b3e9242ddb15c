"""What this machine is, read from it: CPU model, vendor, core count and the ISA features the runtimes dispatch on.

Host latency and memory are facts about this machine, so the bench stage's fingerprint covers ``host_identity()``
and the host profile's hardware section is read from here, never written by hand (a shared VM may report another
CPU tomorrow). Only the flags that change which kernels oneDNN, XNNPACK, ONNX Runtime or LiteRT pick are kept:
a flag such as ``tsc_known_freq`` varies between identical VMs and must not re-run a measurement.
"""

from __future__ import annotations

import os
import platform
from functools import cache

# x86: SIMD width and the int8/bf16 dot-product extensions; aarch64 (/proc/cpuinfo "Features"): dot product
# (asimddp), int8 matrix multiply (i8mm), bf16, fp16 arithmetic, SVE, SME.
KERNEL_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16",
                "asimd", "asimdhp", "asimddp", "i8mm", "bf16", "sve", "sve2", "sme")


@cache
def host_identity() -> dict:
    """``{machine, vendor, cpu_model, cores, isa}`` of this machine (Linux: /proc/cpuinfo; elsewhere: platform)."""
    info = _cpuinfo()
    flags = set((info.get("flags") or info.get("Features") or "").split())
    return {"machine": platform.machine(),
            "vendor": info.get("vendor_id") or info.get("CPU implementer") or platform.system(),
            "cpu_model": info.get("model name") or info.get("Model") or platform.processor() or "unknown",
            "cores": os.cpu_count() or 1,
            "isa": [f for f in KERNEL_FLAGS if f in flags]}


def _cpuinfo() -> dict[str, str]:
    """The first processor's ``key: value`` lines of /proc/cpuinfo ({} where there is none)."""
    try:
        text = open("/proc/cpuinfo", encoding="utf-8", errors="replace").read()
    except OSError:
        return {}
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in out:
            out[key.strip()] = value.strip()
    return out


def has_isa(*flags: str) -> bool:
    """True when this CPU has any of ``flags`` (names as in ``KERNEL_FLAGS``)."""
    return any(f in host_identity()["isa"] for f in flags)
