"""The sentence-embedding model: an encoder, mean pooling over the real tokens and L2 normalisation, in one module.

``SentenceEmbedder(input_ids, attention_mask[, token_type_ids]).logits`` is the unit vector ``[batch, hidden]``:
the same call every edgeport model answers (the classifier's ``.logits``), so the exporters trace it with pooling
and normalisation inside the graph (a device gets the vector from one call), and validation, bench and the runners
treat its output as they treat logits. Pooling is sentence-transformers' (sum of the masked token states divided
by the number of real tokens, clamped at 1e-9; then ``F.normalize``), so ``SentenceTransformer(dir)`` on a saved
directory gives the same vector (``save_embedder`` writes its modules.json and pooling config).

Only mean pooling is built: a directory whose ``1_Pooling/config.json`` says otherwise (CLS, max) is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ModelError
from ..models import arch
from ..models.loading import check_architecture, check_model_dir, read_model_config

POOLING_DIR = "1_Pooling"
NORMALIZE_DIR = "2_Normalize"


def _module_class():
    import torch
    from transformers.modeling_outputs import SequenceClassifierOutput

    class SentenceEmbedder(torch.nn.Module):
        """encoder -> masked mean -> L2 norm. ``base_model`` is the encoder, so the architecture adapters
        (``models.arch``: layers, heads, widths) read it like a classifier's."""

        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        @property
        def config(self):
            return self.encoder.config

        @property
        def base_model(self):
            return self.encoder.base_model

        def get_input_embeddings(self):
            return self.encoder.get_input_embeddings()

        def set_input_embeddings(self, embeddings) -> None:  # vocabulary pruning
            self.encoder.set_input_embeddings(embeddings)

        def set_attn_implementation(self, name: str) -> None:
            self.encoder.set_attn_implementation(name)

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            feed = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                feed["token_type_ids"] = token_type_ids
            hidden = self.encoder(**feed).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return SequenceClassifierOutput(logits=torch.nn.functional.normalize(pooled, p=2, dim=-1))

    return SentenceEmbedder


def _no_pooler(config) -> dict:
    """``add_pooling_layer=False`` for the architectures whose base model takes it (BERT, RoBERTa, XLM-R): mean
    pooling never reads the pooler, so it is neither built, loaded, reported missing nor exported."""
    import inspect

    from transformers import MODEL_MAPPING

    cls = MODEL_MAPPING.get(type(config), None)
    takes = cls is not None and "add_pooling_layer" in inspect.signature(cls.__init__).parameters
    return {"add_pooling_layer": False} if takes else {}


def wrap(encoder):
    """A ``SentenceEmbedder`` around a transformers base model; its pooler (unused by mean pooling) is dropped, so
    no exported graph computes it."""
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None
    return _module_class()(encoder)


def is_embedder(model) -> bool:
    return type(model).__name__ == "SentenceEmbedder"


def check_pooling(spec: Path | str) -> None:
    """A sentence-transformers directory must pool by the mean (what the graph computes)."""
    config = Path(spec) / POOLING_DIR / "config.json" if isinstance(spec, Path) else None
    if config is None or not config.is_file():
        return
    pooling = json.loads(config.read_text())
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if modes != ["pooling_mode_mean_tokens"]:
        raise ModelError(f"{spec}: {config.relative_to(spec)} pools by {modes or 'nothing'}; edgeport's "
                         f"sentence-embedding graph pools by the mean of the real tokens only "
                         f"(pooling_mode_mean_tokens); use a mean-pooling model")


def load_embedder(spec: Path | str, allow_pickle: bool = False, **_):
    """A ``SentenceEmbedder`` of the transformers directory (or hub id) ``spec``: its base model, safetensors only
    unless ``allow_pickle``."""
    from transformers import AutoModel

    if isinstance(spec, Path):
        check_model_dir(spec, allow_pickle)
        check_pooling(spec)
    config = read_model_config(spec)
    check_architecture(config, spec)
    try:
        encoder = AutoModel.from_pretrained(str(spec), config=config, use_safetensors=not allow_pickle or None,
                                            **_no_pooler(config))
    except Exception as exc:
        raise ModelError(f"could not load weights from '{spec}': {exc}") from None
    from ..pruning.saving import reslice  # a head-pruned directory holds its removed heads as zeros

    return reslice(wrap(encoder)).eval()


def new_embedder(config):
    """A randomly initialised ``SentenceEmbedder`` of ``config`` (the student before its layers are copied)."""
    from transformers import AutoModel

    return wrap(AutoModel.from_config(config, **_no_pooler(config)))


def save_embedder(model, tokenizer, out: Path, max_seq_len: int) -> None:
    """A directory both transformers (``AutoModel``) and sentence-transformers (``SentenceTransformer(out)``:
    Transformer -> Pooling(mean) -> Normalize, its modules.json convention) load."""
    from ..pruning.saving import repad_heads  # removed heads as zero rows: the layout transformers loads

    out = Path(out)
    repad_heads(model).encoder.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    width = int(arch.cfg(model.config, arch.arch_for(model).hidden_key))
    (out / POOLING_DIR).mkdir(exist_ok=True)
    (out / POOLING_DIR / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": width, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
         "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}, indent=2) + "\n")
    (out / NORMALIZE_DIR).mkdir(exist_ok=True)
    (out / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_seq_len,
                                                               "do_lower_case": False}, indent=2) + "\n")
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": POOLING_DIR, "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": NORMALIZE_DIR, "type": "sentence_transformers.models.Normalize"}]
    (out / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")
