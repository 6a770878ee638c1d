"""Numbers a refactor must not move, for a side-by-side check on one machine.

Trains every registered method for 3 steps (tinyvgg, a tiny synthetic set, one thread, op
determinism) and records the losses and a digest of each final checkpoint's model weights,
then evaluates the CAM and ADL runs with the given extractors and records metrics.json (less
timings and paths). Run it on the tree before and after a change and compare the JSON files:
on the same machine they are equal bit for bit when no number moved (issue 31 did this for
the registry, backbone, extractor, dataset, evaluator and Trainer refactors).

    # before: an archive of the old tree with models/layers/data/experiments inside wsol_tf/
    git archive OLD | tar -x -C /tmp/old && cd /tmp/old && \\
        for d in layers models data experiments; do mv $d wsol_tf/; done
    cd /tmp && PYTHONPATH=/tmp/old python /path/to/bench/refactor_reference.py before.json \\
        /tmp/before_work classic,gradcam,gradcampp,layercam,eigencam,scorecam
    cd /tmp && python /path/to/bench/refactor_reference.py after.json /tmp/after_work \\
        classic,gradcam,gradcampp,layercam,eigencam,scorecam
"""

import hashlib
import json
import os
import sys

os.environ["TF_NUM_INTRAOP_THREADS"] = "1"  # the thread count changes summation order
os.environ["TF_NUM_INTEROP_THREADS"] = "1"

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.experimental.enable_op_determinism()

from wsol_tf import evaluation, methods, training  # noqa: E402
from wsol_tf.data import synthetic  # noqa: E402

try:
    from wsol_tf.runs.config import TrainConfig  # noqa: E402
except ImportError:  # a tree from before wsol_tf.runs
    from wsol_tf.training.config import TrainConfig  # noqa: E402

TIMING_OR_PATH = ("seconds", "out_dir", "workdir", "overlays", "images_per_second", "checkpoint")


def weights_digest(workdir):
    reader = tf.train.load_checkpoint(
        tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))
    )
    digest = hashlib.sha1()
    for key in sorted(reader.get_variable_to_shape_map()):
        if "OPTIMIZER" not in key and "save_counter" not in key:
            digest.update(key.encode())
            digest.update(np.asarray(reader.get_tensor(key)).tobytes())
    return digest.hexdigest()


def main(out, root, cams):
    data = os.path.join(root, "tiny")
    if not os.path.isdir(data):
        synthetic.generate(data, num_classes=3, train_per_class=8, test_per_class=4, seed=4,
                           min_size=40, max_size=64)  # fmt: skip
    result = {"losses": {}, "weights": {}, "metrics": {}}
    for name in methods.names():
        workdir = os.path.join(root, f"run-{name}")
        extra = {"entropy_weight": 1e-4} if name == "adl" else {}
        config = TrainConfig.from_settings(
            model="tinyvgg", dataset="cub", data_dir=data, method=name, epochs=3,
            steps_per_epoch=1, batch_size=8, lr=0.02, image_size=(32, 48), seed=3,
            tensorboard=False, deterministic=True, workdir=workdir, **extra,
        )  # fmt: skip
        history = training.train(config, print_fn=lambda *_: None)
        result["losses"][name] = [h["loss"] for h in history]
        result["weights"][name] = weights_digest(workdir)
        print(name, result["losses"][name], flush=True)
    for cam in cams:
        for run in ("cam", "adl"):
            out_dir = os.path.join(root, f"eval-{run}-{cam}")
            evaluation.evaluate(os.path.join(root, f"run-{run}"), out_dir=out_dir, cam=cam,
                                num_pictures=0, print_fn=lambda *_: None)  # fmt: skip
            with open(os.path.join(out_dir, "metrics.json")) as f:
                metrics = json.load(f)
            result["metrics"][f"{run}/{cam}"] = {
                k: v for k, v in metrics.items() if k not in TIMING_OR_PATH
            }
            print(run, cam, metrics.get("maxboxacc_v2"), flush=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True, default=str)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3].split(",") if len(sys.argv) > 3 else ["classic"])
