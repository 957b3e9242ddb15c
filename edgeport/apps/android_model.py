"""The TFLite file as the Android app addresses it, read with the LiteRT interpreter (no torch).

Per signature (one per length bucket: ``serving_default`` the longest, ``seq_<N>`` the others) the app needs its
sequence length, its input names and *its own* output: name, element type and, for an int8 output (a
``quantize.tflite: full_integer`` model), the scale and zero point that turn the int8 values into logits. LiteRT's
Kotlin API exposes neither the quantization parameters nor (before a buffer is read) the element type, so they are
read here and written into labels.json (``signature_outputs``); the app dequantizes ``(q - zero_point) * scale``, as
``edgeport.runtimes.tflite`` does. Each signature's output carries its own parameters (measured on a bucketed
full-integer file: scales 0.0061, 0.0076 and 0.0131 for three buckets), so one signature's cannot stand for another's.

A model of several outputs (question answering's start and end logits: artifact.json's ``outputs``) gives each
signature's outputs as a list, in the torch module's order (litert-torch's ``output_0, output_1, ...``, ordered as
``edgeport.runtimes.tflite`` orders them); the app reads them one after the other into one array.

Refused here, with the reason, rather than read as garbage on the phone: an input that is not int32 (the app writes
``writeInt``), another number of outputs than the artifact records, an output that is neither float32 nor
per-tensor int8, an int8 output of a model of several outputs (only the dynamic INT8 mode, float outputs, is built
for them).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ArtifactError

KEYS = ("input_ids", "attention_mask", "token_type_ids")
SIGNATURE = "serving_default"


def _runners(model_path: Path) -> dict:
    from ..runtimes.tflite import _interpreter_class

    interp = _interpreter_class()(model_path=str(model_path))
    return {key: interp.get_signature_runner(key) for key in interp.get_signature_list()}


def output_spec(model_path: Path, key: str, details: dict) -> dict:
    """labels.json's description of one signature's output (``{name: details}``, as LiteRT lists them)."""
    import numpy as np

    if len(details) != 1:
        raise ArtifactError(f"{model_path}: signature '{key}' has {len(details)} outputs {sorted(details)}; the app "
                            f"reads one (the logits)")
    name, d = next(iter(details.items()))
    dtype = np.dtype(d["dtype"]).name
    if dtype == "float32":
        return {"name": name, "dtype": "float32"}
    scales = [float(x) for x in (d.get("quantization_parameters") or {}).get("scales", [])]
    zeros = [int(x) for x in (d.get("quantization_parameters") or {}).get("zero_points", [])]
    if dtype == "int8" and len(scales) == 1 and len(zeros) == 1 and scales[0] > 0:
        return {"name": name, "dtype": "int8", "scale": scales[0], "zero_point": zeros[0]}
    raise ArtifactError(f"{model_path}: signature '{key}' outputs {dtype} (quantization scales {scales}); the app "
                        f"reads float32 logits, or int8 logits with one scale and zero point that it dequantizes. "
                        f"Re-export with quantize.tflite: dynamic (float output) or full_integer")


def output_specs(model_path: Path, key: str, details: dict, outputs: int) -> list[dict]:
    """labels.json's list of one signature's ``outputs`` outputs (a model of several), in the torch module's order;
    float32 only."""
    from ..runtimes.tflite import _output_order

    if len(details) != outputs:
        raise ArtifactError(f"{model_path}: signature '{key}' has {len(details)} outputs {sorted(details)}; the "
                            f"artifact records {outputs}; re-export it with edgeport")
    specs = [output_spec(model_path, key, {name: d}) for name, d in
             sorted(details.items(), key=lambda item: _output_order(item[0]))]
    odd = [s["name"] for s in specs if s["dtype"] != "float32"]
    if odd:
        raise ArtifactError(f"{model_path}: signature '{key}' outputs {odd} as int8; the app reads the float32 outputs "
                            f"of a model of several outputs (quantize.tflite: dynamic)")
    return specs


def _signature(model_path: Path, key: str, runner, outputs: int = 1) -> dict:
    import numpy as np

    inputs = runner.get_input_details()
    missing = [k for k in ("input_ids", "attention_mask") if k not in inputs]
    if missing:
        raise ArtifactError(f"{model_path}: signature '{key}' has no input {missing}; found {list(inputs)}")
    wrong = {n: np.dtype(d["dtype"]).name for n, d in inputs.items() if np.dtype(d["dtype"]) != np.int32}
    if wrong:
        raise ArtifactError(f"{model_path}: signature '{key}' takes {wrong}; the app writes int32 token ids. "
                            f"Re-export the artifact with edgeport")
    details = runner.get_output_details()
    return {"key": key, "seq_len": int(inputs["input_ids"]["shape"][1]), "inputs": sorted(inputs),
            "output": output_spec(model_path, key, details) if outputs == 1 else
            output_specs(model_path, key, details, outputs)}


def model_io(model_path: Path, outputs: int = 1) -> dict:
    """labels.json's model fields: the longest signature, input names by role, its output name, ``seq_len``, the
    length buckets with their signature keys, and every signature's own output (``signature_outputs``; a list of
    ``outputs`` outputs per signature for a model of several)."""
    sigs = [_signature(model_path, k, r, outputs) for k, r in _runners(model_path).items()]
    by_key = {s["key"]: s for s in sigs}
    if SIGNATURE not in by_key:
        raise ArtifactError(f"{model_path}: no '{SIGNATURE}' signature (signatures: {sorted(by_key)}); re-export it "
                            f"with edgeport")
    main = by_key[SIGNATURE]
    lengths = sorted(s["seq_len"] for s in sigs)
    if len(set(lengths)) != len(lengths) or lengths[-1] != main["seq_len"]:
        raise ArtifactError(f"{model_path}: signature lengths {lengths} are not one bucket each with '{SIGNATURE}' the "
                            f"longest; re-export it with edgeport")
    odd = [s["key"] for s in sigs if s["inputs"] != main["inputs"]]
    if odd:  # the app addresses every bucket's inputs by the names labels.json gives once
        raise ArtifactError(f"{model_path}: signatures {odd} take other inputs than '{SIGNATURE}' ({main['inputs']})")
    first = main["output"][0] if isinstance(main["output"], list) else main["output"]
    return {"signature": SIGNATURE, "inputs": {k: (k if k in main["inputs"] else None) for k in KEYS},
            "output": first["name"], "seq_len": main["seq_len"], "seq_buckets": lengths,
            "bucket_signatures": {str(s["seq_len"]): s["key"] for s in sorted(sigs, key=lambda s: s["seq_len"])},
            "signature_outputs": {s["key"]: s["output"] for s in sigs}}


def signature_caller(model_path: Path):
    """``call(key, inputs)``: the file's signature ``key`` run on ``inputs`` (``{name: [1, n] ids}``, n its length) as
    the app calls it, LiteRT's outputs in the torch module's order (``output_0, output_1, ...``; float32). Needs no
    artifact.json beside the file, which names the outputs for ``edgeport.runtimes.tflite``."""
    import numpy as np

    from ..runtimes.tflite import _output_order

    runners = _runners(model_path)

    def call(key: str, inputs: dict) -> list:
        runner = runners[key]
        out = runner(**{k: np.asarray(inputs[k], dtype=np.int32) for k in runner.get_input_details()})
        return [np.asarray(out[name], dtype=np.float32) for name in sorted(out, key=_output_order)]
    return call


def raw_outputs(model_path: Path, cases: list[dict], io: dict) -> None:
    """Add ``raw_output`` to each golden case whose bucket's signature outputs int8: the values LiteRT returns
    before dequantization (what the app reads with ``readInt8``), run on that bucket as the app runs it. The JVM
    tests dequantize them with labels.json's parameters and must get the case's ``logits``, which come from
    ``edgeport.runtimes.tflite`` (an independent implementation of the same rule)."""
    import numpy as np

    if all(not isinstance(o, dict) or o["dtype"] != "int8" for o in io["signature_outputs"].values()):
        return  # float logits (a model of several outputs has float ones only): golden.json's are what the app reads
    runners = _runners(model_path)
    for case in cases:
        key = io["bucket_signatures"][str(case["bucket"])]
        if io["signature_outputs"][key]["dtype"] != "int8":
            continue
        runner, n = runners[key], case["bucket"]
        feed = {k: np.asarray([case[k][:n]], dtype=np.int32) for k in runner.get_input_details()}
        out = runner(**feed)[io["signature_outputs"][key]["name"]]
        case["raw_output"] = [int(x) for x in np.asarray(out).reshape(-1)]
