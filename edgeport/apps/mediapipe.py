"""MediaPipe-ready TFLite: tokenizer and label metadata written into edgeport's TFLite students.

Android developers classify text with MediaPipe Tasks' ``TextClassifier`` and embed it with its ``TextEmbedder``.
Both read the vocabulary (and the classifier its label names) from the model's *TFLite metadata* and tokenize in
their own C++ code, so the same ``.tflite`` works with no tokenizer code in the app. ``write_mediapipe_metadata``
writes that metadata, for the head the artifact's sidecar ``output`` names (``HEADS``: ``logits`` ->
TextClassifier, ``embedding`` -> TextEmbedder); ``mediapipe_agreement`` / ``embedding_agreement`` prove the result
with MediaPipe's own task against edgeport's TFLite runner; ``main`` is the body of ``edgeport mediapipe RUN_DIR``.

**What MediaPipe reads** (C++ of google-ai-edge/mediapipe at 85c0cdc, checked against mediapipe 1.2.3):

- ``ModelMetadataExtractor``: a ``Model.metadata`` entry named ``TFLITE_METADATA`` whose buffer holds, *inline*
  (``Buffer.data``), a ``ModelMetadata`` flatbuffer (identifier ``M001``, ``min_parser_version`` <= the runtime's);
  the associated files (``vocab.txt``, ``labels.txt``) in a zip appended to the model, stored uncompressed.
- ``text_model_utils.GetModelType``: three int32 inputs = a BERT model. ``text_preprocessing_graph``: each input
  2-D ``[1, L]`` with the same ``L`` (MediaPipe tokenizes to that static length).
- ``BertPreprocessorCalculator``: the tokenizer is the subgraph's first *input process unit*
  (``BertTokenizerOptions`` + the vocabulary as a ``VOCABULARY`` associated file); the input *order* comes from the
  input tensor metadata names ``ids`` / ``mask`` / ``segment_ids`` (paired with the model's tensors by name, so
  our ``serving_default_input_ids`` / ``_attention_mask`` / ``_token_type_ids`` need no renaming).
- ``ClassificationPostprocessingGraph``: one float32 (or uint8/bool) output; category names from the first
  ``TENSOR_AXIS_LABELS`` file. It applies **no softmax** (only an optional sigmoid "score calibration"), and its
  default ``score_threshold`` is 0.0, so raw logits would come back as scores and negative ones would be dropped.
  So by default (``probabilities=True``) a ``SOFTMAX`` op is appended to the graph (after a ``DEQUANTIZE`` for an
  int8 output of a full-integer model, which MediaPipe would otherwise reject): scores are class probabilities,
  as the metadata writer's own output stats (0..1) declare. The signature output becomes ``probabilities``.

**TextEmbedder** (``text_embedder_graph.cc``, ``embedding_postprocessing_graph.cc``,
``tensors_to_embeddings_calculator.cc``): the same BERT preprocessing as above (three int32 inputs, the tokenizer
process unit, one subgraph; a model with several subgraphs is taken for EmbeddingGemma), then each output tensor
(float32, or uint8 for all of them) becomes one embedding, its ``head_name`` the output tensor metadata's name.
No labels file and no score post-processing. The writer adds the metadata MediaPipe's generic writer's
``add_bert_text_input`` + ``add_feature_output`` give (MediaPipe ships no TextEmbedder writer): a
``FeatureProperties`` tensor named ``embedding``. The graph's output is the vector as it is: an int8 output of a
full-integer model gets a ``DEQUANTIZE``, nothing else is appended (pooling and the L2 norm are already in the
graph). ``EmbedderOptions.l2_normalize`` (default off) divides by the norm again and ``quantize`` scales the unit
vector by 128 to int8: neither is needed, the check runs with both off so MediaPipe's vector is the model's own
(norm 1 +- 1.5e-7). Measured on the ``embed-try`` run's files (mean-pooled 3-layer MiniLM student, buckets
32/64/128; MediaPipe runs the 128 subgraph, edgeport's runner the smallest bucket that holds the sentence), all
1500 STS-B validation pairs: MediaPipe's vectors are bit-identical to ``runtimes.text.predict``'s for fp32 and
dynamic INT8 alike on every ASCII sentence (2975 of 3000) and, after ``pre_normalize``, on all 3000 (max |diff|
0.0; cosine 1 - 6e-16 at worst, float64 rounding of the cosine itself), and its ``cosine_similarity`` of a pair
equals edgeport's to 6e-16, so Spearman with the gold scores is the same (0.7992 fp32, 0.7987 INT8). On raw text
5 non-ASCII sentences (accents, Greek, mojibake) fall to cosine 0.84-0.96. ``DEFAULT_MIN_COSINE`` (0.999) sits
between those, and a broken file (a vocabulary shifted by one id: cosine 0.93-0.96 on the tiny test model), and
the agreeing sentences. Sentence text has the tokenizer limits below; pair models do not apply
(``embed()`` takes one text; an STS-B run's pair column is the second sentence, embedded alone).

**The tokenizer MediaPipe runs** (``BertPreprocessorCalculator`` + ``tokenizers/bert_tokenizer``): the text is
ASCII-lowercased, split on ASCII whitespace, ASCII punctuation/symbols, Unicode ``\\p{P}`` and CJK ideographs,
WordPiece'd with ``##`` continuations and ``[UNK]`` (words over 100 *bytes* are ``[UNK]``), wrapped as ``[CLS] ...
[SEP]``, truncated to ``L``, padded with id 0 / mask 0; segment ids are all 0. So the only edgeport tokenizers it
can reproduce are **uncased BERT WordPiece** ones (``BertNormalizer(lowercase=True)`` + ``BertPreTokenizer`` +
WordPiece ``##`` + ``[CLS] A [SEP]``, tokens literally ``[CLS]``, ``[SEP]``, ``[UNK]``), and only on text that
needs none of the Hugging Face normalizer's Unicode steps: MediaPipe does not strip accents (``amélie``), lowercase
non-ASCII capitals, drop control characters or treat Unicode spaces (U+00A0, U+3000) as spaces. Nor does it know
special tokens in the text: Hugging Face maps a literal ``[CLS]``/``[SEP]``/``[UNK]``/``[PAD]``/``[MASK]`` to its
special id, MediaPipe splits it into ``[``, ``cl``, ``##s``, ``]``. Apps should pass
the text through ``pre_normalize``'s steps before ``classify()`` (lowercase, NFD, drop ``\\p{Mn}``, controls out,
spaces in): on SST-2 validation that turns 871/872 agreeing labels into 872/872 (``benchmarks/mediapipe_check.py``). Refused with ``ArtifactError``: cased WordPiece
(MediaPipe lowercases the input), other normalizers/pre-tokenizers, BPE (RoBERTa/GPT, byte-level: MediaPipe has no
BPE tokenizer), Unigram/SentencePiece (MediaPipe's ``SentencePieceTokenizerOptions`` needs the original
SentencePiece ``.model`` file, which an edgeport artifact's ``tokenizer.json`` does not carry, and would still wrap
the pieces in literal ``[CLS]``/``[SEP]``). ``TextClassifier.classify(text)`` takes one string and sends segment
ids 0: models of sentence-pair tasks (``data.text_pair_column``) are refused with ``ConfigError``.

**Route chosen** (decided on evidence): the metadata *content* is built with MediaPipe's own pure-Python
``metadata_writers.metadata_info`` classes (``TensorMd`` with ``BertInputTensorsMd``'s names and descriptions,
``BertTokenizerMd``, ``ClassificationTensorMd``, ``LabelFileMd``, ``GeneralMd``) and its generated
``metadata_schema_py_generated`` code, exactly what its ``text_classifier.MetadataWriter.create_for_bert_model``
assembles (checked: on the fp32 student, where 0.10.21's writer works, its metadata JSON equals ours but for the
free-text name/description/author fields, and MediaPipe's scores of the two files are bit-identical). Its ``MetadataWriter`` / ``MetadataPopulator``
cannot be used: in mediapipe 1.2.3 (and 0.10.35) they import the compiled ``mediapipe.tasks.cc`` module that the
wheel lacks (it only computes ``min_parser_version``; here the constant ``1.1.0`` from ``metadata_version.cc``:
``BertTokenizerOptions``/``input_process_units`` are 1.1.0, ``VOCABULARY`` 1.0.1, nothing newer is written; 0.10.21's
compiled code gives 1.1.0 for this metadata too); and
the populator re-packs the model with the object API, which drops the weights ai-edge-quantizer stores *after*
the flatbuffer (``Buffer.offset``/``size``): 9.98 MB in, 0.51 MB out, "buffer 4 specified an out of range offset"
in MediaPipe (measured with 0.10.21, whose writer needs numpy < 2 / protobuf < 5: a second environment too). The model side therefore uses
LiteRT's own ``ai_edge_litert.tools.flatbuffer_utils``: ``read_model_from_bytearray`` resolves offset buffers into
the object model; after adding the metadata buffer (and the softmax) the model is written back the way
ai-edge-quantizer writes it (``model_modifier._serialize_model``): buffers of >= 1 KiB leave the flatbuffer and
follow it 16-byte aligned, their offsets patched with ``flatbuffer_utils.update_packed_buffer``; the metadata
buffer stays inline (MediaPipe reads ``data()``). The zip of associated files is appended with ``zipfile``
(``ZIP_STORED``), as MediaPipe's populator does; minizip locates it from its end record, so it may follow the
offset buffers. Rejected: (b) 0.10.21's writer in a side venv plus re-attaching the dropped buffers (two
environments, and re-attaching is this same offset surgery); (c) making ai-edge-quantizer write inline buffers
(private API; the fp32 export, too, would then still need a writer).

Needs ``mediapipe`` (pure-Python parts for writing; its ``TextClassifier`` or ``TextEmbedder`` for the check) and
``ai-edge-litert``.
Imports no torch itself (the artifact's tokenizer comes through transformers, as everywhere in edgeport.runtimes).
Not checked here: MediaPipe on a phone (the Android AAR's TFLite must read buffer offsets, as LiteRT 2.x does).
"""

