"""The masked-language model: loading one (with a fresh head when the checkpoint has none), the pre-training
wrapper (MLM + optional sentence-order head), held-out scoring, and saving a directory ``AutoModelForMaskedLM``
loads.

* ``load_mlm``: ``AutoModelForMaskedLM`` over the checkpoint. Encoder weights must load; the MLM head may be
  missing (the built-in MiniLM is a sentence-transformers ``BertModel``): transformers then initialises it and
  ties its decoder to the input embeddings (``tie_word_embeddings``), which ``load_mlm`` checks and reports as
  ``"fresh (tied to input embeddings)"``.
* The checkpoint's **pooler** (BERT's dense + tanh over the first token, which a sequence classifier of that
  architecture reads) is not part of ``*ForMaskedLM``; it is carried into the output unchanged (or, with SOP,
  trained as the first layer of the SOP head, like BERT's NSP head), so the teacher fine-tuned from the output
  starts from the same pooler as one fine-tuned from the checkpoint, and the with/without-pre-training
  comparison differs only in the encoder.
* ``PretrainingModel``: MLM loss (cross-entropy over the chosen tokens) + ``sop_weight`` x SOP cross-entropy over
  the rows that carry a sentence-order label. The SOP classifier (and the pooler, where the architecture has
  none) is fresh and is dropped after pre-training, as ALBERT's is before fine-tuning.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelError

FRESH_HEAD = "fresh (tied to input embeddings)"
FRESH_UNTIED = "fresh (not tied: the architecture unties its decoder)"
CHECKPOINT_HEAD = "from the checkpoint"


def _quiet_loading():
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the load report lists the head's fresh weights: said in the metrics instead
    hf_logging.disable_progress_bar()


def load_mlm(spec: Path | str, allow_pickle: bool = False):
    """(masked-LM model, head status, head_missing_keys). Raises ``ModelError`` when the encoder does not load."""
    from transformers import AutoModelForMaskedLM

    _quiet_loading()
    try:
        model, info = AutoModelForMaskedLM.from_pretrained(str(spec), output_loading_info=True,
                                                           use_safetensors=not allow_pickle or None)
    except Exception as exc:  # noqa: BLE001 - unknown architecture, unreadable files, a hub id offline
        raise ModelError(f"could not load '{spec}' as a masked-language model: {str(exc)[:500]}") from None
    prefix = model.base_model_prefix
    missing = sorted(info.get("missing_keys") or [])
    encoder_missing = [k for k in missing if k.startswith(prefix + ".") and ".pooler." not in k]
    if encoder_missing:
        raise ModelError(f"'{spec}': the encoder weights did not load ({len(encoder_missing)} missing, e.g. "
                         f"{encoder_missing[0]}); is it a checkpoint of this architecture?")
    head_missing = [k for k in missing if not k.startswith(prefix + ".")]
    if not head_missing:
        return model, CHECKPOINT_HEAD, []
    out_emb, in_emb = model.get_output_embeddings(), model.get_input_embeddings()
    tied = out_emb is not None and out_emb.weight.data_ptr() == in_emb.weight.data_ptr()
    return model, FRESH_HEAD if tied else FRESH_UNTIED, head_missing


def checkpoint_pooler(spec: Path | str, allow_pickle: bool = False) -> nn.Module | None:
    """The checkpoint's pooler module (loaded weights), or None when the architecture or the checkpoint has none."""
    from transformers import AutoModel

    _quiet_loading()
    base, info = AutoModel.from_pretrained(str(spec), output_loading_info=True,
                                           use_safetensors=not allow_pickle or None)
    pooler = getattr(base, "pooler", None)
    if not isinstance(pooler, nn.Module) or any("pooler" in k for k in info.get("missing_keys") or []):
        return None
    return pooler


class FreshPooler(nn.Module):
    """dense + tanh over the first token (BERT's pooler), for architectures without one."""

    def __init__(self, hidden: int):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.activation = nn.Tanh()

    def forward(self, hidden_states):
        return self.activation(self.dense(hidden_states[:, 0]))


# masked-LM classes whose forward is ``head(base_model(...)[0])``: the head then runs on the chosen positions only
# (on MiniLM the vocabulary projection costs more than the six layers; 15% of the positions is ~2x faster steps)
HEAD_ONLY_ON_CHOSEN = {"BertForMaskedLM": "cls", "RobertaForMaskedLM": "lm_head", "XLMRobertaForMaskedLM": "lm_head"}


