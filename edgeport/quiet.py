"""Silencing native (C++) log lines that bypass Python: LiteRT's "Created TensorFlow Lite XNNPACK delegate",
the converter's absl/oneDNN/"Estimated count of arithmetic ops" lines. They are written to file descriptor 2
directly, so ``warnings``/``logging`` filters and ``TF_CPP_MIN_LOG_LEVEL`` do not reach them (measured).

``native_stderr()`` points fd 2 at a temporary file for the duration of the block and drops what was written,
unless the block raises: then everything captured is written back to stderr before the exception propagates,
so a converter's real error message is never lost. A leaf module (no edgeport imports): runtimes and exporters
both use it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def native_stderr():
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (an embedding host): nothing to redirect
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), fd)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            if failed:  # replay what the native code said: it explains the failure
                sink.seek(0)
                sys.stderr.write(sink.read().decode("utf-8", "replace"))
                sys.stderr.flush()