from __future__ import annotations

import io
import json
import math
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable


from ..errors import ArtifactError, ConfigError, MissingExtraError
from .shipping import ACCEPT_HELP, TFLITE_HELP
from ..timing import Stopwatch

if TYPE_CHECKING:
    import numpy as np  # imported where used: `edgeport --help` loads this module and must stay light

METADATA_NAME = "TFLITE_METADATA"
# metadata_version.cc: input_process_units and BertTokenizerOptions need 1.1.0, a VOCABULARY file 1.0.1; the
# other fields written here are 1.0.0. The runtime rejects metadata whose min version exceeds its parser's (1.5.0).
MIN_PARSER_VERSION = "1.1.0"
VOCAB_FILE, LABELS_FILE = "vocab.txt", "labels.txt"
ROLE_NAMES = {"input_ids": "ids", "attention_mask": "mask", "token_type_ids": "segment_ids"}  # ours -> MediaPipe's
SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[UNK]")  # hard-coded in MediaPipe's BERT preprocessor and tokenizer
PROBS_NAME = "probabilities"
EMBEDDING_NAME = "embedding"  # the embedder's output tensor metadata name: MediaPipe's result head_name
OUT_OF_LINE_MIN_BYTES = 1024  # ai-edge-quantizer's threshold for buffers stored after the flatbuffer
# Agreement tolerance on class probabilities, MediaPipe vs edgeport's runner on this host. Measured on the default
# run's 872 SST-2 validation rows: max |diff| 8.6e-8 for fp32 and dynamic INT8 alike (both runtimes run the same
# XNNPACK kernels; the rest is the in-graph float32 softmax vs numpy's float64 one) on every row whose text needs no
# Unicode normalization; a token-id difference moves scores by 1e-3 or more. So 1e-4 separates the two.
DEFAULT_SCORE_ATOL = 1e-4
# Agreement floor for a sentence embedding, cosine(MediaPipe's vector, edgeport's runner's), per sentence: see
# embedding_agreement (measured figures in the module docstring).
DEFAULT_MIN_COSINE = 0.999
MEDIAPIPE_EXTRA = "mediapipe"


def _require_mediapipe():
    try:
        from mediapipe.tasks.metadata import metadata_schema_py_generated as mfb
        from mediapipe.tasks.python.metadata.metadata_writers import metadata_info
    except ImportError as exc:
        raise MissingExtraError("mediapipe", MEDIAPIPE_EXTRA) from exc
    return mfb, metadata_info


def _require_litert():
    try:
        from ai_edge_litert import schema_py_generated as schema
        from ai_edge_litert.tools import flatbuffer_utils
    except ImportError as exc:
        raise MissingExtraError("ai_edge_litert", "tflite") from exc
    return schema, flatbuffer_utils


# ------------------------------------------------------------------------------------------ tokenizer checks


def check_tokenizer(tokenizer) -> dict:
    """Refuse tokenizers MediaPipe's C++ BERT tokenizer cannot reproduce; return the facts that were checked."""
    state = json.loads(tokenizer.backend_tokenizer.to_str()) if hasattr(tokenizer, "backend_tokenizer") else {}
    norm, pre = state.get("normalizer") or {}, state.get("pre_tokenizer") or {}
    model, post = state.get("model") or {}, state.get("post_processor") or {}
    kind = model.get("type") or type(tokenizer).__name__
    how = ("MediaPipe's TextClassifier tokenizes in C++ with an uncased BERT WordPiece tokenizer (or a "
           "SentencePiece .model / regex tokenizer for other model shapes)")
    if kind != "WordPiece":
        extra = {"BPE": "byte-level BPE (RoBERTa/GPT-style) has no MediaPipe tokenizer",
                 "Unigram": "MediaPipe's SentencePiece tokenizer needs the original SentencePiece .model file, "
                            "which this artifact's tokenizer.json does not carry"}.get(kind, "")
        raise ArtifactError(f"the artifact's tokenizer is {kind}; {how}. {extra + '. ' if extra else ''}"
                            f"Use a BERT-family uncased WordPiece teacher (e.g. builtin:minilm-l6) for MediaPipe")
    if norm.get("type") != "BertNormalizer" or pre.get("type") != "BertPreTokenizer":
        raise ArtifactError(f"the WordPiece tokenizer has normalizer {norm.get('type')} and pre-tokenizer "
                            f"{pre.get('type')}; {how}, which matches only BertNormalizer + BertPreTokenizer")
    if not norm.get("lowercase", True):
        raise ArtifactError("the tokenizer is cased (BertNormalizer lowercase=false), but MediaPipe lowercases the "
                            "text before WordPiece, so a cased vocabulary would see different ids; use an uncased "
                            "model for MediaPipe")
    if model.get("continuing_subword_prefix", "##") != "##":
        raise ArtifactError(f"WordPiece continuation prefix {model.get('continuing_subword_prefix')!r}; MediaPipe "
                            f"uses '##'")
    specials = {"cls": getattr(tokenizer, "cls_token", None), "sep": getattr(tokenizer, "sep_token", None),
                "unk": getattr(tokenizer, "unk_token", None) or model.get("unk_token")}
    if (specials["cls"], specials["sep"], specials["unk"]) != SPECIAL_TOKENS:
        raise ArtifactError(f"special tokens cls/sep/unk are {specials['cls']}/{specials['sep']}/{specials['unk']}; "
                            f"MediaPipe hard-codes {'/'.join(SPECIAL_TOKENS)}")
    single = post.get("single")
    if post.get("type") == "TemplateProcessing":
        pieces = [next(iter(p.values())).get("id") for p in single or []]
        if pieces != ["[CLS]", "A", "[SEP]"]:
            raise ArtifactError(f"the tokenizer wraps a text as {pieces}; MediaPipe sends [CLS] text [SEP]")
    elif post.get("type") not in ("BertProcessing", None):
        raise ArtifactError(f"post-processor {post.get('type')}; MediaPipe sends [CLS] text [SEP]")
    return {"family": "bert-wordpiece-uncased", "strip_accents": norm.get("strip_accents"),
            "max_input_chars_per_word": model.get("max_input_chars_per_word", 100)}


