"""The task registry: one small declarative entry per task, read by the stages instead of if-chains on the task.

An entry says what the task's rows hold (class labels or similarity scores), what the model outputs and the
artifacts export (``output``: its name and shape), which metrics may choose checkpoints, which rows a model reads
(``inputs``: a pair task's rows are its two sentences one at a time for an embedding model, the pair together for
a classifier), and what the task does not do yet, with the reason (``unsupported``: checked at config load).

The recipes that differ per task (the teacher's and the student's training, the validate gates) are looked up by
the entry's name in one table per stage (``stages/teacher.py`` ``RECIPES``...), so a stage's code fingerprint
holds only its own recipes. Adding a task = an entry here + its recipes (``tasks/embedding.py``,
``tasks/tokens.py``, ``tasks/qa.py``). Extractive QA's model has two outputs (``outputs``: start and end logits);
its rows are questions, each read as one or more windows of question + context (``tasks.squad.windows``).
token-classification's output is per token: ``bench.workload.run_rows`` stacks each row's real tokens, and its
validate gates read each word at its first sub-token (``tasks.tokens.WordRows``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TaskSpec:
    name: str
    summary: str
    labels: str  # "classes" (a label name per row) | "scores" (a float per row: a pair's similarity) | "tags"
    # (an IOB2 tag per word of a sentence: the row's text is its words joined by single spaces) | "spans" (a
    # question's gold answers: spans of its context, SQuAD v1.1)
    output: str  # the exported output: "logits" | "embedding" | "span_logits" (a start and an end score per token)
    output_shape: str  # as the artifacts give it, for the docs and the sidecar
    metrics: tuple[str, ...]  # the data.metric values this task takes; the first is the default
    pair_inputs: bool  # True: a row's text and pair go into the model together (a pair classifier)
    hub_task: tuple[str, str]  # the Hugging Face pipeline tag and its title (model cards)
    noun: str  # what a model of the task is, in cards' titles: "text classifier", ...
    unsupported: dict[str, str] = field(default_factory=dict)  # config key (set truthy) -> why it is refused
    prune_reads_extra_texts: bool = False  # the prune stage's recovery trains on distill.extra_texts too (so its
    # fingerprint holds their bytes)
    outputs: tuple[str, ...] = ("logits",)  # the model's outputs by name (forward(...).<name>), in order
    data_files: tuple[str, ...] = ("tsv", "csv", "jsonl", "parquet")  # a local split is <split>.<one of these>

    @property
    def default_metric(self) -> str:
        return self.metrics[0]


SEQUENCE_CLASSIFICATION = TaskSpec(
    name="sequence-classification",
    summary="a label per text or text pair (SST-2, MRPC, ...)",
    labels="classes", output="logits", output_shape="[1, num_labels]",
    metrics=("accuracy", "f1", "macro_f1", "mcc"), pair_inputs=True,
    hub_task=("text-classification", "Text Classification"), noun="text classifier")

_NOT_YET = "is not built for sentence-embedding yet"
SENTENCE_EMBEDDING = TaskSpec(
    name="sentence-embedding",
    summary="a unit vector per sentence, mean-pooled and L2-normalised in the graph (STS-B; the built-in MiniLM "
            "as sentence-transformers ships it); scored by the Spearman correlation of cosine similarity and gold",
    labels="scores", output="embedding", output_shape="[1, hidden_size]",
    metrics=("spearman",), pair_inputs=False,
    hub_task=("sentence-similarity", "Sentence Similarity"), noun="sentence embedder", prune_reads_extra_texts=True,
    unsupported={
        "pretrain.enabled": f"masked-LM pre-training {_NOT_YET}; set it to false",
        "quantize.qat.enabled": f"quantization-aware training {_NOT_YET}; set it to false",
        "quantize.fallback.enabled": f"the accuracy-aware INT8 fallback judges labels; it {_NOT_YET}; set it to "
                                     f"false",
        "explain.enabled": f"attribution explains a class logit; it {_NOT_YET}; set it to false",
        "distill.student.hidden_size": f"a student narrower than the teacher (its vectors would need a learned "
                                       f"projection to the teacher's) {_NOT_YET}; unset it",
        "distill.hidden_loss_weight": f"hidden-state KD (the student learns the teacher's vectors instead) "
                                      f"{_NOT_YET}; set it to 0",
        "distill.student.model": f"a student model of its own {_NOT_YET}; remove it (the student is built from "
                                 f"the teacher's layers)",
        "distill.augment.mode": f"'on': word-replacement augmentation {_NOT_YET} (distill.extra_texts adds "
                                f"sentences); use auto or off",
        "data.texts": f"unlabelled parity-only texts {_NOT_YET}; use a scored pair dataset (data.local)",
        "teacher.finetune": f"'always': fine-tuning on scored pairs (a cosine-similarity loss) {_NOT_YET}; use "
                            f"auto (the teacher is taken as it ships)",
    })

_NOT_BUILT = "is not built for token-classification yet"
TOKEN_CLASSIFICATION = TaskSpec(
    name="token-classification",
    summary="an IOB2 tag per word (named entities, CoNLL-2003), read from the word's first sub-token; scored by "
            "strict IOB2 entity F1 (seqeval); the artifacts output every token's tag scores",
    labels="tags", output="logits", output_shape="[1, seq, num_tags]",
    metrics=("entity_f1",), pair_inputs=False,
    hub_task=("token-classification", "Token Classification"), noun="token classifier",
    unsupported={
        "pretrain.enabled": f"masked-LM pre-training {_NOT_BUILT}; set it to false",
        "quantize.qat.enabled": f"quantization-aware training (it distils sentence logits) {_NOT_BUILT}; set it to "
                                f"false",
        "quantize.fallback.enabled": f"the accuracy-aware INT8 fallback judges one label per row; it {_NOT_BUILT}; "
                                     f"set it to false",
        "explain.enabled": f"attribution explains one class logit per text; it {_NOT_BUILT}; set it to false",
        "distill.extra_texts": f"unlabelled distillation texts (they would need splitting into words the way the "
                               f"tags were) {_NOT_BUILT}; remove it",
        "distill.augment.mode": f"'on': word-replacement augmentation (the words carry tags) {_NOT_BUILT}; use auto "
                                f"or off",
        "distill.student.model": f"a student model of its own {_NOT_BUILT}; remove it (the student is built from "
                                 f"the teacher's layers)",
        "distill.hidden_loss_weight": f"hidden-state KD {_NOT_BUILT} (the student learns the teacher's per-token "
                                      f"tag distributions); set it to 0",
        "distill.student.hidden_size": f"a student narrower than the teacher {_NOT_BUILT}; unset it",
        "data.texts": f"unlabelled parity-only texts {_NOT_BUILT}; use a tagged JSONL dataset (data.local)",
        "data.hub_id": f"reading a hub dataset {_NOT_BUILT}; point data.local at a directory of JSONL files (a word "
                       f"list and a tag list per line) and set data.hub_id to null",
        "validate.arm_parity": f"'on': ARM parity samples whole rows of one output each; it {_NOT_BUILT}; use auto "
                               f"or off",
    })

_QA_LATER = "is not built for question-answering yet"
QUESTION_ANSWERING = TaskSpec(
    name="question-answering",
    summary="extractive QA (SQuAD v1.1): the answer to a question is a span of its context, read from a start and "
            "an end score per token of question + context windows; scored by the official v1.1 F1 and exact match",
    labels="spans", output="span_logits", output_shape="[1, seq] each (start_logits, end_logits)",
    outputs=("start_logits", "end_logits"), metrics=("squad_f1", "squad_em"), pair_inputs=True,
    hub_task=("question-answering", "Question Answering"), noun="question answering model",
    data_files=("json",),
    unsupported={
        "pretrain.enabled": f"masked-LM pre-training {_QA_LATER}; set it to false",
        "validate.arm_parity": f"'on': ARM parity samples rows of one output each; it {_QA_LATER}; use auto or off",
        "quantize.qat.enabled": f"quantization-aware training {_QA_LATER}; set it to false",
        "quantize.fallback.enabled": f"the accuracy-aware INT8 fallback judges labels; it {_QA_LATER}; set it to "
                                     f"false",
        **{f"quantize.{fmt}": f"only the dynamic INT8 mode is built for question-answering (the calibrated and 4-bit "
                              f"modes read class rows or are not checked on two outputs); use quantize.{fmt}: dynamic"
           for fmt in ("torchscript", "onnx", "tflite", "executorch")},
        "explain.enabled": f"attribution {_QA_LATER}; set it to false",
        "distill.extra_texts": f"unlabelled distillation texts (they would need contexts to be cut into windows "
                               f"with questions) {_QA_LATER}; remove it",
        "distill.augment.mode": f"'on': word-replacement augmentation (answers are spans of the context) "
                                f"{_QA_LATER}; use auto or off",
        "distill.student.model": f"a student model of its own {_QA_LATER}; remove it (the student is built from the "
                                 f"teacher's layers)",
        "distill.hidden_loss_weight": f"hidden-state KD {_QA_LATER} (the student learns the teacher's start and end "
                                      f"distributions); set it to 0",
        "distill.student.hidden_size": f"a student narrower than the teacher {_QA_LATER}; unset it",
        "data.texts": f"unlabelled parity-only texts {_QA_LATER}; point data.local at a directory of SQuAD v1.1 "
                      f"JSON files",
        "data.hub_id": f"reading a hub dataset {_QA_LATER}; point data.local at a directory of SQuAD v1.1 JSON files "
                       f"(<split>.json) and set data.hub_id to null",
    })

TASKS: dict[str, TaskSpec] = {t.name: t for t in (SEQUENCE_CLASSIFICATION, SENTENCE_EMBEDDING, TOKEN_CLASSIFICATION,
                                                   QUESTION_ANSWERING)}


def config_problems(task: str, values: dict[str, object], metric: str | None) -> list[str]:
    """What a config asks of ``task`` that it does not do: each truthy ``values[key]`` the task marks unsupported,
    and a ``data.metric`` it does not take. ``values``: config key -> the value set."""
    spec = TASKS[task]
    problems = [f"{key}: {why}" for key, why in spec.unsupported.items() if values.get(key)]
    if metric is not None and metric not in spec.metrics:
        problems.append(f"data.metric {metric} is not a {task} metric; use one of {', '.join(spec.metrics)}")
    return problems
