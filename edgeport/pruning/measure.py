"""What each pruning step bought: accuracy, parameters, bytes and single-thread CPU latency, measured the same way
for every variant (batch 1, fixed sequence length, torch eager) so that the rows of the table compare."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from .saving import save_pruned


def param_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def weights_mb(model) -> float:
    """Bytes of the physical tensors in memory (what an exporter traces), in MB."""
    return round(sum(t.numel() * t.element_size() for t in model.state_dict().values()) / 1e6, 3)


def saved_file_mb(model, tokenizer) -> float:
    """Size of model.safetensors as ``save_pruned`` writes it (head-pruned rows are re-padded there)."""
    with tempfile.TemporaryDirectory() as tmp:
        save_pruned(model, tokenizer, Path(tmp))
        return round((Path(tmp) / "model.safetensors").stat().st_size / 1e6, 3)


def latency_feed(vocab_size: int, seq_len: int, seed: int = 0) -> dict[str, np.ndarray]:
    """One full-length row: [CLS] random ids [SEP], no padding (the worst case a phone sees at this length)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(min(1000, vocab_size - 1), vocab_size, size=(1, seq_len), dtype=np.int64)
    ids[0, 0], ids[0, -1] = min(101, vocab_size - 1), min(102, vocab_size - 1)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}


def cpu_latency(model, seq_len: int = 128, seconds: float = 2.0, threads: int = 1) -> dict:
    """p50/p90 of ``model`` at batch 1 on ``threads`` CPU threads (bench.host.measure_latency does the timing)."""
    from ..bench import measure_latency

    model = model.eval()
    feed = latency_feed(model.config.vocab_size, seq_len)

    @torch.inference_mode()
    def runner(**arrays):
        return model(**{k: torch.from_numpy(v) for k, v in arrays.items()}).logits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        result = measure_latency(runner, feed, warmup=5, runs=20, min_seconds=seconds)
    finally:
        torch.set_num_threads(before)
    return {"p50_ms": result["p50_ms"], "p90_ms": result["p90_ms"], "runs": result["runs"]}
