"""What each pruning step bought: accuracy, parameters, bytes and single-thread CPU latency, measured the same way
for every variant (batch 1, fixed sequence length, torch eager) so that the rows of the table compare."""

from __future__ import annotations

import tempfile
from pathlib import Path

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


class _Stacked(torch.nn.Module):
    """A model whose outputs are not one ``logits`` (question answering's ``start_logits`` and ``end_logits``)
    behind the ``.logits`` that ``EagerRunner`` reads: its outputs stacked on a last axis. The latency is that of
    the forward; how such a model's artifacts lay out their outputs is the exporters' business, not decided here."""

    def __init__(self, model, outputs: tuple[str, ...]):
        super().__init__()
        self.model, self.outputs, self.config = model, outputs, model.config

    def forward(self, **inputs):
        from types import SimpleNamespace

        out = self.model(**inputs)
        return SimpleNamespace(logits=torch.stack([getattr(out, name) for name in self.outputs], -1))


def cpu_latency(model, seq_len: int = 128, seconds: float = 2.0, threads: int = 1,
                outputs: tuple[str, ...] = ("logits",)) -> dict:
    """p50/p90 of ``model`` at batch 1 on ``threads`` CPU threads (bench.host.measure_latency does the timing);
    ``outputs``: the model's outputs by name (``TaskSpec.outputs``)."""
    from ..bench.host import latency_feed, measure_latency
    from ..runtimes.eager import EagerRunner

    runner = EagerRunner(model if outputs == ("logits",) else _Stacked(model, outputs))
    feed = latency_feed(seq_len, model.config.vocab_size)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        result = measure_latency(runner, feed, warmup=5, runs=20, min_seconds=seconds)
    finally:
        torch.set_num_threads(before)
    return {"p50_ms": result["p50_ms"], "p90_ms": result["p90_ms"], "runs": result["runs"]}
