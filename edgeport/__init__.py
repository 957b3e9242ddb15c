"""edgeport: from a BERT-like teacher to a small, fast, validated INT8 model on edge devices."""

__version__ = "0.1.0"


def __getattr__(name):
    """``edgeport.run``, ``edgeport.load_run``, ``edgeport.load_artifact``: the Python API (``edgeport/api.py``),
    imported on first use so that ``import edgeport`` stays light."""
    if name in ("run", "load_run", "load_artifact"):
        # importlib, not an import statement: a stage's code fingerprint (pipeline/code.py) follows import
        # statements from every module it runs, this package's included, and no stage runs the API
        import importlib

        return getattr(importlib.import_module("edgeport.api"), name)
    raise AttributeError(f"module 'edgeport' has no attribute {name!r}")
