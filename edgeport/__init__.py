"""edgeport: from a BERT-like teacher to a small, fast, validated INT8 model on edge devices."""

__version__ = "0.1.0"