def vocab_text(tokenizer) -> str:
    """vocab.txt from the tokenizer's own ids (as ``edgeport.apps.android.write_vocab``): line i is the token of id i."""
    by_id = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        raise ArtifactError("the tokenizer's vocabulary ids are not contiguous; cannot write vocab.txt")
    if any("\n" in t or "\r" in t for t, _ in by_id):
        raise ArtifactError("a vocabulary token contains a newline; it cannot be written as vocab.txt")
    return "".join(t + "\n" for t, _ in by_id)


def _read_vocab(vocab_file: Path) -> list[str]:
    if not Path(vocab_file).is_file():
        raise ArtifactError(f"{vocab_file}: vocabulary file not found")
    # MediaPipe's LoadVocabFromBuffer: one token per line, trailing whitespace/CR stripped.
    tokens = [line.rstrip("\r") for line in Path(vocab_file).read_text(encoding="utf-8").split("\n")]
    if tokens and tokens[-1] == "":
        tokens.pop()
    missing = [t for t in SPECIAL_TOKENS if t not in tokens]
    if missing:
        raise ArtifactError(f"{vocab_file}: no {', '.join(missing)} in the vocabulary; MediaPipe's BERT tokenizer "
                            f"needs them literally (is this a WordPiece vocab.txt?)")
    return tokens


# ------------------------------------------------------------------------------------------ model surgery


def _name(value) -> str:
    return value.decode("utf-8") if isinstance(value, (bytes, bytearray)) else str(value or "")


def _opcode_index(model, schema, code: int, version: int) -> int:
    for i, oc in enumerate(model.operatorCodes):
        if max(oc.builtinCode, oc.deprecatedBuiltinCode) == code and oc.version >= version:
            return i
    model.operatorCodes.append(schema.OperatorCodeT(deprecatedBuiltinCode=min(code, 127), builtinCode=code,
                                                    version=version))
    return len(model.operatorCodes) - 1


def _append_op(model, schema, code: int, version: int, src: int, name: str, options=None, options_type=0) -> int:
    """Append ``code(src) -> new float32 tensor`` at the end of subgraph 0; returns the new tensor's index."""
    sg = model.subgraphs[0]
    shape = [int(x) for x in sg.tensors[src].shape]
    model.buffers.append(schema.BufferT())
    sg.tensors.append(schema.TensorT(shape=shape, type=schema.TensorType.FLOAT32, buffer=len(model.buffers) - 1,
                                     name=name, shapeSignature=list(shape)))
    dst = len(sg.tensors) - 1
    sg.operators.append(schema.OperatorT(opcodeIndex=_opcode_index(model, schema, code, version), inputs=[src],
                                         outputs=[dst], builtinOptionsType=options_type, builtinOptions=options))
    return dst


def _append_softmax(model, schema) -> None:
    """Logits -> class probabilities inside the graph (DEQUANTIZE first for an int8 full-integer output)."""
    sg = model.subgraphs[0]
    if len(sg.outputs) != 1:
        raise ArtifactError(f"the model has {len(sg.outputs)} outputs; a classifier for MediaPipe needs one")
    out = int(sg.outputs[0])
    kind = sg.tensors[out].type
    if kind in (schema.TensorType.INT8, schema.TensorType.UINT8):
        out = _append_op(model, schema, schema.BuiltinOperator.DEQUANTIZE, 2 if kind == schema.TensorType.INT8
                         else 1, out, "logits_dequantized")
    elif kind != schema.TensorType.FLOAT32:
        raise ArtifactError(f"the model's output has TFLite type {kind}; MediaPipe needs float32 scores")
    probs = _append_op(model, schema, schema.BuiltinOperator.SOFTMAX, 1, out, PROBS_NAME,
                       schema.SoftmaxOptionsT(beta=1.0), schema.BuiltinOptions.SoftmaxOptions)
    sg.outputs = [probs]
    for sig in model.signatureDefs or []:
        for item in sig.outputs or []:
            item.tensorIndex, item.name = probs, PROBS_NAME


def _set_metadata(model, schema, metadata_buf: bytes) -> None:
    import numpy as np

    buf = schema.BufferT(data=np.frombuffer(bytes(metadata_buf), dtype=np.uint8))
    for entry in model.metadata or []:
        if _name(entry.name) == METADATA_NAME:
            model.buffers[entry.buffer] = buf
            return
    model.buffers.append(buf)
    model.metadata = list(model.metadata or []) + [schema.MetadataT(name=METADATA_NAME,
                                                                    buffer=len(model.buffers) - 1)]


def _round16(n: int) -> int:
    return (n + 15) & ~15


def _serialize(model, schema, flatbuffer_utils) -> bytearray:
    """The model with large buffers after the flatbuffer, 16-byte aligned (ai-edge-quantizer's layout). Buffers
    of ``Model.metadata`` entries stay inline: readers (MediaPipe's metadata extractor) take their ``data()``."""
    import numpy as np

    inline = {int(m.buffer) for m in model.metadata or []}
    out_of_line = {}
    for i, buf in enumerate(model.buffers):
        if buf.data is not None and len(buf.data) >= OUT_OF_LINE_MIN_BYTES and i not in inline:
            out_of_line[i] = memoryview(np.ascontiguousarray(np.asarray(buf.data)).view(np.uint8)).cast("B")
            buf.data, buf.offset, buf.size = None, 1, 1  # non-default values: the fields are packed, patched below
    head = flatbuffer_utils.convert_object_to_bytearray(model)
    offsets, pos = {}, _round16(len(head))
    for i, data in out_of_line.items():
        offsets[i] = pos
        pos = _round16(pos + len(data))
    blob = bytearray(pos if out_of_line else len(head))
    blob[: len(head)] = head
    packed = schema.Model.GetRootAs(blob, 0)
    for i, data in out_of_line.items():
        flatbuffer_utils.update_packed_buffer(packed.Buffers(i), offset=offsets[i], size=len(data))
        blob[offsets[i]: offsets[i] + len(data)] = data
    return blob


# ------------------------------------------------------------------------------------------ metadata


def _input_tensor_names(model) -> dict[str, str]:
    """Our input role -> the model's tensor name, through the signature (robust to the converter's naming)."""
    sg = model.subgraphs[0]
    sig = (model.signatureDefs or [None])[0]
    by_role = {_name(i.name): _name(sg.tensors[i.tensorIndex].name) for i in (sig.inputs if sig else [])}
    if set(by_role) != set(ROLE_NAMES):
        raise ArtifactError(f"the model's signature inputs are {sorted(by_role) or 'missing'}; MediaPipe's BERT "
                            f"classifier needs exactly {', '.join(ROLE_NAMES)} (re-export with edgeport)")
    return by_role


