"""``edgeport fill-mask MODEL "text with the model's mask token"``: top-k predictions for each mask (registered by
cli.py).

MODEL: a pretrain stage's output (``runs/NAME/pretrain``), any local Hugging Face directory with a masked-LM head,
``builtin:NAME`` or a hub id. The mask token is the model's own (``[MASK]`` for BERT vocabularies, ``<mask>`` for
RoBERTa/XLM-R); a text without it, or a model without a masked-LM head, is an error (exit 2) that says which.
Each mask is predicted on its own with the other masks left in place; scores are softmax probabilities.
"""

from __future__ import annotations

from pathlib import Path


def fill_mask(spec: str, text: str, top_k: int = 5) -> dict:
    """``{"model", "mask_token", "masks": [{"position", "predictions": [{"token", "id", "score", "sequence"}]}]}``."""
    import torch

    from ..errors import EdgeportError, ModelError
    from ..models import load_tokenizer, resolve_model_dir
    from .model import CHECKPOINT_HEAD, load_mlm

    if top_k < 1:
        raise EdgeportError("--top-k must be at least 1")
    resolved = resolve_model_dir(spec)
    if isinstance(resolved, Path) and not (resolved / "config.json").is_file():
        raise ModelError(f"{resolved}: no config.json; give a Hugging Face model directory (e.g. runs/NAME/pretrain)")
    tokenizer = load_tokenizer(resolved)
    mask = tokenizer.mask_token
    if mask is None:
        raise ModelError(f"'{spec}': its tokenizer has no mask token, so it cannot fill masks")
    if mask not in text:
        raise EdgeportError(f"the text has no mask token; this model's mask token is '{mask}': write it where the "
                            f"word to predict goes, e.g. \"The quick brown fox jumps over the {mask} dog.\"")
    model, head, missing = load_mlm(resolved)
    if head != CHECKPOINT_HEAD:
        raise ModelError(f"'{spec}' has no masked-language-model head (its checkpoint lacks {', '.join(missing[:3])}"
                         f"{', ...' if len(missing) > 3 else ''}); give a model saved with one, e.g. the output of "
                         f"the pretrain stage (runs/NAME/pretrain)")
    model.eval()
    enc = tokenizer(text, return_tensors="pt", truncation=True,
                    max_length=min(512, int(getattr(model.config, "max_position_embeddings", 512))))
    ids = enc["input_ids"][0]
    positions = (ids == tokenizer.mask_token_id).nonzero().flatten().tolist()
    if not positions:
        raise EdgeportError(f"the mask token '{mask}' was lost in tokenisation (the text is cut at the model's "
                            f"length?); put it earlier or shorten the text")
    with torch.no_grad():
        probs = model(**enc).logits[0].float().softmax(-1)
    drop = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id, tokenizer.bos_token_id,
            tokenizer.eos_token_id} - {None}
    masks = []
    for pos in positions:
        top = probs[pos].topk(top_k)
        preds = []
        for score, tid in zip(top.values.tolist(), top.indices.tolist()):
            filled = ids.clone()
            filled[pos] = tid
            sequence = tokenizer.decode([t for t in filled.tolist() if t not in drop]).strip()
            preds.append({"token": tokenizer.convert_ids_to_tokens(tid), "id": tid, "score": round(score, 6),
                          "sequence": sequence})
        masks.append({"position": pos, "predictions": preds})
    return {"model": spec, "mask_token": mask, "architecture": type(model).__name__, "masks": masks}


def render(result: dict) -> str:
    lines = [f"model: {result['model']} ({result['architecture']}; mask token {result['mask_token']})"]
    for i, m in enumerate(result["masks"], start=1):
        if len(result["masks"]) > 1:
            lines.append(f"mask {i} of {len(result['masks'])} (token position {m['position']}):")
        width = max([len(p["token"]) for p in m["predictions"]] + [5])
        lines.append(f"  {'rank':>4}  {'token':<{width}}  {'score':>7}  sequence")
        for rank, p in enumerate(m["predictions"], start=1):
            lines.append(f"  {rank:>4}  {p['token']:<{width}}  {p['score']:>7.4f}  {p['sequence']}")
    return "\n".join(lines)


def cmd_fill_mask(args) -> int:
    import json

    from ..errors import EdgeportError

    if args.threads is not None:
        if args.threads < 1:
            raise EdgeportError("--threads must be at least 1")
        import torch

        torch.set_num_threads(args.threads)
    if not isinstance(resolve_local(args.model), str):
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local model: nothing touches the network
    result = fill_mask(args.model, args.text, args.top_k)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


def resolve_local(spec: str):
    """The resolved spec (a Path for local models and built-ins, a str for a hub id), errors left to fill_mask."""
    from ..errors import EdgeportError
    from ..models import resolve_model_dir

    try:
        return resolve_model_dir(spec)
    except EdgeportError:
        return Path(spec)


def register(sub) -> None:
    p = sub.add_parser("fill-mask", help="top-k predictions for the mask token(s) of a text, from a masked-LM "
                                         "model (a pretrain stage's output, a HF directory or a hub id)")
    p.add_argument("model", help="runs/NAME/pretrain, a Hugging Face directory with a masked-LM head, or a hub id")
    p.add_argument("text", help="a text holding the model's mask token, e.g. \"... over the [MASK] dog.\"")
    p.add_argument("--top-k", type=int, default=5, help="predictions per mask (default 5)")
    p.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(fn=cmd_fill_mask)
