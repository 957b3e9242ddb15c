"""edgeport from Python, notebook-style: run a pipeline, read an artifact's accuracy with its split and its gate
state, predict with it, estimate its latency on a phone profile.

    EDGEPORT_DATA_DIR=../shared/data python examples/python_api.py            # the quick config (a few minutes)
    python examples/python_api.py my.yaml -o run.name=demo                   # any config, any overrides
"""

import sys

import edgeport
from edgeport.api import EdgeportError, GateError, State

config = sys.argv[1] if len(sys.argv) > 1 else "quick"
overrides = [a for a in sys.argv[2:] if a != "-o"]

try:
    run = edgeport.run(config, overrides)
except GateError as err:  # every result is written; the run is still there to read
    print(err)
    run = err.run
except EdgeportError as err:  # bad input: the message says what to fix
    sys.exit(f"edgeport: {err}")

for name, stage in run.stages.items():
    print(f"{name:<10} {stage.status:<8} {stage.seconds or 0:7.1f} s")

for name, art in run.artifacts.items():
    acc = art.accuracy
    shown = f"{acc.value:.2%} on {acc.split} ({acc.rows} rows)" if acc else "not validated"
    print(f"{name:<18} {shown:<32} verdict {art.verdict.value if art.verdict else art.problem}")

best = next((a for a in run.artifacts.values() if a.precision == "int8" and a.verdict is State.PASS),
            None)
if best is not None:
    for text, out in zip(["a gripping, beautifully acted film", "a dull and lifeless mess"],
                         best.predict(["a gripping, beautifully acted film", "a dull and lifeless mess"])):
        print(f"{best.name}: {text!r} -> {out['label']} {out['probs']}")
    # latency on a device profile: no phone is attached, so this is the roofline estimate, labelled as such
    phone = edgeport.benchmark(best, "android-lowend", measure_host=False)
    print(f"{best.name} on android-lowend: p90 {phone.latency().p90_ms} ms ({phone.kind}), "
          f"{phone.size_bytes / 1e6:.2f} MB, within budgets: {phone.within_budgets}")
