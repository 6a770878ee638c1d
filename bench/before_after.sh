#!/bin/bash
# Before (commit eb32634, assembled in /tmp/before_pkg) vs after (this tree): evaluate_scoremaps
# on the first N maps of the ILSVRC val mini set (bench_evaluator_e2e.py makes them), in fresh
# processes, interleaved rounds. Assemble the old tree first: git archive eb32634 into
# /tmp/before_src, then copy its wsol_tf/ with models, layers, data, experiments inside.
N=${1:-100}; ROUNDS=${2:-3}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA="${DATA:-$ROOT/../shared/data/ILSVRC2012_val_mini}"
CODE='
import sys, time, numpy as np
from wsol_tf.data.datasets import load_split
from wsol_tf.evaluation.evaluator import evaluate_scoremaps
r = load_split("wsol_metadata", sys.argv[3], "test")
r = r.subset(np.arange(int(sys.argv[1])))
kw = {"workers": int(sys.argv[2])} if sys.argv[2] != "-" else {}
t = time.perf_counter()
m = evaluate_scoremaps(sys.argv[4], r, num_overlays=0, print_fn=lambda *a: None, **kw)
print("TIME", round(time.perf_counter() - t, 3), m["maxboxacc"], m["maxboxacc_v2"])
'
for i in $(seq $ROUNDS); do
  echo "before $(cd /tmp && PYTHONPATH=/tmp/before_pkg "$ROOT/.venv/bin/python" -c "$CODE" $N - "$DATA" "$ROOT/workdirs/bench/ilsvrc_maps" 2>/dev/null | grep TIME)"
  echo "after_1 $(cd /tmp && "$ROOT/.venv/bin/python" -c "$CODE" $N 1 "$DATA" "$ROOT/workdirs/bench/ilsvrc_maps" 2>/dev/null | grep TIME)"
  echo "after_2 $(cd /tmp && "$ROOT/.venv/bin/python" -c "$CODE" $N 2 "$DATA" "$ROOT/workdirs/bench/ilsvrc_maps" 2>/dev/null | grep TIME)"
done
