"""``estimate`` latency: a roofline from the model's counted work and a profile's published hardware figures.

    time = max(ops / (peak_ops x efficiency), bytes / (bandwidth x efficiency))

ops    2 x the multiply-accumulates of every matmul at batch 1 and the profile's sequence length: each linear
       layer costs rows x in x out MACs (rows = seq_len, or 1 for the pooler and classifier, which see only the
       [CLS] row), and each attention layer 2 x seq_len^2 x d_attention (QK^T and PV); DeBERTa's relative
       attention adds, per type (c2p, p2c), the projection of its R-row position table and seq_len x R x
       d_attention. Which tensor plays which part comes from the architecture's adapter (``models/arch.py``:
       DistilBERT's ``q_lin``, ELECTRA's ``embeddings_project``, DeBERTa's ``query_proj``). Element-wise work
       (GELU, LayerNorm, softmax) is not counted as ops: it is bandwidth-bound and counted in bytes.
bytes  the linear weights read once (1 byte each in INT8, 4 in fp32), the embedding rows gathered, and every
       activation written and read back once in fp32.
peak   ``peak_int8_gops`` for INT8 artifacts (dynamic-range INT8 runs its matmuls in int8), else
       ``peak_fp32_gflops``; both are for the cores the profile uses (its thread count).

It is a lower bound stretched by one efficiency factor (the profile's ``estimate.efficiency``); it ignores
dispatch overhead, threading losses, caches and thermal throttling. It is an estimate and always labelled so.

The work is counted from the *physical* tensor shapes of the exported model: every artifact directory carries
them in ``artifact.json`` under ``model_shapes`` (written at export from the model that was traced: kept heads x
head_dim, sliced FFN width, pruned vocabulary), so an artifact directory is enough on its own and the report and
``edgeport bench`` count the same thing. A Hugging Face directory (config.json + safetensors header) can stand in;
a head-pruned one is saved zero-padded, so its ``edgeport_kept_heads`` are applied to the attention shapes. With
neither, a coarse count from the file size is used; ``method`` says so and a warning is issued.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from .. import precision as precisions
from ..models import arch

KIND = "estimate"
SIDECAR = "artifact.json"  # edgeport.exporters.base.SIDECAR


class EstimateWarning(UserWarning):
    """The estimate could not count the artifact's shapes and fell back to the coarse size-based count."""


COARSE = ("coarse: from the artifact's file size (no model_shapes in artifact.json and no model directory); "
          "overestimates")


def safetensors_shapes(model_dir: Path) -> dict[str, list[int]]:
    """Tensor name -> shape from the safetensors headers alone (no tensor data is read)."""
    shapes: dict[str, list[int]] = {}
    for path in sorted(Path(model_dir).glob("*.safetensors")):
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(length))
        shapes |= {k: v["shape"] for k, v in header.items() if k != "__metadata__"}
    return shapes


KEPT_HEADS = "edgeport_kept_heads"  # edgeport.pruning.structured.KEPT_HEADS (not imported: that pulls in torch)


def model_shapes(model) -> dict:
    """The shape facts ``count_work`` needs, from an in-memory torch model as it is exported (physical shapes):
    written into every artifact's ``artifact.json`` under ``model_shapes``."""
    config = model.config
    a = arch.arch_for(config)
    tensors = {name: [int(d) for d in p.shape] for name, p in model.named_parameters()}
    return _summary({"model_type": a.model_type, "hidden_size": int(arch.cfg(config, a.hidden_key, 0)),
                     "head_dim": arch.head_dim(model), "relative_attention": arch.relative_types(config),
                     "tensors": tensors})