def _serving_default_only(model) -> None:
    """A length-bucketed model (``export.seq_buckets``: one signature per bucket) keeps only its ``serving_default``
    subgraph, the longest bucket. MediaPipe's text graphs run subgraph 0 at its one static length (they tokenize to
    it and never look at signatures), and its metadata describes a single subgraph; so the MediaPipe file is the
    single-signature model. Buffers only the dropped subgraphs used are emptied (indices stay valid)."""
    if len(model.subgraphs) <= 1:
        return
    keep = next((s for s in model.signatureDefs or [] if _name(s.signatureKey) == "serving_default"), None)
    if keep is None:
        raise ArtifactError(f"the model has {len(model.subgraphs)} subgraphs and no serving_default signature; "
                            f"MediaPipe text models need one subgraph")
    sg = model.subgraphs[keep.subgraphIndex]
    used = {int(t.buffer) for t in sg.tensors} | {int(m.buffer) for m in model.metadata or []}
    for i, buf in enumerate(model.buffers):
        if i and i not in used:
            buf.data, buf.offset, buf.size = None, 0, 0
    model.subgraphs, keep.subgraphIndex, model.signatureDefs = [sg], 0, [keep]


def _check_inputs(model, schema) -> int:
    sg = model.subgraphs[0]
    if len(model.subgraphs) != 1:
        raise ArtifactError(f"the model has {len(model.subgraphs)} subgraphs; MediaPipe text models need one")
    tensors = [sg.tensors[i] for i in sg.inputs]
    shapes = {tuple(int(x) for x in t.shape) for t in tensors}
    if len(tensors) != 3 or any(t.type != schema.TensorType.INT32 for t in tensors):
        raise ArtifactError(f"the model has {len(tensors)} inputs; MediaPipe's BERT classifier needs three int32 "
                            f"inputs (ids, mask, segment ids)")
    if len(shapes) != 1 or len(next(iter(shapes))) != 2 or next(iter(shapes))[0] != 1:
        raise ArtifactError(f"input shapes {sorted(shapes)}; MediaPipe needs all three static [1, seq_len]")
    return next(iter(shapes))[1]


def _metadata_buffer(model, schema, mfb, mi, names: dict[str, str], output_md, general: dict) -> bytes:
    """The ModelMetadata flatbuffer as MediaPipe's metadata writer builds it for a BERT model
    (``text_classifier.MetadataWriter.create_for_bert_model``; for an embedder the same inputs and tokenizer with
    ``add_feature_output``): ``output_md`` is the head's output tensor metadata."""
    sg = model.subgraphs[0]
    role_md = {
        "input_ids": mi.TensorMd(name="ids", description="Tokenized ids of the input text.",
                                 tensor_name=names["input_ids"]),
        "attention_mask": mi.TensorMd(name="mask", description="Mask with 1 for real tokens and 0 for padding "
                                      "tokens.", tensor_name=names["attention_mask"]),
        "token_type_ids": mi.TensorMd(name="segment_ids", description="0 for the first sequence, 1 for the second "
                                      "sequence if exists.", tensor_name=names["token_type_ids"]),
    }
    by_tensor = {md.tensor_name: md for md in role_md.values()}
    inputs = [by_tensor[_name(sg.tensors[i].name)].create_metadata() for i in sg.inputs]  # the model's order
    tokenizer = mi.BertTokenizerMd(VOCAB_FILE).create_metadata()
    subgraph = mfb.SubGraphMetadataT()
    subgraph.inputTensorMetadata, subgraph.outputTensorMetadata = inputs, [output_md]
    subgraph.inputProcessUnits = [tokenizer]
    meta = mi.GeneralMd(**general).create_metadata()
    meta.subgraphMetadata = [subgraph]
    meta.minParserVersion = MIN_PARSER_VERSION
    import flatbuffers

    builder = flatbuffers.Builder(0)
    builder.Finish(meta.Pack(builder), b"M001")
    return bytes(builder.Output())


# ------------------------------------------------------------------------------------------ heads (output kinds)


def _prepare_classifier(model, schema, labels: list[str], probabilities: bool) -> tuple[bool, dict[str, str]]:
    """Check a logits output against the labels, append the softmax; returns (probabilities, associated files)."""
    import numpy as np

    if not labels or any(not x or "\n" in x or "\r" in x for x in labels):
        raise ArtifactError(f"label names {labels!r}: need one non-empty, single-line name per class")
    sg = model.subgraphs[0]
    if len(sg.outputs) != 1 or int(np.prod(sg.tensors[sg.outputs[0]].shape)) != len(labels):
        shape = [list(sg.tensors[o].shape) for o in sg.outputs]
        raise ArtifactError(f"model output(s) {shape} do not match {len(labels)} label names {labels}")
    if _name(sg.tensors[sg.outputs[0]].name) == PROBS_NAME:
        probabilities = True  # already ends in our softmax (metadata rewritten): do not stack a second one
    elif probabilities:
        _append_softmax(model, schema)
    return probabilities, {LABELS_FILE: "\n".join(labels)}  # as MediaPipe's writer: no trailing newline


def _classifier_md(mi, schema, out_name: str, probabilities: bool):
    return mi.ClassificationTensorMd(
        name="score", description="Probabilities of the labels respectively." if probabilities else
        "Logits of the labels respectively (no softmax).", label_files=[mi.LabelFileMd(LABELS_FILE)],
        tensor_type=schema.TensorType.FLOAT32 if probabilities else None, tensor_name=out_name).create_metadata()


def _prepare_embedder(model, schema, labels: list[str], probabilities: bool) -> tuple[bool, dict[str, str]]:
    """One ``[1, D]`` vector output. MediaPipe's EmbeddingPostprocessingGraph takes float32 (or uint8 with
    quantization parameters) only, so an int8 output of a full-integer model gets a DEQUANTIZE. No labels file."""
    sg = model.subgraphs[0]
    shapes = [[int(x) for x in sg.tensors[o].shape] for o in sg.outputs]
    if len(shapes) != 1 or len(shapes[0]) != 2 or shapes[0][0] != 1:
        raise ArtifactError(f"model output(s) {shapes}; MediaPipe's TextEmbedder here needs one [1, D] vector")
    out = int(sg.outputs[0])
    kind = sg.tensors[out].type
    if kind in (schema.TensorType.INT8, schema.TensorType.UINT8):
        vec = _append_op(model, schema, schema.BuiltinOperator.DEQUANTIZE, 2 if kind == schema.TensorType.INT8
                         else 1, out, EMBEDDING_NAME + "_dequantized")
        sg.outputs = [vec]
        for sig in model.signatureDefs or []:
            for item in sig.outputs or []:
                item.tensorIndex = vec
    elif kind != schema.TensorType.FLOAT32:
        raise ArtifactError(f"the model's output has TFLite type {kind}; MediaPipe needs a float32 embedding")
    return False, {}


def _embedder_md(mi, schema, out_name: str, probabilities: bool):
    # MediaPipe's generic writer's add_feature_output: a FeatureProperties tensor; its name is the result's head_name.
    return mi.TensorMd(name=EMBEDDING_NAME, description="L2-normalised mean-pooled sentence embedding (pooling and "
                       "normalisation inside the graph).", tensor_name=out_name).create_metadata()


@dataclass(frozen=True)
class Head:
    """What a sidecar ``output`` becomes for MediaPipe: the Tasks API that serves it, how the graph's output is
    checked and finished, its output tensor metadata, and the CLI's check with that API."""
    api: str
    prepare: Callable  # (model, schema, labels, probabilities) -> (probabilities, {associated file: text})
    output_md: Callable  # (metadata_info, schema, output tensor name, probabilities) -> TensorMetadataT
    check: Callable  # (written file, artifact model file, run_dir, config, rows) -> exit code
    default_name: str


