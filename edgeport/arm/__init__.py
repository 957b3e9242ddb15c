"""Device truth under ARM emulation: run an artifact on a phone's aarch64 kernels here, with qemu-user.

A phone does not run the x86 kernels validate judges on this machine: ONNX Runtime and LiteRT/XNNPACK pick their
aarch64 kernels from the CPU's features (no dot product on a Cortex-A53, SDOT on A55/A76, I8MM on newer cores) and
micro-architecture. This package runs the *same runtime versions* as the host, built for aarch64, under
``qemu-aarch64`` with the device profile's CPU model, so INT8 parity can be checked on those code paths.

- ``qemu``: finding the emulator, its version and the CPU models it knows; the per-model ``/proc/cpuinfo`` view.
- ``prepare``: the arm64 Debian root (mmdebstrap) and the aarch64 wheels, cached under a key of their versions.
- ``runner``: ``ArmRunner``, a ``runtimes.Runner`` whose rows run in one guest process per artifact x CPU model.
- ``guest``: the script the guest Python runs; it loads the artifact with ``edgeport.runtimes`` itself (a ``.pte``
  with ``ExecuTorchGuestRunner``: the executorch wheel's runtime libraries, no torch, through ``etshim``).
- ``etshim``: that C API (``et_shim.cpp``), cross-compiled for aarch64 on first use and cached.
"""
