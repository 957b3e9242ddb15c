"""edgeport: from a BERT-like teacher to a small, fast, validated INT8 model on edge devices."""

__version__ = "0.1.0"


def __getattr__(name):
    """``edgeport.run``, ``edgeport.load_run``, ``edgeport.load_artifact``: the Python API (``edgeport/api.py``),
    imported on first use so that ``import edgeport`` stays light."""
    if name in ("run", "load_run", "load_artifact"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'edgeport' has no attribute {name!r}")