HEADS: dict[str, Head] = {}  # the sidecar's ``output`` -> its head (filled below, once the checks are defined)


def _head(output: str) -> Head:
    if output not in HEADS:
        raise ArtifactError(f"the artifact's output is {output!r}; MediaPipe files are written for "
                            f"{', '.join(HEADS)} outputs")
    return HEADS[output]


def write_mediapipe_metadata(tflite_in, out_path, vocab_file, label_names, *, probabilities: bool = True,
                             vocab_size: int | None = None, name: str | None = None,
                             description: str | None = None, version: str | None = None,
                             output: str = "logits") -> Path:
    """Write ``tflite_in`` + MediaPipe metadata (BERT tokenizer with ``vocab_file``) to ``out_path``, for the head
    of ``output`` (the sidecar's: ``logits`` -> TextClassifier with ``label_names``; ``embedding`` ->
    TextEmbedder, no labels). For a classifier ``probabilities`` appends a softmax so MediaPipe's scores are class
    probabilities (a file this function wrote already ends in it: its metadata is replaced, no second softmax is
    added). ``vocab_size`` (the model's embedding rows, when known) is checked against the vocabulary file."""
    mfb, mi = _require_mediapipe()
    schema, flatbuffer_utils = _require_litert()
    head = _head(output)
    tflite_in, out_path = Path(tflite_in), Path(out_path)
    if not tflite_in.is_file() or tflite_in.stat().st_size == 0:
        raise ArtifactError(f"{tflite_in}: no TFLite model there (missing or empty); export it first")
    raw = tflite_in.read_bytes()
    if raw[4:8] != b"TFL3":
        raise ArtifactError(f"{tflite_in}: not a TFLite flatbuffer (identifier {raw[4:8]!r}, expected b'TFL3')")
    tokens = _read_vocab(Path(vocab_file))
    if vocab_size is not None and len(tokens) != int(vocab_size):
        raise ArtifactError(f"{vocab_file} has {len(tokens)} tokens but the model's embedding has {vocab_size} rows; "
                            f"write the vocabulary of this model's own tokenizer (a pruned vocabulary renumbers ids)")
    labels = [str(x) for x in label_names or []]
    model = flatbuffer_utils.read_model_from_bytearray(raw)
    _serving_default_only(model)
    _check_inputs(model, schema)
    names = _input_tensor_names(model)
    probabilities, files = head.prepare(model, schema, labels, probabilities)
    sg = model.subgraphs[0]
    out_md = head.output_md(mi, schema, _name(sg.tensors[sg.outputs[0]].name), probabilities)
    what = ("Classifies a text into " + ", ".join(labels)) if labels else "Embeds a text"
    general = {"name": name or head.default_name, "version": version, "author": "edgeport",
               "description": description or what + " (edgeport export; BERT WordPiece tokenizer)."}
    _set_metadata(model, schema, _metadata_buffer(model, schema, mfb, mi, names, out_md, general))
    blob = _serialize(model, schema, flatbuffer_utils)
    # Associated files: an uncompressed zip appended to the model, as MediaPipe's MetadataPopulator writes it.
    with io.BytesIO() as stream:
        stream.write(blob)
        with zipfile.ZipFile(stream, "a", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(VOCAB_FILE, "".join(t + "\n" for t in tokens))
            for file_name, text in files.items():
                zf.writestr(file_name, text)
        data = stream.getvalue()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out_path)
    return out_path


def read_mediapipe_metadata(path) -> dict:
    """What a MediaPipe-ready file carries: metadata summary, packed files and the model's I/O (for checks)."""
    mfb, _ = _require_mediapipe()
    schema, _ = _require_litert()
    raw = Path(path).read_bytes()
    model = schema.Model.GetRootAs(raw, 0)
    meta_buf = None
    for i in range(model.MetadataLength()):
        if _name(model.Metadata(i).Name()) == METADATA_NAME:
            meta_buf = model.Buffers(model.Metadata(i).Buffer()).DataAsNumpy().tobytes()
    if meta_buf is None:
        raise ArtifactError(f"{path}: no {METADATA_NAME} metadata; write it with edgeport.apps.mediapipe")
    md = mfb.ModelMetadataT.InitFromObj(mfb.ModelMetadata.GetRootAs(meta_buf, 0))
    sub = md.subgraphMetadata[0]
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        files = {n: zf.getinfo(n).file_size for n in zf.namelist()}
        compressed = [n for n in zf.namelist() if zf.getinfo(n).compress_type != zipfile.ZIP_STORED]
        labels = zf.read(LABELS_FILE).decode("utf-8").splitlines() if LABELS_FILE in files else []
    sg = model.Subgraphs(0)
    return {
        "name": _name(md.name), "min_parser_version": _name(md.minParserVersion),
        "inputs": [_name(t.name) for t in sub.inputTensorMetadata],
        "input_tensors": [_name(sg.Tensors(sg.Inputs(i)).Name()) for i in range(sg.InputsLength())],
        "tokenizer": [p.optionsType for p in sub.inputProcessUnits or []] == [
            mfb.ProcessUnitOptions.BertTokenizerOptions] and "BertTokenizer" or None,
        "vocab_file": _name(sub.inputProcessUnits[0].options.vocabFile[0].name) if sub.inputProcessUnits else None,
        "outputs": [_name(t.name) for t in sub.outputTensorMetadata],
        "output_tensor": _name(sg.Tensors(sg.Outputs(0)).Name()),
        "label_file": [_name(f.name) for f in sub.outputTensorMetadata[0].associatedFiles or []],
        "labels": labels, "files": files, "compressed_files": compressed,
        "offset_buffers": sum(1 for i in range(model.BuffersLength()) if model.Buffers(i).Offset() > 1),
        "size_bytes": len(raw),
    }


# ------------------------------------------------------------------------------------------ artifacts


def write_for_artifact(artifact, out_path, *, probabilities: bool = True) -> Path:
    """MediaPipe-ready copy of an edgeport TFLite artifact (its directory or model file): vocabulary from the
    artifact's own tokenizer, labels from ``artifact.json``, the head from its ``output`` (``HEADS``: a classifier's
    logits for TextClassifier, a sentence embedding for TextEmbedder). Writes ``out_path`` (a ``.tflite``)."""
    from ..runtimes.common import artifact_meta, model_file
    from ..runtimes.text import artifact_tokenizer

    file = model_file(Path(artifact))
    if file.suffix != ".tflite":
        raise ArtifactError(f"{file}: MediaPipe runs TFLite models; pick a tflite-fp32, tflite-int8 or tflite-w4 "
                            f"artifact")
    meta = artifact_meta(file)
    output = meta.get("output", "logits")  # sidecars written before the task registry are classifiers'
    _head(output)
    tokenizer = artifact_tokenizer(file)
    check_tokenizer(tokenizer)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    vocab = out_path.with_name(VOCAB_FILE)
    vocab.write_text(vocab_text(tokenizer), encoding="utf-8")
    labels = meta.get("label_names") or []
    vocab_size = (meta.get("model_shapes") or {}).get("vocab_size")
    what = (f"labels: {', '.join(labels)}" if labels else
            f"{meta.get('task')}: {meta.get('pooling')} pooling, normalize {meta.get('normalize')} (in the graph)")
    desc = (f"edgeport {meta.get('format')}-{meta.get('precision')} ({meta.get('quantization') or 'float'}), "
            f"source stage {meta.get('source_stage')}, seq_len {meta.get('seq_len')}; {what}")
    return write_mediapipe_metadata(file, out_path, vocab, labels, probabilities=probabilities,
                                    vocab_size=vocab_size, description=desc, output=output,
                                    version=f"{meta.get('format')}-{meta.get('precision')}")


