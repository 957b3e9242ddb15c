"""User-facing errors.

Every problem a user can fix (bad config, bad data, bad model directory, a run directory in use) is an
``EdgeportError``: the CLI prints its message and exits with code 2, without a traceback. Anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations


class EdgeportError(Exception):
    """A problem the user can fix; the message says what is wrong and what to do."""

    exit_code = 2


class ConfigError(EdgeportError):
    """One or more problems in a pipeline config, all listed at once."""

    def __init__(self, problems: list[str], source: str = "config"):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")


class DataError(EdgeportError):
    """The dataset cannot be read or is not usable for training/evaluation."""


class ModelError(EdgeportError):
    """A model directory or hub id cannot be loaded safely."""


class ArtifactError(EdgeportError):
    """An exported artifact is missing, truncated or unreadable."""


class LockError(EdgeportError):
    """The run directory is in use by another edgeport process."""


class MissingExtraError(EdgeportError):
    """An optional backend is not installed."""

    def __init__(self, module: str, extra: str):
        super().__init__(
            f"'{module}' is not installed; it is needed for this step. "
            f"Install it with: pip install 'edgeport[{extra}]'"
        )


def require(module: str, extra: str):
    """Import an optional heavy backend lazily, naming the extra to install when it is missing."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError(module, extra) from exc