def dir_shapes(model_dir: Path) -> dict:
    """Shape facts of a Hugging Face directory: config.json + safetensors header shapes. A head-pruned model is
    saved zero-padded (full heads, see edgeport.pruning.saving); its ``edgeport_kept_heads`` slice the per-head
    shapes back to what ``load_classifier`` computes with."""
    config = json.loads((Path(model_dir) / "config.json").read_text())
    a = arch.arch_for(config)
    hidden = int(config.get(a.hidden_key, 0))
    head_dim = int(config.get("attention_head_size") or hidden // max(1, int(config.get(a.heads_key, 1))))
    shapes = {k: list(v) for k, v in safetensors_shapes(model_dir).items()}
    kept = config.get(KEPT_HEADS)
    if kept:
        for name, shape in shapes.items():
            if found := arch.tensor_role(a, name):
                layer, role, kind = found
                width = len(kept[layer]) * head_dim
                if role in arch.HEAD_ROWS:
                    shape[0] = width  # weight rows and bias
                elif role == "attn_out" and kind == "weight":
                    shape[1] = width
    method = f"counted from {Path(model_dir).name}/config.json + safetensors shapes" + (
        f" ({KEPT_HEADS} applied)" if kept else "")
    facts = {"model_type": a.model_type, "hidden_size": hidden, "head_dim": head_dim,
             "relative_attention": arch.relative_types(config), "tensors": shapes}
    return _summary(facts) | {"method": method}


def artifact_shapes(artifact: Path) -> dict | None:
    """The ``model_shapes`` an artifact directory (or the model file in it) carries in artifact.json; None when
    it has none (an artifact exported before edgeport wrote them, or a hand-made one)."""
    artifact = Path(artifact)
    sidecar = (artifact if artifact.is_dir() else artifact.parent) / SIDECAR
    if not sidecar.is_file():
        return None
    facts = json.loads(sidecar.read_text()).get("model_shapes")
    if not facts or not facts.get("tensors"):
        return None
    return facts | {"method": f"counted from {sidecar.parent.name}/{SIDECAR} (physical shapes of the exported model)"}


def _arch(facts: dict) -> arch.Arch:
    return arch.arch_for(facts.get("model_type") or "bert")  # artifacts from before model_type: BERT only


def _summary(facts: dict) -> dict:
    """Per-layer heads and FFN width and the vocabulary size, read off the tensors (for readers of artifact.json)."""
    t, d, a = facts["tensors"], max(1, facts["head_dim"]), _arch(facts)
    heads, ffn = {}, {}
    for name, shape in t.items():
        found = arch.tensor_role(a, name)
        if found and found[2] == "weight":
            if found[1] == "query":
                heads[found[0]] = shape[0] // d
            elif found[1] == "ffn_in":
                ffn[found[0]] = shape[0]
    vocab = next((s[0] for n, s in t.items() if n.endswith("word_embeddings.weight")), None)
    return facts | {"heads_per_layer": [heads[i] for i in sorted(heads)], "ffn_width": [ffn[i] for i in sorted(ffn)],
                    "vocab_size": vocab}


def count_work(source, seq_len: int) -> dict:
    """MACs, parameter counts and activation bytes of a BERT-like encoder classifier at batch 1.

    ``source``: shape facts (``model_shapes`` / ``artifact_shapes`` / ``dir_shapes``) or a Hugging Face directory.
    What runs on how many rows comes from the architecture's adapter (``edgeport.models.arch``): linear layers on
    every token, the pooler/classifier on [CLS] only, embedding tables gathered (not multiplied), attention
    ``2 x seq^2 x d`` per layer and, for DeBERTa, each relative-attention type (c2p, p2c) costs its projection of
    the relative-position table (R rows) and a ``seq x R x d`` score matmul."""
    facts = source if isinstance(source, dict) else dir_shapes(Path(source))
    a, head_dim = _arch(facts), int(facts["head_dim"])
    rel_types = facts.get("relative_attention") or []
    tensors = facts["tensors"]
    rel_rows = next((s[0] for n, s in tensors.items() if a.rel_table and n.endswith(a.rel_table + ".weight")), 0)
    shared_key = not any((r := arch.tensor_role(a, n)) and r[1] == "extra" for n in tensors)
    macs = linear_params = params = emb_params = act_elems = gathered = 0
    for name, shape in tensors.items():
        numel = _numel(shape)
        params += numel
        role = arch.tensor_role(a, name)
        if arch.in_embeddings(name) or arch.is_table(a, name):
            emb_params += numel
        if arch.is_table(a, name):
            # one row per token from each gathered table; DeBERTa's relative table is read once, whole
            gathered += numel if a.rel_table and name.endswith(a.rel_table + ".weight") else seq_len * shape[-1]
        if len(shape) != 2 or arch.is_table(a, name) or "LayerNorm" in name or "layernorm" in name:
            continue
        rows = (1 if any(part in name for part in a.cls_only)
                else rel_rows if role and role[1] == "extra" else seq_len)
        macs += rows * numel
        linear_params += numel
        act_elems += rows * shape[0]
        if role and role[1:] == ("query", "weight"):
            d_attn = shape[0]
            heads = max(1, d_attn // max(1, head_dim))
            macs += 2 * seq_len * seq_len * d_attn
            act_elems += 2 * heads * seq_len * seq_len  # scores and probabilities
            for _ in rel_types:  # DeBERTa: c2p and/or p2c
                macs += seq_len * rel_rows * d_attn + (rel_rows * shape[1] * d_attn if shared_key else 0)
                act_elems += heads * seq_len * rel_rows + (rel_rows * d_attn if shared_key else 0)
    return {"macs": macs, "params": params, "linear_params": linear_params, "embedding_params": emb_params,
            "activation_elems": act_elems, "embedding_row_elems": gathered,
            "method": facts.get("method", "counted from the model's physical shapes")}


def count_from_size(size_bytes: int, precision: str, seq_len: int) -> dict:
    """Coarse fallback: every stored weight treated as a linear weight applied to every token (overcounts)."""
    params = int(size_bytes // precisions.linear_bytes(precision))
    return {"macs": seq_len * params, "params": params, "linear_params": params, "embedding_params": 0,
            "activation_elems": 0, "embedding_row_elems": 0,
            "method": COARSE}


def roofline(work: dict, target, precision: str, embeddings: str | None = None, block_size: int | None = None) -> dict:
    """The estimate for one artifact on one profile, with every input it used, so a reader can redo it.
    ``precision`` (the Linear weights), ``embeddings`` and ``block_size`` as ``artifact.json`` records them: bytes per
    weight from ``edgeport.precision``'s table (w4: half a byte plus a scale per block; embedding rows per their own
    storage, fp32 when not recorded)."""
    hw, eff = target.hardware, target.estimate.efficiency
    integer = precisions.get(precision).integer_compute  # int8 and w4 (int8 activations x 4-bit weights)
    peak_gops = hw.peak_int8_gops.value if integer else hw.peak_fp32_gflops.value
    ops = 2 * work["macs"]
    linear_b, emb_b = precisions.linear_bytes(precision, block_size), precisions.embedding_bytes(embeddings)
    nbytes = (work["linear_params"] * linear_b + emb_b * work["embedding_row_elems"] + 4 * 2 * work["activation_elems"])
    compute_ms = ops / (peak_gops * 1e9 * eff) * 1e3
    memory_ms = nbytes / (hw.memory_bandwidth_gbs.value * 1e9 * eff) * 1e3
    latency = max(compute_ms, memory_ms)
    return {
        "kind": KIND, "target": target.name, "p50_ms": _sig(latency), "p90_ms": _sig(latency),
        "gops": _sig(ops / 1e9), "mbytes": _sig(nbytes / 1e6),
        "compute_ms": _sig(compute_ms), "memory_ms": _sig(memory_ms),
        "bound": "compute" if compute_ms >= memory_ms else "memory",
        "peak_gops": peak_gops, "bandwidth_gbs": hw.memory_bandwidth_gbs.value, "efficiency": eff,
        "seq_len": target.seq_len, "threads": target.threads, "method": work["method"],
        "bytes_per_weight": {"linear": _sig(linear_b), "embedding": _sig(emb_b)},
        "formula": "max(ops / (peak x efficiency), bytes / (bandwidth x efficiency))",
    }


def estimate_memory_mb(work: dict, size_bytes: int) -> float:
    """Model file + every activation in fp32 without buffer reuse: an upper bound of weights and tensor arena
    (the runtime's own code and allocator overhead are not counted)."""
    return round((size_bytes + 4 * work["activation_elems"]) / 2**20, 1)


def find_model_dir(artifact: Path) -> Path | None:
    """A Hugging Face directory (config.json + safetensors) in the artifact's own directory, if someone put one
    there; the pipeline's artifacts carry their shapes in artifact.json instead. Parents are not searched: a run
    directory's model stage describes the model before export, not necessarily this file."""
    directory = artifact if artifact.is_dir() else artifact.parent
    if (directory / "config.json").is_file() and any(directory.glob("*.safetensors")):
        return directory
    return None


def _numel(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _sig(x: float, digits: int = 4) -> float:
    """Significant digits, not decimals: a tiny test model's 0.0004 ms must not round to 0."""
    return float(f"{x:.{digits}g}")
