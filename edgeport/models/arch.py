"""Architecture adapters: where each BERT-like ``model_type`` keeps the parts edgeport reads, cuts and exports.

One small, frozen, declarative entry per ``model_type`` (the idea of optimum's per-model-type configs): dotted
module paths relative to the base model (``model.base_model``) and to one encoder layer, the config keys of the
sizes, which inputs the model takes and how it numbers positions. Student building, pruning, saving, importance,
export, the runners and the latency estimate all read these entries; no other module names a BERT attribute.

Pure data and small helpers that take a module, a config object or a config.json dict: no torch import, so the
torch-free latency estimate (``bench/estimate.py``) uses the same table.

Per architecture (transformers 5.24 sources, ``models/*/modeling_*.py``):

* ``bert``, ``roberta``, ``xlm-roberta``, ``electra``: ``encoder.layer[i].attention.self.{query,key,value}``,
  ``attention.output.dense``, ``intermediate.dense`` / ``output.dense``. The self-attention reshapes with
  ``view(..., -1, attention_head_size)``: only ``num_attention_heads`` / ``all_head_size`` are bookkeeping.
  ELECTRA adds ``embeddings_project`` (embedding_size -> hidden) on the base model; RoBERTa/XLM-R number
  positions from ``pad_token_id + 1`` and their single token type is constant, so they export without
  ``token_type_ids`` (their tokenizers do not produce them).
* ``distilbert``: ``transformer.layer[i].attention.{q_lin,k_lin,v_lin,out_lin}``, ``ffn.lin1`` / ``ffn.lin2``;
  config keys ``dim``/``n_heads``/``n_layers``/``hidden_dim`` (transformers aliases the first three, not
  ``hidden_dim``); its forward has no ``token_type_ids`` parameter (transformers 5.24 swallows one into
  ``**kwargs`` and ignores it), so none is exported. Bookkeeping ``n_heads`` (not read by forward).
* ``deberta-v2``: ``attention.self.{query_proj,key_proj,value_proj}``, plus ``pos_key_proj``/``pos_query_proj``
  when ``share_att_key`` is off (relative-position projections, row-sliced per head like the others). Its forward
  *reads* ``num_attention_heads`` (``transpose_for_scores``), so that bookkeeping field must follow the slicing.
  It takes ``token_type_ids`` only when ``type_vocab_size > 0`` (DeBERTa-v3: 0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ModelError

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")  # every input an edgeport model may take, in order


@dataclass(frozen=True)
class Arch:
    """Where one architecture keeps its parts. Paths are dotted attribute paths; see the module docstring."""

    model_type: str
    layers: str  # the encoder layers (a ModuleList), relative to model.base_model
    query: str  # per-layer paths from here on: row-sliced per head
    key: str
    value: str
    attn_out: str  # attention output projection: column-sliced per head
    heads: str  # the module holding head bookkeeping (the self-attention)
    heads_attr: str  # its head-count attribute
    ffn_in: str  # FFN input projection (row-sliced per neuron)
    ffn_out: str  # FFN output projection (column-sliced); its input is the activation the FFN gate scales
    extra_head_rows: tuple[str, ...] = ()  # more row-sliced per-head projections, present only in some configs
    all_head_size_attr: str | None = "all_head_size"  # bookkeeping width attribute, if the module has one
    head_size_attr: str = "attention_head_size"
    # config keys, as config.json spells them (a dict read from disk has no attribute_map)
    hidden_key: str = "hidden_size"
    heads_key: str = "num_attention_heads"
    layers_key: str = "num_hidden_layers"
    ffn_key: str = "intermediate_size"
    dropout_keys: tuple[str, ...] = ("hidden_dropout_prob", "attention_probs_dropout_prob")
    follows_hidden: tuple[str, ...] = ()  # config keys equal to the width that must change with it (narrow students)
    token_types: bool | str = True  # True / False, or a config key: the model takes them when config[key] > 0
    positions_from_pad: bool = False  # positions numbered from pad_token_id + 1 (RoBERTa): fewer usable positions
    relative_attention: bool = False  # q/k projections also run over a relative-position table (DeBERTa)
    rel_table: str | None = None  # that table, relative to the base model
    cls_only: tuple[str, ...] = ("pooler", "classifier")  # tensor-name parts that see only the [CLS] row
    tables: tuple[str, ...] = ("word_embeddings", "position_embeddings", "token_type_embeddings")  # gathered
    # format -> why it cannot take this architecture (measured, not guessed); empty: every format works
    format_limits: tuple[tuple[str, str], ...] = ()

    def limitation(self, fmt: str) -> str | None:
        return dict(self.format_limits).get(fmt)

    def head_rows(self) -> tuple[str, ...]:
        """Every per-layer path that is row-sliced per head (the extras only where a layer has them)."""
        return (self.query, self.key, self.value) + self.extra_head_rows


_BERT_LAYER = dict(layers="encoder.layer", query="attention.self.query", key="attention.self.key",
                   value="attention.self.value", attn_out="attention.output.dense", heads="attention.self",
                   heads_attr="num_attention_heads", ffn_in="intermediate.dense", ffn_out="output.dense")

ARCHES: dict[str, Arch] = {a.model_type: a for a in (
    Arch("bert", **_BERT_LAYER),
    Arch("roberta", **_BERT_LAYER, token_types=False, positions_from_pad=True),
    Arch("xlm-roberta", **_BERT_LAYER, token_types=False, positions_from_pad=True),
    Arch("electra", **_BERT_LAYER),
    Arch("distilbert", layers="transformer.layer", query="attention.q_lin", key="attention.k_lin",
         value="attention.v_lin", attn_out="attention.out_lin", heads="attention", heads_attr="n_heads",
         ffn_in="ffn.lin1", ffn_out="ffn.lin2", all_head_size_attr=None, hidden_key="dim", heads_key="n_heads",
         layers_key="n_layers", ffn_key="hidden_dim", dropout_keys=("dropout", "attention_dropout"),
         token_types=False),
    Arch("deberta-v2", layers="encoder.layer", query="attention.self.query_proj", key="attention.self.key_proj",
         value="attention.self.value_proj", attn_out="attention.output.dense", heads="attention.self",
         heads_attr="num_attention_heads", ffn_in="intermediate.dense", ffn_out="output.dense",
         extra_head_rows=("attention.self.pos_key_proj", "attention.self.pos_query_proj"),
         follows_hidden=("pooler_hidden_size",), token_types="type_vocab_size", relative_attention=True,
         rel_table="encoder.rel_embeddings", tables=("word_embeddings", "position_embeddings",
                                                     "token_type_embeddings", "rel_embeddings")),
)}


# ------------------------------------------------------------------------------------------ lookup


def model_type_of(obj) -> str | None:
    """``model_type`` of a model, a config object, a config.json dict or the string itself."""
    if isinstance(obj, str):
        return obj
    if isinstance(obj, dict):
        return obj.get("model_type")
    config = getattr(obj, "config", obj)
    return getattr(config, "model_type", None)


def arch_for(obj) -> Arch:
    """The adapter of a model, config, config.json dict or model_type; ``ModelError`` naming the supported ones."""
    model_type = model_type_of(obj)
    if model_type not in ARCHES:
        raise ModelError(f"a '{model_type}' model is not supported; edgeport supports BERT-like encoders: "
                         f"{', '.join(ARCHES)}")
    return ARCHES[model_type]


def cfg(config, key: str, default=None):
    """``config[key]`` for a config object or a config.json dict (a dict knows no attribute_map: use raw keys)."""
    if isinstance(config, dict):
        return config.get(key, default)
    value = getattr(config, key, default)
    return default if value is None else value


# ------------------------------------------------------------------------------------------ modules


def get(root, path: str):
    for part in path.split("."):
        root = getattr(root, part)
    return root


def has(root, path: str) -> bool:
    try:
        get(root, path)
    except AttributeError:
        return False
    return True


def set_(root, path: str, value) -> None:
    parent, _, leaf = path.rpartition(".")
    setattr(get(root, parent) if parent else root, leaf, value)


def encoder_layers(model) -> list:
    """The encoder layers of a classifier (or base model) of any supported architecture."""
    return list(get(model.base_model, arch_for(model).layers))


def layers_prefix(model) -> str:
    """State-dict prefix of the encoder layers in ``model`` (``bert.encoder.layer``, ``distilbert.transformer.layer``)."""
    layers = get(model.base_model, arch_for(model).layers)
    return next(name for name, module in model.named_modules() if module is layers)


def head_row_paths(model, layer) -> list[str]:
    """The row-sliced per-head projections this layer really has (DeBERTa's extras depend on its config)."""
    return [p for p in arch_for(model).head_rows() if has(layer, p)]


def head_dim(model) -> int:
    a = arch_for(model)
    return int(getattr(get(encoder_layers(model)[0], a.heads), a.head_size_attr))


def heads_per_layer(model) -> int:
    """Heads physically present in each layer (fewer than the config's count after head pruning)."""
    return get(encoder_layers(model)[0], arch_for(model).query).out_features // head_dim(model)


def ffn_width(model) -> int:
    return get(encoder_layers(model)[0], arch_for(model).ffn_in).out_features


def set_head_count(model, layer, n_heads: int) -> None:
    """The attention module's bookkeeping after its matrices were resized to ``n_heads`` heads."""
    a = arch_for(model)
    module = get(layer, a.heads)
    setattr(module, a.heads_attr, n_heads)
    if a.all_head_size_attr:
        setattr(module, a.all_head_size_attr, n_heads * int(getattr(module, a.head_size_attr)))


# ------------------------------------------------------------------------------------------ config facts


def lookup_tables(module) -> list:
    """The embedding tables looked up by ids: every ``nn.Embedding`` in the block that holds the input (word)
    embeddings (word, position, token type), in ``module`` or the model it wraps. Others are not lookups: DeBERTa's
    relative-position table (``encoder.rel_embeddings``) is read whole as a matrix (its weight goes through a
    LayerNorm). What the exporters quantize as tables, and what the w4 yardstick rounds like them."""
    import torch  # lazily: this module stays torch-free for the estimate

    model = next(m for m in module.modules() if hasattr(m, "get_input_embeddings"))
    word = model.get_input_embeddings()
    block = next((m for m in model.modules() if any(c is word for c in m.children())), word)
    return [m for m in block.modules() if isinstance(m, torch.nn.Embedding)]


def input_names(config) -> tuple[str, ...]:
    """The inputs the model takes, in ``INPUT_NAMES`` order: exporters export exactly these."""
    return INPUT_NAMES if takes_token_types(config) else INPUT_NAMES[:2]


def inputs_of(model) -> tuple[str, ...]:
    """``input_names`` of a Hugging Face model; any other torch module (a test's toy model) is fed all it is given."""
    config = getattr(model, "config", None)
    return input_names(config) if model_type_of(config) in ARCHES else INPUT_NAMES


def takes_token_types(config) -> bool:
    rule = arch_for(config).token_types
    if isinstance(rule, bool):
        return rule
    return int(cfg(config, rule, 0) or 0) > 0


def usable_positions(config) -> int | None:
    """Tokens the model can take: ``max_position_embeddings``, less ``pad_token_id + 1`` where positions are
    numbered from there (RoBERTa, XLM-R: 514 embeddings, 512 tokens)."""
    limit = cfg(config, "max_position_embeddings")
    if not limit:
        return None
    if arch_for(config).positions_from_pad:
        limit -= int(cfg(config, "pad_token_id", 0) or 0) + 1
    return int(limit)


def relative_types(config) -> list[str]:
    """DeBERTa's disentangled attention types (``c2p``, ``p2c``) when relative attention is on; else []."""
    if not arch_for(config).relative_attention or not cfg(config, "relative_attention", False):
        return []
    types = cfg(config, "pos_att_type", []) or []
    if isinstance(types, str):  # old DeBERTa configs: "p2c|c2p"
        types = types.lower().split("|")
    return sorted(t.strip() for t in types if t.strip() in ("c2p", "p2c"))


def width_keys(config) -> dict[str, str]:
    """Student width setting -> this architecture's config key (DistilBERT: ``intermediate_size`` -> ``hidden_dim``)."""
    a = arch_for(config)
    return {"hidden_size": a.hidden_key, "num_attention_heads": a.heads_key, "intermediate_size": a.ffn_key}


# ------------------------------------------------------------------------------------------ tensor names


def tensor_role(arch: Arch, name: str) -> tuple[int, str, str] | None:
    """(layer index, role, weight|bias) of an encoder tensor name with any prefix, or None. Roles: ``query``,
    ``key``, ``value``, ``extra`` (all four row-sliced per head: ``HEAD_ROWS``), ``attn_out``, ``ffn_in``,
    ``ffn_out``."""
    m = _tensor_regex(arch).search(name)
    if not m:
        return None
    roles = {arch.query: "query", arch.key: "key", arch.value: "value", arch.attn_out: "attn_out",
             arch.ffn_in: "ffn_in", arch.ffn_out: "ffn_out"}
    return int(m.group(1)), roles.get(m.group(2), "extra"), m.group(3)


HEAD_ROWS = ("query", "key", "value", "extra")
_REGEX: dict[str, re.Pattern] = {}


def _tensor_regex(arch: Arch) -> re.Pattern:
    if arch.model_type not in _REGEX:
        paths = (arch.query, arch.key, arch.value, arch.attn_out, arch.ffn_in, arch.ffn_out) + arch.extra_head_rows
        alts = "|".join(re.escape(p) for p in sorted(paths, key=len, reverse=True))
        _REGEX[arch.model_type] = re.compile(rf"(?:^|\.){re.escape(arch.layers)}\.(\d+)\.({alts})\.(weight|bias)$")
    return _REGEX[arch.model_type]


def is_table(arch: Arch, name: str) -> bool:
    """An embedding table (gathered by id, not a matmul): ``...word_embeddings.weight`` etc."""
    parts = name.split(".")
    return len(parts) >= 2 and parts[-2] in arch.tables


def in_embeddings(name: str) -> bool:
    """A tensor of the embeddings module (tables, LayerNorm, DeBERTa's ``embed_proj``)."""
    return name.startswith("embeddings.") or ".embeddings." in name