class PretrainingModel(nn.Module):
    """MLM (+ SOP) training wrapper around a ``*ForMaskedLM`` model. ``forward(..., labels)`` returns a dict with
    ``loss``, ``chosen_logits`` [chosen tokens, vocab] and ``chosen_labels`` (the chosen tokens in row-major order)
    and, with SOP, ``sop_logits``."""

    def __init__(self, mlm, sop: bool = False, pooler: nn.Module | None = None, sop_weight: float = 1.0):
        super().__init__()
        self.mlm = mlm
        self.sop = sop
        self.sop_weight = sop_weight
        self.head_name = HEAD_ONLY_ON_CHOSEN.get(type(mlm).__name__)
        if sop:
            hidden = mlm.config.hidden_size
            self.pooler = pooler if pooler is not None else FreshPooler(hidden)
            p = getattr(mlm.config, "hidden_dropout_prob", 0.1) or 0.0
            self.sop_classifier = nn.Sequential(nn.Dropout(p), nn.Linear(hidden, 2))

    def forward(self, input_ids, labels, attention_mask=None, token_type_ids=None, sop_labels=None):
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        chosen = labels != -100
        if self.head_name is not None:
            hidden = self.mlm.base_model(**inputs)[0]
            logits = getattr(self.mlm, self.head_name)(hidden[chosen])
        else:
            out = self.mlm(**inputs, output_hidden_states=self.sop)
            hidden = out.hidden_states[-1] if self.sop else None
            logits = out.logits[chosen]
        targets = labels[chosen]
        # mean over the chosen tokens; a batch that happens to have none gives 0 (x the logits: graph intact)
        loss = (F.cross_entropy(logits.float(), targets, reduction="sum") if len(targets)
                else logits.float().sum() * 0.0) / max(len(targets), 1)
        result = {"chosen_logits": logits, "chosen_labels": targets}
        if self.sop:
            sop_logits = self.sop_classifier(self.pooler(hidden))
            result["sop_logits"] = sop_logits
            if sop_labels is not None:
                valid = sop_labels != -100
                # a batch without SOP rows still touches the head (x 0): every process's graph uses every parameter
                sop = F.cross_entropy(sop_logits.float(), sop_labels, ignore_index=-100, reduction="sum")
                loss = loss + self.sop_weight * sop / valid.sum().clamp_min(1)
        result["loss"] = loss
        return result


@torch.no_grad()
def held_out_scores(model, batches: list[dict]) -> dict[str, float]:
    """Masked-token accuracy, MLM loss and perplexity (exp of the mean loss per chosen token) over fixed held-out
    batches; with SOP also the sentence-order accuracy over the held-out rows that carry an order label."""
    from ..training.loop import model_device

    was_training = model.training
    model.eval()
    device = model_device(model)
    n = correct = 0
    ce = 0.0
    sop_n = sop_correct = 0
    for batch in batches:
        keys = [k for k in ("input_ids", "token_type_ids", "attention_mask", "labels") if k in batch]
        out = model(**{k: batch[k].to(device) for k in keys})
        logits, labels = out["chosen_logits"].float(), out["chosen_labels"]
        n += len(labels)
        correct += int((logits.argmax(-1) == labels).sum())
        ce += float(F.cross_entropy(logits, labels, reduction="sum")) if len(labels) else 0.0
        if "sop_logits" in out:
            sop_labels = batch["sop_labels"].to(device)
            valid = sop_labels != -100
            sop_n += int(valid.sum())
            sop_correct += int((out["sop_logits"].argmax(-1)[valid] == sop_labels[valid]).sum())
    if was_training:
        model.train()
    loss = ce / max(n, 1)
    scores = {"masked_accuracy": round(correct / max(n, 1), 6), "mlm_loss": round(loss, 6),
              "perplexity": round(math.exp(min(loss, 50.0)), 4), "masked_tokens": n}
    if sop_n:
        scores |= {"sop_accuracy": round(sop_correct / sop_n, 6), "sop_rows": sop_n}
    return scores


def save_mlm(model: PretrainingModel, tokenizer, out: Path, pooler: nn.Module | None) -> None:
    """A Hugging Face directory ``AutoModelForMaskedLM`` loads (config, model.safetensors, tokenizer), with the
    pooler's weights under ``<base prefix>.pooler.*`` when there is one to carry (a sequence classifier of the
    architecture loads them; the masked-LM class ignores them)."""
    from safetensors.torch import load_file, save_file

    mlm = model.mlm
    mlm.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    if pooler is None:
        return
    files = sorted(Path(out).glob("*.safetensors"))
    if len(files) != 1:  # a sharded save (multi-GB models): leave the pooler out rather than edit the index
        return
    state = load_file(str(files[0]))
    prefix = f"{mlm.base_model_prefix}.pooler."
    state |= {prefix + k: v.detach().to("cpu").contiguous().clone() for k, v in pooler.state_dict().items()}
    save_file(state, str(files[0]), metadata={"format": "pt"})