# ------------------------------------------------------------------------------------------ agreement check


def _softmax(x: np.ndarray) -> np.ndarray:
    import numpy as np

    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def mediapipe_scores(tflite_with_meta, texts: list[str], probabilities: bool = True) -> tuple[np.ndarray, list]:
    """MediaPipe TextClassifier scores ``[rows, classes]`` (by category index) and the top category names."""
    import numpy as np

    try:
        from mediapipe.tasks.python.core.base_options import BaseOptions
        from mediapipe.tasks.python.text import text_classifier as tc
    except ImportError as exc:
        raise MissingExtraError("mediapipe", MEDIAPIPE_EXTRA) from exc
    options = tc.TextClassifierOptions(base_options=BaseOptions(model_asset_path=str(tflite_with_meta)),
                                       max_results=-1, score_threshold=None if probabilities else -3.0e38)
    try:
        classifier = tc.TextClassifier.create_from_options(options)
    except Exception as exc:  # MediaPipe raises ValueError/RuntimeError with its C++ status text
        raise ArtifactError(f"{tflite_with_meta}: MediaPipe TextClassifier cannot load it: {exc}") from None
    scores, top = [], []
    try:
        for text in texts:
            cats = classifier.classify(text).classifications[0].categories
            row = [math.nan] * len(cats)
            for c in cats:
                row[c.index] = c.score
            scores.append(row)
            top.append(max(cats, key=lambda c: c.score).category_name)
    finally:
        classifier.close()
    return np.asarray(scores, dtype=np.float64), top


def mediapipe_agreement(tflite_with_meta, artifact_dir, texts: list[str], labels: list[int] | None = None,
                        atol: float | None = None, threads: int = 1, max_examples: int = 5) -> dict:
    """MediaPipe's TextClassifier on ``tflite_with_meta`` vs edgeport's TFLite runner on the artifact
    (``artifact_dir``: its model file, fed by its own tokenizer at its own seq_len), on ``texts``.

    Returns rows, label agreement (count and fraction), max/mean |score difference| (class probabilities; logits
    for a file written with ``probabilities=False``), rows over ``atol`` (default
    ``DEFAULT_SCORE_ATOL``) with a few examples, rows with non-ASCII text, the written file run by edgeport's runner
    (``written_file_max_diff``), whether MediaPipe's category names are the artifact's labels, and each side's
    accuracy when ``labels`` are given."""
    import numpy as np

    from .. import runtimes
    from ..runtimes.common import artifact_meta, model_file
    from ..runtimes.text import artifact_max_len, artifact_tokenizer, encode_rows, pad_batch, pad_token_id

    info = read_mediapipe_metadata(tflite_with_meta)
    probabilities = info["output_tensor"] == PROBS_NAME
    file = model_file(Path(artifact_dir))
    meta = artifact_meta(file)
    names = meta.get("label_names") or info["labels"]
    tokenizer = artifact_tokenizer(file)
    seq_len = artifact_max_len(file)
    with Stopwatch() as mp_clock:
        mp_scores, mp_top = mediapipe_scores(tflite_with_meta, texts, probabilities)
    runner = runtimes.load(file, threads)
    with Stopwatch() as runner_clock:
        logits = []
        rows = encode_rows(tokenizer, texts, None, seq_len)
        for start in range(0, len(rows), 64):
            logits.append(runner(**pad_batch(rows[start:start + 64], width=seq_len,
                                             pad_id=pad_token_id(tokenizer))))
        logits = np.concatenate(logits).astype(np.float64)
    ref = _softmax(logits) if probabilities else logits
    # The written file through edgeport's runner too: separates "the writer changed the model" from "MediaPipe
    # tokenizes differently" (its output is already probabilities when a softmax was appended).
    written = runtimes.load(Path(tflite_with_meta), threads)
    mine = np.concatenate([written(**pad_batch(rows[s:s + 64], width=seq_len, pad_id=pad_token_id(tokenizer)))
                           for s in range(0, len(rows), 64)]).astype(np.float64)
    diff = np.abs(mp_scores - ref).max(-1)
    mp_label, ref_label = mp_scores.argmax(-1), ref.argmax(-1)
    atol = DEFAULT_SCORE_ATOL if atol is None else atol
    over = np.flatnonzero(~(diff <= atol))
    non_ascii = np.array([any(ord(c) > 127 for c in t) for t in texts], dtype=bool)
    result = {
        "model": str(tflite_with_meta), "artifact": str(file), "precision": meta.get("precision"),
        "rows": len(texts), "seq_len": seq_len, "scores": "probabilities" if probabilities else "logits",
        "label_agreement_count": int((mp_label == ref_label).sum()),
        "label_agreement": float((mp_label == ref_label).mean()) if len(texts) else math.nan,
        "max_score_diff": float(diff.max()) if len(texts) else 0.0,
        "mean_score_diff": float(diff.mean()) if len(texts) else 0.0,
        "atol": atol, "rows_over_atol": len(over),
        "non_ascii_rows": int(non_ascii.sum()), "non_ascii_rows_over_atol": int(non_ascii[over].sum()),
        "max_score_diff_ascii_rows": float(diff[~non_ascii].max()) if (~non_ascii).any() else 0.0,
        "written_file_max_diff": float(np.abs(mine - ref).max()) if len(texts) else 0.0,
        "category_names_match": all(n == names[int(i)] for n, i in zip(mp_top, mp_label)) if names else None,
        "examples_over_atol": [{"row": int(i), "text": texts[i], "diff": round(float(diff[i]), 6),
                                "mediapipe": [round(float(x), 6) for x in mp_scores[i]],
                                "runner": [round(float(x), 6) for x in ref[i]]} for i in over[:max_examples]],
        "mediapipe_ms_per_row": 1000 * mp_clock.seconds / max(len(texts), 1),
        "runner_ms_per_row": 1000 * runner_clock.seconds / max(len(texts), 1),
    }
    if labels is not None:
        y = np.asarray(labels)
        result["accuracy_mediapipe"] = float((mp_label == y).mean())
        result["accuracy_runner"] = float((ref_label == y).mean())
    return result


def mediapipe_embeddings(tflite_with_meta, texts: list[str], l2_normalize: bool = False, quantize: bool = False):
    """MediaPipe TextEmbedder vectors ``[rows, D]`` (float64 copy), the ``Embedding`` objects (for its own
    ``cosine_similarity``) and the head names it reported. ``l2_normalize`` is off by default: edgeport's graph
    already ends in the L2 norm (MediaPipe's docs: use the option only for a model without one), so MediaPipe's
    vector is the model's output as it is."""
    import numpy as np

    try:
        from mediapipe.tasks.python.core.base_options import BaseOptions
        from mediapipe.tasks.python.text import text_embedder as te
    except ImportError as exc:
        raise MissingExtraError("mediapipe", MEDIAPIPE_EXTRA) from exc
    options = te.TextEmbedderOptions(base_options=BaseOptions(model_asset_path=str(tflite_with_meta)),
                                     l2_normalize=l2_normalize, quantize=quantize)
    try:
        embedder = te.TextEmbedder.create_from_options(options)
    except Exception as exc:  # MediaPipe raises ValueError/RuntimeError with its C++ status text
        raise ArtifactError(f"{tflite_with_meta}: MediaPipe TextEmbedder cannot load it: {exc}") from None
    found, heads = [], set()
    try:
        for text in texts:
            embeddings = embedder.embed(text).embeddings
            if len(embeddings) != 1:
                raise ArtifactError(f"MediaPipe returned {len(embeddings)} embedding heads; expected one")
            found.append(embeddings[0])
            heads.add(embeddings[0].head_name)
    finally:
        embedder.close()
    vectors = np.asarray([np.asarray(e.embedding, dtype=np.float64) for e in found]).reshape(len(found), -1)
    return vectors, found, sorted(h or "" for h in heads)


