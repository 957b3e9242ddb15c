"""``edgeport explain MODEL_OR_ARTIFACT "text" ["pair"]``: which words drove one prediction (registered by cli.py).

A Hugging Face model directory (a run's teacher/, distill/, prune/) is explained by Integrated Gradients by
default, or by word ablation (``--method ablation``), or both (``--method both``); an artifact (``.pt``,
``.onnx``, ``.tflite`` or its directory) by word ablation only (no gradients through a runtime).
"""

from __future__ import annotations

from pathlib import Path

METHODS = ("ig", "ablation", "both")


def _is_model_dir(path: Path) -> bool:
    from ..runtimes import SIDECAR

    return path.is_dir() and (path / "config.json").is_file() and not (path / SIDECAR).is_file()


def _label_index(label: str | None, names: list[str]) -> int | None:
    from ..errors import EdgeportError

    if label is None:
        return None
    if label in names:
        return names.index(label)
    if label.isdigit() and int(label) < len(names):
        return int(label)
    raise EdgeportError(f"--target {label!r}: not a class of this model; its classes are {', '.join(names)}")


def explain_one(path: Path, text: str, pair: str | None = None, *, method: str | None = None, threads: int = 1,
                steps: int = 32, target: str | None = None, max_len: int | None = None) -> tuple[dict, list[str]]:
    """{method: Attribution} and the label names for one input, from a model directory or an artifact."""
    from ..errors import ArtifactError, EdgeportError

    if not path.exists():
        raise ArtifactError(f"{path}: no such model or artifact; give a Hugging Face model directory (e.g. "
                            f"runs/NAME/teacher) or an artifact (.pt, .onnx, .tflite or its directory)")
    if not (text or "").strip() and not (pair or "").strip():
        raise EdgeportError("the text is empty; give a sentence to explain")
    if _is_model_dir(path):
        import torch

        from ..models import load_classifier, load_tokenizer
        from ..models.arch import usable_positions
        from ..runtimes.eager import EagerRunner

        torch.set_num_threads(threads)
        model, tokenizer = load_classifier(path), load_tokenizer(path)
        id2label = getattr(model.config, "id2label", None) or {}
        names = [str(id2label.get(i, i)) for i in range(model.config.num_labels)]
        cls = _label_index(target, names)
        length = max_len or min(512, usable_positions(model.config) or 512)
        method = method or "ig"
        out = {}
        if method in ("ig", "both"):
            from .attribution import integrated_gradients

            out["ig"] = integrated_gradients(model, tokenizer, text, pair, target=cls, steps=steps, max_len=length)
        if method in ("ablation", "both"):
            from .attribution import ablation

            out["ablation"] = ablation(EagerRunner(model, path), tokenizer, text, pair, target=cls, max_len=length)
        return out, names
    from .. import runtimes
    from ..runtimes.text import artifact_max_len, artifact_tokenizer
    from .attribution import ablation

    if method in ("ig", "both"):
        raise EdgeportError(f"{path}: an exported artifact has no gradients; use --method ablation (the default "
                            f"for artifacts), or give the Hugging Face model directory for Integrated Gradients")
    runner = runtimes.load(path, threads)
    tokenizer = artifact_tokenizer(path)
    length = max_len or artifact_max_len(path)
    attr = ablation(runner, tokenizer, text, pair, target=None, max_len=length)
    # label names come from the sidecar; without one, the classes are numbered
    names = list(runtimes.artifact_meta(path).get("label_names") or range(len(attr.logits)))
    names = [str(n) for n in names]
    cls = _label_index(target, names)
    if cls is not None and cls != attr.target:
        attr = ablation(runner, tokenizer, text, pair, target=cls, max_len=length)
    return {"ablation": attr}, names


def render_table(source: str, attrs: dict, names: list[str]) -> str:
    first = next(iter(attrs.values()))
    probs = ", ".join(f"{n}={p:.4f}" for n, p in zip(names, first.probs))
    lines = [f"model: {source}", f"prediction: {names[first.predicted]}  ({probs})",
             f"explaining: {names[first.target]}  (log-odds {first.score:+.4f}; all words padded: "
             f"{first.baseline_score:+.4f})"]
    for method, a in attrs.items():
        if method == "ig":
            lines.append(f"integrated gradients: {a.steps} steps, padding baseline; convergence delta {a.delta:+.5f} "
                         f"({a.relative_delta * 100:.2f}% of f(x) - f(baseline)"
                         f"{'; few steps for this input: raise --steps' if a.relative_delta > 0.05 else ''})")
        else:
            lines.append("word ablation: each word's tokens replaced by [PAD]; score = drop of the log-odds")
    pieces = first.word_tokens()
    width = max([len(w) for w in first.words] + [4])
    pwidth = min(40, max([len(" ".join(p)) for p in pieces] + [6]))
    header = f"\n  {'word':<{width}}  {'tokens':<{pwidth}}" + "".join(f"  {m:>9}" for m in attrs) + "  "
    lines.append(header)
    main = next(iter(attrs))  # the bar shows the first method's scores, scaled to its largest |score|
    scale = max((abs(s) for s in attrs[main].word_scores), default=0.0) or 1.0
    for i, w in enumerate(first.words):
        toks = " ".join(pieces[i]) or "(cut)"
        toks = toks if len(toks) <= pwidth else toks[:pwidth - 1] + "…"
        sep = "‖ " if first.word_part[i] == 1 and (i == 0 or first.word_part[i - 1] == 0) else ""
        score = attrs[main].word_scores[i]
        bar = ("+" if score > 0 else "-") * round(abs(score) / scale * 20)
        lines.append(f"  {sep + w:<{width}}  {toks:<{pwidth}}" + "".join(f"  {a.word_scores[i]:>+9.4f}"
                                                                       for a in attrs.values()) + f"  {bar}")
    return "\n".join(lines)


def cmd_explain(args) -> int:
    from ..errors import EdgeportError

    if args.threads < 1:
        raise EdgeportError("--threads must be at least 1")
    if args.steps < 2:
        raise EdgeportError("--steps must be at least 2")
    path = Path(args.model)
    attrs, names = explain_one(path, args.text, args.text_pair, method=args.method, threads=args.threads,
                               steps=args.steps, target=args.target)
    print(render_table(str(path), attrs, names))
    if args.html:
        from .html import single_page

        out = Path(args.html)
        try:
            out.write_text(single_page(str(path), attrs, names, args.text, args.text_pair), encoding="utf-8")
        except OSError as exc:
            raise EdgeportError(f"cannot write {out} ({exc.strerror}); check that its folder exists") from None
        print(f"\nwrote {out}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("explain", help="which words drove a prediction: Integrated Gradients (model directory) or "
                                       "word ablation (any artifact)")
    p.add_argument("model", help="a Hugging Face model directory (runs/NAME/teacher, distill, prune) or an artifact "
                                 "(.pt, .onnx, .tflite or its directory)")
    p.add_argument("text")
    p.add_argument("text_pair", nargs="?", help="second sentence, for sentence-pair tasks")
    p.add_argument("--method", choices=METHODS, help="ig (default for model directories), ablation (default and only "
                                                    "choice for artifacts) or both")
    p.add_argument("--target", metavar="LABEL", help="explain this class (name or index); default: the prediction")
    p.add_argument("--steps", type=int, default=32, help="Integrated Gradients steps (default 32)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--html", metavar="FILE", help="also write the words shaded by score as a self-contained HTML page")
    p.set_defaults(fn=cmd_explain)
