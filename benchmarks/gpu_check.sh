#!/usr/bin/env bash
# The GPU checks of the course in one go (5.5 minutes on one H200 with a 10,000-step chapter 07;
# today's 2,000-step chapter 07 alone took 162 s on one H100, so expect less now):
#   1. benchmarks/toy_throughput.py  - WGAN-GP toy iteration, eager vs whole-iteration CUDA graph
#   2. benchmarks/dcgan_throughput.py - train.train vs a pytorch/examples-style DCGAN loop
#   3. chapter 07 in the gpu preset (64x64 lesions), run without Jupyter (benchmarks/plain_run.py)
#   4. chapter 05's WGAN-GP ring and grid in the gpu preset (CUDA-graph mode), beside 3.
# The benchmarks run alone; the two notebooks then share the GPU (their own timings are not
# benchmarks). Each step has its own time limit, so one slow step cannot starve the others. Logs and the
# published metrics go to $OUT (default runs/gpu_check).
#   bash benchmarks/gpu_check.sh
set -u
OUT=${OUT:-runs/gpu_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python3}
start=$(date +%s)
stamp() { echo "== $(( $(date +%s) - start )) s: $*"; }

{
  stamp "environment"
  nvidia-smi -L
  $PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
} 2>&1 | tee "$OUT/env.log"

{
  stamp "toy throughput"
  timeout 150 $PY benchmarks/toy_throughput.py --hidden 128 512 --iters 1000 --warmup 100
  stamp "dcgan throughput, 64x64 batch 512, train.train with bf16 + channels_last"
  timeout 60 $PY benchmarks/dcgan_throughput.py --size 64 --batch 512 --amp --channels-last \
      --iters 40 --repeats 3 --json "$OUT/dcgan_512.json"
  stamp "dcgan throughput, 64x64 batch 128, fp32 both"
  timeout 40 $PY benchmarks/dcgan_throughput.py --size 64 --batch 128 --iters 40 --repeats 3
  stamp "benchmarks done"
} 2>&1 | tee "$OUT/bench.log"

stamp "chapters 07 and 05 (ring and grid), gpu preset, side by side" | tee -a "$OUT/bench.log"
timeout "${NB05_LIMIT:-300}" $PY benchmarks/plain_run.py notebooks/05_wgan_gp.ipynb \
    --preset gpu -p parts "ring grid" --results "$OUT/results05.json" > "$OUT/nb05.log" 2>&1 &
timeout "${NB07_LIMIT:-300}" $PY benchmarks/plain_run.py notebooks/07_dcgan_latent_arithmetic.ipynb \
    --preset gpu --results "$OUT/results07.json" > "$OUT/nb07.log" 2>&1
wait
stamp "all done" | tee -a "$OUT/bench.log"
tail -n 25 "$OUT/nb05.log" "$OUT/nb07.log"