def embedding_agreement(tflite_with_meta, artifact_dir, texts: list[str], pairs: list[str] | None = None,
                        scores: list[float] | None = None, min_cosine: float | None = None, threads: int = 1,
                        max_examples: int = 5) -> dict:
    """MediaPipe's TextEmbedder on ``tflite_with_meta`` vs edgeport's runner (``runtimes.text.predict``: each text
    alone, unpadded, as the app and validate run it) on the artifact, for every sentence of ``texts`` (+ ``pairs``).

    Returns per-sentence cosine(MediaPipe, runner) (min/mean, sentences below ``min_cosine``, default
    ``DEFAULT_MIN_COSINE``, with examples), MediaPipe's vector norms, the same cosine against the artifact run at
    the export length (``padded_min_cosine``: exactly MediaPipe's input, so it isolates the tokenizer from the
    padding), the head name; with ``pairs``, each pair's similarity by MediaPipe's ``cosine_similarity`` vs by
    edgeport's (``tasks.vectors.cosine``) and, with ``scores``, each side's Spearman with them."""
    import numpy as np

    from .. import runtimes
    from ..runtimes.common import model_file
    from ..runtimes.text import artifact_max_len, artifact_tokenizer, encode_rows, pad_batch, pad_token_id, predict
    from ..tasks.vectors import cosine, spearman

    file = model_file(Path(artifact_dir))
    sentences = list(texts) + list(pairs or [])
    with Stopwatch() as mp_clock:
        mp, mp_emb, heads = mediapipe_embeddings(tflite_with_meta, sentences)
    with Stopwatch() as runner_clock:
        ref = np.asarray([r["embedding"] for r in predict(file, sentences, threads=threads)], dtype=np.float64)
    tokenizer, seq_len = artifact_tokenizer(file), artifact_max_len(file)
    runner = runtimes.load(file, threads)
    padded = np.concatenate([runner(**pad_batch([row], width=seq_len, pad_id=pad_token_id(tokenizer)))
                             for row in encode_rows(tokenizer, sentences, None, seq_len)]).astype(np.float64)
    cos, cos_padded = np.atleast_1d(cosine(mp, ref)), np.atleast_1d(cosine(mp, padded))
    min_cosine = DEFAULT_MIN_COSINE if min_cosine is None else min_cosine
    below = np.flatnonzero(~(cos >= min_cosine))
    norms = np.linalg.norm(mp, axis=-1)
    non_ascii = np.array([any(ord(c) > 127 for c in t) for t in sentences], dtype=bool)
    diff = np.abs(mp - ref).max(-1) if len(sentences) else np.zeros(0)
    result = {
        "model": str(tflite_with_meta), "artifact": str(file), "sentences": len(sentences), "seq_len": seq_len,
        "dim": int(mp.shape[-1]) if len(sentences) else 0, "head_names": heads,
        "min_cosine": float(cos.min()) if len(sentences) else math.nan,
        "mean_cosine": float(cos.mean()) if len(sentences) else math.nan,
        "max_abs_diff": float(np.abs(mp - ref).max()) if len(sentences) else 0.0,
        "padded_min_cosine": float(cos_padded.min()) if len(sentences) else math.nan,
        "padded_max_abs_diff": float(np.abs(mp - padded).max()) if len(sentences) else 0.0,
        "norm_min": float(norms.min()) if len(sentences) else math.nan,
        "norm_max": float(norms.max()) if len(sentences) else math.nan,
        "tolerance_min_cosine": min_cosine, "sentences_below": len(below),
        "non_ascii_sentences": int(non_ascii.sum()), "non_ascii_below": int(non_ascii[below].sum()),
        "max_abs_diff_ascii": float(diff[~non_ascii].max()) if (~non_ascii).any() else 0.0,
        "examples_below": [{"row": int(i), "text": sentences[i], "cosine": float(cos[i])}
                           for i in below[:max_examples]],
        "mediapipe_ms_per_sentence": 1000 * mp_clock.seconds / max(len(sentences), 1),
        "runner_ms_per_sentence": 1000 * runner_clock.seconds / max(len(sentences), 1),
    }
    if pairs is not None:
        from mediapipe.tasks.python.text.text_embedder import TextEmbedder

        n = len(texts)
        if len(pairs) != n:
            raise ValueError(f"{n} texts but {len(pairs)} pairs")
        mp_sim = np.asarray([TextEmbedder.cosine_similarity(mp_emb[i], mp_emb[n + i]) for i in range(n)])
        ref_sim = np.atleast_1d(cosine(ref[:n], ref[n:]))
        result |= {"pairs": n, "pair_similarity_max_diff": float(np.abs(mp_sim - ref_sim).max()) if n else 0.0,
                   "pair_similarity_mean_diff": float(np.abs(mp_sim - ref_sim).mean()) if n else 0.0}
        if scores is not None and n >= 2:
            result |= {"spearman_mediapipe": spearman(mp_sim, scores), "spearman_runner": spearman(ref_sim, scores)}
    return result


def pre_normalize(text: str) -> str:
    """What an app can do before ``classify()`` so MediaPipe sees what Hugging Face's uncased ``BertNormalizer``
    produces: control characters dropped, any whitespace a space, Unicode lowercase, accents stripped (NFD, drop
    ``Mn``). Kotlin: ``Normalizer.normalize(s.lowercase(), Normalizer.Form.NFD).replace(Regex("\\p{Mn}+"), "")``
    plus the same control/space mapping."""
    out = []
    for c in text:  # tokenizers' BertNormalizer clean_text: drop NUL, U+FFFD and C* but tab/CR/LF; spaces -> " "
        cat = unicodedata.category(c)
        if c in "\t\n\r" or cat in ("Zs", "Zl", "Zp"):
            out.append(" ")
        elif c not in ("\x00", "\ufffd") and not cat.startswith("C"):
            out.append(c)
    return "".join(c for c in unicodedata.normalize("NFD", "".join(out).lower()) if unicodedata.category(c) != "Mn")


# ------------------------------------------------------------------------------------------ CLI


