"""The aim check: chosen tflite w4 (Linear block 32, int4 tables per 64) vs the run's tflite INT8, SST-2 validation."""
import json, shutil, tempfile, time
from pathlib import Path
import numpy as np, torch
torch.set_num_threads(1)
from edgeport import runtimes
from edgeport.config import PipelineConfig
from edgeport.data import load_task
from edgeport.exporters import QuantizeRequest, get_exporter
from edgeport.pipeline.manifest import Manifest
from edgeport.stats import paired_drop
from edgeport.validation import artifact_logits
from edgeport.bench.host import measure_latency, tokenizer_feed
run = Path('/work/main/runs/default'); m = Manifest.load(run); cfg = PipelineConfig.model_validate(m.data['config'])
task = load_task(cfg.data, seed=cfg.run.seed); ev = task.eval; lab = np.asarray(ev.labels)
src = run/'export/tflite-fp32/model.tflite'; int8 = run/'quantize/tflite-int8/model.tflite'
out = Path(tempfile.mkdtemp())/'a'; shutil.copytree(src.parent, out, ignore=shutil.ignore_patterns(src.name))
res = {}
for name, kw in {'tflite-w4 (block 32, int4 tables /64)': dict(embeddings='int4', block_size=32, embedding_block_size=64),
                 'tflite-w4 (block 32, int4 tables /32)': dict(embeddings='int4', block_size=32, embedding_block_size=32)}.items():
    p = get_exporter('tflite').quantize(QuantizeRequest(model=None, fp32_path=src, sample={}, out_dir=out, mode='w4', calibration=[], **kw))
    paths = {'fp32': src, 'int8': int8, 'w4': p}
    pred = {k: artifact_logits(runtimes.load(v, threads=1), v, ev, 128).argmax(-1) for k, v in paths.items()}
    d = paired_drop(pred['int8'] == lab, pred['w4'] == lab)
    lat = {}
    for k in ('int8', 'w4'):
        r = runtimes.load(paths[k], threads=1); lat[k] = round(measure_latency(r, tokenizer_feed(paths[k], 128), 5, 50, 1.0)['p50_ms'], 3)
    res[name] = {'size_mb': round(p.stat().st_size/1e6, 3), 'int8_size_mb': round(int8.stat().st_size/1e6, 3),
                 'val_acc_w4': float((pred['w4']==lab).mean()), 'val_acc_int8': float((pred['int8']==lab).mean()),
                 'agreement_fp32': float((pred['w4']==pred['fp32']).mean()), 'paired_drop_vs_int8': d,
                 'fixed128_p50_ms': lat}
    print(name, json.dumps(res[name], default=str), flush=True)
json.dump(res, open('/tmp/w4b/aim.json', 'w'), indent=1, default=str)
