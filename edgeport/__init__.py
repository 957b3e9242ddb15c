"""edgeport: from a BERT-like teacher to a small, fast, validated INT8 model on edge devices."""

__version__ = "0.1.0"

# edgeport.<name> -> the Python API's function (edgeport/api.py). ``benchmark`` is ``api.bench`` under another name:
# ``edgeport.bench`` is the latency subpackage, and Python binds a subpackage to its name in the parent as soon as
# anything imports it, so a function called ``bench`` here would be replaced by the module.
_API = {"run": "run", "export": "export", "benchmark": "bench", "load_run": "load_run",
        "load_artifact": "load_artifact"}


def __getattr__(name):
    """The Python API, imported on first use so that ``import edgeport`` stays light."""
    if name in _API:
        # importlib, not an import statement: a stage's code fingerprint (pipeline/code.py) follows import
        # statements from every module it runs, this package's included, and no stage runs the API
        import importlib

        return getattr(importlib.import_module("edgeport.api"), _API[name])
    raise AttributeError(f"module 'edgeport' has no attribute {name!r}")