def main(args) -> int:
    """``edgeport mediapipe RUN_DIR [--artifact tflite-int8] [--out PATH] [--logits] [--check-rows N]
    [--accept-inconclusive]``.

    Only an artifact that may ship is taken (``edgeport.apps.shipping``: the bytes validate judged, verdict ``pass``, or
    ``inconclusive`` with accept_inconclusive); anything else is refused (exit 2) before anything is written.
    ``args``: run_dir, artifact (default: the run's quantized TFLite artifact, ``shipping.quantized_tflite``), out
    (default ``RUN_DIR/mediapipe/<artifact>/model.tflite``), logits (bool: a classifier keeps raw logits as
    scores), check_rows (eval rows to check with MediaPipe; 0 = none; needs the run's data). The artifact's
    sidecar ``output`` picks the head (``HEADS``: TextClassifier or TextEmbedder) and its check. Writes the model,
    ``vocab.txt`` beside it and, when checked, ``check.json``. Returns 1 when the check fails (the head's
    ``check``)."""
    from ..pipeline.manifest import Manifest
    from ..runtimes.common import artifact_meta
    from .shipping import check_bytes, quantized_tflite, ship_artifact
    from ..tasks import TASKS

    run_dir = Path(args.run_dir)
    name = getattr(args, "artifact", None) or quantized_tflite(run_dir)  # tflite-int8, or tflite-w4
    config = Manifest.load(run_dir).data.get("config") or {}
    data = (config or {}).get("data") or {}
    pair, task = data.get("text_pair_column"), data.get("task") or "sequence-classification"
    if pair and TASKS[task].pair_inputs:
        raise ConfigError([f"data.text_pair_column is {pair!r}: MediaPipe's TextClassifier classifies one text "
                           f"(segment ids all 0), so a sentence-pair model cannot be served by it"])
    shipment = ship_artifact(run_dir, name, bool(getattr(args, "accept_inconclusive", False)))
    model = shipment.path
    head = _head(artifact_meta(model).get("output", "logits"))
    out = Path(getattr(args, "out", None) or run_dir / "mediapipe" / name / "model.tflite")
    path = write_for_artifact(model.parent, out, probabilities=not getattr(args, "logits", False))
    try:
        check_bytes(shipment, model)  # the source the writer read is still what validate judged
    except Exception:
        path.unlink(missing_ok=True)
        raise
    print(shipment.summary())
    info = read_mediapipe_metadata(path)
    what = f"{len(info['labels'])} labels" if info["labels"] else f"output {', '.join(info['outputs'])}"
    print(f"wrote {path} for MediaPipe {head.api} ({info['size_bytes'] / 1e6:.1f} MB; {what}, "
          f"{info['tokenizer']} with {info['vocab_file']})")
    rows = int(getattr(args, "check_rows", 0) or 0)
    return head.check(path, model, run_dir, config, rows) if rows else 0


def _check_classifier(path: Path, model: Path, run_dir: Path, config: dict, rows: int) -> int:
    """The first ``rows`` eval rows through MediaPipe's TextClassifier and edgeport's runner. Judged on the text as
    an app following the README sends it (pre_normalize); raw text is reported too: there, rows needing Unicode
    normalization (accents) may differ, the documented limit. 1 when a row is over tolerance on pre-normalized
    text, an ASCII-only row over it on raw text, or category names are not the artifact's labels."""
    split = _eval_split(run_dir, config, rows)
    texts, labels = split.texts, split.labels
    raw = mediapipe_agreement(path, model.parent, texts, labels)
    norm = mediapipe_agreement(path, model.parent, [pre_normalize(t) for t in texts], labels)
    (path.parent / "check.json").write_text(json.dumps({"raw_text": raw, "pre_normalize": norm}, indent=2,
                                                       ensure_ascii=False) + "\n")
    for what, r in (("raw text", raw), ("pre_normalize", norm)):
        print(f"MediaPipe vs edgeport runner, {r['rows']} rows, {what}: labels agree "
              f"{r['label_agreement_count']}/{r['rows']}, max |score diff| {r['max_score_diff']:.2e} "
              f"(tolerance {r['atol']:g}; {r['rows_over_atol']} rows over, {r['non_ascii_rows_over_atol']} of "
              f"them non-ASCII); accuracy MediaPipe {r['accuracy_mediapipe']:.2%}, runner "
              f"{r['accuracy_runner']:.2%}")
    if norm["rows_over_atol"] or raw["max_score_diff_ascii_rows"] > raw["atol"] or not raw["category_names_match"]:
        print("MediaPipe disagrees with edgeport's runner beyond the documented Unicode limit: see check.json")
        return 1
    return 0


def _check_embedder(path: Path, model: Path, run_dir: Path, config: dict, rows: int) -> int:
    """The first ``rows`` eval pairs (both sentences) through MediaPipe's TextEmbedder and edgeport's runner, on
    pre-normalized text (as an app following the README sends it; raw text is reported too, as for the
    classifier). 1 when a pre-normalized sentence's cosine(MediaPipe, runner) is under the tolerance, an ASCII-only
    one is under it on raw text, or MediaPipe's head is not named ``embedding``."""
    split = _eval_split(run_dir, config, rows)
    pairs = split.pairs or None
    scores = [float(x) for x in split.labels] if pairs and split.labels else None
    raw = embedding_agreement(path, model.parent, split.texts, pairs, scores)
    norm = embedding_agreement(path, model.parent, [pre_normalize(t) for t in split.texts],
                               [pre_normalize(t) for t in pairs] if pairs else None, scores)
    (path.parent / "check.json").write_text(json.dumps({"raw_text": raw, "pre_normalize": norm}, indent=2,
                                                       ensure_ascii=False) + "\n")
    for what, r in (("raw text", raw), ("pre_normalize", norm)):
        line = (f"MediaPipe vs edgeport runner, {r['sentences']} sentences, {what}: cosine min 1 - "
                f"{1 - r['min_cosine']:.1e}, mean 1 - {1 - r['mean_cosine']:.1e} (tolerance "
                f"{r['tolerance_min_cosine']:g}; {r['sentences_below']} below, {r['non_ascii_below']} of them "
                f"non-ASCII), max |diff| {r['max_abs_diff']:.1e}")
        if "pairs" in r:
            line += f"; {r['pairs']} pairs: max |similarity diff| {r['pair_similarity_max_diff']:.2e}"
        if "spearman_mediapipe" in r:
            line += f", Spearman MediaPipe {r['spearman_mediapipe']:.4f} runner {r['spearman_runner']:.4f}"
        print(line)
    ascii_below = raw["sentences_below"] - raw["non_ascii_below"]
    if norm["sentences_below"] or ascii_below or raw["head_names"] != [EMBEDDING_NAME]:
        print("MediaPipe disagrees with edgeport's runner beyond the documented Unicode limit: see check.json")
        return 1
    return 0


HEADS.update({
    "logits": Head("TextClassifier", _prepare_classifier, _classifier_md, _check_classifier,
                   "edgeport text classifier"),
    "embedding": Head("TextEmbedder", _prepare_embedder, _embedder_md, _check_embedder, "edgeport sentence embedder"),
})


def register(sub) -> None:
    p = sub.add_parser("mediapipe", help="write MediaPipe TextClassifier (or, for a sentence-embedding artifact, "
                                         "TextEmbedder) metadata into a TFLite artifact and check it with MediaPipe")
    p.add_argument("run_dir", help="a run directory whose validate stage passed a TFLite artifact")
    p.add_argument("--artifact", help=TFLITE_HELP)
    p.add_argument("--out", help="output .tflite (default: RUN_DIR/mediapipe/<artifact>/model.tflite)")
    p.add_argument("--logits", action="store_true",
                   help="classifier: keep raw logits as scores (default: softmax probabilities)")
    p.add_argument("--accept-inconclusive", action="store_true", help=ACCEPT_HELP)
    p.add_argument("--check-rows", type=int, default=0, metavar="N",
                   help="classify (embed: both sentences of) the first N eval rows with MediaPipe and compare "
                        "with edgeport's runner")
    p.set_defaults(fn=main)


def _eval_split(run_dir: Path, config: dict, limit: int):
    """The run's eval split (local TSV/CSV/JSONL through edgeport.data), first ``limit`` rows (texts, pairs when
    the task has them, labels: class ids or pair scores)."""
    from ..config import PipelineConfig
    from ..data import load_task

    cfg = PipelineConfig.model_validate(config)
    split = load_task(cfg.data, seed=cfg.run.seed).eval
    return split.head(limit)


__all__ = [
    "HEADS",
    "check_tokenizer",
    "embedding_agreement",
    "main",
    "mediapipe_agreement",
    "mediapipe_embeddings",
    "mediapipe_scores",
    "pre_normalize",
    "read_mediapipe_metadata",
    "register",
    "vocab_text",
    "write_for_artifact",
    "write_mediapipe_metadata",
]
